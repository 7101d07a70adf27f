/*
 * shelter-watch: the tool of the people who receive alarms (docs/design.md section 5.2).
 *
 *   shelter-watch [--broker URI] [--username U --password-file F] [--ca-file F]
 *                 [--lang zh|en] [--exec CMD] [FILTER ...]     default FILTER shelter/#
 *   shelter-watch ack [--broker URI ...] [--by NAME] ALARM_TOPIC
 *
 * Watching: subscribe to the filters, list the active alarms from the
 * retained alarm topics, then print every transition and every gateway going
 * online or offline as one line; duplicates (same gateway and seq: delivery is
 * at least once) are dropped.  --exec runs CMD with /bin/sh -c per new alarm,
 * the alarm's JSON on its stdin.
 *
 * Shape, as in the daemon: Paho's async client runs on its own threads and
 * only queues what arrives (bounded) and wakes the main thread through an
 * eventfd.  The main thread owns everything else in one poll() loop over
 * that fd and a self-pipe for signals: it prints, and it runs the --exec
 * children (fork, at most EXEC_RUNNING_MAX at a time, reaped on SIGCHLD,
 * killed after EXEC_TIMEOUT_MS), so a slow CMD never holds up the lines.
 * The formatting and duplicate logic is the pure module watch.c.
 */
#include <MQTTAsync.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "watch.h"

#define DEFAULT_BROKER "tcp://127.0.0.1:1883"
#define DEFAULT_FILTER "shelter/#"
#define FILTERS_MAX 16
#define TOPIC_MAX 1024
#define PASSWORD_MAX 1024
#define MESSAGE_MAX_BYTES 16384   /* larger alarm payloads are not ours: dropped, counted */
#define QUEUE_MAX_MESSAGES 100000 /* while the main thread lags; then dropped, counted */
#define SEEN_CAPACITY 65536       /* (gateway, seq) pairs remembered for duplicates */
#define LISTING_QUIET_MS 700      /* the retained burst is over after this much silence */
#define LISTING_MAX_MS 5000       /* ... or after this long in any case */
#define ACK_TIMEOUT_MS 10000
#define EXEC_RUNNING_MAX 4
#define EXEC_QUEUE_MAX 256
#define EXEC_TIMEOUT_MS 60000
#define EXEC_DRAIN_MS 5000 /* on exit, running CMDs get this long to finish */

/* ---- options ---- */

struct opts {
    const char *broker, *username, *password_file, *ca_file, *exec_cmd, *by;
    enum gw_lang lang;
    const char *filters[FILTERS_MAX];
    int nfilters;
    const char *alarm_topic; /* ack */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shelter-watch [--broker URI] [--username U --password-file F] [--ca-file F]\n"
            "                     [--lang zh|en] [--exec CMD] [FILTER ...]   (default FILTER %s)\n"
            "       shelter-watch ack [--broker URI ...] [--by NAME] ALARM_TOPIC\n"
            "\n"
            "Lists the active alarms under the filters, then shows every alarm transition\n"
            "and every gateway going online or offline, one line each.  --exec runs CMD\n"
            "(/bin/sh -c) for each new alarm with the alarm's JSON on its stdin and the\n"
            "alarm topic in $SHELTER_ALARM_TOPIC.  `ack` acknowledges an alarm and prints\n"
            "the gateway's answer (exit 0 ok, 1 error).  Broker default %s;\n"
            "ssl:// URIs with --ca-file for TLS; the password only from a file.\n",
            DEFAULT_FILTER, DEFAULT_BROKER);
}

/* MQTT filter syntax: '+' fills a whole level, '#' only the last one. */
static bool filter_ok(const char *f)
{
    if (*f == '\0' || strlen(f) >= TOPIC_MAX)
        return false;
    for (const char *p = f; *p; p++) {
        bool level_start = p == f || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end))
            return false;
        if (*p == '#' && !(level_start && p[1] == '\0'))
            return false;
    }
    return true;
}

