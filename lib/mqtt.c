/*
 * mqtt: see mqtt.h.  Paho C 1.3.12 async client, MQTT 5, no Paho persistence,
 * nothing buffered while disconnected, automatic reconnect through the URIs.
 *
 * Two sides share one queue.  Paho's threads run the callbacks below; each
 * copies what it was given into a node, appends it under `lock` and bumps the
 * eventfd.  Nothing else is shared: the main thread owns the connection view,
 * the in-flight list and the statistics, and turns the raw nodes into events
 * in mqtt_next_event().  `lock` is a leaf lock: no Paho call is ever made while
 * holding it (Paho calls back with its own mutexes held).
 *
 * Every publish gets a `struct pub` as its Paho context; the pointer is the
 * publish's identity, so Paho's reuse of message ids cannot confuse results.
 * Verified with Paho 1.3.12 and mosquitto 2.0.11: on connection loss Paho
 * fails (code -11) the publishes it has sent, but those it still holds
 * because the broker's Receive Maximum was reached get no callback and are
 * sent after the reconnect.  So on DISCONNECTED we fail everything still in
 * flight ourselves; the pub becomes a zombie and is recycled only when Paho
 * finally reports on it, which it then does into the void.
 */
#include "mqtt.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "gwerr.h"
#include "topic.h"

#define PASSWORD_MAX 1024
#define DEFAULT_WILL "{\"online\":false}"
#define FREE_WAIT_MS 2000

enum pub_state { PUB_FREE, PUB_INFLIGHT, PUB_ZOMBIE };

struct pub {
    struct mqtt *m;          /* constant; the only field Paho's threads read */
    struct pub *prev, *next; /* main thread: in-flight list or free list */
    struct pub *all_next;    /* every pub allocated, freed by mqtt_free() */
    uint64_t id;
    enum pub_state state;
};

struct node {
    struct node *next;
    struct mqtt_event ev;
    struct pub *pub; /* raw PUBLISHED: whose result this is */
};

struct mqtt {
    /* Set by mqtt_new(), read-only afterwards (Paho's threads read subs). */
    MQTTAsync client;
    char *uris[MQTT_URI_MAX];
    int nuris;
    int tls;
    char *client_id, *username, *password;
    char *ca_file, *cert_file, *key_file;
    char *will_topic, *will_payload; /* NULL: no will */
    unsigned will_expiry_s;
    int drop_will; /* mqtt_drop_will(): disconnect without publishing it */
    char *subs[MQTT_SUB_MAX];
    int sub_qos[MQTT_SUB_MAX];
    MQTTSubscribe_options sub_opts[MQTT_SUB_MAX];
    int nsubs;
    int (*accept)(const char *topic, void *arg);
    void *accept_arg;
    int hold_messages;
    int session_expiry_s;
    int keepalive_s, connect_timeout_s, retry_min_s, retry_max_s;
    int manual_reconnect;
    int max_inflight, max_queued_messages;
    size_t max_message_bytes;
    int efd;
    int started;
    atomic_int connecting; /* manual_reconnect: an attempt under way (Paho's threads end it) */

    /* Shared with Paho's threads, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct node *head, *tail;
    int queued_messages;
    int overflow; /* an event could not be queued (out of memory) */
    uint64_t messages_dropped;
    char connect_uri[MQTT_DETAIL_MAX];
    char ssl_error[MQTT_DETAIL_MAX];
    int disconnect_done;
    /* hold_messages: the receive thread waits in on_message() until
     * hold_done reaches its message's hold, a Paho call of the main thread
     * is under way (paho_calls), or the client is stopping. */
    pthread_cond_t hold_cond;
    uint64_t hold_last, hold_done, holds_cut;
    int paho_calls, stopping;

    /* Main thread only. */
    int connected;
    struct pub *inflight_head, *inflight_tail, *free_pubs, *all_pubs;
    int ninflight, nzombies;
    int failing;          /* fail all in flight before returning anything else */
    struct node *pending; /* connection event returned after the failures */
    struct node synth;    /* storage for a connection event we make up */
    struct mqtt_stats stats;
};

/* ---- helpers ---- */

static char *dup_opt(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void copy_detail(char *dst, const char *src)
{
    snprintf(dst, MQTT_DETAIL_MAX, "%.*s", MQTT_DETAIL_MAX - 1, src ? src : "");
}

/* Block every asynchronous signal while Paho may start its threads (they
 * inherit the mask), so signals reach the program's own threads only.  The
 * synchronous ones stay open: a fault in Paho's thread must still reach its
 * handler (ASan's, a core dump). */
static void signals_block(sigset_t *old)
{
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    sigset_t all;

    sigfillset(&all);
    for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
        sigdelset(&all, sync_signals[i]);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

static void signals_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Read the password: the file's first line without its line ending.  Errors
 * ("PATH: reason") name the file, never its contents. */
static char *read_password(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int saved;

    if (!f) {
        saved = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(saved));
        errno = saved;
        return NULL;
    }
    errno = 0;
    n = getline(&line, &cap, f);
    saved = errno;
    if (n < 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(saved ? saved : EIO));
        goto fail;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    if (n > 0 && line[n - 1] == '\r')
        line[--n] = '\0';
    if (n <= 0) {
        snprintf(err, errlen, "%s: first line is empty", path);
        saved = EGW_CONFIG;
        goto fail;
    }
    if (n > PASSWORD_MAX || memchr(line, '\0', (size_t)n)) {
        snprintf(err, errlen, "%s: first line longer than %d bytes or binary", path, PASSWORD_MAX);
        saved = EGW_CONFIG;
        goto fail;
    }
    fclose(f);
    return line;

fail:
    if (line)
        explicit_bzero(line, cap);
    free(line);
    fclose(f);
    errno = saved;
    return NULL;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f;
    int saved;

    if (!path || !*path)
        return 0;
    if ((f = fopen(path, "re")) == NULL) {
        saved = errno;
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(saved));
        errno = saved;
        return -1;
    }
    fclose(f);
    return 0;
}

