/*
 * shelter-notify: alarms to people's phones (docs/design.md section 22).
 *
 *   shelter-notify [-c FILE] [--check] [--send-test CHANNEL] [-v] [--version] [--help]
 *
 * Subscribes to the gateways' alarm and status topics, queues the notices
 * of every matching transition durably (store.c), delivers them to WeCom
 * and DingTalk group robots and webhooks (http.c, channel.c) within each
 * robot's rate, escalates what nobody acknowledges (叫应), and serves the
 * ack pages (ackweb.c).
 *
 * The main thread owns everything; its loop is one poll() over a signalfd,
 * the MQTT clients' event descriptors, libcurl's sockets and the ack
 * server's epoll descriptor, and each pass reads like a checklist:
 * signals, messages, timers, requests, answers, pages, watchdog.  With
 * share_group there are two MQTT clients: one on the shared subscription
 * (this instance's share of the notices) and one on the plain filters (the
 * state every instance must know: an ack taken by another instance stops
 * this one's escalation).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "ackweb.h"
#include "clock.h"
#include "dispatch.h"
#include "gwmsg.h"
#include "http.h"
#include "log.h"
#include "mqtt.h"
#include "ncfg.h"
#include "store.h"
#include "topic.h"

#define EX_CONFIG 78
#define DEFAULT_CONF "/etc/shelter-notify/notify.conf"
#define RETAINED_QUIET_MS 1500 /* the retained burst is over after this much quiet */
/* ... or this long after the subscription: a fence, not the usual end.  A
 * city's burst is tens of thousands of retained topics, each a transaction
 * (40000 took 20-45 s on a busy 2-core VM); cut short, the rest of a first
 * start's active alarms would go out one by one as an alarm flood instead
 * of in the summary (tests/soak/notify_city.sh). */
#define RETAINED_MAX_MS 180000
#define STORE_RETRY_MS 1000
#define MESSAGE_MAX_BYTES 65536
#define REQUESTS_MAX 64 /* one per channel at most */
#define POLLFDS_MAX (8 + HTTP_SOCKETS_MAX)
#define SEND_TEST_TIMEOUT_MS 30000

enum { CLIENT_DUTY, CLIENT_TRACK, CLIENTS };

struct client {
    struct mqtt *m;
    bool connected;
    bool syncing; /* between a subscription and the end of its retained burst */
    int64_t sync_start_ms, last_retained_ms;
    struct mqtt_event held; /* a message the store could not take yet */
    bool have_held;
    int64_t retry_ms;
};

struct notifier {
    struct ncfg *cfg;
    struct store *st;
    struct dispatch *d;
    struct http *http;
    struct ackweb *web;
    struct client cl[CLIENTS];
    int nclients;
    bool synced_once; /* a retained burst ended: the state is complete, timers may fire */
    struct dispatch_request req[REQUESTS_MAX];
    int nreq;
    int sigfd;
    int64_t watchdog_ms, next_watchdog_ms;
    uint64_t next_publish_id;
    volatile bool stop;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shelter-notify [-c FILE] [--check] [--send-test CHANNEL] [-v]\n"
            "  -c FILE              configuration (default %s)\n"
            "  --check              validate the configuration and the files it names, print\n"
            "                       a summary, exit (78 on errors)\n"
            "  --send-test CHANNEL  send a test message through one channel now and say what\n"
            "                       the robot answered (exit 0 delivered, 1 not)\n"
            "  -v                   debug logging\n",
            DEFAULT_CONF);
}

/* ---- MQTT ---- */

/* Paho's threads ask this of each message before queueing it. */
static int accept_topic(const char *topic, void *arg)
{
    enum topic_type t = topic_type_of(topic);
    (void)arg;
    return t == TOPIC_ALARM || t == TOPIC_STATUS;
}

