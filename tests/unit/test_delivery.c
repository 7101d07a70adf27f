/* Unit tests: the delivery cycle (gateway/delivery.c) over the REAL outbox
 * and a recording fake sink (gateway/sink.h).  What a sink is offered is
 * checked against the outbox as a power cut at that instant would leave it:
 * at every offer the database files are copied aside (a "kill") and opened
 * again, and the record offered must be in the copy.  The retained-state
 * sync is the real one (gateway/sync.c), fed as the MQTT sink would. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check_run.h"
#include "clock.h"
#include "delivery.h"
#include "outbox.h"
#include "selfalarm.h"
#include "sink.h"
#include "sync.h"

static char dir[64], db_path[128], snap_path[128], conf_path[128];
static char err[256];
static struct cfg *cfg;
static struct outbox *ob;
static struct selfalarm *sa;

static const struct outbox_limits limits = {
    .max_telemetry_rows = 1000,
    .max_telemetry_bytes = 1 << 20,
    .max_inflight = 64,
    .busy_timeout_ms = 1000,
};

/* ---- the fake sink ------------------------------------------------------------ */

struct seen {
    int64_t id;
    uint64_t seq;
    enum outbox_class cls;
    char topic[160];
    char payload[1024];
    bool durable; /* in the outbox as a kill at the offer would leave it */
};

struct fake {
    struct sink sink;
    bool open; /* connected: takes up to window records in flight */
    int window;
    int64_t inflight[64];
    int ninflight;
    struct sink_confirm confirm[64]; /* handed to the cycle at the next take */
    int nconfirm;
    struct seen seen[64];
    int nseen;
};

static bool snapshot_has(const struct outbox_rec *r);

static int fake_fd(void *ctx)
{
    (void)ctx;
    return -1;
}

static int64_t fake_timeout(void *ctx, int64_t now_ms, int64_t cap_ms)
{
    (void)ctx;
    (void)now_ms;
    return cap_ms;
}

static int fake_start(void *ctx)
{
    (void)ctx;
    return 0;
}

static void fake_timer(void *ctx, int64_t now_ms)
{
    (void)ctx;
    (void)now_ms;
}

static int fake_room(void *ctx, int64_t now_ms)
{
    struct fake *f = ctx;
    (void)now_ms;
    return f->open ? f->window - f->ninflight : 0;
}

static int fake_offer(void *ctx, const struct outbox_rec *recs, int n)
{
    struct fake *f = ctx;

    for (int i = 0; i < n; i++) {
        ck_assert_int_lt(f->nseen, 64);
        ck_assert_int_lt(f->ninflight, f->window);
        struct seen *s = &f->seen[f->nseen++];
        s->id = recs[i].id;
        s->seq = recs[i].seq;
        s->cls = recs[i].cls;
        snprintf(s->topic, sizeof(s->topic), "%s", recs[i].topic);
        snprintf(s->payload, sizeof(s->payload), "%.*s", (int)recs[i].payload_len,
                 (const char *)recs[i].payload);
        s->durable = recs[i].id == SINK_REPUB_ID || snapshot_has(&recs[i]);
        f->inflight[f->ninflight++] = recs[i].id;
    }
    return n;
}

static int fake_take(void *ctx, struct sink_confirm *out, int max)
{
    struct fake *f = ctx;
    int n = f->nconfirm < max ? f->nconfirm : max;

    memcpy(out, f->confirm, sizeof(*out) * (size_t)n);
    memmove(f->confirm, f->confirm + n, sizeof(*out) * (size_t)(f->nconfirm - n));
    f->nconfirm -= n;
    return n;
}

static const struct sink_ops fake_ops = {
    .fd = fake_fd,
    .timeout_ms = fake_timeout,
    .start = fake_start,
    .timer = fake_timer,
    .room = fake_room,
    .offer = fake_offer,
    .take = fake_take,
};