static int config_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int config_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    errno = EGW_CONFIG;
    return -1;
}

static int validate(const struct mqtt_opts *o, char *err, size_t errlen)
{
    int i, ntls = 0;

    if (o->nuris < 1 || o->nuris > MQTT_URI_MAX)
        return config_error(err, errlen, "%s: between 1 and 4 URIs needed", "uri");
    for (i = 0; i < o->nuris; i++) {
        const char *u = o->uris[i];
        if (!u || (strncmp(u, "tcp://", 6) && strncmp(u, "ssl://", 6)) || !u[6])
            return config_error(
                err, errlen, "uri \"%s\": must be tcp://HOST:PORT or ssl://HOST:PORT", u ? u : "");
        ntls += strncmp(u, "ssl://", 6) == 0;
    }
    if (ntls && ntls != o->nuris)
        return config_error(err, errlen, "%s: tcp:// and ssl:// mixed (failover would drop TLS)",
                            "uri");
    if (!ntls && ((o->ca_file && *o->ca_file) || (o->cert_file && *o->cert_file) ||
                  (o->key_file && *o->key_file)))
        return config_error(err, errlen, "%s: ca_file, cert_file and key_file need ssl:// URIs",
                            "uri");
    if (o->key_file && *o->key_file && !(o->cert_file && *o->cert_file))
        return config_error(err, errlen, "%s: key_file needs cert_file", "key_file");
    if (o->client_id && strlen(o->client_id) >= 65535)
        return config_error(err, errlen, "%s: too long", "client_id");
    if (o->client_id_prefix && strlen(o->client_id_prefix) > MQTT_CLIENT_ID_MAX / 2)
        return config_error(err, errlen, "%s: longer than %d bytes", "client_id_prefix",
                            MQTT_CLIENT_ID_MAX / 2);
    if (o->password_file && *o->password_file && !(o->username && *o->username))
        return config_error(err, errlen, "%s: needs username", "password_file");
    if (o->will_topic && *o->will_topic && !topic_name_valid(o->will_topic))
        return config_error(err, errlen, "will topic \"%s\": has a wildcard", o->will_topic);
    if (o->will_payload && !(o->will_topic && *o->will_topic))
        return config_error(err, errlen, "%s: needs a will topic", "will_payload");
    if (o->nsubscriptions < 0 || o->nsubscriptions > MQTT_SUB_MAX)
        return config_error(err, errlen, "%s: at most %d", "subscriptions", MQTT_SUB_MAX);
    for (i = 0; i < o->nsubscriptions; i++) {
        const struct mqtt_sub *sub = &o->subscriptions[i];
        if (!topic_filter_valid(sub->filter))
            return config_error(err, errlen, "subscription \"%s\": not a valid topic filter",
                                sub->filter ? sub->filter : "");
        if (sub->qos < 0 || sub->qos > 1)
            return config_error(err, errlen, "subscription \"%s\": QoS 0 or 1", sub->filter);
        if (sub->no_local && topic_filter_shared(sub->filter))
            return config_error(err, errlen,
                                "subscription \"%s\": no_local on a shared subscription "
                                "(a protocol error in MQTT 5)",
                                sub->filter);
    }
    if (o->session_expiry_s < 0 || o->keepalive_s < 0 || o->keepalive_s > 65535 ||
        o->connect_timeout_s < 0 || o->retry_min_s < 0 || o->retry_max_s < 0 ||
        (o->retry_max_s && o->retry_min_s > o->retry_max_s) || o->max_inflight < 0 ||
        o->max_inflight > 65535 || o->max_queued_messages < 0)
        return config_error(err, errlen, "%s: a number is out of range", "mqtt options");
    if (check_readable("ca_file", o->ca_file, err, errlen) ||
        check_readable("cert_file", o->cert_file, err, errlen) ||
        check_readable("key_file", o->key_file, err, errlen))
        return -1;
    return 0;
}

/* ---- Paho's side: copy, queue, signal ---- */

static struct node *node_new(enum mqtt_event_type type)
{
    struct node *n = calloc(1, sizeof(*n));
    if (n) {
        n->ev.type = type;
        n->ev.reason = -1;
    }
    return n;
}

/* Append n (NULL: it could not be allocated) and wake the main thread. */
static void push(struct mqtt *m, struct node *n)
{
    uint64_t one = 1;

    pthread_mutex_lock(&m->lock);
    if (n) {
        if (m->tail)
            m->tail->next = n;
        else
            m->head = n;
        m->tail = n;
        if (n->ev.type == MQTT_EV_MESSAGE)
            m->queued_messages++;
    } else {
        m->overflow = 1;
    }
    /* Only fails if the counter would overflow: it is then readable anyway. */
    ssize_t w = write(m->efd, &one, sizeof(one));
    (void)w;
    pthread_mutex_unlock(&m->lock);
}