/* Returns 0, or -1 after printing why (exit 64, EX_USAGE). */
static int parse_opts(int argc, char **argv, bool ack, struct opts *o)
{
    enum { O_BROKER = 1, O_USER, O_PWFILE, O_CA, O_LANG, O_EXEC, O_BY, O_HELP, O_VERSION };
    static const struct option longs[] = {
        {"broker", required_argument, NULL, O_BROKER},
        {"username", required_argument, NULL, O_USER},
        {"password-file", required_argument, NULL, O_PWFILE},
        {"ca-file", required_argument, NULL, O_CA},
        {"lang", required_argument, NULL, O_LANG},
        {"exec", required_argument, NULL, O_EXEC},
        {"by", required_argument, NULL, O_BY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->broker = DEFAULT_BROKER;
    o->lang = LANG_ZH;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longs, NULL)) != -1) {
        switch (c) {
        case O_BROKER:
            o->broker = optarg;
            break;
        case O_USER:
            o->username = optarg;
            break;
        case O_PWFILE:
            o->password_file = optarg;
            break;
        case O_CA:
            o->ca_file = optarg;
            break;
        case O_LANG:
            if (lang_from_name(optarg, &o->lang) == -1) {
                fprintf(stderr, "shelter-watch: --lang: zh or en, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case O_EXEC:
            if (ack)
                goto not_here;
            o->exec_cmd = optarg;
            break;
        case O_BY:
            if (!ack)
                goto not_here;
            o->by = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case O_VERSION:
            printf("shelter-watch %s\n", GW_VERSION);
            exit(0);
        default:
            fprintf(stderr, "shelter-watch: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    if (strncmp(o->broker, "tcp://", 6) != 0 && strncmp(o->broker, "ssl://", 6) != 0) {
        fprintf(stderr, "shelter-watch: --broker: tcp://HOST[:PORT] or ssl://HOST[:PORT]\n");
        return -1;
    }
    if (o->ca_file != NULL && strncmp(o->broker, "ssl://", 6) != 0) {
        fprintf(stderr, "shelter-watch: --ca-file needs an ssl:// broker\n");
        return -1;
    }
    if (o->password_file != NULL && o->username == NULL) {
        fprintf(stderr, "shelter-watch: --password-file needs --username\n");
        return -1;
    }
    if (ack) {
        if (optind != argc - 1) {
            fprintf(stderr, "shelter-watch ack: exactly one ALARM_TOPIC\n");
            usage(stderr);
            return -1;
        }
        o->alarm_topic = argv[optind];
        return 0;
    }
    for (; optind < argc; optind++) {
        if (o->nfilters == FILTERS_MAX) {
            fprintf(stderr, "shelter-watch: at most %d filters\n", FILTERS_MAX);
            return -1;
        }
        if (!filter_ok(argv[optind])) {
            fprintf(stderr, "shelter-watch: \"%s\" is not a valid topic filter\n", argv[optind]);
            return -1;
        }
        o->filters[o->nfilters++] = argv[optind];
    }
    if (o->nfilters == 0)
        o->filters[o->nfilters++] = DEFAULT_FILTER;
    return 0;

not_here:
    fprintf(stderr, "shelter-watch: %s is not an option of %s\n", argv[optind - 1],
            ack ? "ack" : "watching");
    return -1;
}

/* The password: the file's first line.  Errors name the file, never the text. */
static char *read_password(const char *path)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (f == NULL) {
        log_warn("password file %s", path);
        return NULL;
    }
    n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0 || n > PASSWORD_MAX || memchr(line, '\0', (size_t)n) != NULL) {
        log_warnx("password file %s: the first line must hold the password", path);
        if (line != NULL)
            explicit_bzero(line, cap);
        free(line);
        return NULL;
    }
    return line;
}

/* ---- the broker connection: Paho's threads queue, the main thread takes ---- */

enum ev_type { EV_CONNECTED, EV_CONNECT_FAILED, EV_LOST, EV_SUBSCRIBED, EV_PUBLISHED, EV_MESSAGE };

struct ev {
    struct ev *next;
    enum ev_type type;
    bool ok;          /* SUBSCRIBED, PUBLISHED */
    char detail[400]; /* failures: why */
    char *topic;      /* MESSAGE */
    char *payload;    /* MESSAGE: NUL-terminated, len bytes */
    size_t len;
    bool retained;
};

struct conn {
    MQTTAsync client;
    char *password;
    const struct opts *o;
    const char *const *filters;
    int nfilters;
    bool tls;
    int efd;

    pthread_mutex_t lock; /* leaf lock: no Paho call while holding it */
    pthread_cond_t cond;
    struct ev *head, *tail;
    size_t nmessages;
    uint64_t dropped_full, dropped_big;
    bool lost_event; /* an event could not be allocated */
    bool disconnected;
    char ssl_error[160];
};

static void ev_free(struct ev *e)
{
    if (e != NULL) {
        free(e->topic);
        free(e->payload);
        free(e);
    }
}

static struct ev *ev_new(enum ev_type type)
{
    struct ev *e = calloc(1, sizeof(*e));
    if (e != NULL)
        e->type = type;
    return e;
}

static void push(struct conn *c, struct ev *e, enum ev_type type)
{
    uint64_t one = 1;

    pthread_mutex_lock(&c->lock);
    if (e != NULL) {
        e->type = type;
        if (c->tail != NULL)
            c->tail->next = e;
        else
            c->head = e;
        c->tail = e;
        if (type == EV_MESSAGE)
            c->nmessages++;
    } else {
        c->lost_event = true;
    }
    ssize_t w = write(c->efd, &one, sizeof(one)); /* fails only when already readable */
    (void)w;
    pthread_mutex_unlock(&c->lock);
}

static struct ev *pop(struct conn *c)
{
    struct ev *e;

    pthread_mutex_lock(&c->lock);
    if ((e = c->head) != NULL) {
        c->head = e->next;
        if (c->head == NULL)
            c->tail = NULL;
        if (e->type == EV_MESSAGE)
            c->nmessages--;
    }
    pthread_mutex_unlock(&c->lock);
    return e;
}

static void detail_with_ssl(struct conn *c, struct ev *e, const char *what)
{
    pthread_mutex_lock(&c->lock);
    if (c->ssl_error[0] != '\0')
        snprintf(e->detail, sizeof(e->detail), "%s (TLS: %s)", what, c->ssl_error);
    else
        snprintf(e->detail, sizeof(e->detail), "%s", what);
    c->ssl_error[0] = '\0';
    pthread_mutex_unlock(&c->lock);
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
    struct conn *c = ctx;
    const char *reason = strstr(str, "error:");

    if (reason == NULL || (size_t)(reason - str) >= len)
        reason = str;
    pthread_mutex_lock(&c->lock);
    snprintf(c->ssl_error, sizeof(c->ssl_error), "%.*s", (int)(len - (size_t)(reason - str)),
             reason);
    c->ssl_error[strcspn(c->ssl_error, "\n")] = '\0';
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void on_sub_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_SUBSCRIBED);

    if (e != NULL) {
        e->ok = true;
        /* Paho fills reasonCodes only for two or more filters. */
        if (r != NULL && c->nfilters > 1 && r->alt.sub.reasonCodes != NULL) {
            for (int i = 0; i < r->alt.sub.reasonCodeCount && i < c->nfilters; i++)
                if (r->alt.sub.reasonCodes[i] >= 0x80 && e->ok) {
                    e->ok = false;
                    snprintf(e->detail, sizeof(e->detail), "%s: %s", c->filters[i],
                             MQTTReasonCode_toString(r->alt.sub.reasonCodes[i]));
                }
        } else if (r != NULL && r->reasonCode >= 0x80) {
            e->ok = false;
            snprintf(e->detail, sizeof(e->detail), "%s: %s", c->filters[0],
                     MQTTReasonCode_toString(r->reasonCode));
        }
    }
    push(c, e, EV_SUBSCRIBED);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_SUBSCRIBED);

    if (e != NULL) {
        if (r != NULL && r->reasonCode >= 0x80)
            snprintf(e->detail, sizeof(e->detail), "%s: %s", c->filters[0],
                     MQTTReasonCode_toString(r->reasonCode));
        else
            snprintf(e->detail, sizeof(e->detail), "%s",
                     r != NULL && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
    }
    push(c, e, EV_SUBSCRIBED);
}

