/*
 * influx_drive: a test driver for tests/integration/test_influx_write.sh.
 * It encodes points with lp_encode() and sends them with the influx writer
 * from a small poll() loop, the way the daemon's main loop does, so the
 * encoder is proved against the real influxd parser and the writer against a
 * real server that is stopped and restarted.
 *
 *   influx_drive -u URL (-d DB | -o ORG -b BUCKET) [-t TOKEN_FILE]
 *                [-c CONNECT_MS] [-T TOTAL_MS] [-m BACKOFF_MIN_MS] [-M BACKOFF_MAX_MS]
 *
 * Commands on stdin, one per line, arguments separated by single TABs and
 * taken byte for byte (so values may hold spaces, commas, quotes, UTF-8):
 *   point MEASUREMENT TS_MS       start a point
 *   tag KEY VALUE | int KEY N | float KEY X | bool KEY true|false | str KEY VALUE
 *   end                           encode it into the batch ("encode-error E" if refused)
 *   raw LINE                      append LINE and a newline to the batch as is
 *   send                          submit the batch, print its result, empty it
 *   send-until-delivered SECONDS  the same, resubmitting after each retry-later
 *   stats                         print "max-call-ms N": the longest writer call
 * Results: "delivered STATUS", "retry STATUS RETRY_IN_MS MESSAGE",
 * "rejected STATUS MESSAGE".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "influx.h"
#include "lineproto.h"

#define MAX_ITEMS 32
#define BATCH_MAX (1 << 20)

static struct influx *writer;
static int64_t max_call_ms;
static char batch[BATCH_MAX];
static size_t batch_len;
static uint64_t next_batch_id = 1;

/* The point being built; its strings are owned here until "end". */
static char *measurement;
static int64_t point_ts;
static struct lp_tag tags[MAX_ITEMS];
static struct lp_field fields[MAX_ITEMS];
static size_t ntags, nfields;
static char *owned[3 * MAX_ITEMS + 1];
static size_t nowned;

static char *keep(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL || nowned == sizeof(owned) / sizeof(owned[0])) {
        fprintf(stderr, "influx_drive: too many items\n");
        exit(2);
    }
    return owned[nowned++] = copy;
}

static void reset_point(void)
{
    while (nowned > 0)
        free(owned[--nowned]);
    measurement = NULL;
    ntags = nfields = 0;
}

static void timed_start(int64_t *t0)
{
    *t0 = mono_ms();
}

static void timed_end(int64_t t0)
{
    int64_t d = mono_ms() - t0;
    if (d > max_call_ms)
        max_call_ms = d;
}

static const char *outcome_name(enum influx_outcome o)
{
    static const char *const names[] = {
        [INFLUX_DELIVERED] = "delivered",
        [INFLUX_RETRY] = "retry",
        [INFLUX_REJECTED] = "rejected",
    };
    return names[o];
}

static void print_result(const struct influx_result *r)
{
    if (r->outcome == INFLUX_DELIVERED)
        printf("delivered %d\n", r->http_status);
    else if (r->outcome == INFLUX_RETRY)
        printf("retry %d %d %s\n", r->http_status, r->retry_in_ms, r->message);
    else
        printf("%s %d %s\n", outcome_name(r->outcome), r->http_status, r->message);
    fflush(stdout);
}

/* The main loop in miniature: poll the writer's descriptor until the batch
 * in flight has a result or deadline passes. */
static int wait_result(struct influx_result *res, int64_t deadline)
{
    struct pollfd pfd = {.fd = influx_fd(writer), .events = POLLIN};
    int64_t t0;

    while (mono_ms() < deadline) {
        int n = poll(&pfd, 1, (int)(deadline - mono_ms()));
        if (n == -1 && errno != EINTR)
            return -1;
        if (n <= 0)
            continue;
        timed_start(&t0);
        int done = influx_perform(writer, res);
        timed_end(t0);
        if (done == -1)
            return -1;
        if (done == 1)
            return 0;
    }
    errno = ETIMEDOUT;
    return -1;
}

/* Wait, through the writer's descriptor, until it accepts a batch again. */
static int wait_ready(int64_t deadline)
{
    struct influx_result unused;
    struct pollfd pfd = {.fd = influx_fd(writer), .events = POLLIN};

    while (!influx_ready(writer)) {
        if (mono_ms() >= deadline)
            return -1;
        if (poll(&pfd, 1, (int)(deadline - mono_ms())) > 0 && influx_perform(writer, &unused) == -1)
            return -1;
    }
    return 0;
}