static void take_ssl_error(struct mqtt *m, char *detail)
{
    pthread_mutex_lock(&m->lock);
    if (m->ssl_error[0]) {
        char d[2 * MQTT_DETAIL_MAX + 16];
        snprintf(d, sizeof(d), "%s (TLS: %s)", detail, m->ssl_error);
        copy_detail(detail, d);
        m->ssl_error[0] = '\0';
    }
    pthread_mutex_unlock(&m->lock);
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
    struct mqtt *m = ctx;
    const char *reason = str;
    size_t i;

    /* OpenSSL lines read "pid:error:CODE:lib:func:reason:file:line:"; keep it short. */
    for (i = 0; i + 6 < len; i++)
        if (!strncmp(str + i, "error:", 6)) {
            reason = str + i;
            break;
        }
    pthread_mutex_lock(&m->lock);
    snprintf(m->ssl_error, sizeof(m->ssl_error), "%.*s", (int)(len - (size_t)(reason - str)),
             reason);
    len = strlen(m->ssl_error);
    while (len && m->ssl_error[len - 1] == '\n')
        m->ssl_error[--len] = '\0';
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void on_connect_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct mqtt *m = ctx;
    atomic_store(&m->connecting, 0);
    pthread_mutex_lock(&m->lock);
    copy_detail(m->connect_uri, r && r->alt.connect.serverURI ? r->alt.connect.serverURI : "");
    pthread_mutex_unlock(&m->lock);
}

/* Paho reports only the first connect's failure; its retries are silent. */
static void on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_CONNECT_FAILED);

    atomic_store(&m->connecting, 0);
    if (n && r) {
        n->ev.code = r->code;
        /* Paho puts a CONNACK refusal in code, not in reasonCode. */
        if (r->code > 0)
            n->ev.reason = r->code;
        else if (r->reasonCode >= 0x80)
            n->ev.reason = r->reasonCode;
        if (n->ev.reason > 0)
            snprintf(n->ev.detail, sizeof(n->ev.detail), "refused by the broker: %s",
                     mqtt_reason_str(n->ev.reason));
        else
            copy_detail(n->ev.detail, r->message ? r->message : MQTTAsync_strerror(r->code));
        take_ssl_error(m, n->ev.detail);
    }
    push(m, n);
}

static void on_sub_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_SUBSCRIBED);
    int i;

    if (n) {
        n->ev.ok = 1;
        /* Paho fills the array only for two or more filters; for one, a
         * refusal goes to on_sub_fail and reasonCodes is garbage. */
        if (r && m->nsubs > 1 && r->alt.sub.reasonCodes) {
            for (i = 0; i < r->alt.sub.reasonCodeCount && i < m->nsubs; i++)
                if (r->alt.sub.reasonCodes[i] >= 0x80 && n->ev.ok) {
                    n->ev.ok = 0;
                    n->ev.reason = r->alt.sub.reasonCodes[i];
                    snprintf(n->ev.detail, sizeof(n->ev.detail), "%s: %s", m->subs[i],
                             mqtt_reason_str(n->ev.reason));
                }
        } else if (r && r->reasonCode >= 0x80) {
            n->ev.ok = 0;
            n->ev.reason = r->reasonCode;
            snprintf(n->ev.detail, sizeof(n->ev.detail), "%s: %s", m->subs[0],
                     mqtt_reason_str(n->ev.reason));
        }
    }
    push(m, n);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_SUBSCRIBED);

    if (n && r) {
        n->ev.code = r->code;
        if (r->reasonCode >= 0x80)
            n->ev.reason = r->reasonCode;
        if (n->ev.reason > 0)
            copy_detail(n->ev.detail, mqtt_reason_str(n->ev.reason));
        else
            copy_detail(n->ev.detail, r->message ? r->message : MQTTAsync_strerror(r->code));
    }
    push(m, n);
}

/* Every connect, first or automatic: report it, then subscribe again (the
 * session starts clean each time; a resumed one has them, and subscribing
 * again changes nothing). */
static void on_connected(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_CONNECTED);

    if (n) {
        pthread_mutex_lock(&m->lock);
        copy_detail(n->ev.detail, m->connect_uri[0] ? m->connect_uri : cause);
        m->connect_uri[0] = '\0';
        m->ssl_error[0] = '\0';
        pthread_mutex_unlock(&m->lock);
    }
    push(m, n);

    if (m->nsubs > 0) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        MQTTSubscribe_options opts[MQTT_SUB_MAX];
        int rc;

        /* Paho takes subscribeOptions for one filter and the list for
         * several; it copies both. */
        memcpy(opts, m->sub_opts, sizeof(opts));
        ro.subscribeOptions = opts[0];
        if (m->nsubs > 1) {
            ro.subscribeOptionsCount = m->nsubs;
            ro.subscribeOptionsList = opts;
        }
        ro.onSuccess5 = on_sub_ok;
        ro.onFailure5 = on_sub_fail;
        ro.context = m;
        rc = MQTTAsync_subscribeMany(m->client, m->nsubs, m->subs, m->sub_qos, &ro);
        if (rc != MQTTASYNC_SUCCESS) {
            struct node *f = node_new(MQTT_EV_SUBSCRIBED);
            if (f) {
                f->ev.code = rc;
                copy_detail(f->ev.detail, MQTTAsync_strerror(rc));
            }
            push(m, f);
        }
    }
}

