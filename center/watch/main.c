/*
 * shelter-watch: the tool of the people who receive alarms (docs/design.md section 5.2).
 *
 *   shelter-watch [--broker URI] [--username U --password-file F] [--ca-file F]
 *                 [--lang zh|en] [--exec CMD] [FILTER ...]     default FILTER shelter/#
 *   shelter-watch ack [--broker URI ...] [--by NAME] ALARM_TOPIC
 *   shelter-watch gateways [--json] [--sort KEY] [FILTER ...]
 *   shelter-watch mode MODE FILTER ...
 *   shelter-watch test [--by NAME] FILTER ...
 *   shelter-watch silence [--broker URI ...] [--by NAME] OUTPUT_TOPIC
 *
 * Watching: subscribe to the filters, list the active alarms from the
 * retained alarm topics, then print every transition and every gateway going
 * online or offline as one line; duplicates (same gateway and seq: delivery is
 * at least once) are dropped.  --exec runs CMD per new alarm (exec.c).
 *
 * Shape, as in the daemon: the MQTT client is lib/mqtt (Paho's threads only
 * queue what arrives, bounded, and wake the main thread through its fd; a
 * filter there drops readings before they are queued).  The main thread owns
 * everything else in one poll() loop over that fd and a self-pipe for
 * signals: it prints, and it runs the --exec children, so a slow CMD never
 * holds up the lines.  Messages are parsed by lib/gwmsg (identity from the
 * topic); the lines and the duplicate logic are the pure module watch.c.
 *
 * The fleet (gateways, mode, test): the retained statuses under the filters
 * make the list of gateways (fleet.c); `mode` and `test` then send their
 * command to each online one and wait for each cmd_result, so the user
 * learns which gateways did it, which refused and which did not answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exec.h"
#include "fleet.h"
#include "gwerr.h"
#include "gwmsg.h"
#include "log.h"
#include "mqtt.h"
#include "topic.h"
#include "watch.h"

#define DEFAULT_BROKER "tcp://127.0.0.1:1883"
#define DEFAULT_FILTER "shelter/#"
#define FILTERS_MAX 16            /* MQTT_SUB_MAX */
#define MESSAGE_MAX_BYTES 16384   /* larger alarm payloads are not ours: dropped, counted */
#define QUEUE_MAX_MESSAGES 100000 /* while the main thread lags; then dropped, counted */
#define SEEN_CAPACITY 65536       /* (gateway, seq) pairs remembered for duplicates */
#define LISTING_QUIET_MS 700      /* the retained burst is over after this much silence */
#define LISTING_MAX_MS 5000       /* ... or after this long in any case */
#define ACK_TIMEOUT_MS 10000
#define FLEET_TIMEOUT_S 10 /* mode, test: answers awaited this long after the last send */
#define FLEET_INFLIGHT 20  /* commands in flight at once (mosquitto's Receive Maximum) */
#define DEFAULT_PREFIX "shelter"

/* The subcommands: the first argument names one, else it is watching. */
enum sub { SUB_WATCH, SUB_ACK, SUB_GATEWAYS, SUB_MODE, SUB_TEST, SUB_SILENCE };
static const char *const sub_names[] = {
    [SUB_WATCH] = "watching", [SUB_ACK] = "ack",   [SUB_GATEWAYS] = "gateways",
    [SUB_MODE] = "mode",      [SUB_TEST] = "test", [SUB_SILENCE] = "silence"};

/* ---- options ---- */

struct opts {
    enum sub sub;
    const char *broker, *username, *password_file, *ca_file, *exec_cmd, *by;
    enum gw_lang lang;
    const char *filters[FILTERS_MAX];
    int nfilters;
    const char *alarm_topic; /* ack: the alarm topic; silence: the output topic */
    /* the fleet */
    const char *prefix;               /* topic_prefix of the gateways; a SUBTREE is under it */
    bool json;                        /* gateways --json */
    enum fleet_key sort;              /* gateways --sort */
    const char *mode;                 /* mode MODE */
    int timeout_s;                    /* mode, test: --timeout */
    char *fleet_filters[FILTERS_MAX]; /* the filters subscribed to (malloc'd) */
    int nfleet_filters;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shelter-watch [--broker URI] [--username U --password-file F] [--ca-file F]\n"
            "                     [--lang zh|en] [--exec CMD] [FILTER ...]   (default FILTER %s)\n"
            "       shelter-watch ack [--broker URI ...] [--by NAME] ALARM_TOPIC\n"
            "       shelter-watch gateways [--json] [--sort KEY] [FILTER|SUBTREE ...]\n"
            "       shelter-watch mode peacetime|flood_season|protective FILTER|SUBTREE ...\n"
            "       shelter-watch test [--by NAME] FILTER|SUBTREE ...\n"
            "       shelter-watch silence [--broker URI ...] [--by NAME] OUTPUT_TOPIC\n"
            "\n"
            "Lists the active alarms under the filters, then shows every alarm transition\n"
            "and every gateway going online or offline, one line each.  --exec runs CMD\n"
            "(/bin/sh -c) for each new alarm with the alarm's JSON on its stdin and the\n"
            "alarm topic in $SHELTER_ALARM_TOPIC.  `ack` acknowledges an alarm and prints\n"
            "the gateway's answer (exit 0 ok, 1 error); `silence` turns an on-site output\n"
            "(a siren: {base}/output/NAME) off until a new alarm, answered the same way.\n"
            "`gateways` lists every gateway\n"
            "under the filters (offline first; --sort %s;\n"
            "--json for scripts).  `mode` and `test` send the command to every online\n"
            "gateway under them and print each answer, and which did not answer (exit 0\n"
            "when all did it; --timeout SECONDS, default %d).  A SUBTREE is levels under\n"
            "--prefix (default %s), city first: zhengzhou/jinshui.  Broker default %s;\n"
            "ssl:// URIs with --ca-file for TLS; the password only from a file.\n",
            DEFAULT_FILTER, fleet_key_names, FLEET_TIMEOUT_S, DEFAULT_PREFIX, DEFAULT_BROKER);
}

/* A filter the broker takes (lib/topic), of a length we take. */
static bool filter_ok(const char *f)
{
    return strlen(f) < TOPIC_SIZE && topic_filter_valid(f);
}