static int send_batch(int until_delivered, int seconds)
{
    struct influx_result res;
    int64_t deadline = mono_ms() + (int64_t)seconds * 1000, t0;
    uint64_t id = next_batch_id++;

    for (;;) {
        if (wait_ready(deadline) == -1) {
            printf("timeout waiting to submit\n");
            return -1;
        }
        timed_start(&t0);
        int rc = influx_submit(writer, id, batch, batch_len);
        timed_end(t0);
        if (rc == -1) {
            printf("submit-error %s\n", strerror(errno));
            return -1;
        }
        if (wait_result(&res, deadline) == -1) {
            printf("no result: %s\n", strerror(errno));
            return -1;
        }
        if (res.batch_id != id) {
            printf("wrong batch id %" PRIu64 "\n", res.batch_id);
            return -1;
        }
        print_result(&res);
        if (!until_delivered || res.outcome != INFLUX_RETRY)
            break;
    }
    batch_len = 0;
    return 0;
}

static int end_point(void)
{
    struct lp_point pt = {measurement, tags, ntags, fields, nfields, point_ts};
    ssize_t n = lp_encode(batch + batch_len, sizeof(batch) - batch_len, &pt);
    if (n < 0)
        printf("encode-error %s\n", strerror(errno));
    else
        batch_len += (size_t)n;
    reset_point();
    return 0;
}

static int add_field(const char *type, const char *key, const char *value)
{
    struct lp_field *f = &fields[nfields];
    if (nfields == MAX_ITEMS)
        return -1;
    f->key = keep(key);
    if (strcmp(type, "int") == 0)
        *f = lp_int(f->key, strtoll(value, NULL, 10));
    else if (strcmp(type, "float") == 0)
        *f = lp_float(f->key, strtod(value, NULL));
    else if (strcmp(type, "bool") == 0)
        *f = lp_bool(f->key, strcmp(value, "true") == 0);
    else
        *f = lp_str(f->key, keep(value));
    nfields++;
    return 0;
}

static int run_command(char *line)
{
    char *argv[4] = {NULL, NULL, NULL, NULL};
    int argc = 0;

    for (char *tok; argc < 4 && (tok = strsep(&line, "\t")) != NULL;)
        argv[argc++] = tok;
    const char *cmd = argv[0];
    if (cmd[0] == '\0' || cmd[0] == '#')
        return 0;
    if (strcmp(cmd, "point") == 0 && argc == 3) {
        reset_point();
        measurement = keep(argv[1]);
        point_ts = strtoll(argv[2], NULL, 10);
    } else if (strcmp(cmd, "tag") == 0 && argc == 3 && ntags < MAX_ITEMS) {
        tags[ntags].key = keep(argv[1]);
        tags[ntags++].value = keep(argv[2]);
    } else if ((strcmp(cmd, "int") == 0 || strcmp(cmd, "float") == 0 || strcmp(cmd, "bool") == 0 ||
                strcmp(cmd, "str") == 0) &&
               argc == 3) {
        return add_field(cmd, argv[1], argv[2]);
    } else if (strcmp(cmd, "end") == 0) {
        return end_point();
    } else if (strcmp(cmd, "raw") == 0 && argc == 2) {
        int n = snprintf(batch + batch_len, sizeof(batch) - batch_len, "%s\n", argv[1]);
        if (n < 0 || (size_t)n >= sizeof(batch) - batch_len)
            return -1;
        batch_len += (size_t)n;
    } else if (strcmp(cmd, "send") == 0) {
        return send_batch(0, 60);
    } else if (strcmp(cmd, "send-until-delivered") == 0 && argc == 2) {
        return send_batch(1, atoi(argv[1]));
    } else if (strcmp(cmd, "stats") == 0) {
        printf("max-call-ms %" PRId64 "\n", max_call_ms);
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct influx_config conf = {0};
    char line[4096];
    int opt, status = 0;

    while ((opt = getopt(argc, argv, "u:d:o:b:t:c:T:m:M:")) != -1) {
        switch (opt) {
        case 'u':
            conf.url = optarg;
            break;
        case 'd':
            conf.database = optarg;
            break;
        case 'o':
            conf.org = optarg;
            break;
        case 'b':
            conf.bucket = optarg;
            break;
        case 't':
            conf.token_file = optarg;
            break;
        case 'c':
            conf.connect_timeout_ms = atoi(optarg);
            break;
        case 'T':
            conf.total_timeout_ms = atoi(optarg);
            break;
        case 'm':
            conf.backoff_min_ms = atoi(optarg);
            break;
        case 'M':
            conf.backoff_max_ms = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: influx_drive -u URL (-d DB | -o ORG -b BUCKET) ...\n");
            return 2;
        }
    }
    if ((writer = influx_new(&conf)) == NULL) {
        fprintf(stderr, "influx_drive: influx_new: %s\n", strerror(errno));
        return 2;
    }
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (run_command(line) == -1) {
            fprintf(stderr, "influx_drive: failed: %s\n", line);
            status = 1;
            break;
        }
    }
    reset_point();
    influx_free(writer);
    return status;
}