/* MQTT 5: the broker closed with a DISCONNECT packet (e.g. 0x95 packet too
 * large).  Paho 1.3.12 then fails what is in flight and reconnects, but does
 * not call connectionLost, so this is the DISCONNECTED event.  Should both
 * ever come, the main thread drops the second. */
static void on_server_disconnect(void *ctx, MQTTProperties *props, enum MQTTReasonCodes reason)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_DISCONNECTED);

    (void)props;
    if (n) {
        n->ev.reason = (int)reason;
        snprintf(n->ev.detail, sizeof(n->ev.detail), "disconnected by the broker: %s",
                 mqtt_reason_str((int)reason));
    }
    push(m, n);
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct mqtt *m = ctx;
    struct node *n = node_new(MQTT_EV_DISCONNECTED);

    if (n) {
        copy_detail(n->ev.detail, cause && *cause ? cause : "connection lost");
        take_ssl_error(m, n->ev.detail);
    }
    push(m, n);
}

/* hold_messages: wait (on Paho's receive thread, so its PUBACK waits too)
 * until the main thread has taken the message, at most MQTT_HOLD_MAX_MS.
 * Paho holds its own mutex around this callback: a Paho call from the main
 * thread would wait for us while we wait for it, so such a call (announced
 * by paho_enter()) releases the hold at once. */
static void hold_until_taken(struct mqtt *m, uint64_t hold)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += MQTT_HOLD_MAX_MS / 1000;
    until.tv_nsec += (long)(MQTT_HOLD_MAX_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->lock);
    while (m->hold_done < hold && m->paho_calls == 0 && !m->stopping)
        if (pthread_cond_timedwait(&m->hold_cond, &m->lock, &until) == ETIMEDOUT)
            break;
    if (m->hold_done < hold)
        m->holds_cut++;
    pthread_mutex_unlock(&m->lock);
}

/* Around every Paho call of the main thread (see hold_until_taken). */
static void paho_enter(struct mqtt *m)
{
    if (!m->hold_messages)
        return;
    pthread_mutex_lock(&m->lock);
    m->paho_calls++;
    pthread_cond_broadcast(&m->hold_cond);
    pthread_mutex_unlock(&m->lock);
}

static void paho_leave(struct mqtt *m)
{
    if (!m->hold_messages)
        return;
    pthread_mutex_lock(&m->lock);
    m->paho_calls--;
    pthread_mutex_unlock(&m->lock);
}