/* Add filter f (for argument arg) to the fleet's subscriptions.  0, or -1
 * after printing why. */
static int add_fleet_filter(struct opts *o, const char *arg, const char *f, int per_arg)
{
    if (!filter_ok(f)) {
        if (f == arg)
            fprintf(stderr, "shelter-watch: \"%s\" is not a valid topic filter\n", arg);
        else
            fprintf(stderr, "shelter-watch: \"%s\": the filter is too long\n", arg);
        return -1;
    }
    if (o->nfleet_filters == FILTERS_MAX) {
        fprintf(stderr, "shelter-watch: at most %d filters\n", FILTERS_MAX / per_arg);
        return -1;
    }
    if ((o->fleet_filters[o->nfleet_filters] = strdup(f)) == NULL)
        return -1;
    o->nfleet_filters++;
    return 0;
}

/* A fleet argument: a topic filter (it has a wildcard), or a SUBTREE of the
 * maintenance network under the prefix ("zhengzhou/jinshui", also with the
 * prefix in front).  A subtree becomes the filters of exactly what the
 * command needs: the statuses at the gateways' depth (no readings sent
 * over the wire) and, for mode and test, their cmd_result.  0, or -1 after
 * printing why. */
static int fleet_arg(struct opts *o, const char *arg)
{
    struct topic_subtree st;
    char err[200], filter[TOPIC_SIZE], tail[TOPIC_SIZE] = "";
    size_t plen = strlen(o->prefix);
    const char *ends[2] = {"status", "cmd_result"};
    int nends = o->sub == SUB_GATEWAYS ? 1 : 2;

    if (o->nfilters < FILTERS_MAX) /* as the user named them, for the headings */
        o->filters[o->nfilters++] = arg;

    if (strpbrk(arg, "+#") != NULL) {
        if (add_fleet_filter(o, arg, arg, nends) == -1)
            return -1;
        /* mode and test wait for cmd_result: a filter of statuses (as
         * `gateways` takes them) gets its twin for the answers, or every
         * gateway that did it would read as "no answer". */
        size_t alen = strlen(arg), slen = strlen("/status");
        if (nends == 2 && alen > slen && strcmp(arg + alen - slen, "/status") == 0) {
            snprintf(filter, sizeof(filter), "%.*s/cmd_result", (int)(alen - slen), arg);
            if (add_fleet_filter(o, arg, filter, nends) == -1)
                return -1;
        }
        return 0;
    }
    if (strncmp(arg, o->prefix, plen) == 0 && arg[plen] == '/')
        arg += plen + 1;
    if (topic_subtree_parse(arg, &st, err, sizeof(err)) == -1) {
        fprintf(stderr, "shelter-watch: \"%s\": not a topic filter, nor a subtree: %s\n", arg, err);
        return -1;
    }
    for (int i = st.nlevels; i < TOPIC_LEVELS; i++)
        strcat(tail, "+/");
    for (int k = 0; k < nends; k++) {
        int n = snprintf(filter, sizeof(filter), "%s", o->prefix);
        for (int i = 0; i < st.nlevels; i++)
            n += snprintf(filter + n, sizeof(filter) - (size_t)n, "/%s", st.level[i]);
        snprintf(filter + n, sizeof(filter) - (size_t)n, "/%s%s", tail, ends[k]);
        if (add_fleet_filter(o, arg, filter, nends) == -1)
            return -1;
    }
    return 0;
}