/* Every connect, first or automatic: report it and subscribe (clean start). */
static void on_connected(void *ctx, char *cause)
{
    struct conn *c = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int qos[FILTERS_MAX], rc;
    struct ev *e = ev_new(EV_CONNECTED);

    if (e != NULL)
        snprintf(e->detail, sizeof(e->detail), "%s", cause != NULL ? cause : "");
    push(c, e, EV_CONNECTED);
    for (int i = 0; i < c->nfilters; i++)
        qos[i] = 1;
    ro.onSuccess5 = on_sub_ok;
    ro.onFailure5 = on_sub_fail;
    ro.context = c;
    rc = MQTTAsync_subscribeMany(c->client, c->nfilters, (char *const *)c->filters, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        struct ev *f = ev_new(EV_SUBSCRIBED);
        if (f != NULL)
            snprintf(f->detail, sizeof(f->detail), "%s", MQTTAsync_strerror(rc));
        push(c, f, EV_SUBSCRIBED);
    }
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_CONNECT_FAILED);
    char what[160];

    if (e != NULL) {
        /* Paho puts a CONNACK refusal in code, not in reasonCode. */
        if (r != NULL && r->code > 0)
            snprintf(what, sizeof(what), "refused by the broker: %s",
                     MQTTReasonCode_toString((enum MQTTReasonCodes)r->code));
        else if (r != NULL && r->reasonCode >= 0x80)
            snprintf(what, sizeof(what), "refused by the broker: %s",
                     MQTTReasonCode_toString(r->reasonCode));
        else
            snprintf(what, sizeof(what), "%s",
                     r != NULL && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
        detail_with_ssl(c, e, what);
    }
    push(c, e, EV_CONNECT_FAILED);
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_LOST);

    if (e != NULL)
        detail_with_ssl(c, e, cause != NULL && *cause ? cause : "connection lost");
    push(c, e, EV_LOST);
}

static void on_server_disconnect(void *ctx, MQTTProperties *props, enum MQTTReasonCodes reason)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_LOST);

    (void)props;
    if (e != NULL)
        snprintf(e->detail, sizeof(e->detail), "disconnected by the broker: %s",
                 MQTTReasonCode_toString(reason));
    push(c, e, EV_LOST);
}

/* Only what the main thread uses is queued: alarm, status and cmd_result
 * messages.  Readings (retained, many) are dropped here uncounted. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct conn *c = ctx;
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    char base[TOPIC_MAX], *t = NULL;
    struct ev *e = NULL;
    enum watch_topic type = WATCH_TOPIC_OTHER;
    bool full;

    if (tlen < TOPIC_MAX && (t = malloc(tlen + 1)) != NULL) {
        memcpy(t, topic, tlen);
        t[tlen] = '\0';
        type = watch_topic_parse(t, base, sizeof(base));
    }
    if (type == WATCH_TOPIC_ALARM || type == WATCH_TOPIC_STATUS || type == WATCH_TOPIC_CMD_RESULT) {
        pthread_mutex_lock(&c->lock);
        full = c->nmessages >= QUEUE_MAX_MESSAGES;
        if (full)
            c->dropped_full++;
        else if (plen > MESSAGE_MAX_BYTES)
            c->dropped_big++;
        pthread_mutex_unlock(&c->lock);
        if (!full && plen <= MESSAGE_MAX_BYTES && (e = ev_new(EV_MESSAGE)) != NULL &&
            (e->payload = malloc(plen + 1)) != NULL) {
            if (plen > 0)
                memcpy(e->payload, msg->payload, plen);
            e->payload[plen] = '\0';
            e->len = plen;
            e->retained = msg->retained != 0;
            e->topic = t;
            t = NULL;
            push(c, e, EV_MESSAGE);
        } else if (e != NULL) {
            ev_free(e);
            push(c, NULL, EV_MESSAGE); /* out of memory: counted as lost */
        }
    }
    free(t);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_publish_ok(void *ctx, MQTTAsync_successData5 *r)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_PUBLISHED);

    if (e != NULL) {
        e->ok = r == NULL || r->reasonCode < 0x80;
        if (!e->ok)
            snprintf(e->detail, sizeof(e->detail), "%s", MQTTReasonCode_toString(r->reasonCode));
    }
    push(c, e, EV_PUBLISHED);
}

static void on_publish_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    struct conn *c = ctx;
    struct ev *e = ev_new(EV_PUBLISHED);

    if (e != NULL)
        snprintf(e->detail, sizeof(e->detail), "%s",
                 r != NULL && r->code == 0 && r->reasonCode >= 0x80
                     ? MQTTReasonCode_toString(r->reasonCode)
                 : r != NULL && r->message ? r->message
                                           : MQTTAsync_strerror(r ? r->code : -1));
    push(c, e, EV_PUBLISHED);
}

static void on_disconnect_done(void *ctx, MQTTAsync_successData5 *r)
{
    struct conn *c = ctx;

    (void)r;
    pthread_mutex_lock(&c->lock);
    c->disconnected = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void on_disconnect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
    (void)r;
    on_disconnect_done(ctx, NULL);
}

/* A unique client id: host, pid and a start time. */
static void client_id(char *buf, size_t len)
{
    char host[64] = "";

    if (gethostname(host, sizeof(host)) == -1)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    /* The unique part first: a command id is cut at WATCH_TEXT_MAX bytes. */
    snprintf(buf, len, "shelter-watch-%ld-%lld-%s", (long)getpid(), (long long)(mono_ms() % 100000),
             host);
}