void mqtt_message_done(struct mqtt *m, uint64_t hold)
{
    if (m == NULL || hold == 0)
        return;
    pthread_mutex_lock(&m->lock);
    if (hold > m->hold_done)
        m->hold_done = hold;
    pthread_cond_broadcast(&m->hold_cond);
    pthread_mutex_unlock(&m->lock);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct mqtt *m = ctx;
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    struct node *n = NULL;
    int full;

    if (m->accept) {
        /* Paho's topic is NUL-terminated unless it holds a NUL itself (then
         * topic_len counts it): such a topic is no one's. */
        if (memchr(topic, '\0', tlen) != NULL || !m->accept(topic, m->accept_arg))
            goto out;
    }
    pthread_mutex_lock(&m->lock);
    full = m->queued_messages >= m->max_queued_messages;
    if (full)
        m->messages_dropped++;
    pthread_mutex_unlock(&m->lock);

    if (!full && (n = node_new(MQTT_EV_MESSAGE)) != NULL) {
        uint64_t hold = m->hold_messages ? ++m->hold_last : 0; /* this thread only */
        n->ev.len = plen;
        n->ev.retained = msg->retained;
        n->ev.expiry_s = -1;
        if (MQTTProperties_hasProperty(&msg->properties, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL))
            n->ev.expiry_s = (int64_t)(unsigned)MQTTProperties_getNumericValue(
                &msg->properties, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
        n->ev.oversized = plen > m->max_message_bytes;
        n->ev.topic = malloc(tlen + 1);
        if (!n->ev.oversized)
            n->ev.payload = malloc(plen + 1);
        if (!n->ev.topic || (!n->ev.oversized && !n->ev.payload)) {
            mqtt_event_clear(&n->ev);
            free(n);
            n = NULL;
            pthread_mutex_lock(&m->lock);
            m->messages_dropped++;
            pthread_mutex_unlock(&m->lock);
        } else {
            memcpy(n->ev.topic, topic, tlen);
            n->ev.topic[tlen] = '\0';
            if (n->ev.payload) {
                if (plen)
                    memcpy(n->ev.payload, msg->payload, plen);
                ((char *)n->ev.payload)[plen] = '\0';
            }
            n->ev.hold = hold;
            push(m, n);
            if (hold)
                hold_until_taken(m, hold);
        }
    }
out:
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1; /* taken (or dropped by policy): never redelivered by Paho */
}

static void publish_done(struct pub *p, int ok, int reason, int code, const char *detail)
{
    struct node *n = node_new(MQTT_EV_PUBLISHED);

    if (n) {
        n->pub = p;
        n->ev.ok = ok;
        n->ev.reason = reason;
        n->ev.code = code;
        copy_detail(n->ev.detail, detail);
    }
    /* On allocation failure the main thread fails everything in flight. */
    push(p->m, n);
}

static void on_publish_ok(void *ctx, MQTTAsync_successData5 *r)
{
    int reason = r ? (int)r->reasonCode : 0;

    if (reason >= 0x80)
        publish_done(ctx, 0, reason, 0, mqtt_reason_str(reason));
    else
        publish_done(ctx, 1, reason, 0, NULL);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    /* reasonCode holds the broker's answer only when code is 0: Paho leaves
     * it uninitialised when a write fails (1.3.12, writeComplete). */
    int code = r ? r->code : MQTTASYNC_FAILURE;
    int reason = r && code == 0 && r->reasonCode >= 0x80 ? (int)r->reasonCode : -1;
    const char *detail;

    if (reason > 0)
        detail = mqtt_reason_str(reason);
    else if (code == MQTTASYNC_OPERATION_INCOMPLETE)
        detail = "connection lost before the broker acknowledged";
    else
        detail = r && r->message ? r->message : MQTTAsync_strerror(code);
    publish_done(ctx, 0, reason, code, detail);
}

/* ---- construction ---- */

/* A client id of our own: the unique part first (pid, a time, a count of
 * the ids this process made), so that an id cut short somewhere (a command
 * id of 64 bytes) stays unique; the host last, for whoever reads the
 * broker's log. */
static char *make_client_id(const char *prefix)
{
    static unsigned made;
    char host[64] = "", id[MQTT_CLIENT_ID_MAX];

    if (gethostname(host, sizeof(host)) == -1)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    snprintf(id, sizeof(id), "%s-%ld-%lld-%u-%s", prefix && *prefix ? prefix : "shelter",
             (long)getpid(), (long long)(mono_ms() % 100000),
             __atomic_fetch_add(&made, 1, __ATOMIC_RELAXED), host);
    return strdup(id);
}

int mqtt_password_check(const char *path, char *why, size_t len)
{
    char *pw = read_password(path, why, len);

    if (pw == NULL)
        return -1;
    explicit_bzero(pw, strlen(pw));
    free(pw);
    return 0;
}

struct mqtt *mqtt_new(const struct mqtt_opts *o, char *err, size_t errlen)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    struct mqtt *m;
    sigset_t oldmask;
    char why[1024];
    int i, rc, saved;

    if (!o) {
        config_error(err, errlen, "%s: no options", "mqtt");
        return NULL;
    }
    if (validate(o, err, errlen))
        return NULL;
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->efd = -1;
    pthread_mutex_init(&m->lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&m->cond, &ca);
        pthread_cond_init(&m->hold_cond, &ca);
        pthread_condattr_destroy(&ca);
    }

    m->nuris = o->nuris;
    m->tls = strncmp(o->uris[0], "ssl://", 6) == 0;
    for (i = 0; i < o->nuris; i++)
        if ((m->uris[i] = strdup(o->uris[i])) == NULL)
            goto nomem;
    m->nsubs = o->nsubscriptions;
    for (i = 0; i < o->nsubscriptions; i++) {
        const struct mqtt_sub *sub = &o->subscriptions[i];
        if ((m->subs[i] = strdup(sub->filter)) == NULL)
            goto nomem;
        m->sub_qos[i] = sub->qos;
        m->sub_opts[i] = (MQTTSubscribe_options)MQTTSubscribe_options_initializer;
        m->sub_opts[i].retainAsPublished = sub->retain_as_published ? 1 : 0;
        m->sub_opts[i].noLocal = sub->no_local ? 1 : 0;
    }
    m->accept = o->accept;
    m->hold_messages = o->hold_messages ? 1 : 0;
    m->accept_arg = o->accept_arg;
    m->session_expiry_s = o->session_expiry_s;
    m->client_id =
        o->client_id && *o->client_id ? strdup(o->client_id) : make_client_id(o->client_id_prefix);
    if (!m->client_id)
        goto nomem;
    if (o->will_topic && *o->will_topic) {
        m->will_topic = strdup(o->will_topic);
        m->will_payload = strdup(o->will_payload ? o->will_payload : DEFAULT_WILL);
        if (!m->will_topic || !m->will_payload)
            goto nomem;
        m->will_expiry_s = o->will_expiry_s;
    }
    m->username = dup_opt(o->username);
    m->ca_file = dup_opt(o->ca_file);
    m->cert_file = dup_opt(o->cert_file);
    m->key_file = dup_opt(o->key_file);
    if ((o->username && *o->username && !m->username) ||
        (o->ca_file && *o->ca_file && !m->ca_file) ||
        (o->cert_file && *o->cert_file && !m->cert_file) ||
        (o->key_file && *o->key_file && !m->key_file))
        goto nomem;
    if (o->password_file && *o->password_file &&
        (m->password = read_password(o->password_file, why, sizeof(why))) == NULL) {
        saved = errno;
        snprintf(err, errlen, "password_file %s", why);
        errno = saved;
        goto fail;
    }

    m->keepalive_s = o->keepalive_s ? o->keepalive_s : 30;
    m->connect_timeout_s = o->connect_timeout_s ? o->connect_timeout_s : 10;
    m->manual_reconnect = o->manual_reconnect != 0;
    m->retry_min_s = o->retry_min_s ? o->retry_min_s : 1;
    m->retry_max_s = o->retry_max_s ? o->retry_max_s : 30;
    if (m->retry_max_s < m->retry_min_s)
        m->retry_max_s = m->retry_min_s;
    m->max_inflight = o->max_inflight ? o->max_inflight : 10;
    m->max_message_bytes = o->max_message_bytes ? o->max_message_bytes : 16384;
    m->max_queued_messages = o->max_queued_messages ? o->max_queued_messages : 64;

    if ((m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        saved = errno;
        snprintf(err, errlen, "eventfd: %s", strerror(saved));
        errno = saved;
        goto fail;
    }

    co.sendWhileDisconnected = 0;
    co.deleteOldestMessages = 0;
    co.restoreMessages = 0;
    co.maxBufferedMessages = m->max_inflight + 16; /* our own cap is hit first */
    signals_block(&oldmask);
    rc = MQTTAsync_createWithOptions(&m->client, m->uris[0], m->client_id,
                                     MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    signals_restore(&oldmask);
    if (rc != MQTTASYNC_SUCCESS) {
        m->client = NULL;
        snprintf(err, errlen, "uri %s: %s", m->uris[0], MQTTAsync_strerror(rc));
        errno = EGW_CONFIG;
        goto fail;
    }
    if ((rc = MQTTAsync_setCallbacks(m->client, m, on_connection_lost, on_message, NULL)) !=
            MQTTASYNC_SUCCESS ||
        (rc = MQTTAsync_setConnected(m->client, m, on_connected)) != MQTTASYNC_SUCCESS ||
        (rc = MQTTAsync_setDisconnected(m->client, m, on_server_disconnect)) != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "paho callbacks: %s", MQTTAsync_strerror(rc));
        errno = EIO;
        goto fail;
    }
    return m;

nomem:
    snprintf(err, errlen, "out of memory");
    errno = ENOMEM;
fail:
    saved = errno;
    mqtt_free(m);
    errno = saved;
    return NULL;
}