static int client_new(struct notifier *n, int which, char *err, size_t errlen)
{
    const struct ncfg *c = n->cfg;
    struct mqtt_opts o = {0};
    char id[NCFG_TEXT_MAX + 8];
    static char track_user[MQTTCFG_NAME_MAX + 8];
    bool shared = which == CLIENT_DUTY && c->nmqtt.share_group[0] != '\0';
    static char filters[CLIENTS][2][TOPIC_SIZE + 80];

    for (int i = 0; i < c->mqtt.nuri; i++)
        o.uris[i] = c->mqtt.uri[i];
    o.nuris = c->mqtt.nuri;
    snprintf(id, sizeof(id), "%s%s", c->nmqtt.client_id, which == CLIENT_TRACK ? "-track" : "");
    o.client_id = id;
    /* The tracking connection is a user of its own (USER-track): under
     * mosquitto's use_username_as_clientid two connections of one user
     * would replace each other. */
    if (which == CLIENT_TRACK && c->mqtt.username[0] != '\0') {
        snprintf(track_user, sizeof(track_user), "%s-track", c->mqtt.username);
        o.username = track_user;
    } else {
        o.username = c->mqtt.username;
    }
    o.password_file = c->mqtt.password_file;
    o.ca_file = c->mqtt.ca_file;
    o.cert_file = c->mqtt.cert_file;
    o.key_file = c->mqtt.key_file;
    o.keepalive_s = c->mqtt.keepalive_s;
    o.session_expiry_s = (int)(c->nmqtt.session_expiry_ms / 1000);
    o.hold_messages = 1;
    o.accept = accept_topic;
    o.max_message_bytes = MESSAGE_MAX_BYTES;
    /* Every gateway's alarms and status: routes pick theirs. */
    if (shared) {
        snprintf(filters[which][0], sizeof(filters[which][0]), "$share/%s/%s/+/+/+/+/+/+/alarm/+/+",
                 c->nmqtt.share_group, c->mqtt.topic_prefix);
        snprintf(filters[which][1], sizeof(filters[which][1]), "$share/%s/%s/+/+/+/+/+/+/status",
                 c->nmqtt.share_group, c->mqtt.topic_prefix);
    } else {
        snprintf(filters[which][0], sizeof(filters[which][0]), "%s/+/+/+/+/+/+/alarm/+/+",
                 c->mqtt.topic_prefix);
        snprintf(filters[which][1], sizeof(filters[which][1]), "%s/+/+/+/+/+/+/status",
                 c->mqtt.topic_prefix);
    }
    for (int i = 0; i < 2; i++)
        o.subscriptions[i] = (struct mqtt_sub){.filter = filters[which][i], .qos = 1};
    o.nsubscriptions = 2;
    n->cl[which].m = mqtt_new(&o, err, errlen);
    if (n->cl[which].m == NULL)
        return -1;
    return mqtt_start(n->cl[which].m, err, errlen);
}

static void client_event(struct notifier *n, int which, struct mqtt_event *ev, int64_t now)
{
    struct client *cl = &n->cl[which];
    const char *who = which == CLIENT_TRACK ? " (tracking)" : "";

    switch (ev->type) {
    case MQTT_EV_CONNECTED:
        cl->connected = true;
        log_info("broker: connected%s: %s", who, ev->detail);
        break;
    case MQTT_EV_CONNECT_FAILED:
        log_warnx("broker%s: cannot connect: %s", who, ev->detail);
        break;
    case MQTT_EV_DISCONNECTED:
        cl->connected = false;
        cl->syncing = false;
        log_warnx("broker%s: disconnected: %s (reconnecting)", who, ev->detail);
        break;
    case MQTT_EV_SUBSCRIBED:
        if (!ev->ok) {
            log_warnx("broker%s: subscription refused: %s", who, ev->detail);
        } else {
            cl->syncing = true;
            cl->sync_start_ms = cl->last_retained_ms = mono_ms();
        }
        break;
    case MQTT_EV_PUBLISHED:
        if (ev->ok)
            log_info("cmd/ack %" PRIu64 " taken by the broker", ev->id);
        else
            log_warnx("cmd/ack %" PRIu64 " failed: %s", ev->id, ev->detail);
        break;
    case MQTT_EV_MESSAGE:
    case MQTT_EV_NONE:
        break;
    }
    (void)now;
}