static void conn_free(struct conn *c);

/* Create and start connecting; reconnect: retry forever in the background.
 * NULL after logging why. */
static struct conn *conn_start(const struct opts *o, const char *const *filters, int nfilters,
                               bool reconnect)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    MQTTAsync_connectOptions cn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    struct conn *c = calloc(1, sizeof(*c));
    sigset_t sigs, oldmask;
    char id[128];
    int rc;

    sigemptyset(&oldmask);
    pthread_sigmask(SIG_SETMASK, NULL, &oldmask);

    if (c == NULL) {
        log_warnx("out of memory");
        return NULL;
    }
    c->o = o;
    c->filters = filters;
    c->nfilters = nfilters;
    c->tls = strncmp(o->broker, "ssl://", 6) == 0;
    c->efd = -1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (o->password_file != NULL && (c->password = read_password(o->password_file)) == NULL)
        goto fail;
    if (o->ca_file != NULL && access(o->ca_file, R_OK) == -1) {
        log_warn("ca file %s", o->ca_file);
        goto fail;
    }
    if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
        log_warn("eventfd");
        goto fail;
    }
    client_id(id, sizeof(id));
    /* Paho's threads, created from here on, inherit a mask without our
     * signals: they are delivered to the main thread only. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &sigs, &oldmask);
    co.sendWhileDisconnected = 0;
    co.MQTTVersion = MQTTVERSION_5;
    rc = MQTTAsync_createWithOptions(&c->client, o->broker, id, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                     &co);
    if (rc != MQTTASYNC_SUCCESS) {
        c->client = NULL;
        log_warnx("broker %s: %s", o->broker, MQTTAsync_strerror(rc));
        goto fail;
    }
    if ((rc = MQTTAsync_setCallbacks(c->client, c, on_connection_lost, on_message, NULL)) !=
            MQTTASYNC_SUCCESS ||
        (rc = MQTTAsync_setConnected(c->client, c, on_connected)) != MQTTASYNC_SUCCESS ||
        (rc = MQTTAsync_setDisconnected(c->client, c, on_server_disconnect)) != MQTTASYNC_SUCCESS) {
        log_warnx("paho callbacks: %s", MQTTAsync_strerror(rc));
        goto fail;
    }
    cn.keepAliveInterval = 30;
    cn.cleansession = 0;
    cn.cleanstart = 1; /* nothing kept for us between connections: retained state is the truth */
    cn.username = o->username;
    cn.password = c->password;
    cn.connectTimeout = 10;
    cn.MQTTVersion = MQTTVERSION_5;
    cn.automaticReconnect = reconnect;
    cn.minRetryInterval = 1;
    cn.maxRetryInterval = 30;
    cn.onFailure5 = on_connect_fail;
    cn.context = c;
    if (c->tls) {
        ssl.trustStore = o->ca_file; /* NULL: the system's CAs */
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1; /* the certificate must name the host we dialled */
        ssl.ssl_error_cb = on_ssl_error;
        ssl.ssl_error_context = c;
        cn.ssl = &ssl;
    }
    if ((rc = MQTTAsync_connect(c->client, &cn)) != MQTTASYNC_SUCCESS) {
        log_warnx("connect to %s: %s", o->broker, MQTTAsync_strerror(rc));
        goto fail;
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    return c;

fail:
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    conn_free(c);
    return NULL;
}

static int conn_publish(struct conn *c, const char *topic, const char *payload)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    int rc;

    ro.onSuccess5 = on_publish_ok;
    ro.onFailure5 = on_publish_fail;
    ro.context = c;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)strlen(payload);
    msg.qos = 1;
    msg.retained = 0; /* the gateway refuses retained commands */
    if ((rc = MQTTAsync_sendMessage(c->client, topic, &msg, &ro)) != MQTTASYNC_SUCCESS) {
        log_warnx("publish %s: %s", topic, MQTTAsync_strerror(rc));
        return -1;
    }
    return 0;
}