/* One MQTTAsync_connect() with the client's options: the first, and each
 * of mqtt_reconnect(). */
static int connect_call(struct mqtt *m, char *err, size_t errlen)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperties will_props = MQTTProperties_initializer;
    MQTTProperty expiry;
    sigset_t oldmask;
    int rc;

    if (m->will_topic) {
        will.topicName = m->will_topic;
        will.message = NULL;
        will.payload.data = m->will_payload;
        will.payload.len = (int)strlen(m->will_payload);
        will.retained = 1;
        will.qos = 1;
        co.will = &will;
        if (m->will_expiry_s > 0) {
            MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL};
            p.value.integer4 = m->will_expiry_s;
            if ((rc = MQTTProperties_add(&will_props, &p)) != 0) {
                snprintf(err, errlen, "will expiry: %s", MQTTAsync_strerror(rc));
                errno = EIO;
                return -1;
            }
            co.willProperties = &will_props;
        }
    }

    co.keepAliveInterval = m->keepalive_s;
    co.cleansession = 0; /* MQTT 5 uses cleanstart */
    if (m->session_expiry_s > 0) {
        /* Resume the broker's session; it outlives a disconnect this long. */
        co.cleanstart = 0;
        expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
        expiry.value.integer4 = (unsigned int)m->session_expiry_s;
        if ((rc = MQTTProperties_add(&props, &expiry)) != 0) {
            snprintf(err, errlen, "session expiry: %s", MQTTAsync_strerror(rc));
            errno = EIO;
            return -1;
        }
        co.connectProperties = &props;
    } else {
        co.cleanstart = 1; /* no session expiry: the gateway's outbox, not the broker, resends */
    }
    co.maxInflight = m->max_inflight;
    co.username = m->username;
    co.password = m->password;
    co.connectTimeout = m->connect_timeout_s;
    co.serverURIs = m->uris;
    co.serverURIcount = m->nuris;
    co.MQTTVersion = MQTTVERSION_5;
    co.automaticReconnect = !m->manual_reconnect;
    co.minRetryInterval = m->retry_min_s;
    co.maxRetryInterval = m->retry_max_s;
    co.onSuccess5 = on_connect_ok;
    co.onFailure5 = on_connect_fail;
    co.context = m;
    if (m->tls) {
        ssl.trustStore = m->ca_file; /* NULL: the system's CAs */
        ssl.keyStore = m->cert_file;
        ssl.privateKey = m->key_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1; /* the certificate must name the host we dialled */
        ssl.ssl_error_cb = on_ssl_error;
        ssl.ssl_error_context = m;
        co.ssl = &ssl;
    }
    /* Paho copies everything it keeps (the properties too); our strings
     * outlive the client anyway.  Its threads start here. */
    signals_block(&oldmask);
    atomic_store(&m->connecting, 1);
    rc = MQTTAsync_connect(m->client, &co);
    signals_restore(&oldmask);
    MQTTProperties_free(&props);
    MQTTProperties_free(&will_props);
    if (rc != MQTTASYNC_SUCCESS) {
        atomic_store(&m->connecting, 0);
        snprintf(err, errlen, "connect: %s", MQTTAsync_strerror(rc));
        errno = EIO;
        return -1;
    }
    return 0;
}

int mqtt_start(struct mqtt *m, char *err, size_t errlen)
{
    if (m->started) {
        snprintf(err, errlen, "already started");
        errno = EALREADY;
        return -1;
    }
    if (connect_call(m, err, errlen) == -1)
        return -1;
    m->started = 1;
    return 0;
}

int mqtt_reconnect(struct mqtt *m)
{
    char err[MQTT_DETAIL_MAX];

    if (!m->started || !m->manual_reconnect || m->connected || atomic_load(&m->connecting) ||
        MQTTAsync_isConnected(m->client))
        return 0;
    return connect_call(m, err, sizeof(err)) == -1 ? -1 : 1;
}

int mqtt_fd(const struct mqtt *m)
{
    return m->efd;
}