/* A message into the store: released to the broker only once it is in
 * (store.c N1). */
static bool take_message(struct notifier *n, int which, struct mqtt_event *ev, int64_t now)
{
    struct client *cl = &n->cl[which];
    enum dispatch_via via;
    int rc = 0;

    /* The broker clears the retain flag of what it forwards live: a
     * retained message is one sent at a subscription. */
    if (ev->retained) {
        via = DISPATCH_RETAINED;
        cl->last_retained_ms = mono_ms();
    } else {
        via = which == CLIENT_TRACK ? DISPATCH_TRACK : DISPATCH_LIVE;
    }
    if (!ev->oversized && ev->payload != NULL)
        rc = dispatch_message(n->d, ev->topic, ev->payload, ev->len, via,
                              gwmsg_status_published_ms(ev->expiry_s, now), now);
    else
        log_warnx("refused a message on %s: over %d bytes", ev->topic, MESSAGE_MAX_BYTES);
    if (rc < 0)
        return false;
    mqtt_message_done(cl->m, ev->hold);
    return true;
}

static void client_drain(struct notifier *n, int which, int64_t now)
{
    struct client *cl = &n->cl[which];
    struct mqtt_event ev;

    if (cl->have_held) {
        if (mono_ms() < cl->retry_ms)
            return;
        if (!take_message(n, which, &cl->held, now)) {
            cl->retry_ms = mono_ms() + STORE_RETRY_MS;
            return;
        }
        mqtt_event_clear(&cl->held);
        cl->have_held = false;
    }
    while (mqtt_next_event(cl->m, &ev) == 1) {
        if (ev.type != MQTT_EV_MESSAGE) {
            client_event(n, which, &ev, now);
            mqtt_event_clear(&ev);
            continue;
        }
        if (!take_message(n, which, &ev, now)) {
            /* The store failed: keep it (the broker has no PUBACK yet). */
            cl->held = ev;
            cl->have_held = true;
            cl->retry_ms = mono_ms() + STORE_RETRY_MS;
            return;
        }
        mqtt_event_clear(&ev);
    }
}

/* The retained burst after a subscription is over when nothing retained
 * came for a while. */
static void check_sync(struct notifier *n, int64_t now)
{
    for (int i = 0; i < n->nclients; i++) {
        struct client *cl = &n->cl[i];
        int64_t m = mono_ms();
        if (!cl->syncing || cl->have_held)
            continue;
        if (m - cl->last_retained_ms < RETAINED_QUIET_MS && m - cl->sync_start_ms < RETAINED_MAX_MS)
            continue;
        /* With share_group the retained state comes on the tracking client. */
        if (n->nclients == 2 && i == CLIENT_DUTY) {
            cl->syncing = false;
            continue;
        }
        if (dispatch_retained_done(n->d, now) == 0) {
            cl->syncing = false;
            if (!n->synced_once)
                log_info("state synchronised with the broker's retained alarms");
            n->synced_once = true;
        }
    }
}

/* ---- the ack pages' hooks ---- */

static void ack_lookup(void *ctx, const struct token_claim *c, struct ackweb_view *v)
{
    struct notifier *n = ctx;
    dispatch_ack_view(n->d, c, v);
}

static int ack_send(void *ctx, const struct token_claim *c, char *why, size_t whylen)
{
    struct notifier *n = ctx;
    struct client *cl = &n->cl[CLIENT_DUTY];
    char *topic = NULL, *payload = NULL;
    uint64_t id = ++n->next_publish_id;
    int rc;

    if (!cl->connected) {
        snprintf(why, whylen, "not connected to the broker, try again in a moment");
        return -1;
    }
    if (dispatch_ack_command(n->d, c, wall_ms(), &topic, &payload, why, whylen) < 0)
        return -1;
    rc = mqtt_publish(cl->m, topic, payload, strlen(payload), 1, 0, id);
    if (rc < 0)
        snprintf(why, whylen, "the broker did not take it (%s)", strerror(errno));
    else
        log_info("ack page: %s acknowledged by route %s (cmd/ack %" PRIu64 ")", c->topic, c->route,
                 id);
    free(topic);
    free(payload);
    return rc;
}