static void fake_init(struct fake *f, struct sync *sy)
{
    memset(f, 0, sizeof(*f));
    f->sink = (struct sink){
        .name = "fake", .id = SINK_MQTT, .batch = 16, .ops = &fake_ops, .ctx = f, .sync = sy};
    f->open = true;
    f->window = 16;
}

/* The publish of the record with this id ended: confirm it with outcome. */
static void fake_answer(struct fake *f, int64_t id, enum sink_outcome outcome)
{
    for (int i = 0; i < f->ninflight; i++)
        if (f->inflight[i] == id) {
            f->inflight[i] = f->inflight[--f->ninflight];
            f->confirm[f->nconfirm++] = (struct sink_confirm){.id = id, .outcome = outcome};
            return;
        }
    ck_abort_msg("record %lld is not in flight", (long long)id);
}

static void fake_answer_all(struct fake *f, enum sink_outcome outcome)
{
    while (f->ninflight > 0)
        fake_answer(f, f->inflight[0], outcome);
}

/* ---- the outbox as a kill would leave it ----------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out;
    ssize_t n;

    unlink(to);
    if (in == -1) {
        ck_assert_int_eq(errno, ENOENT);
        return;
    }
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(out, 0);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* Copy the database files aside (no -shm: it is rebuilt from the WAL) and
 * open the copy: what a power cut now would leave. */
static struct outbox *snapshot(void)
{
    char from[160], to[160];

    copy_file(db_path, snap_path);
    snprintf(from, sizeof(from), "%s-wal", db_path);
    snprintf(to, sizeof(to), "%s-wal", snap_path);
    copy_file(from, to);
    snprintf(to, sizeof(to), "%s-shm", snap_path);
    unlink(to);
    struct outbox *s = outbox_open(snap_path, &limits, SINK_COUNT, err, sizeof(err));
    ck_assert_msg(s != NULL, "snapshot: %s", err);
    return s;
}

/* Every record pending for MQTT in outbox o, in hand-out order: fetched
 * and confirmed until none is left (an alarm is held back while an earlier
 * one of its sensor is in flight). */
static int pending(struct outbox *o, struct seen *out, int max)
{
    struct outbox_rec recs[64];
    int n, total = 0;

    while ((n = outbox_fetch(o, SINK_MQTT, recs, 64)) > 0)
        for (int i = 0; i < n; i++) {
            if (total < max) {
                out[total].id = recs[i].id;
                out[total].seq = recs[i].seq;
                out[total].cls = recs[i].cls;
                snprintf(out[total].payload, sizeof(out[total].payload), "%.*s",
                         (int)recs[i].payload_len, (const char *)recs[i].payload);
            }
            total++;
            outbox_done(o, recs[i].id, SINK_MQTT);
        }
    return total;
}

static bool snapshot_has(const struct outbox_rec *r)
{
    static struct seen p[64];
    struct outbox *s = snapshot();
    int n = pending(s, p, 64);
    bool found = false;

    for (int i = 0; i < n && i < 64 && !found; i++)
        found = strlen(p[i].payload) == r->payload_len &&
                memcmp(p[i].payload, r->payload, r->payload_len) == 0;
    outbox_close(s, err, sizeof(err));
    return found;
}