/* Disconnect (waiting up to 2 s), destroy, free. NULL is a no-op. */
static void conn_free(struct conn *c)
{
    struct ev *e;

    if (c == NULL)
        return;
    if (c->client != NULL) {
        if (MQTTAsync_isConnected(c->client)) {
            MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
            struct timespec until;
            d.timeout = 1000;
            d.onSuccess5 = on_disconnect_done;
            d.onFailure5 = on_disconnect_fail;
            d.context = c;
            if (MQTTAsync_disconnect(c->client, &d) == MQTTASYNC_SUCCESS) {
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 2;
                pthread_mutex_lock(&c->lock);
                while (!c->disconnected)
                    if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
                        break;
                pthread_mutex_unlock(&c->lock);
            }
        }
        MQTTAsync_destroy(&c->client); /* no callback runs after this */
    }
    while ((e = pop(c)) != NULL)
        ev_free(e);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    if (c->efd >= 0)
        close(c->efd);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Drain the eventfd and report what Paho dropped since the last call. */
static void conn_drain(struct conn *c)
{
    uint64_t n, full, big;
    bool lost;

    while (read(c->efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
    pthread_mutex_lock(&c->lock);
    full = c->dropped_full;
    big = c->dropped_big;
    lost = c->lost_event;
    c->dropped_full = c->dropped_big = 0;
    c->lost_event = false;
    pthread_mutex_unlock(&c->lock);
    if (full > 0)
        log_warnx("%llu messages dropped: more than %d waiting", (unsigned long long)full,
                  QUEUE_MAX_MESSAGES);
    if (big > 0)
        log_warnx("%llu messages dropped: larger than %d bytes", (unsigned long long)big,
                  MESSAGE_MAX_BYTES);
    if (lost)
        log_warnx("out of memory: messages or events were lost");
}

/* ---- signals: handlers only set flags and wake poll() ---- */

static volatile sig_atomic_t quit_signal, child_signal;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGCHLD)
        child_signal = 1;
    else
        quit_signal = sig;
    ssize_t w = write(sig_pipe[1], "", 1);
    (void)w;
    errno = saved;
}

static int signals_init(void)
{
    struct sigaction sa;

    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1 ||
        sigaction(SIGCHLD, &sa, NULL) == -1)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void signals_drain(void)
{
    char buf[64];
    while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

/* ---- --exec: bounded children, never waited for in the loop ---- */

struct job {
    char *json; /* the alarm payload as received */
    char *topic;
    char what[200]; /* "gateway sensor alarm seq N" for log lines */
};

struct child {
    pid_t pid; /* 0: slot free */
    int64_t started_ms;
    bool killed;
    char what[200];
};

struct execs {
    const char *cmd;
    struct child running[EXEC_RUNNING_MAX];
    int nrunning;
    struct job queue[EXEC_QUEUE_MAX]; /* ring */
    int qhead, qlen;
};

static void job_clear(struct job *j)
{
    free(j->json);
    free(j->topic);
    memset(j, 0, sizeof(*j));
}

/* The environment of a child: ours plus SHELTER_ALARM_TOPIC (built before
 * fork: the child of a threaded process may only call async-signal-safe
 * functions until it execs). */
extern char **environ;
static char **child_env(const char *topic)
{
    size_t n = 0, k = 0;
    char **env, *var;

    while (environ[n] != NULL)
        n++;
    if ((env = calloc(n + 2, sizeof(*env))) == NULL)
        return NULL;
    if ((var = malloc(strlen("SHELTER_ALARM_TOPIC=") + strlen(topic) + 1)) == NULL) {
        free(env);
        return NULL;
    }
    sprintf(var, "SHELTER_ALARM_TOPIC=%s", topic);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SHELTER_ALARM_TOPIC=", 20) != 0)
            env[k++] = environ[i];
    env[k++] = var;
    env[k] = NULL;
    return env;
}

static void child_env_free(char **env)
{
    if (env != NULL) {
        size_t k = 0;
        while (env[k] != NULL)
            k++;
        if (k > 0)
            free(env[k - 1]); /* ours is the last one */
        free(env);
    }
}

/* Start a job: its JSON in a memfd as stdin (no pipe to feed, no blocking). */
static int exec_start(struct execs *x, struct job *j)
{
    int fd = -1, slot;
    char **env = NULL;
    size_t len = strlen(j->json), off = 0;
    pid_t pid;

    for (slot = 0; slot < EXEC_RUNNING_MAX && x->running[slot].pid != 0; slot++)
        ;
    if (slot == EXEC_RUNNING_MAX)
        return -1;
    if ((fd = memfd_create("shelter-watch-alarm", MFD_CLOEXEC)) == -1) {
        log_warn("--exec for %s: memfd_create", j->what);
        return -1;
    }
    while (off < len) {
        ssize_t w = write(fd, j->json + off, len - off);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("--exec for %s: write", j->what);
            goto fail;
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) == -1 || (env = child_env(j->topic)) == NULL) {
        log_warn("--exec for %s", j->what);
        goto fail;
    }
    fflush(stdout);
    if ((pid = fork()) == -1) {
        log_warn("--exec for %s: fork", j->what);
        goto fail;
    }
    if (pid == 0) {
        /* Own process group: a Ctrl-C for the watcher does not cut a
         * notification short, and a hung CMD is killed as a whole. */
        struct sigaction dfl;
        sigset_t none;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        sigaction(SIGCHLD, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        if (dup2(fd, STDIN_FILENO) == -1)
            _exit(126);
        execle("/bin/sh", "sh", "-c", x->cmd, (char *)NULL, env);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first */
    close(fd);
    child_env_free(env);
    x->running[slot] = (struct child){.pid = pid, .started_ms = mono_ms()};
    memcpy(x->running[slot].what, j->what, sizeof(j->what)); /* same size, NUL-terminated */
    x->nrunning++;
    log_debug("--exec for %s: pid %ld", j->what, (long)pid);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    child_env_free(env);
    return -1;
}

/* Queue a run for a new alarm; started at once when a slot is free. */
static void exec_add(struct execs *x, const char *json, const char *topic, const char *what)
{
    struct job *j;

    if (x->qlen == EXEC_QUEUE_MAX) {
        /* Bounded: the oldest waiting run goes, loudly (the line was printed). */
        j = &x->queue[x->qhead];
        log_warnx("--exec for %s dropped: %d runs waiting", j->what, EXEC_QUEUE_MAX);
        job_clear(j);
        x->qhead = (x->qhead + 1) % EXEC_QUEUE_MAX;
        x->qlen--;
    }
    j = &x->queue[(x->qhead + x->qlen) % EXEC_QUEUE_MAX];
    j->json = strdup(json);
    j->topic = strdup(topic);
    snprintf(j->what, sizeof(j->what), "%s", what);
    if (j->json == NULL || j->topic == NULL) {
        log_warnx("--exec for %s: out of memory", what);
        job_clear(j);
        return;
    }
    x->qlen++;
}

/* Start what waits while slots are free. */
static void exec_pump(struct execs *x)
{
    while (x->qlen > 0 && x->nrunning < EXEC_RUNNING_MAX) {
        struct job *j = &x->queue[x->qhead];
        if (exec_start(x, j) == -1 && x->nrunning < EXEC_RUNNING_MAX)
            log_warnx("--exec for %s not run", j->what);
        job_clear(j);
        x->qhead = (x->qhead + 1) % EXEC_QUEUE_MAX;
        x->qlen--;
    }
}

/* Reap finished children (logging failures) and kill overdue ones. */
static void exec_reap(struct execs *x, int64_t now)
{
    for (int i = 0; i < EXEC_RUNNING_MAX; i++) {
        struct child *ch = &x->running[i];
        int st;
        pid_t r;

        if (ch->pid == 0)
            continue;
        r = waitpid(ch->pid, &st, WNOHANG);
        if (r == ch->pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
                log_warnx("--exec for %s: exit status %d", ch->what, WEXITSTATUS(st));
            else if (WIFSIGNALED(st))
                log_warnx("--exec for %s: killed by signal %d%s", ch->what, WTERMSIG(st),
                          ch->killed ? " (took too long)" : "");
            else
                log_debug("--exec for %s: done", ch->what);
            ch->pid = 0;
            x->nrunning--;
        } else if (r == -1 && errno == ECHILD) {
            ch->pid = 0;
            x->nrunning--;
        } else if (!ch->killed && now - ch->started_ms >= EXEC_TIMEOUT_MS) {
            log_warnx("--exec for %s: still running after %d s, killing it", ch->what,
                      EXEC_TIMEOUT_MS / 1000);
            kill(-ch->pid, SIGKILL); /* its own process group, started by us */
            ch->killed = true;
        }
    }
}

/* On exit: give running CMDs EXEC_DRAIN_MS, then stop them. */
static void exec_finish(struct execs *x)
{
    int64_t until = mono_ms() + EXEC_DRAIN_MS;

    if (x->qlen > 0)
        log_warnx("%d --exec runs not started (exiting)", x->qlen);
    while (x->qlen > 0) {
        job_clear(&x->queue[x->qhead]);
        x->qhead = (x->qhead + 1) % EXEC_QUEUE_MAX;
        x->qlen--;
    }
    while (x->nrunning > 0 && mono_ms() < until) {
        exec_reap(x, mono_ms());
        if (x->nrunning > 0)
            poll(NULL, 0, 50);
    }
    for (int i = 0; i < EXEC_RUNNING_MAX; i++)
        if (x->running[i].pid != 0) {
            log_warnx("--exec for %s: still running at exit, stopping it", x->running[i].what);
            kill(-x->running[i].pid, SIGTERM);
            waitpid(x->running[i].pid, NULL, 0);
            x->running[i].pid = 0;
        }
    x->nrunning = 0;
}

/* ---- watching ---- */

static int tz_offset(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    return localtime_r(&t, &tm) != NULL ? (int)tm.tm_gmtoff : 0;
}

static void print_line(const char *line)
{
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* One active alarm of the listing, held until the retained burst is over. */
struct listed {
    struct watch_alarm a;
    char *topic;
};

struct watcher {
    const struct opts *o;
    struct conn *conn;
    struct watch_seen *seen;
    struct watch_gateways *gws;
    struct watch_once *refused; /* topic bases whose refusal was logged */
    struct execs execs;
    enum { PH_CONNECTING, PH_LISTING, PH_LIVE } phase;
    int64_t quiet_until, listing_until; /* PH_LISTING: monotonic ms */
    int64_t start_wall_ms;
    bool connected_once;
    bool outage; /* a connect failed or the connection was lost: said once */
    struct listed *listed;
    size_t nlisted, caplisted;
};

static int listed_cmp(const void *pa, const void *pb)
{
    const struct listed *a = pa, *b = pb;
    int ra = watch_severity_rank(a->a.severity), rb = watch_severity_rank(b->a.severity);

    if (ra != rb)
        return ra - rb;
    if (a->a.ts_ms != b->a.ts_ms)
        return a->a.ts_ms < b->a.ts_ms ? -1 : 1;
    return strcmp(a->topic, b->topic);
}

static void print_alarm(struct watcher *w, const struct watch_alarm *a, enum watch_line how,
                        const char *topic)
{
    char line[2048];
    int64_t now = wall_ms();

    if (watch_format_alarm(a, how, w->o->lang, now, tz_offset(now), line, sizeof(line)) < 0)
        return;
    /* The topic is what `shelter-watch ack` takes: shown with what may need one. */
    if (a->active && (how == WATCH_LINE_ACTIVE || strcmp(a->event, "raised") == 0) &&
        strcmp(a->alarm, "inhibit") != 0) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof(line) - n, "  %s", topic);
    }
    print_line(line);
}

static void end_listing(struct watcher *w)
{
    const struct opts *o = w->o;
    bool zh = o->lang != LANG_EN;
    char filters[512] = "", line[1024];
    int online, offline;
    size_t n = 0;

    for (int i = 0; i < o->nfilters && n < sizeof(filters); i++)
        n +=
            (size_t)snprintf(filters + n, sizeof(filters) - n, "%s%s", i ? " " : "", o->filters[i]);
    if (w->nlisted > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(w->listed, w->nlisted, sizeof(*w->listed), listed_cmp);
    if (w->nlisted == 0)
        snprintf(line, sizeof(line), zh ? "── %s：当前无报警 ──" : "── %s: no active alarms ──",
                 filters);
    else
        snprintf(line, sizeof(line), zh ? "── %s：当前报警 %zu 条 ──" : "── %s: %zu active ──",
                 filters, w->nlisted);
    print_line(line);
    for (size_t i = 0; i < w->nlisted; i++) {
        print_alarm(w, &w->listed[i].a, WATCH_LINE_ACTIVE, w->listed[i].topic);
        watch_alarm_release(&w->listed[i].a);
        free(w->listed[i].topic);
    }
    free(w->listed);
    w->listed = NULL;
    w->nlisted = w->caplisted = 0;
    watch_gateways_count(w->gws, &online, &offline);
    snprintf(line, sizeof(line),
             zh ? "── 网关：%d 在线，%d 离线；实时监视中（Ctrl-C 退出）──"
                : "── gateways: %d online, %d offline; watching live "
                  "(Ctrl-C to quit) ──",
             online, offline);
    print_line(line);
    w->phase = PH_LIVE;
}

/* A message refused: rc -1 malformed (a warning each), rc -2 not from the
 * gateway its topic names (a forgery, or a gateway publishing where it does
 * not belong): one warning per topic base, so it cannot flood the log, the
 * rest at debug level. */
static void refused(struct watcher *w, const char *base, const char *topic, int rc, const char *why)
{
    if (rc == -1)
        log_warnx("ignoring %s: %s", topic, why);
    else if (watch_once_first(w->refused, base) != 0)
        log_warnx("ignoring %s: not its gateway's: %s (further refusals under %s are logged "
                  "only with SHELTER_WATCH_DEBUG set)",
                  topic, why, base);
    else
        log_debug("ignoring %s: not its gateway's: %s", topic, why);
}

static void on_status(struct watcher *w, const char *base, const struct ev *e)
{
    bool online;
    const char *gateway, *name;
    char line[1024];
    int rc;

    char err[200];

    if (e->len == 0)
        return; /* a retained status being removed */
    rc = watch_gateways_update(w->gws, base, e->payload, e->len, &online, &gateway, &name, err,
                               sizeof(err));
    if (rc < 0) {
        refused(w, base, e->topic, rc, err);
        return;
    }
    /* Offline gateways are news even in the listing; the online are counted. */
    if (rc == 1 && (w->phase == PH_LIVE || !online)) {
        int64_t now = wall_ms();
        watch_format_status(gateway, name, online, w->o->lang, now, now, tz_offset(now), line,
                            sizeof(line));
        print_line(line);
    }
}

static void on_alarm(struct watcher *w, const char *base, const struct ev *e)
{
    struct watch_alarm a;
    char err[256], what[200];
    int rc;

    if (e->len == 0)
        return; /* a retained alarm topic being removed */
    if ((rc = watch_alarm_parse_message(e->topic, e->payload, e->len, &a, err, sizeof(err))) < 0) {
        refused(w, base, e->topic, rc, err);
        return;
    }
    /* Duplicates by the identity the topic gives, never the payload's claim:
     * else one gateway's forgery would hide another's genuine alarm. */
    rc = watch_seen_add(w->seen, a.base, a.seq);
    if (rc == 0) {
        log_debug("duplicate %s seq %llu dropped", a.gateway, (unsigned long long)a.seq);
        watch_alarm_release(&a);
        return;
    }
    if (e->retained && w->phase == PH_LISTING) {
        w->quiet_until = mono_ms() + LISTING_QUIET_MS;
        if (!a.active) {
            watch_alarm_release(&a);
            return;
        }
        if (w->nlisted == w->caplisted) {
            size_t cap = w->caplisted ? w->caplisted * 2 : 64;
            struct listed *l = realloc(w->listed, cap * sizeof(*l));
            if (l == NULL) {
                log_warnx("out of memory: %s not listed", e->topic);
                watch_alarm_release(&a);
                return;
            }
            w->listed = l;
            w->caplisted = cap;
        }
        w->listed[w->nlisted].a = a;
        if ((w->listed[w->nlisted].topic = strdup(e->topic)) == NULL) {
            watch_alarm_release(&a);
            return;
        }
        w->nlisted++;
        return;
    }
    /* A transition: live, or the retained state of one we missed while
     * disconnected (a new seq on reconnect). */
    print_alarm(w, &a, WATCH_LINE_LIVE, e->topic);
    if (w->o->exec_cmd != NULL && watch_alarm_is_new(&a) &&
        (!e->retained || a.ts_ms >= w->start_wall_ms)) {
        snprintf(what, sizeof(what), "%s %s %s seq %llu", a.gateway, a.sensor, a.alarm,
                 (unsigned long long)a.seq);
        exec_add(&w->execs, e->payload, e->topic, what);
    }
    watch_alarm_release(&a);
}

static void on_event(struct watcher *w, struct ev *e)
{
    char base[TOPIC_MAX];

    switch (e->type) {
    case EV_CONNECTED:
        if (!w->connected_once)
            log_info("connected to %s", w->o->broker);
        else
            log_warnx("connected to %s again", w->o->broker);
        w->connected_once = true;
        w->outage = false;
        break;
    case EV_CONNECT_FAILED:
        /* One line per outage, not one per retry. */
        if (!w->outage)
            log_warnx("cannot connect to %s: %s (retrying)", w->o->broker, e->detail);
        else
            log_debug("cannot connect to %s: %s", w->o->broker, e->detail);
        w->outage = true;
        break;
    case EV_LOST:
        log_warnx("connection to %s lost: %s (reconnecting)", w->o->broker, e->detail);
        w->outage = true;
        break;
    case EV_SUBSCRIBED:
        if (!e->ok) {
            log_warnx("subscribe refused: %s", e->detail);
            if (w->phase == PH_CONNECTING)
                quit_signal = -1;
        } else if (w->phase == PH_CONNECTING) {
            w->phase = PH_LISTING;
            w->quiet_until = mono_ms() + LISTING_QUIET_MS;
            w->listing_until = mono_ms() + LISTING_MAX_MS;
        }
        break;
    case EV_PUBLISHED:
        break;
    case EV_MESSAGE:
        /* A live message ends the listing: the retained burst comes first. */
        if (w->phase == PH_LISTING && !e->retained)
            end_listing(w);
        switch (watch_topic_parse(e->topic, base, sizeof(base))) {
        case WATCH_TOPIC_ALARM:
            on_alarm(w, base, e);
            break;
        case WATCH_TOPIC_STATUS:
            on_status(w, base, e);
            break;
        default:
            break;
        }
        break;
    }
}

static int run_watch(const struct opts *o)
{
    struct watcher w;
    struct ev *e;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.o = o;
    w.execs.cmd = o->exec_cmd;
    w.start_wall_ms = wall_ms();
    w.seen = watch_seen_new(SEEN_CAPACITY);
    w.gws = watch_gateways_new();
    w.refused = watch_once_new();
    if (w.seen == NULL || w.gws == NULL || w.refused == NULL) {
        log_warnx("out of memory");
        rc = 1;
        goto out;
    }
    if ((w.conn = conn_start(o, o->filters, o->nfilters, true)) == NULL) {
        rc = 1;
        goto out;
    }
    while (quit_signal == 0) {
        struct pollfd pfd[2] = {{.fd = w.conn->efd, .events = POLLIN},
                                {.fd = sig_pipe[0], .events = POLLIN}};
        int64_t now = mono_ms();
        int timeout = w.execs.nrunning > 0 ? 1000 : -1;

        if (w.phase == PH_LISTING) {
            int64_t until = w.quiet_until < w.listing_until ? w.quiet_until : w.listing_until;
            timeout = until > now ? (int)(until - now) : 0;
        }
        if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
            log_warn("poll");
            rc = 1;
            break;
        }
        signals_drain();
        conn_drain(w.conn);
        while (quit_signal == 0 && (e = pop(w.conn)) != NULL) {
            on_event(&w, e);
            ev_free(e);
        }
        now = mono_ms();
        if (w.phase == PH_LISTING && (now >= w.quiet_until || now >= w.listing_until))
            end_listing(&w);
        if (child_signal || w.execs.nrunning > 0) {
            child_signal = 0;
            exec_reap(&w.execs, now);
        }
        exec_pump(&w.execs);
    }
    if (quit_signal == -1)
        rc = 1;
out:
    conn_free(w.conn);
    exec_finish(&w.execs);
    for (size_t i = 0; i < w.nlisted; i++) {
        watch_alarm_release(&w.listed[i].a);
        free(w.listed[i].topic);
    }
    free(w.listed);
    watch_seen_free(w.seen);
    watch_gateways_free(w.gws);
    watch_once_free(w.refused);
    return rc;
}

/* ---- ack ---- */

static int run_ack(const struct opts *o)
{
    char base[TOPIC_MAX], sensor[WATCH_TEXT_MAX + 1], alarm[WATCH_TEXT_MAX + 1], err[256];
    char result_topic[TOPIC_MAX + 16], cmd_topic[TOPIC_MAX + 16], id[WATCH_TEXT_MAX + 1];
    char by[WATCH_TEXT_MAX + 1];
    const char *filters[1];
    char *payload = NULL;
    struct conn *c = NULL;
    int64_t deadline = mono_ms() + ACK_TIMEOUT_MS;
    int rc = 1;
    bool sent = false;

    if (watch_ack_target(o->alarm_topic, base, sizeof(base), sensor, alarm, err, sizeof(err)) ==
        -1) {
        fprintf(stderr, "shelter-watch ack: %s\n", err);
        return 64;
    }
    if (o->by != NULL) {
        if (strlen(o->by) == 0 || strlen(o->by) > WATCH_TEXT_MAX) {
            fprintf(stderr, "shelter-watch ack: --by: 1..%d bytes\n", WATCH_TEXT_MAX);
            return 64;
        }
        snprintf(by, sizeof(by), "%s", o->by);
    } else {
        struct passwd *pw = getpwuid(getuid());
        snprintf(by, sizeof(by), "%s", pw != NULL ? pw->pw_name : "shelter-watch");
    }
    client_id(id, sizeof(id));
    snprintf(result_topic, sizeof(result_topic), "%s/cmd_result", base);
    snprintf(cmd_topic, sizeof(cmd_topic), "%s/cmd/ack", base);
    if ((payload = watch_ack_payload(id, sensor, alarm, by)) == NULL) {
        log_warnx("out of memory");
        return 1;
    }
    filters[0] = result_topic;
    if ((c = conn_start(o, filters, 1, false)) == NULL)
        goto out;
    for (;;) {
        struct pollfd pfd = {.fd = c->efd, .events = POLLIN};
        int64_t now = mono_ms();
        struct ev *e;

        if (now >= deadline) {
            printf("error: %s\n", sent ? "no answer from the gateway within 10 s"
                                       : "broker not reached within 10 s");
            goto out;
        }
        if (poll(&pfd, 1, (int)(deadline - now)) == -1 && errno != EINTR) {
            log_warn("poll");
            goto out;
        }
        conn_drain(c);
        while ((e = pop(c)) != NULL) {
            bool ok, done = true;
            char why[256];
            switch (e->type) {
            case EV_CONNECT_FAILED:
                printf("error: cannot connect to %s: %s\n", o->broker, e->detail);
                break;
            case EV_LOST:
                printf("error: connection to %s lost: %s\n", o->broker, e->detail);
                break;
            case EV_SUBSCRIBED:
                if (!e->ok)
                    printf("error: subscribe refused: %s\n", e->detail);
                else if (!sent && conn_publish(c, cmd_topic, payload) == 0) {
                    sent = true;
                    done = false;
                } else if (!sent)
                    printf("error: publish failed\n");
                else
                    done = false;
                break;
            case EV_PUBLISHED:
                if (!e->ok)
                    printf("error: %s refused: %s\n", cmd_topic, e->detail);
                else
                    done = false;
                break;
            case EV_MESSAGE:
                done = false;
                if (strcmp(e->topic, result_topic) == 0 &&
                    watch_cmd_result(e->payload, e->len, id, &ok, why, sizeof(why)) == 1) {
                    done = true;
                    if (ok) {
                        printf("ok\n");
                        rc = 0;
                    } else {
                        printf("error: %s\n", why);
                    }
                }
                break;
            default:
                done = false;
                break;
            }
            ev_free(e);
            if (done)
                goto out;
        }
    }
out:
    fflush(stdout);
    conn_free(c);
    free(payload);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    bool ack = argc > 1 && strcmp(argv[1], "ack") == 0;

    log_init(getenv("SHELTER_WATCH_DEBUG") != NULL);
    if (parse_opts(ack ? argc - 1 : argc, ack ? argv + 1 : argv, ack, &o) == -1)
        return 64;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!ack && signals_init() == -1) {
        log_warn("signals");
        return 1;
    }
    return ack ? run_ack(&o) : run_watch(&o);
}