/* Returns 0, or -1 after printing why (exit 64, EX_USAGE). */
static int parse_opts(int argc, char **argv, enum sub sub, struct opts *o)
{
    enum {
        O_BROKER = 1,
        O_USER,
        O_PWFILE,
        O_CA,
        O_LANG,
        O_EXEC,
        O_BY,
        O_JSON,
        O_SORT,
        O_PREFIX,
        O_TIMEOUT,
        O_HELP,
        O_VERSION
    };
    static const struct option longs[] = {
        {"broker", required_argument, NULL, O_BROKER},
        {"username", required_argument, NULL, O_USER},
        {"password-file", required_argument, NULL, O_PWFILE},
        {"ca-file", required_argument, NULL, O_CA},
        {"lang", required_argument, NULL, O_LANG},
        {"exec", required_argument, NULL, O_EXEC},
        {"by", required_argument, NULL, O_BY},
        {"json", no_argument, NULL, O_JSON},
        {"sort", required_argument, NULL, O_SORT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    bool fleet = sub == SUB_GATEWAYS || sub == SUB_MODE || sub == SUB_TEST;
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->sub = sub;
    o->broker = DEFAULT_BROKER;
    o->lang = LANG_ZH;
    o->prefix = DEFAULT_PREFIX;
    o->timeout_s = FLEET_TIMEOUT_S;
    opterr = 0;
    /* The fleet's options may follow its arguments (GNU order); watching
     * and ack stop at the first argument, as they always did. */
    while ((c = getopt_long(argc, argv, fleet ? "h" : "+h", longs, NULL)) != -1) {
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
            if (sub != SUB_WATCH)
                goto not_here;
            o->exec_cmd = optarg;
            break;
        case O_BY:
            if (sub != SUB_ACK && sub != SUB_MODE && sub != SUB_TEST && sub != SUB_SILENCE)
                goto not_here;
            o->by = optarg;
            break;
        case O_JSON:
            if (sub != SUB_GATEWAYS)
                goto not_here;
            o->json = true;
            break;
        case O_SORT:
            if (sub != SUB_GATEWAYS)
                goto not_here;
            if (fleet_key_from_name(optarg, &o->sort) == -1) {
                fprintf(stderr, "shelter-watch: --sort: one of %s, not \"%s\"\n", fleet_key_names,
                        optarg);
                return -1;
            }
            break;
        case O_PREFIX:
            if (!fleet)
                goto not_here;
            if (!filter_ok(optarg) || strpbrk(optarg, "+#") != NULL) {
                fprintf(stderr, "shelter-watch: --prefix: topic levels, not \"%s\"\n", optarg);
                return -1;
            }
            o->prefix = optarg;
            break;
        case O_TIMEOUT:
            if (sub != SUB_MODE && sub != SUB_TEST)
                goto not_here;
            errno = 0;
            long t = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || t < 1 || t > 3600) {
                fprintf(stderr, "shelter-watch: --timeout: seconds, 1..3600, not \"%s\"\n", optarg);
                return -1;
            }
            o->timeout_s = (int)t;
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
    if (o->by != NULL && (strlen(o->by) == 0 || strlen(o->by) > GWMSG_TEXT_MAX)) {
        fprintf(stderr, "shelter-watch: --by: 1..%d bytes\n", GWMSG_TEXT_MAX);
        return -1;
    }
    if (sub == SUB_ACK || sub == SUB_SILENCE) {
        if (optind != argc - 1) {
            fprintf(stderr, "shelter-watch %s: exactly one %s\n", sub_names[sub],
                    sub == SUB_SILENCE ? "OUTPUT_TOPIC" : "ALARM_TOPIC");
            usage(stderr);
            return -1;
        }
        o->alarm_topic = argv[optind];
        return 0;
    }
    if (sub == SUB_MODE) {
        enum gw_mode m;
        if (optind == argc || mode_from_name(argv[optind], &m) == -1) {
            fprintf(stderr, "shelter-watch mode: peacetime, flood_season or protective%s%s%s\n",
                    optind < argc ? ", not \"" : "", optind < argc ? argv[optind] : "",
                    optind < argc ? "\"" : "");
            return -1;
        }
        o->mode = argv[optind++];
    }
    if (fleet) {
        /* mode and test change gateways: the subtree is never implied */
        if (optind == argc && sub != SUB_GATEWAYS) {
            fprintf(stderr, "shelter-watch %s: name the gateways: FILTER or SUBTREE\n",
                    sub_names[sub]);
            return -1;
        }
        for (; optind < argc; optind++)
            if (fleet_arg(o, argv[optind]) == -1)
                return -1;
        if (o->nfleet_filters == 0) { /* gateways: every gateway's status, nothing else */
            char all[TOPIC_SIZE];
            snprintf(all, sizeof(all), "%s/+/+/+/+/+/+/status", o->prefix);
            o->filters[o->nfilters++] = o->prefix;
            if (!filter_ok(all) || (o->fleet_filters[o->nfleet_filters] = strdup(all)) == NULL) {
                fprintf(stderr, "shelter-watch: --prefix: too long\n");
                return -1;
            }
            o->nfleet_filters++;
        }
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
    fprintf(stderr, "shelter-watch: %s is not an option of %s\n", argv[optind - 1], sub_names[sub]);
    return -1;
}

/* ---- the broker: lib/mqtt ---- */

/* Only what the main thread uses is queued: alarm, status and cmd_result
 * messages, and readings while the active alarms are being listed (arg: an
 * atomic_bool the main thread clears when the listing ends; NULL: never),
 * for the value now beside each.  Other readings (many) are dropped on
 * Paho's thread, uncounted.  Pure, as lib/mqtt asks. */
static int wanted(const char *topic, void *arg)
{
    enum topic_type type = topic_type_of(topic);
    atomic_bool *readings = arg;

    if (type == TOPIC_READING)
        return readings != NULL && atomic_load(readings);
    return type == TOPIC_ALARM || type == TOPIC_STATUS || type == TOPIC_CMD_RESULT;
}

/* The fleet (arg: its enum sub): statuses, and the answers of mode and test. */
static int wanted_fleet(const char *topic, void *arg)
{
    enum topic_type type = topic_type_of(topic);

    return type == TOPIC_STATUS || (type == TOPIC_CMD_RESULT && *(enum sub *)arg != SUB_GATEWAYS);
}

/* A client subscribing to the filters at QoS 1 (the retain flag as the
 * broker sets it: a retained message predates the subscription), with a
 * client id of its own; not started.  NULL after logging why. */
static struct mqtt *broker_new(const struct opts *o, const char *const *filters, int nfilters,
                               atomic_bool *readings)
{
    struct mqtt_opts mo = {
        .uris = {o->broker},
        .nuris = 1,
        .client_id_prefix = "shelter-watch",
        .username = o->username,
        .password_file = o->password_file,
        .ca_file = o->ca_file,
        .nsubscriptions = nfilters,
        .max_message_bytes = MESSAGE_MAX_BYTES,
        .max_queued_messages = QUEUE_MAX_MESSAGES,
        .accept = o->sub == SUB_WATCH || o->sub == SUB_ACK || o->sub == SUB_SILENCE ? wanted
                                                                                    : wanted_fleet,
        .accept_arg = o->sub == SUB_WATCH || o->sub == SUB_ACK || o->sub == SUB_SILENCE
                          ? (void *)readings
                          : (void *)&o->sub,
        .max_inflight = FLEET_INFLIGHT,
    };
    char err[512];
    struct mqtt *m;

    for (int i = 0; i < nfilters; i++)
        mo.subscriptions[i] = (struct mqtt_sub){.filter = filters[i], .qos = 1};
    if ((m = mqtt_new(&mo, err, sizeof(err))) == NULL)
        log_warnx("broker %s: %s", o->broker, err);
    return m;
}

/* Start connecting (retrying in the background): 0, or -1 after logging. */
static int broker_start(const struct opts *o, struct mqtt *m)
{
    char err[256];

    if (mqtt_start(m, err, sizeof(err)) == -1) {
        log_warnx("connect to %s: %s", o->broker, err);
        return -1;
    }
    return 0;
}

/* Messages dropped since the last call: over the queue's bound (from the
 * client's count, *dropped the count already reported) or too large. */
static void log_drops(struct mqtt *m, uint64_t *dropped, uint64_t *oversized)
{
    struct mqtt_stats st;

    mqtt_get_stats(m, &st);
    if (st.messages_dropped > *dropped)
        log_warnx("%llu messages dropped: more than %d waiting",
                  (unsigned long long)(st.messages_dropped - *dropped), QUEUE_MAX_MESSAGES);
    *dropped = st.messages_dropped;
    if (*oversized > 0)
        log_warnx("%llu messages dropped: larger than %d bytes", (unsigned long long)*oversized,
                  MESSAGE_MAX_BYTES);
    *oversized = 0;
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

/* A sensor's value now, from its retained reading, while listing: key
 * "{base}/{sensor}" (the reading's topic less "/reading"). */
struct now_value {
    char *key;
    char text[64];
};

static int now_cmp(const void *pa, const void *pb)
{
    const struct now_value *a = pa, *b = pb;
    return strcmp(a->key, b->key);
}

/* One active alarm of the listing, held until the retained burst is over. */
struct listed {
    struct gwmsg_alarm a;
    char *topic;
};

struct watcher {
    const struct opts *o;
    struct mqtt *mq;
    uint64_t dropped, oversized; /* messages: reported so far, and since the last report */
    struct watch_seen *seen;
    struct watch_gateways *gws;
    struct watch_once *refused; /* topic bases whose refusal was logged */
    struct exec *exec;          /* --exec, or NULL */
    enum { PH_CONNECTING, PH_LISTING, PH_LIVE } phase;
    int64_t quiet_until, listing_until; /* PH_LISTING: monotonic ms */
    int64_t start_wall_ms;
    bool connected_once;
    bool outage; /* a connect failed or the connection was lost: said once */
    struct listed *listed;
    size_t nlisted, caplisted;
    atomic_bool readings_wanted; /* PH_CONNECTING, PH_LISTING: for the values now */
    struct now_value *nows;
    size_t nnows, capnows;
};

static void nows_free(struct watcher *w)
{
    for (size_t i = 0; i < w->nnows; i++)
        free(w->nows[i].key);
    free(w->nows);
    w->nows = NULL;
    w->nnows = w->capnows = 0;
}

static int listed_cmp(const void *pa, const void *pb)
{
    const struct listed *a = pa, *b = pb;
    int ra = gwmsg_severity_rank(a->a.severity), rb = gwmsg_severity_rank(b->a.severity);

    if (ra != rb)
        return ra - rb;
    if (a->a.ts_ms != b->a.ts_ms)
        return a->a.ts_ms < b->a.ts_ms ? -1 : 1;
    return strcmp(a->topic, b->topic);
}

static void print_alarm(struct watcher *w, const struct gwmsg_alarm *a, enum watch_line how,
                        const char *topic)
{
    char line[2048];
    int64_t now = wall_ms();
    const char *now_value = NULL;

    if (how == WATCH_LINE_ACTIVE && w->nnows > 0) {
        char key[TOPIC_SIZE + GWMSG_TEXT_MAX + 2];
        snprintf(key, sizeof(key), "%s/%s", a->base, a->sensor);
        struct now_value k = {.key = key}, *found;
        found = bsearch(&k, w->nows, w->nnows, sizeof(*w->nows), now_cmp);
        now_value = found != NULL ? found->text : NULL;
    }
    if ((how == WATCH_LINE_ACTIVE
             ? watch_format_active(a, now_value, w->o->lang, now, tz_offset(now), line,
                                   sizeof(line))
             : watch_format_alarm(a, how, w->o->lang, now, tz_offset(now), line, sizeof(line))) < 0)
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
    atomic_store(&w->readings_wanted, false);
    if (w->nlisted > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(w->listed, w->nlisted, sizeof(*w->listed), listed_cmp);
    if (w->nnows > 1)
        qsort(w->nows, w->nnows, sizeof(*w->nows), now_cmp);
    if (w->nlisted == 0)
        snprintf(line, sizeof(line), zh ? "── %s：当前无报警 ──" : "── %s: no active alarms ──",
                 filters);
    else
        snprintf(line, sizeof(line), zh ? "── %s：当前报警 %zu 条 ──" : "── %s: %zu active ──",
                 filters, w->nlisted);
    print_line(line);
    for (size_t i = 0; i < w->nlisted; i++) {
        print_alarm(w, &w->listed[i].a, WATCH_LINE_ACTIVE, w->listed[i].topic);
        gwmsg_alarm_release(&w->listed[i].a);
        free(w->listed[i].topic);
    }
    free(w->listed);
    w->listed = NULL;
    w->nlisted = w->caplisted = 0;
    nows_free(w);
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

static void on_status(struct watcher *w, const char *base, const struct mqtt_event *e)
{
    struct gwmsg_status st;
    bool online;
    const char *gateway, *name;
    char line[1024], err[200];
    int rc;

    if (e->len == 0)
        return; /* a retained status being removed */
    if ((rc = gwmsg_status_parse(e->topic, e->payload, e->len, &st, err, sizeof(err))) < 0) {
        refused(w, base, e->topic, rc, err);
        return;
    }
    rc = watch_gateways_update(w->gws, &st, &online, &gateway, &name);
    /* The time of the line: now, or for a will when the broker published it
     * (a watcher that starts later still learns when the gateway went
     * offline). */
    int64_t now = wall_ms(), when = online ? 0 : gwmsg_status_published_ms(e->expiry_s, now);
    if (when <= 0)
        when = now;
    gwmsg_status_release(&st);
    if (rc < 0) {
        refused(w, base, e->topic, -1, "out of memory");
        return;
    }
    /* Offline gateways are news even in the listing; the online are counted. */
    if (rc == 1 && (w->phase == PH_LIVE || !online)) {
        watch_format_status(gateway, name, online, w->o->lang, when, now, tz_offset(now), line,
                            sizeof(line));
        print_line(line);
    }
}

static void on_alarm(struct watcher *w, const char *base, const struct mqtt_event *e)
{
    struct gwmsg_alarm a;
    char err[256], what[200];
    int rc;

    if (e->len == 0)
        return; /* a retained alarm topic being removed */
    if ((rc = gwmsg_alarm_parse(e->topic, e->payload, e->len, &a, err, sizeof(err))) < 0) {
        refused(w, base, e->topic, rc, err);
        return;
    }
    /* Duplicates by the identity the topic gives, never the payload's claim:
     * else one gateway's forgery would hide another's genuine alarm. */
    rc = watch_seen_add(w->seen, a.base, a.seq);
    if (rc == 0) {
        log_debug("duplicate %s seq %llu dropped", a.gateway, (unsigned long long)a.seq);
        gwmsg_alarm_release(&a);
        return;
    }
    if (e->retained && w->phase == PH_LISTING) {
        w->quiet_until = mono_ms() + LISTING_QUIET_MS;
        if (!a.active) {
            gwmsg_alarm_release(&a);
            return;
        }
        if (w->nlisted == w->caplisted) {
            size_t cap = w->caplisted ? w->caplisted * 2 : 64;
            struct listed *l = realloc(w->listed, cap * sizeof(*l));
            if (l == NULL) {
                log_warnx("out of memory: %s not listed", e->topic);
                gwmsg_alarm_release(&a);
                return;
            }
            w->listed = l;
            w->caplisted = cap;
        }
        w->listed[w->nlisted].a = a;
        if ((w->listed[w->nlisted].topic = strdup(e->topic)) == NULL) {
            gwmsg_alarm_release(&a);
            return;
        }
        w->nlisted++;
        return;
    }
    /* A transition: live, or the retained state of one we missed while
     * disconnected (a new seq on reconnect). */
    print_alarm(w, &a, WATCH_LINE_LIVE, e->topic);
    if (w->exec != NULL && gwmsg_alarm_is_new(&a) &&
        (!e->retained || a.ts_ms >= w->start_wall_ms)) {
        snprintf(what, sizeof(what), "%s %s %s seq %llu", a.gateway, a.sensor, a.alarm,
                 (unsigned long long)a.seq);
        exec_add(w->exec, e->payload, e->topic, what);
    }
    gwmsg_alarm_release(&a);
}

/* A retained reading while listing: its value now, for the list. */
static void on_reading(struct watcher *w, const struct topic_parts *p, const struct mqtt_event *e)
{
    char text[64];
    size_t klen = strlen(p->base) + strlen(p->name[0]) + 2;

    if (w->phase != PH_LISTING || !e->retained || e->len == 0)
        return;
    w->quiet_until = mono_ms() + LISTING_QUIET_MS;
    if (watch_format_now(e->payload, e->len, w->o->lang, text, sizeof(text)) < 0)
        return;
    if (w->nnows == w->capnows) {
        size_t cap = w->capnows ? w->capnows * 2 : 64;
        struct now_value *v = realloc(w->nows, cap * sizeof(*v));
        if (v == NULL)
            return; /* listed without its value now */
        w->nows = v;
        w->capnows = cap;
    }
    struct now_value *n = &w->nows[w->nnows];
    if ((n->key = malloc(klen)) == NULL)
        return;
    snprintf(n->key, klen, "%s/%s", p->base, p->name[0]);
    snprintf(n->text, sizeof(n->text), "%s", text);
    w->nnows++;
}

static void on_event(struct watcher *w, const struct mqtt_event *e)
{
    struct topic_parts p;

    switch (e->type) {
    case MQTT_EV_CONNECTED:
        if (!w->connected_once)
            log_info("connected to %s", w->o->broker);
        else
            log_warnx("connected to %s again", w->o->broker);
        w->connected_once = true;
        w->outage = false;
        break;
    case MQTT_EV_CONNECT_FAILED:
        /* One line per outage, not one per retry. */
        if (!w->outage)
            log_warnx("cannot connect to %s: %s (retrying)", w->o->broker, e->detail);
        else
            log_debug("cannot connect to %s: %s", w->o->broker, e->detail);
        w->outage = true;
        break;
    case MQTT_EV_DISCONNECTED:
        log_warnx("connection to %s lost: %s (reconnecting)", w->o->broker, e->detail);
        w->outage = true;
        break;
    case MQTT_EV_SUBSCRIBED:
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
    case MQTT_EV_MESSAGE:
        if (e->oversized) { /* dropped, counted */
            w->oversized++;
            break;
        }
        /* A live message ends the listing: the retained burst comes first. */
        if (w->phase == PH_LISTING && !e->retained)
            end_listing(w);
        switch (topic_parse(e->topic, &p)) {
        case TOPIC_ALARM:
            on_alarm(w, p.base, e);
            break;
        case TOPIC_STATUS:
            on_status(w, p.base, e);
            break;
        case TOPIC_READING:
            on_reading(w, &p, e);
            break;
        default:
            break;
        }
        break;
    default: /* MQTT_EV_PUBLISHED: the watcher publishes nothing */
        break;
    }
}

static int run_watch(const struct opts *o)
{
    struct watcher w;
    struct mqtt_event e;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.o = o;
    atomic_init(&w.readings_wanted, true);
    w.start_wall_ms = wall_ms();
    w.seen = watch_seen_new(SEEN_CAPACITY);
    w.gws = watch_gateways_new();
    w.refused = watch_once_new();
    if (w.seen == NULL || w.gws == NULL || w.refused == NULL ||
        (o->exec_cmd != NULL &&
         (w.exec = exec_new(&(struct exec_opts){.cmd = o->exec_cmd})) == NULL)) {
        log_warnx("out of memory");
        rc = 1;
        goto out;
    }
    if ((w.mq = broker_new(o, o->filters, o->nfilters, &w.readings_wanted)) == NULL ||
        broker_start(o, w.mq) == -1) {
        rc = 1;
        goto out;
    }
    while (quit_signal == 0) {
        struct pollfd pfd[2] = {{.fd = mqtt_fd(w.mq), .events = POLLIN},
                                {.fd = sig_pipe[0], .events = POLLIN}};
        int64_t now = mono_ms();
        int timeout = w.exec != NULL && exec_running(w.exec) > 0 ? 1000 : -1;

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
        while (quit_signal == 0 && mqtt_next_event(w.mq, &e) == 1) {
            on_event(&w, &e);
            mqtt_event_clear(&e);
        }
        log_drops(w.mq, &w.dropped, &w.oversized);
        now = mono_ms();
        if (w.phase == PH_LISTING && (now >= w.quiet_until || now >= w.listing_until))
            end_listing(&w);
        if (w.exec != NULL) {
            if (child_signal || exec_running(w.exec) > 0) {
                child_signal = 0;
                exec_reap(w.exec, now);
            }
            exec_pump(w.exec);
        }
    }
    if (quit_signal == -1)
        rc = 1;
out:
    mqtt_free(w.mq);
    exec_free(w.exec);
    for (size_t i = 0; i < w.nlisted; i++) {
        gwmsg_alarm_release(&w.listed[i].a);
        free(w.listed[i].topic);
    }
    free(w.listed);
    nows_free(&w);
    watch_seen_free(w.seen);
    watch_gateways_free(w.gws);
    watch_once_free(w.refused);
    return rc;
}

/* ---- ack ---- */

static int run_ack(const struct opts *o)
{
    char base[TOPIC_SIZE], sensor[GWMSG_TEXT_MAX + 1], alarm[GWMSG_TEXT_MAX + 1], err[256];
    char result_topic[TOPIC_SIZE + 16], cmd_topic[TOPIC_SIZE + 16], id[GWMSG_TEXT_MAX + 1];
    char by[GWMSG_TEXT_MAX + 1];
    const char *filters[1];
    char *payload = NULL;
    struct mqtt *m = NULL;
    uint64_t dropped = 0, oversized = 0;
    int64_t deadline = mono_ms() + ACK_TIMEOUT_MS;
    int rc = 1;
    bool sent = false;

    const bool silence = o->sub == SUB_SILENCE; /* the same round trip, to cmd/silence */
    const char *verb = sub_names[o->sub];
    if ((silence
             ? watch_silence_target(o->alarm_topic, base, sizeof(base), sensor, err, sizeof(err))
             : watch_ack_target(o->alarm_topic, base, sizeof(base), sensor, alarm, err,
                                sizeof(err))) == -1) {
        fprintf(stderr, "shelter-watch %s: %s\n", verb, err);
        return 64;
    }
    if (o->by != NULL) {
        if (strlen(o->by) == 0 || strlen(o->by) > GWMSG_TEXT_MAX) {
            fprintf(stderr, "shelter-watch %s: --by: 1..%d bytes\n", verb, GWMSG_TEXT_MAX);
            return 64;
        }
        snprintf(by, sizeof(by), "%s", o->by);
    } else {
        struct passwd *pw = getpwuid(getuid());
        snprintf(by, sizeof(by), "%s", pw != NULL ? pw->pw_name : "shelter-watch");
    }
    topic_join(result_topic, sizeof(result_topic), base, "cmd_result", NULL);
    topic_join(cmd_topic, sizeof(cmd_topic), base, "cmd", verb, NULL);
    filters[0] = result_topic;
    if ((m = broker_new(o, filters, 1, NULL)) == NULL)
        goto out;
    /* The command's id is the client's (made unique, the unique part first:
     * an id is cut at GWMSG_TEXT_MAX bytes). */
    snprintf(id, sizeof(id), "%s", mqtt_client_id(m));
    payload =
        silence ? gwmsg_silence_payload(id, sensor, by) : gwmsg_ack_payload(id, sensor, alarm, by);
    if (payload == NULL) {
        log_warnx("out of memory");
        goto out;
    }
    if (broker_start(o, m) == -1)
        goto out;
    for (;;) {
        struct pollfd pfd = {.fd = mqtt_fd(m), .events = POLLIN};
        int64_t now = mono_ms();
        struct mqtt_event e;

        if (now >= deadline) {
            printf("error: %s\n", sent ? "no answer from the gateway within 10 s"
                                       : "broker not reached within 10 s");
            goto out;
        }
        if (poll(&pfd, 1, (int)(deadline - now)) == -1 && errno != EINTR) {
            log_warn("poll");
            goto out;
        }
        while (mqtt_next_event(m, &e) == 1) {
            bool ok, done = true;
            char why[256];
            switch (e.type) {
            case MQTT_EV_CONNECT_FAILED:
                printf("error: cannot connect to %s: %s\n", o->broker, e.detail);
                break;
            case MQTT_EV_DISCONNECTED:
                printf("error: connection to %s lost: %s\n", o->broker, e.detail);
                break;
            case MQTT_EV_SUBSCRIBED:
                /* QoS 1, not retained: the gateway refuses retained commands. */
                if (!e.ok)
                    printf("error: subscribe refused: %s\n", e.detail);
                else if (!sent &&
                         mqtt_publish(m, cmd_topic, payload, strlen(payload), 1, 0, 1) == 0) {
                    sent = true;
                    done = false;
                } else if (!sent)
                    printf("error: publish failed: %s\n", strerror(errno));
                else
                    done = false;
                break;
            case MQTT_EV_PUBLISHED:
                if (!e.ok)
                    printf("error: %s refused: %s\n", cmd_topic, e.detail);
                else
                    done = false;
                break;
            case MQTT_EV_MESSAGE:
                done = false;
                if (e.oversized)
                    oversized++;
                else if (strcmp(e.topic, result_topic) == 0 &&
                         gwmsg_cmd_result(e.payload, e.len, id, &ok, why, sizeof(why)) == 1) {
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
            mqtt_event_clear(&e);
            if (done)
                goto out;
        }
        log_drops(m, &dropped, &oversized);
    }
out:
    fflush(stdout);
    mqtt_free(m);
    free(payload);
    return rc;
}

/* ---- the fleet: gateways, mode, test ---- */

/* The filters and subtrees as the user named them, for a heading. */
static const char *named(const struct opts *o, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (int i = 0; i < o->nfilters && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", o->filters[i]);
    return buf;
}

struct fleet_run {
    const struct opts *o;
    struct mqtt *mq;
    struct fleet *fl;
    char id[GWMSG_TEXT_MAX + 1]; /* the commands' id: the client id */
    char by[GWMSG_TEXT_MAX + 1];
    enum { FR_CONNECTING, FR_LISTING, FR_SENDING, FR_WAITING, FR_DONE } phase;
    int64_t quiet_until, listing_until, deadline;
    size_t next_send; /* the next gateway to send to (fleet order) */
    int inflight;
    uint64_t dropped, oversized;
    int rc;
};

static void fleet_status(struct fleet_run *r, const char *base, const struct mqtt_event *e)
{
    struct gwmsg_status st;
    char err[200];
    int64_t now = wall_ms();

    if (e->len == 0)
        return; /* a retained status being removed */
    if (gwmsg_status_parse(e->topic, e->payload, e->len, &st, err, sizeof(err)) < 0) {
        log_warnx("ignoring %s: %s", e->topic, err);
        return;
    }
    /* During a command the list is fixed: a gateway seen later was not sent to. */
    if (r->phase <= FR_LISTING || fleet_find(r->fl, base) != NULL) {
        if (fleet_update(r->fl, &st, gwmsg_status_published_ms(e->expiry_s, now), now) == -1)
            log_warnx("out of memory: %s not listed", base);
    }
    gwmsg_status_release(&st);
}

static void fleet_result(struct fleet_run *r, const char *base, const struct mqtt_event *e)
{
    struct fleet_gateway *g = fleet_find(r->fl, base);
    char why[256];
    bool ok;

    if (g == NULL || g->outcome != FLEET_WAITING ||
        gwmsg_cmd_result(e->payload, e->len, r->id, &ok, why, sizeof(why)) != 1)
        return;
    if (fleet_set_outcome(g, ok ? FLEET_OK : FLEET_ERROR, ok ? NULL : why) == -1)
        g->outcome = ok ? FLEET_OK : FLEET_ERROR;
}

/* Send the command to the online gateways, as many as may be in flight. */
static void fleet_send(struct fleet_run *r)
{
    const struct opts *o = r->o;
    char topic[TOPIC_SIZE + 16];

    while (r->next_send < fleet_count(r->fl) && r->inflight < FLEET_INFLIGHT) {
        struct fleet_gateway *g = fleet_at(r->fl, r->next_send);
        if (!g->online || g->stale) {
            r->next_send++; /* FLEET_NOT_SENT */
            continue;
        }
        char *payload = gwmsg_fleet_payload(r->id, g->gateway, o->mode, r->by);
        if (payload == NULL ||
            topic_join(topic, sizeof(topic), g->base, "cmd", sub_names[o->sub], NULL) == -1) {
            free(payload);
            fleet_set_outcome(g, FLEET_REFUSED, "out of memory");
            r->next_send++;
            continue;
        }
        /* QoS 1, not retained (the gateway refuses retained commands); the
         * publish id is the gateway's place in the list, plus one. */
        int rc = mqtt_publish(r->mq, topic, payload, strlen(payload), 1, 0, r->next_send + 1);
        free(payload);
        if (rc == -1) {
            if (errno == EGW_FULL)
                return; /* more after the next PUBLISHED */
            fleet_set_outcome(g, FLEET_REFUSED, gw_strerror(errno));
        } else {
            g->outcome = FLEET_WAITING;
            r->inflight++;
        }
        r->next_send++;
    }
    if (r->next_send == fleet_count(r->fl) && r->phase == FR_SENDING) {
        r->phase = FR_WAITING;
        r->deadline = mono_ms() + (int64_t)o->timeout_s * 1000;
    }
}

/* Are answers still awaited? */
static bool fleet_waiting(struct fleet_run *r)
{
    if (r->inflight > 0)
        return true;
    for (size_t i = 0; i < fleet_count(r->fl); i++)
        if (fleet_at(r->fl, i)->outcome == FLEET_WAITING)
            return true;
    return false;
}

static void fleet_listed(struct fleet_run *r)
{
    if (r->o->sub == SUB_GATEWAYS) {
        r->phase = FR_DONE;
        return;
    }
    r->phase = FR_SENDING;
    fleet_send(r);
}

static void fleet_event(struct fleet_run *r, const struct mqtt_event *e)
{
    struct topic_parts p;

    switch (e->type) {
    case MQTT_EV_CONNECT_FAILED:
        log_warnx("cannot connect to %s: %s", r->o->broker, e->detail);
        r->phase = FR_DONE;
        r->rc = 1;
        break;
    case MQTT_EV_DISCONNECTED:
        log_warnx("connection to %s lost: %s", r->o->broker, e->detail);
        r->phase = FR_DONE;
        r->rc = 1;
        break;
    case MQTT_EV_SUBSCRIBED:
        if (!e->ok) {
            log_warnx("subscribe refused: %s", e->detail);
            r->phase = FR_DONE;
            r->rc = 1;
        } else if (r->phase == FR_CONNECTING) {
            r->phase = FR_LISTING;
            r->quiet_until = mono_ms() + LISTING_QUIET_MS;
            r->listing_until = mono_ms() + LISTING_MAX_MS;
        }
        break;
    case MQTT_EV_PUBLISHED:
        if (e->id >= 1 && e->id <= fleet_count(r->fl)) {
            struct fleet_gateway *g = fleet_at(r->fl, (size_t)(e->id - 1));
            r->inflight--;
            if (!e->ok && g->outcome == FLEET_WAITING) /* e.g. not authorized (the ACL) */
                fleet_set_outcome(g, FLEET_REFUSED, e->detail);
        }
        if (r->phase == FR_SENDING)
            fleet_send(r);
        break;
    case MQTT_EV_MESSAGE:
        if (e->oversized) {
            r->oversized++;
            break;
        }
        if (r->phase == FR_LISTING && e->retained)
            r->quiet_until = mono_ms() + LISTING_QUIET_MS;
        switch (topic_parse(e->topic, &p)) {
        case TOPIC_STATUS:
            fleet_status(r, p.base, e);
            break;
        case TOPIC_CMD_RESULT:
            fleet_result(r, p.base, e);
            break;
        default:
            break;
        }
        break;
    default:
        break;
    }
}

/* The summary and the lines of mode and test; the exit status: 0 when
 * every gateway did it. */
static int fleet_report(struct fleet_run *r)
{
    const struct opts *o = r->o;
    bool zh = o->lang != LANG_EN;
    int n[FLEET_REFUSED + 1] = {0};
    int64_t now = wall_ms();
    char line[2048], what[64];

    fleet_sort(r->fl, FLEET_BY_SITE);
    for (size_t i = 0; i < fleet_count(r->fl); i++) {
        struct fleet_gateway *g = fleet_at(r->fl, i);
        n[g->outcome]++;
        if (fleet_format_outcome(g, o->lang, now, tz_offset(now), line, sizeof(line)) >= 0)
            print_line(line);
    }
    snprintf(what, sizeof(what), "%s%s%s", sub_names[o->sub], o->mode ? " " : "",
             o->mode ? o->mode : "");
    snprintf(line, sizeof(line),
             zh ? "── %s：%zu 个网关%s，%d 成功，%d 失败，%d 被拒绝，%d 无应答，%d 离线未发送 ──"
                : "── %s: %zu gateway%s, %d ok, %d error, %d refused, %d no answer, %d not sent "
                  "(offline) ──",
             what, fleet_count(r->fl), zh || fleet_count(r->fl) == 1 ? "" : "s", n[FLEET_OK],
             n[FLEET_ERROR], n[FLEET_REFUSED], n[FLEET_WAITING], n[FLEET_NOT_SENT]);
    print_line(line);
    return n[FLEET_OK] == (int)fleet_count(r->fl) && fleet_count(r->fl) > 0 ? 0 : 1;
}

static int run_fleet(const struct opts *o)
{
    struct fleet_run r;
    const char *filters[FILTERS_MAX];
    char heading[512];
    int64_t start = mono_ms();

    memset(&r, 0, sizeof(r));
    r.o = o;
    for (int i = 0; i < o->nfleet_filters; i++)
        filters[i] = o->fleet_filters[i];
    if (o->by != NULL) {
        snprintf(r.by, sizeof(r.by), "%s", o->by);
    } else {
        struct passwd *pw = getpwuid(getuid());
        snprintf(r.by, sizeof(r.by), "%s", pw != NULL ? pw->pw_name : "shelter-watch");
    }
    if ((r.fl = fleet_new()) == NULL ||
        (r.mq = broker_new(o, filters, o->nfleet_filters, NULL)) == NULL) {
        r.rc = 1;
        goto out;
    }
    snprintf(r.id, sizeof(r.id), "%s", mqtt_client_id(r.mq));
    if (broker_start(o, r.mq) == -1) {
        r.rc = 1;
        goto out;
    }
    while (r.phase != FR_DONE && quit_signal == 0) {
        struct pollfd pfd = {.fd = mqtt_fd(r.mq), .events = POLLIN};
        struct mqtt_event e;
        int64_t now = mono_ms(), until = start + ACK_TIMEOUT_MS;

        if (r.phase == FR_LISTING)
            until = r.quiet_until < r.listing_until ? r.quiet_until : r.listing_until;
        else if (r.phase == FR_SENDING || r.phase == FR_WAITING)
            until = r.phase == FR_WAITING ? r.deadline : now + 1000;
        if (now >= until) {
            if (r.phase == FR_CONNECTING) {
                log_warnx("broker %s not reached within %d s", o->broker, ACK_TIMEOUT_MS / 1000);
                r.rc = 1;
                break;
            }
            if (r.phase == FR_LISTING)
                fleet_listed(&r);
            else if (r.phase == FR_WAITING)
                break; /* who has not answered by now did not answer */
            continue;
        }
        if (poll(&pfd, 1, (int)(until - now)) == -1 && errno != EINTR) {
            log_warn("poll");
            r.rc = 1;
            break;
        }
        while (r.phase != FR_DONE && mqtt_next_event(r.mq, &e) == 1) {
            fleet_event(&r, &e);
            mqtt_event_clear(&e);
        }
        log_drops(r.mq, &r.dropped, &r.oversized);
        if (r.phase == FR_WAITING && !fleet_waiting(&r))
            break;
    }
    /* Cut short (the broker lost, an interrupt) once commands went out: the
     * answers so far, and who has not answered, are still what the user
     * needs to know (which gateways switched). */
    bool sent = o->sub != SUB_GATEWAYS && r.next_send > 0;
    if ((r.rc != 0 || quit_signal != 0) && !sent)
        goto out;
    if (r.rc != 0 || quit_signal != 0) {
        fleet_report(&r);
        r.rc = 1;
    } else if (o->sub == SUB_GATEWAYS) {
        int online, offline;
        int64_t now = wall_ms();
        char *text;

        fleet_sort(r.fl, o->sort);
        text = o->json ? fleet_json(r.fl) : fleet_table(r.fl, o->lang, now, tz_offset(now));
        if (text == NULL) {
            log_warnx("out of memory");
            r.rc = 1;
            goto out;
        }
        if (o->json) {
            printf("%s\n", text);
        } else {
            fleet_counts(r.fl, &online, &offline);
            printf(o->lang != LANG_EN ? "── %s：%zu 个网关%s，%d 在线，%d 离线 ──\n"
                                      : "── %s: %zu gateway%s, %d online, %d offline ──\n",
                   named(o, heading, sizeof(heading)), fleet_count(r.fl),
                   o->lang != LANG_EN || fleet_count(r.fl) == 1 ? "" : "s", online, offline);
            if (fleet_count(r.fl) > 0)
                fputs(text, stdout);
        }
        free(text);
        /* Nothing listed is not "none offline": a misspelt subtree, or one
         * the broker's ACL does not let this user read, must not read as
         * a healthy fleet to a script (as mode and test, exit 1). */
        if (fleet_count(r.fl) == 0) {
            log_warnx("no gateway status under %s (is the subtree spelt city/district/...,"
                      " and may this user read it?)",
                      named(o, heading, sizeof(heading)));
            r.rc = 1;
        }
    } else if (fleet_count(r.fl) == 0) {
        printf(o->lang != LANG_EN ? "没有网关：%s\n" : "no gateways under %s\n",
               named(o, heading, sizeof(heading)));
        r.rc = 1;
    } else {
        r.rc = fleet_report(&r);
    }
out:
    fflush(stdout);
    mqtt_free(r.mq);
    fleet_free(r.fl);
    return r.rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    enum sub sub = SUB_WATCH;
    int rc;

    for (int i = SUB_ACK; argc > 1 && i <= SUB_SILENCE; i++)
        if (strcmp(argv[1], sub_names[i]) == 0)
            sub = (enum sub)i;
    log_init(getenv("SHELTER_WATCH_DEBUG") != NULL);
    if (parse_opts(sub != SUB_WATCH ? argc - 1 : argc, sub != SUB_WATCH ? argv + 1 : argv, sub,
                   &o) == -1)
        rc = 64;
    else {
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN);
        if (sub != SUB_ACK && sub != SUB_SILENCE && signals_init() == -1) {
            log_warn("signals");
            rc = 1;
        } else {
            rc = sub == SUB_ACK || sub == SUB_SILENCE ? run_ack(&o)
                 : sub == SUB_WATCH                   ? run_watch(&o)
                                                      : run_fleet(&o);
        }
    }
    for (int i = 0; i < o.nfleet_filters; i++)
        free(o.fleet_filters[i]);
    return rc;
}