const char *mqtt_client_id(const struct mqtt *m)
{
    return m->client_id;
}

int mqtt_connected(const struct mqtt *m)
{
    return m->connected;
}

/* ---- the main thread's side ---- */

static void inflight_unlink(struct mqtt *m, struct pub *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        m->inflight_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        m->inflight_tail = p->prev;
    p->prev = p->next = NULL;
    m->ninflight--;
}

static void pub_recycle(struct mqtt *m, struct pub *p)
{
    p->state = PUB_FREE;
    p->prev = NULL;
    p->next = m->free_pubs;
    m->free_pubs = p;
}

/* Paho has answered for p: turn n into its PUBLISHED event (1), or drop it
 * because we failed p ourselves already (0). */
static int publish_result(struct mqtt *m, struct node *n, struct mqtt_event *ev)
{
    struct pub *p = n->pub;

    if (p->state != PUB_INFLIGHT) {
        /* Failed by us already; or (never seen) Paho answering twice. */
        if (p->state == PUB_ZOMBIE) {
            m->nzombies--;
            pub_recycle(m, p);
        }
        free(n);
        return 0;
    }
    inflight_unlink(m, p);
    *ev = n->ev;
    ev->id = p->id;
    if (ev->ok)
        m->stats.published_ok++;
    else
        m->stats.published_failed++;
    pub_recycle(m, p);
    free(n);
    return 1;
}

/* Fail the oldest publish in flight ourselves; Paho may still answer later. */
static void fail_oldest(struct mqtt *m, struct mqtt_event *ev)
{
    struct pub *p = m->inflight_head;

    inflight_unlink(m, p);
    p->state = PUB_ZOMBIE;
    m->nzombies++;
    ev->type = MQTT_EV_PUBLISHED;
    ev->id = p->id;
    ev->ok = 0;
    ev->reason = -1;
    ev->code = MQTTASYNC_OPERATION_INCOMPLETE;
    copy_detail(ev->detail, "connection lost before the broker acknowledged");
    m->stats.published_failed++;
    m->stats.failed_locally++;
}

static void take_node(struct mqtt *m, struct node *n, struct mqtt_event *ev)
{
    *ev = n->ev;
    if (n != &m->synth)
        free(n);
}

/* A raw node from Paho's side: 1 if ev was filled, 0 to go on. */
static int route(struct mqtt *m, struct node *n, struct mqtt_event *ev)
{
    switch (n->ev.type) {
    case MQTT_EV_PUBLISHED:
        return publish_result(m, n, ev);
    case MQTT_EV_CONNECTED:
        m->connected = 1;
        m->stats.connects++;
        if (m->inflight_head) { /* a loss we were not told about */
            m->failing = 1;
            m->pending = n;
            return 0;
        }
        break;
    case MQTT_EV_DISCONNECTED:
        if (!m->connected) {
            free(n);
            return 0;
        }
        m->connected = 0;
        m->stats.disconnects++;
        m->failing = 1;
        m->pending = n;
        return 0;
    default:
        break;
    }
    take_node(m, n, ev);
    return 1;
}

/* Events were lost for want of memory: fail whatever is in flight and bring
 * the connection view in line with Paho's. */
static void recover_overflow(struct mqtt *m)
{
    int live;

    paho_enter(m);
    live = MQTTAsync_isConnected(m->client) ? 1 : 0;
    paho_leave(m);

    m->failing = 1;
    if (live == m->connected)
        return;
    memset(&m->synth, 0, sizeof(m->synth));
    m->synth.ev.type = live ? MQTT_EV_CONNECTED : MQTT_EV_DISCONNECTED;
    m->synth.ev.reason = -1;
    copy_detail(m->synth.ev.detail, "state recovered after lost events (out of memory)");
    m->connected = live;
    if (live)
        m->stats.connects++;
    else
        m->stats.disconnects++;
    m->pending = &m->synth;
}

int mqtt_next_event(struct mqtt *m, struct mqtt_event *ev)
{
    struct node *n;
    uint64_t count;
    int overflow;

    memset(ev, 0, sizeof(*ev));
    ev->reason = -1;
    for (;;) {
        if (m->failing) {
            if (m->inflight_head) {
                fail_oldest(m, ev);
                return 1;
            }
            m->failing = 0;
        }
        if (m->pending) {
            take_node(m, m->pending, ev);
            m->pending = NULL;
            return 1;
        }
        overflow = 0;
        pthread_mutex_lock(&m->lock);
        if ((n = m->head) != NULL) {
            if ((m->head = n->next) == NULL)
                m->tail = NULL;
            n->next = NULL;
            if (n->ev.type == MQTT_EV_MESSAGE)
                m->queued_messages--;
        } else if (m->overflow) {
            overflow = 1;
            m->overflow = 0;
        } else {
            /* Drained under the lock, so no wake-up can slip in between. */
            ssize_t r = read(m->efd, &count, sizeof(count));
            (void)r;
            pthread_mutex_unlock(&m->lock);
            return 0;
        }
        pthread_mutex_unlock(&m->lock);
        if (overflow)
            recover_overflow(m);
        else if (route(m, n, ev))
            return 1;
    }
}

void mqtt_event_clear(struct mqtt_event *ev)
{
    if (!ev)
        return;
    free(ev->topic);
    free(ev->payload);
    memset(ev, 0, sizeof(*ev));
    ev->reason = -1;
}