/* ---- requests ---- */

static void start_requests(struct notifier *n, int64_t now)
{
    while (n->nreq < REQUESTS_MAX) {
        struct dispatch_request *r = &n->req[n->nreq];
        if (dispatch_next_request(n->d, now, r) != 1)
            return;
        if (http_post(n->http, r->id, r->url, r->body, r->len, r->timeout_ms) < 0) {
            log_warn("channel %s: cannot start a request", n->cfg->channels[r->channel].name);
            dispatch_answer(n->d, r, 0, NULL, 0, "cannot start the request", now);
            dispatch_request_free(r);
            return;
        }
        log_debug("channel %s: request %" PRIu64 " with %d notice%s%s",
                  n->cfg->channels[r->channel].name, r->id, r->nids, r->nids == 1 ? "" : "s",
                  r->summary ? " (summary)" : "");
        n->nreq++;
    }
}

static void finish_requests(struct notifier *n, int64_t now)
{
    struct http_done d;

    while (http_next_done(n->http, &d) == 1) {
        for (int i = 0; i < n->nreq; i++) {
            if (n->req[i].id != d.id)
                continue;
            dispatch_answer(n->d, &n->req[i], d.status, d.body, d.len, d.error, now);
            dispatch_request_free(&n->req[i]);
            n->req[i] = n->req[--n->nreq];
            break;
        }
        http_done_clear(&d);
    }
}

/* ---- --send-test ---- */

static int send_test(const struct ncfg *cfg, const char *name)
{
    int ci = ncfg_channel_index(cfg, name);
    struct dispatch_request r;
    struct http_done d = {0};
    struct http *h;
    char err[256], why[300];
    int64_t deadline = mono_ms() + SEND_TEST_TIMEOUT_MS;
    int got = 0;
    enum sender_answer a;

    if (ci < 0) {
        fprintf(stderr, "shelter-notify: no channel %s in %s\n", name, cfg->path);
        return 64;
    }
    if ((h = http_new(err, sizeof(err))) == NULL ||
        dispatch_test_request(cfg, ci, wall_ms(), &r) < 0 ||
        http_post(h, 1, r.url, r.body, r.len, r.timeout_ms) < 0) {
        fprintf(stderr, "shelter-notify: cannot send: %s\n", h == NULL ? err : strerror(errno));
        http_free(h);
        return 1;
    }
    while (!got && mono_ms() < deadline) {
        struct pollfd pfd[HTTP_SOCKETS_MAX];
        int np = http_pollfds(h, pfd, HTTP_SOCKETS_MAX);
        long t = http_timeout_ms(h);
        if (poll(pfd, (nfds_t)np, t < 0 || t > 100 ? 100 : (int)t) < 0 && errno != EINTR)
            break;
        http_run(h, pfd, np);
        got = http_next_done(h, &d);
    }
    dispatch_request_free(&r);
    http_free(h);
    if (!got) {
        printf("channel %s: no answer within %d s\n", name, SEND_TEST_TIMEOUT_MS / 1000);
        return 1;
    }
    a = channel_classify((enum channel_type)cfg->channels[ci].type, d.status, d.body, d.len, why,
                         sizeof(why));
    if (d.status == 0)
        snprintf(why, sizeof(why), "%s", d.error);
    printf("channel %s (%s): %s: %s\n", name, channel_type_name(cfg->channels[ci].type),
           a == SENDER_OK ? "delivered" : "NOT delivered", why);
    http_done_clear(&d);
    return a == SENDER_OK ? 0 : 1;
}

/* ---- the loop ---- */