/* ---- fixtures ------------------------------------------------------------------ */

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_delivery.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/outbox.db", dir);
    snprintf(snap_path, sizeof(snap_path), "%s/snap.db", dir);
    snprintf(conf_path, sizeof(conf_path), "%s/gateway.conf", dir);
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[gateway]\nid = gw-test\ncity = c\ndistrict = d\nstreet = s\ncommunity = m\n"
            "property = p\nname = test\nlanguage = en\nstate_dir = %s\n\n"
            "[bus b1]\ntype = tcp\nhost = 127.0.0.1\nport = 1502\n\n"
            "[sensor leak-1]\nbus = b1\nunit = 1\nkind = water_leak\nmodel = di8\ninput = 0\n\n"
            "[sensor leak-2]\nbus = b1\nunit = 1\nkind = water_leak\nmodel = di8\ninput = 1\n",
            dir);
    fclose(f);
    int nerr = 0;
    cfg = cfg_load(conf_path, "sensors/models", stderr, &nerr);
    ck_assert_ptr_nonnull(cfg);
    ob = outbox_open(db_path, &limits, SINK_COUNT, err, sizeof(err));
    ck_assert_msg(ob != NULL, "outbox_open: %s", err);
    sa = selfalarm_new(cfg, ob, MODE_PEACETIME, false);
    ck_assert_ptr_nonnull(sa);
}

static void teardown(void)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];

    selfalarm_free(sa);
    if (ob != NULL)
        outbox_close(ob, err, sizeof(err));
    cfg_free(cfg);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
        unlink(p);
        snprintf(p, sizeof(p), "%s%s", snap_path, suffix[i]);
        unlink(p);
    }
    unlink(conf_path);
    rmdir(dir);
}

static struct delivery *new_delivery(struct fake *f)
{
    struct sink *sinks[1] = {&f->sink};
    struct delivery *d = delivery_new(cfg, ob, sa, sinks, 1);
    ck_assert_ptr_nonnull(d);
    return d;
}

static struct alarm_event leak(int sensor, bool raised)
{
    return (struct alarm_event){.sensor = sensor,
                                .alarm = ALARM_LEAK,
                                .type = raised ? ALARM_EV_RAISED : ALARM_EV_CLEARED,
                                .active = raised,
                                .severity = ALARM_SEV_CRITICAL,
                                .value = NAN,
                                .threshold = NAN,
                                .unit = "",
                                .mode = MODE_PEACETIME,
                                .ts_ms = wall_ms()};
}

static struct reading wet(int sensor, bool is_wet)
{
    return (struct reading){.sensor = sensor,
                            .kind = KIND_WATER_LEAK,
                            .quality = Q_GOOD,
                            .ts_ms = wall_ms(),
                            .v.water_leak.wet = is_wet};
}

static void queue_event(struct delivery *d, struct alarm_event ev)
{
    ck_assert_int_eq(delivery_queue_event(d, &ev), 0);
}

static void queue_reading(struct delivery *d, struct reading r)
{
    ck_assert_int_eq(delivery_queue_reading(d, &r, mono_ms()), 0);
}

/* Alarm records offered for sensor name, in order. */
static int offered_for(const struct fake *f, const char *sensor, const struct seen **out, int max)
{
    char needle[80];
    int n = 0;

    snprintf(needle, sizeof(needle), "/alarm/%s/", sensor);
    for (int i = 0; i < f->nseen; i++)
        if (strstr(f->seen[i].topic, needle) != NULL && n < max)
            out[n++] = &f->seen[i];
    return n;
}

/* ---- nothing is published before its commit ------------------------------------ */