static int publish_errno(int rc)
{
    switch (rc) {
    case MQTTASYNC_DISCONNECTED:
        return ENOTCONN;
    case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:
    case MQTTASYNC_NO_MORE_MSGIDS:
        return EGW_FULL;
    case MQTTASYNC_BAD_UTF8_STRING:
    case MQTTASYNC_NULL_PARAMETER:
    case MQTTASYNC_TOPICNAME_TRUNCATED:
    case MQTTASYNC_BAD_QOS:
        return EINVAL;
    default:
        return EIO;
    }
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retained, uint64_t id)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    struct pub *p;
    int rc;

    if (!topic_name_valid(topic) || qos < 0 || qos > 1 || len > INT_MAX || (len && !payload)) {
        errno = EINVAL;
        return -1;
    }
    if (!m->connected) {
        errno = ENOTCONN;
        return -1;
    }
    if (m->ninflight >= m->max_inflight) {
        errno = EGW_FULL;
        return -1;
    }
    if ((p = m->free_pubs) != NULL) {
        m->free_pubs = p->next;
    } else {
        if ((p = calloc(1, sizeof(*p))) == NULL)
            return -1;
        p->m = m;
        p->all_next = m->all_pubs;
        m->all_pubs = p;
    }
    p->id = id;
    p->state = PUB_INFLIGHT;
    p->next = NULL;
    p->prev = m->inflight_tail;
    if (m->inflight_tail)
        m->inflight_tail->next = p;
    else
        m->inflight_head = p;
    m->inflight_tail = p;
    m->ninflight++;

    ro.onSuccess5 = on_publish_ok;
    ro.onFailure5 = on_publish_fail;
    ro.context = p;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = retained ? 1 : 0;
    paho_enter(m);
    rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
    paho_leave(m);
    if (rc != MQTTASYNC_SUCCESS) {
        /* Refused before queueing: Paho will never call back for p. */
        inflight_unlink(m, p);
        pub_recycle(m, p);
        errno = publish_errno(rc);
        return -1;
    }
    return 0;
}

void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *st)
{
    *st = m->stats;
    st->connected = m->connected;
    st->inflight = m->ninflight;
    st->awaiting_paho = m->nzombies;
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    st->messages_dropped = m->messages_dropped;
    st->holds_cut = m->holds_cut;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
}

static void on_disconnect_done(void *ctx, MQTTAsync_successData5 *r)
{
    struct mqtt *m = ctx;
    (void)r;
    pthread_mutex_lock(&m->lock);
    m->disconnect_done = 1;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

static void on_disconnect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    (void)r;
    on_disconnect_done(ctx, NULL);
}

static void disconnect(struct mqtt *m)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    struct timespec until;

    if (!MQTTAsync_isConnected(m->client))
        return;
    d.timeout = 0; /* in-flight publishes stay in the outbox: no need to wait */
    /* With a will: the broker publishes it (the gateway is offline). */
    d.reasonCode = m->will_topic && !m->drop_will ? MQTTREASONCODE_DISCONNECT_WITH_WILL_MESSAGE
                                                  : MQTTREASONCODE_NORMAL_DISCONNECTION;
    d.onSuccess5 = on_disconnect_done;
    d.onFailure5 = on_disconnect_fail;
    d.context = m;
    if (MQTTAsync_disconnect(m->client, &d) != MQTTASYNC_SUCCESS)
        return;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += FREE_WAIT_MS / 1000;
    pthread_mutex_lock(&m->lock);
    while (!m->disconnect_done)
        if (pthread_cond_timedwait(&m->cond, &m->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&m->lock);
}

void mqtt_free(struct mqtt *m)
{
    struct node *n;
    struct pub *p;
    int i;

    if (!m)
        return;
    if (m->client) {
        /* A message held now is released, and Paho acknowledges it: a
         * program that must not lose it exits without mqtt_free() (the
         * broker keeps it for the session, as after a kill -9). */
        pthread_mutex_lock(&m->lock);
        m->stopping = 1;
        pthread_cond_broadcast(&m->hold_cond);
        pthread_mutex_unlock(&m->lock);
        if (m->started)
            disconnect(m);
        MQTTAsync_destroy(&m->client); /* no callback runs after this */
    }
    if (m->pending && m->pending != &m->synth) {
        mqtt_event_clear(&m->pending->ev);
        free(m->pending);
    }
    while ((n = m->head) != NULL) {
        m->head = n->next;
        mqtt_event_clear(&n->ev);
        free(n);
    }
    while ((p = m->all_pubs) != NULL) {
        m->all_pubs = p->all_next;
        free(p);
    }
    for (i = 0; i < m->nuris; i++)
        free(m->uris[i]);
    for (i = 0; i < m->nsubs; i++)
        free(m->subs[i]);
    if (m->password) {
        explicit_bzero(m->password, strlen(m->password));
        free(m->password);
    }
    free(m->client_id);
    free(m->username);
    free(m->ca_file);
    free(m->cert_file);
    free(m->key_file);
    free(m->will_topic);
    free(m->will_payload);
    if (m->efd >= 0)
        close(m->efd);
    pthread_cond_destroy(&m->cond);
    pthread_cond_destroy(&m->hold_cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void mqtt_drop_will(struct mqtt *m)
{
    m->drop_will = 1;
}

const char *mqtt_reason_str(int reason)
{
    const char *s;

    if (reason < 0)
        return "no reason code";
    s = MQTTReasonCode_toString((enum MQTTReasonCodes)reason);
    return s ? s : "unknown reason code";
}