static void on_signals(struct notifier *n)
{
    struct signalfd_siginfo si;

    while (read(n->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            log_info("stopping on %s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            n->stop = true;
        } else if (si.ssi_signo == SIGHUP) {
            log_info("SIGHUP: the configuration is read at start; restart to apply a change");
        }
    }
}

static void report(struct notifier *n)
{
    struct dispatch_stats s;
    dispatch_get_stats(n->d, &s);
    log_info("%" PRIu64 " messages (%" PRIu64 " duplicates, %" PRIu64 " refused), %" PRIu64
             " notices, %" PRIu64 " requests, %" PRIu64 " delivered, %" PRIu64
             " failed requests, %" PRIu64 " escalations, %" PRId64 " waiting",
             s.messages, s.duplicates, s.refused, s.notices, s.requests, s.delivered, s.failed,
             s.escalations, dispatch_pending(n->d));
}

static int run(struct notifier *n)
{
    struct pollfd pfd[POLLFDS_MAX];
    int64_t next_report = mono_ms() + 600000;

    while (!n->stop) {
        int np = 0, first_http, nhttp, web_at = -1, rc;
        int64_t now = wall_ms(), due, wait;
        long ht;

        pfd[np++] = (struct pollfd){.fd = n->sigfd, .events = POLLIN};
        for (int i = 0; i < n->nclients; i++)
            pfd[np++] = (struct pollfd){.fd = mqtt_fd(n->cl[i].m), .events = POLLIN};
        if (n->web != NULL) {
            web_at = np;
            pfd[np++] = (struct pollfd){.fd = ackweb_fd(n->web), .events = POLLIN};
        }
        first_http = np;
        nhttp = http_pollfds(n->http, pfd + np, POLLFDS_MAX - np);
        np += nhttp;

        /* How long to sleep: the earliest of everything that has a time. */
        due = n->synced_once ? dispatch_next_due(n->d, now) : now + 200;
        wait = due == INT64_MAX ? 1000 : due - now;
        if (wait > 1000)
            wait = 1000; /* the watchdog, the retained burst's end, held messages */
        if (wait < 0)
            wait = 0;
        ht = http_timeout_ms(n->http);
        if (ht >= 0 && ht < wait)
            wait = ht;
        if (n->web != NULL && ackweb_timeout_ms(n->web) >= 0 && ackweb_timeout_ms(n->web) < wait)
            wait = ackweb_timeout_ms(n->web);
        for (int i = 0; i < n->nclients; i++)
            if (n->cl[i].syncing && wait > 200)
                wait = 200;

        rc = poll(pfd, (nfds_t)np, (int)wait);
        if (rc < 0 && errno != EINTR) {
            log_warn("poll");
            return 1;
        }
        now = wall_ms();
        /* 1. signals */
        if (pfd[0].revents & POLLIN)
            on_signals(n);
        /* 2. messages from the broker */
        for (int i = 0; i < n->nclients; i++)
            client_drain(n, i, now);
        check_sync(n, now);
        /* 3. timers: escalations and offline checks, once the state is whole */
        if (n->synced_once)
            dispatch_tick(n->d, now);
        /* 4. answers and new requests */
        http_run(n->http, pfd + first_http, nhttp);
        finish_requests(n, now);
        start_requests(n, now);
        /* 5. ack pages */
        if (n->web != NULL && (web_at < 0 || pfd[web_at].revents || ackweb_timeout_ms(n->web) == 0))
            ackweb_run(n->web, now);
        /* 6. watchdog, and a line of figures now and then */
        if (n->watchdog_ms > 0 && mono_ms() >= n->next_watchdog_ms) {
            sd_notify(0, "WATCHDOG=1");
            n->next_watchdog_ms = mono_ms() + n->watchdog_ms;
        }
        if (mono_ms() >= next_report) {
            report(n);
            next_report = mono_ms() + 600000;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_CHECK = 1, O_SEND_TEST, O_VERSION, O_HELP };
    static const struct option longs[] = {
        {"check", no_argument, NULL, O_CHECK},
        {"send-test", required_argument, NULL, O_SEND_TEST},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *path = DEFAULT_CONF, *test_channel = NULL;
    struct notifier n = {0};
    bool check = false, fresh = false;
    int verbose = 0, c, nerrors, rc;
    char err[512];
    sigset_t mask;
    uint64_t usec;

    while ((c = getopt_long(argc, argv, "c:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case O_CHECK:
            check = true;
            break;
        case O_SEND_TEST:
            test_channel = optarg;
            break;
        case O_VERSION:
            printf("shelter-notify %s\n", GW_VERSION);
            return 0;
        case 'h':
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 64;
    }
    log_init(verbose);
    n.cfg = ncfg_load(path, stderr, &nerrors);
    if (n.cfg == NULL) {
        if (nerrors == 0)
            fprintf(stderr, "shelter-notify: %s: %s\n", path, strerror(errno));
        return EX_CONFIG;
    }
    if (check) {
        printf("configuration OK\n");
        ncfg_print_summary(n.cfg, stdout);
        ncfg_free(n.cfg);
        return 0;
    }
    if (test_channel != NULL) {
        rc = send_test(n.cfg, test_channel);
        ncfg_free(n.cfg);
        return rc;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (n.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        fatal("signalfd");
    if ((n.st = store_open(n.cfg->state_dir, &fresh, err, sizeof(err))) == NULL)
        fatalx("state store: %s", err);
    if ((n.d = dispatch_new(n.cfg, n.st, fresh, wall_ms(), err, sizeof(err))) == NULL)
        fatalx("%s", err);
    if ((n.http = http_new(err, sizeof(err))) == NULL)
        fatalx("%s", err);
    if (n.cfg->ack_url[0] != '\0') {
        struct ackweb_hooks hooks = {ack_lookup, ack_send, &n};
        n.web = ackweb_new(n.cfg->listen, n.cfg->ack_path, n.cfg->token_key, n.cfg->token_key_len,
                           (enum gw_lang)n.cfg->language, &hooks, err, sizeof(err));
        if (n.web == NULL)
            fatalx("ack pages: %s", err);
        log_info("ack pages on %s (%s)", n.cfg->listen, n.cfg->ack_url);
    }
    n.nclients = n.cfg->nmqtt.share_group[0] != '\0' ? 2 : 1;
    for (int i = 0; i < n.nclients; i++)
        if (client_new(&n, i, err, sizeof(err)) < 0)
            fatalx("broker: %s", err);
    log_info("shelter-notify %s: %d routes, %d channels, state in %s%s%s%s", GW_VERSION,
             n.cfg->nroutes, n.cfg->nchannels, store_path(n.st),
             fresh ? " (new: a summary of what is active follows the first sync)" : "",
             n.cfg->nmqtt.share_group[0] ? ", share_group " : "", n.cfg->nmqtt.share_group);
    if (sd_watchdog_enabled(0, &usec) > 0)
        n.watchdog_ms = (int64_t)(usec / 2000);
    sd_notifyf(0, "READY=1\nSTATUS=%d routes, %d channels", n.cfg->nroutes, n.cfg->nchannels);

    rc = run(&n);

    sd_notify(0, "STOPPING=1");
    /* What came before the stop is stored; the message Paho may be holding
     * now is not, and mqtt_free() would let Paho acknowledge it.  So the
     * clients are not freed: the process ends with the connection, the
     * broker keeps the unacknowledged message for the session (as after a
     * kill -9) and sends it to the next start. */
    for (int i = 0; i < n.nclients; i++)
        client_drain(&n, i, wall_ms());
    report(&n);
    for (int i = 0; i < n.nclients; i++)
        if (n.cl[i].have_held)
            mqtt_event_clear(&n.cl[i].held);
    for (int i = 0; i < n.nreq; i++)
        dispatch_request_free(&n.req[i]);
    ackweb_free(n.web);
    http_free(n.http);
    dispatch_free(n.d);
    store_close(n.st);
    ncfg_free(n.cfg);
    close(n.sigfd);
    return rc;
}