START_TEST(test_an_alarm_is_offered_only_once_its_commit_is_durable)
{
    struct fake f;
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    queue_event(d, leak(0, true));
    queue_event(d, leak(1, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    for (int i = 0; i < f.nseen; i++)
        ck_assert_msg(f.seen[i].durable, "seq %llu was offered before a kill would keep it",
                      (unsigned long long)f.seen[i].seq);
    ck_assert_int_eq(f.nseen, 2);
    delivery_close(d);
}
END_TEST

START_TEST(test_a_cycle_closed_without_its_commit_is_never_offered)
{
    struct fake f;
    struct seen p[8];
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    /* An alarm and a reading queued, then the gateway goes down before the
     * cycle commits: no sink may have seen either, and the outbox has neither. */
    queue_event(d, leak(0, true));
    queue_reading(d, wet(1, true));
    delivery_close(d);
    ck_assert_int_eq(f.nseen, 0);
    outbox_close(ob, err, sizeof(err));
    ob = outbox_open(db_path, &limits, SINK_COUNT, err, sizeof(err));
    ck_assert_ptr_nonnull(ob);
    ck_assert_int_eq(pending(ob, p, 8), 0);
}
END_TEST

START_TEST(test_telemetry_waits_for_its_batched_commit)
{
    struct fake f;
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    /* Just after a commit (at open) telemetry is batched: not committed, so
     * not offered. */
    queue_reading(d, wet(1, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 0);
    ck_assert_int_eq(delivery_run(d, NULL, 0, true), 0);
    ck_assert_int_eq(f.nseen, 1);
    ck_assert_int_eq(f.seen[0].cls, OUTBOX_TELEMETRY);
    ck_assert(f.seen[0].durable);
    delivery_close(d);
}
END_TEST

/* ---- order ------------------------------------------------------------------------- */

START_TEST(test_alarms_are_offered_before_telemetry)
{
    struct fake f;
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    f.open = false; /* the uplink is down while both are committed */
    queue_reading(d, wet(1, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, true), 0);
    queue_event(d, leak(0, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, true), 0);
    ck_assert_int_eq(f.nseen, 0);
    f.open = true;
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    /* the telemetry waits until the alarm is confirmed */
    ck_assert_int_eq(f.nseen, 1);
    ck_assert_int_eq(f.seen[0].cls, OUTBOX_ALARM);
    fake_answer_all(&f, SINK_DONE);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 2);
    ck_assert_int_eq(f.seen[1].cls, OUTBOX_TELEMETRY);
    delivery_close(d);
}
END_TEST

START_TEST(test_a_sensors_transitions_are_offered_in_order_across_a_failed_publish)
{
    struct fake f;
    const struct seen *s[8];
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    queue_event(d, leak(0, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    int64_t raised_id = f.seen[0].id;
    queue_event(d, leak(0, false));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    /* The clear waits while the raise is in flight ... */
    ck_assert_int_eq(offered_for(&f, "leak-1", s, 8), 1);
    /* ... and while the raise, failed, is sent again. */
    fake_answer(&f, raised_id, SINK_AGAIN);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(offered_for(&f, "leak-1", s, 8), 2);
    ck_assert_int_eq(s[1]->id, raised_id);
    fake_answer(&f, raised_id, SINK_DONE);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(offered_for(&f, "leak-1", s, 8), 3);
    ck_assert(strstr(s[2]->payload, "\"event\":\"cleared\"") != NULL);
    ck_assert(s[0]->seq < s[2]->seq);
    delivery_close(d);
}
END_TEST

/* ---- confirmations ------------------------------------------------------------------ */

START_TEST(test_a_failed_publish_is_offered_again)
{
    struct fake f;
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    queue_event(d, leak(0, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 1);
    fake_answer_all(&f, SINK_AGAIN);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 2);
    ck_assert_int_eq(f.seen[1].id, f.seen[0].id);
    ck_assert_str_eq(f.seen[1].payload, f.seen[0].payload);
    /* A lost connection hands everything back too. */
    f.ninflight = 0;
    f.confirm[f.nconfirm++] = (struct sink_confirm){.outcome = SINK_AGAIN_ALL};
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 3);
    ck_assert_int_eq(f.seen[2].id, f.seen[0].id);
    delivery_close(d);
}
END_TEST

START_TEST(test_a_confirmation_deletes_the_record_with_the_next_commit)
{
    struct fake f;
    struct seen p[8];
    fake_init(&f, NULL);
    struct delivery *d = new_delivery(&f);

    queue_event(d, leak(0, true));
    queue_event(d, leak(1, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 2);
    fake_answer(&f, f.seen[0].id, SINK_DONE);
    ck_assert_int_eq(delivery_run(d, NULL, 0, true), 0); /* the commit carries it */
    /* Confirmed: gone after a kill, never offered again; the other stays. */
    struct outbox *s = snapshot();
    int n = pending(s, p, 8);
    outbox_close(s, err, sizeof(err));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(p[0].seq, f.seen[1].seq);
    fake_answer(&f, f.seen[1].id, SINK_AGAIN);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 3);
    ck_assert_int_eq(f.seen[2].seq, f.seen[1].seq);
    delivery_close(d);
}
END_TEST

/* ---- the sync after a connect ------------------------------------------------------ */

/* A delivery to a fake sink gated by a real sync, just connected, with
 * leak-1's raise committed and held back by the sync. */
static struct delivery *connected_with_a_held_alarm(struct fake *f, struct sync **sy)
{
    *sy = sync_new(cfg, ob, sa, outbox_next_seq(ob));
    ck_assert_ptr_nonnull(*sy);
    fake_init(f, *sy);
    struct delivery *d = new_delivery(f);
    sync_start(*sy, mono_ms());
    queue_event(d, leak(0, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f->nseen, 0);
    return d;
}

START_TEST(test_the_sync_holds_the_outbox_until_it_completes)
{
    struct fake f;
    struct sync *sy;
    struct delivery *d = connected_with_a_held_alarm(&f, &sy);

    /* First connect: the broker has nothing of ours. */
    sync_end(sy);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 1); /* pending: left to the outbox, not republished */
    fake_answer_all(&f, SINK_DONE);
    ck_assert_int_eq(delivery_run(d, NULL, 0, true), 0);

    /* Reconnect to a broker that lost its retained messages. */
    sync_stop(sy);
    sync_start(sy, mono_ms());
    queue_event(d, leak(1, true));
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 1);
    sync_end(sy);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 3);
    /* leak-1's state first, as it was (same seq, same bytes), then the outbox. */
    ck_assert_int_eq(f.seen[1].id, SINK_REPUB_ID);
    ck_assert_int_eq(f.seen[1].seq, f.seen[0].seq);
    ck_assert_str_eq(f.seen[1].payload, f.seen[0].payload);
    ck_assert(strstr(f.seen[2].topic, "/alarm/leak-2/leak") != NULL);
    delivery_close(d);
    sync_free(sy);
}
END_TEST

START_TEST(test_a_sync_that_times_out_releases_the_outbox)
{
    struct fake f;
    struct sync *sy;
    struct delivery *d = connected_with_a_held_alarm(&f, &sy);

    ck_assert_int_gt(delivery_timeout_ms(d, 60000), 0);
    ck_assert_int_le(delivery_timeout_ms(d, 60000), SYNC_TIMEOUT_MS);
    /* The broker never answers: a sync started SYNC_TIMEOUT_MS ago is over. */
    sync_stop(sy);
    sync_start(sy, mono_ms() - SYNC_TIMEOUT_MS);
    ck_assert_int_eq(delivery_run(d, NULL, 0, false), 0);
    ck_assert_int_eq(f.nseen, 1);
    ck_assert(strstr(f.seen[0].topic, "/alarm/leak-1/leak") != NULL);
    delivery_close(d);
    sync_free(sy);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_an_alarm_is_offered_only_once_its_commit_is_durable);
    tcase_add_test(tc, test_a_cycle_closed_without_its_commit_is_never_offered);
    tcase_add_test(tc, test_telemetry_waits_for_its_batched_commit);
    tcase_add_test(tc, test_alarms_are_offered_before_telemetry);
    tcase_add_test(tc, test_a_sensors_transitions_are_offered_in_order_across_a_failed_publish);
    tcase_add_test(tc, test_a_failed_publish_is_offered_again);
    tcase_add_test(tc, test_a_confirmation_deletes_the_record_with_the_next_commit);
    tcase_add_test(tc, test_the_sync_holds_the_outbox_until_it_completes);
    tcase_add_test(tc, test_a_sync_that_times_out_releases_the_outbox);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
