/* Unit tests: the durable outbox.  Every database goes through the "fault"
 * VFS, so disk-full and fsync failures are injected at the I/O seam; what is
 * really on disk is checked through a separate plain SQLite connection. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "outbox.h"
#include "vfs_fault.h"

/* The Makefile builds each unit test from its one file. */
#include "vfs_fault.c"

enum { MQTT = 0, INFLUX = 1 };
#define TO_MQTT (1u << MQTT)
#define TO_INFLUX (1u << INFLUX)
#define TO_BOTH (TO_MQTT | TO_INFLUX)

static char dir[64];
static char db_path[128];
static char err[256];

static const struct outbox_limits limits = {
    .max_telemetry_rows = 1000,
    .max_telemetry_bytes = 1 << 20,
    .max_inflight = 16,
    .busy_timeout_ms = 1000,
    .vfs = VFS_FAULT_NAME,
};

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_outbox.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/outbox.db", dir);
    ck_assert_int_eq(vfs_fault_register(), SQLITE_OK);
    vfs_fault_clear();
}

static void teardown(void)
{
    const char *suffix[] = {"", "-wal", "-shm"};
    char p[160];

    vfs_fault_clear();
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/seq", dir);
    unlink(p);
    rmdir(dir);
}

static struct outbox *open_ob(const struct outbox_limits *lim)
{
    struct outbox *ob = outbox_open(db_path, lim, 2, err, sizeof(err));

    ck_assert_msg(ob != NULL, "outbox_open: %s", err);
    return ob;
}

static void close_ob(struct outbox *ob)
{
    ck_assert_msg(outbox_close(ob, err, sizeof(err)) == 0, "outbox_close: %s", err);
}

/* Payload strings live here so records can point at them. */
static char payloads[64][64];
static int npayloads;

static const char *text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *text(const char *fmt, ...)
{
    char *p = payloads[npayloads++ % 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p, 64, fmt, ap);
    va_end(ap);
    return p;
}

static struct outbox_rec alarm_rec(const char *sensor, uint64_t seq, unsigned sinks)
{
    const char *payload = text("{\"seq\":%" PRIu64 "}", seq);

    return (struct outbox_rec){.sensor = sensor,
                               .topic = text("alarm/x/%" PRIu64, seq),
                               .payload = payload,
                               .payload_len = strlen(payload),
                               .qos = 1,
                               .retained = 1,
                               .seq = seq,
                               .created_ms = 1000,
                               .sinks = sinks};
}

static struct outbox_rec reading_rec(const char *sensor, const char *payload, unsigned sinks)
{
    return (struct outbox_rec){.sensor = sensor,
                               .topic = "reading",
                               .payload = payload,
                               .payload_len = strlen(payload),
                               .qos = 0,
                               .retained = 1,
                               .created_ms = 1000,
                               .sinks = sinks};
}

/* One cycle with one alarm for sensor (and state "last=<seq>"); returns the
 * commit's result and the seq in *seq. */
static int commit_alarm(struct outbox *ob, const char *sensor, unsigned sinks, uint64_t *seq)
{
    uint64_t s = outbox_next_seq(ob);
    struct outbox_rec a = alarm_rec(sensor, s, sinks);
    const char *state = text("last=%" PRIu64, s);
    struct outbox_cycle c = {
        .alarms = &a, .nalarms = 1, .state = state, .state_len = strlen(state)};

    if (seq != NULL)
        *seq = s;
    return outbox_commit(ob, &c);
}

static int commit_readings(struct outbox *ob, const struct outbox_rec *r, int n)
{
    struct outbox_cycle c = {.telemetry = r, .ntelemetry = n};

    return outbox_commit(ob, &c);
}

/* ---- the plain connection that tells what is on disk ---- */

static sqlite3 *raw_open(void)
{
    sqlite3 *db;

    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t disk_int(const char *sql)
{
    sqlite3 *db = raw_open();
    int64_t v = raw_int(db, sql);

    sqlite3_close(db);
    return v;
}

/* The distinct alarm seqs on disk are exactly 1..n, in id order, and no
 * record is stored twice; returns n. */
static int64_t disk_seqs_are_prefix(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t expect = 1, last = 0;

    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT seq FROM outbox WHERE class = 0 ORDER BY id", -1, &st, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t s = sqlite3_column_int64(st, 0);

        if (s == last)
            continue; /* records of one transition share a seq */
        ck_assert_int_eq(s, expect);
        last = s;
        expect++;
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE class = 0"
                                 " GROUP BY seq, topic, sensor, pending HAVING count(*) > 1)"),
                     0);
    return last;
}

static int raw_check_ok(sqlite3 *db, const char *pragma)
{
    sqlite3_stmt *st;
    int ok;

    ck_assert_int_eq(sqlite3_prepare_v2(db, pragma, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

static int64_t meta_int(sqlite3 *db, const char *key)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT coalesce((SELECT v FROM meta WHERE k = '%s'), -1)", key);
    return raw_int(db, sql);
}

/* ---- sequence numbers and atomicity ---- */

START_TEST(test_seq_continues_after_reopen_and_is_never_reused)
{
    struct outbox *ob = open_ob(&limits);
    uint64_t seq;

    ck_assert_uint_eq(outbox_next_seq(ob), 1);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_MQTT, &seq), 0);
        ck_assert_uint_eq(seq, (uint64_t)i);
    }
    close_ob(ob);

    ob = open_ob(&limits);
    ck_assert_uint_eq(outbox_next_seq(ob), 4);
    /* Delivered and deleted alarms do not give their seqs back either. */
    struct outbox_rec out[8];
    int n = outbox_fetch(ob, MQTT, out, 8);
    ck_assert_int_eq(n, 1); /* one in flight per sensor */
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_MQTT, &seq), 0);
    ck_assert_uint_eq(seq, 4);
    close_ob(ob);

    ob = open_ob(&limits);
    ck_assert_uint_eq(outbox_next_seq(ob), 5);
    close_ob(ob);
    sqlite3 *db = raw_open();
    ck_assert_int_eq(raw_int(db, "SELECT min(seq) FROM outbox"), 2);
    ck_assert_int_eq(raw_int(db, "SELECT max(seq) FROM outbox"), 4);
    ck_assert_int_eq(meta_int(db, "outbox.next_seq"), 5);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_records_of_one_transition_share_one_seq)
{
    struct outbox *ob = open_ob(&limits);
    uint64_t s = outbox_next_seq(ob);
    struct outbox_rec a[3] = {alarm_rec("door-1", s, TO_MQTT), alarm_rec("door-1", s, TO_INFLUX),
                              alarm_rec("door-2", s + 1, TO_BOTH)};
    struct outbox_cycle c = {.alarms = a, .nalarms = 3};

    ck_assert_int_eq(outbox_commit(ob, &c), 0);
    ck_assert_uint_eq(outbox_next_seq(ob), s + 2);
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE seq = 1"), 2);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE seq = 2"), 1);
}
END_TEST

START_TEST(test_cycle_with_wrong_seq_is_rejected_and_takes_nothing)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec gap[2] = {alarm_rec("a", 1, TO_MQTT), alarm_rec("a", 3, TO_MQTT)};
    struct outbox_rec stale = alarm_rec("a", 0, TO_MQTT);
    struct outbox_rec nosink = alarm_rec("a", 1, 0);
    struct outbox_rec badsink = alarm_rec("a", 1, 1u << 5);
    struct outbox_rec tel_seq = reading_rec("a", "x", TO_MQTT);
    struct outbox_cycle c = {.alarms = gap, .nalarms = 2};

    ck_assert_int_eq(outbox_commit(ob, &c), -1);
    ck_assert_int_eq(errno, EINVAL);
    c = (struct outbox_cycle){.alarms = &stale, .nalarms = 1};
    ck_assert_int_eq(outbox_commit(ob, &c), -1);
    c = (struct outbox_cycle){.alarms = &nosink, .nalarms = 1};
    ck_assert_int_eq(outbox_commit(ob, &c), -1);
    c = (struct outbox_cycle){.alarms = &badsink, .nalarms = 1};
    ck_assert_int_eq(outbox_commit(ob, &c), -1);
    tel_seq.seq = 7;
    c = (struct outbox_cycle){.telemetry = &tel_seq, .ntelemetry = 1};
    ck_assert_int_eq(outbox_commit(ob, &c), -1);

    struct outbox_stats st;
    outbox_stats(ob, &st);
    ck_assert_uint_eq(st.next_seq, 1);
    ck_assert_int_eq(st.alarm_rows + st.telemetry_rows + st.mem_alarms, 0);
    close_ob(ob);
}
END_TEST

START_TEST(test_failed_commit_leaves_no_part_of_the_cycle_on_disk)
{
    struct outbox *ob = open_ob(&limits);
    uint64_t s;
    char big_state[20000];

    ck_assert_int_eq(commit_alarm(ob, "co2-1", TO_MQTT, &s), 0);
    /* A cycle spanning many pages meets a full disk. */
    s = outbox_next_seq(ob);
    struct outbox_rec a[4] = {alarm_rec("co2-1", s, TO_MQTT), alarm_rec("co2-2", s + 1, TO_MQTT),
                              alarm_rec("co2-3", s + 2, TO_MQTT),
                              alarm_rec("co2-4", s + 3, TO_MQTT)};
    memset(big_state, 'S', sizeof(big_state));
    struct outbox_cycle c = {
        .alarms = a, .nalarms = 4, .state = big_state, .state_len = sizeof(big_state)};
    vfs_fault_arm(VFS_FAULT_FULL, -1);
    ck_assert_int_eq(outbox_commit(ob, &c), OUTBOX_DISK_FAILED);
    ck_assert_int_gt(vfs_fault_hits(VFS_FAULT_FULL), 0);

    sqlite3 *db = raw_open();
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox"), 1);
    ck_assert_int_eq(meta_int(db, "outbox.next_seq"), 2);
    ck_assert_int_eq(raw_int(db, "SELECT sum(length(data)) FROM state"), 6);
    ck_assert(raw_check_ok(db, "PRAGMA quick_check"));
    sqlite3_close(db);

    /* Space again: the whole cycle lands together. */
    vfs_fault_clear();
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    db = raw_open();
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox"), 5);
    ck_assert_int_eq(meta_int(db, "outbox.next_seq"), 6);
    ck_assert_int_eq(raw_int(db, "SELECT sum(length(data)) FROM state"),
                     (int64_t)sizeof(big_state));
    ck_assert_int_eq(disk_seqs_are_prefix(db), 5);
    sqlite3_close(db);
    close_ob(ob);
}
END_TEST

START_TEST(test_state_blob_and_settings_survive_restart)
{
    struct outbox *ob = open_ob(&limits);
    void *blob;
    size_t len;
    char mode[32];

    ck_assert_int_eq(outbox_state_load(ob, &blob, &len), 0);
    ck_assert_ptr_null(blob);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(outbox_meta_get(ob, "mode", mode, sizeof(mode)), 0);
    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, NULL), 0);
    ck_assert_int_eq(outbox_meta_set(ob, "mode", "flood_season"), 0);
    ck_assert_int_eq(outbox_meta_set(ob, "outbox.next_seq", "1"), -1); /* ours */
    close_ob(ob);

    ob = open_ob(&limits);
    ck_assert_int_eq(outbox_state_load(ob, &blob, &len), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(memcmp(blob, "last=1", 6), 0);
    free(blob);
    ck_assert_int_eq(outbox_meta_get(ob, "mode", mode, sizeof(mode)), 1);
    ck_assert_str_eq(mode, "flood_season");
    close_ob(ob);
}
END_TEST

/* ---- hand-out order and confirmation ---- */

START_TEST(test_alarms_are_handed_out_before_older_telemetry)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r[3] = {reading_rec("sump-1", "r1", TO_MQTT),
                              reading_rec("sump-2", "r2", TO_MQTT),
                              reading_rec("sump-1", "r3", TO_MQTT)};
    struct outbox_rec out[8];
    uint64_t s1, s2;

    ck_assert_int_eq(commit_readings(ob, r, 3), 0);
    ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_MQTT, &s1), 0);
    ck_assert_int_eq(commit_alarm(ob, "leak-1", TO_MQTT, &s2), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 2);
    ck_assert_int_eq(out[0].cls, OUTBOX_ALARM);
    ck_assert_uint_eq(out[0].seq, s1);
    ck_assert_int_eq(out[1].cls, OUTBOX_ALARM);
    ck_assert_uint_eq(out[1].seq, s2);
    ck_assert_int_eq(out[0].qos, 1);
    ck_assert_int_eq(out[0].retained, 1);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_done(ob, out[1].id, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(out[i].cls, OUTBOX_TELEMETRY);
        ck_assert_mem_eq(out[i].payload, r[i].payload, 2);
    }
    ck_assert_str_eq(out[0].sensor, "sump-1");
    ck_assert_str_eq(out[0].topic, "reading");
    close_ob(ob);
}
END_TEST

/* After an outage (issue 11): four transitions of one sensor and a backlog
 * of readings wait.  Only one alarm of a sensor is in flight at a time;
 * the readings used to fill the window behind the first, so the other
 * three went out after hundreds of them.  Every alarm goes first now. */
START_TEST(test_every_pending_alarm_goes_out_before_any_backlog_reading)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r[3] = {reading_rec("sump-1", "r1", TO_MQTT),
                              reading_rec("sump-2", "r2", TO_MQTT),
                              reading_rec("sump-1", "r3", TO_MQTT)};
    struct outbox_rec out[8];
    uint64_t seq[4];

    ck_assert_int_eq(commit_readings(ob, r, 3), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(commit_alarm(ob, "leak-1", TO_MQTT, &seq[i]), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
        ck_assert_int_eq(out[0].cls, OUTBOX_ALARM);
        ck_assert_uint_eq(out[0].seq, seq[i]);
        ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    }
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 3);
    ck_assert_int_eq(out[0].cls, OUTBOX_TELEMETRY);
    close_ob(ob);
}
END_TEST

START_TEST(test_per_sensor_order_holds_and_a_retry_cannot_overtake)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec out[8];
    uint64_t raised, cleared, other;

    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, &raised), 0);
    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, &cleared), 0);
    ck_assert_int_eq(commit_alarm(ob, "door-2", TO_MQTT, &other), 0);

    /* door-1's second transition waits while its first is in flight. */
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 2);
    ck_assert_uint_eq(out[0].seq, raised);
    ck_assert_uint_eq(out[1].seq, other);
    int64_t first = out[0].id, other_id = out[1].id;
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 0);

    /* The publish failed: the same record comes again, still before "cleared". */
    outbox_release(ob, first, MQTT);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_uint_eq(out[0].seq, raised);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_uint_eq(out[0].seq, cleared);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_done(ob, other_id, MQTT), 0);

    /* Telemetry keeps commit order per sensor (and overall). */
    struct outbox_rec r[4] = {reading_rec("a", "a1", TO_MQTT), reading_rec("b", "b1", TO_MQTT),
                              reading_rec("a", "a2", TO_MQTT), reading_rec("b", "b2", TO_MQTT)};
    ck_assert_int_eq(commit_readings(ob, r, 2), 0);
    ck_assert_int_eq(commit_readings(ob, r + 2, 2), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_mem_eq(out[i].payload, r[i].payload, 2);
    close_ob(ob);
}
END_TEST

START_TEST(test_record_for_two_sinks_is_deleted_only_after_both_confirm)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r[2] = {reading_rec("co2-1", "json", TO_MQTT),
                              reading_rec("co2-1", "line", TO_INFLUX)};
    struct outbox_rec out[8];
    struct outbox_stats st;
    int64_t id;

    ck_assert_int_eq(commit_alarm(ob, "co2-1", TO_BOTH, NULL), 0);
    ck_assert_int_eq(commit_readings(ob, r, 2), 0);

    /* Each sink sees the alarm and only the reading addressed to it
     * (once the alarm is confirmed: alarms first). */
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    id = out[0].id;
    ck_assert_int_eq(outbox_done(ob, id, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_mem_eq(out[0].payload, "json", 4);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    ck_assert_int_eq(disk_int("SELECT pending FROM outbox WHERE class = 0"), TO_INFLUX);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.alarm_rows, 1);
    ck_assert_int_eq(st.telemetry_rows, 1);

    ck_assert_int_eq(outbox_fetch(ob, INFLUX, out, 8), 1);
    ck_assert_int_eq(out[0].id, id);
    ck_assert_uint_eq(out[0].sinks, TO_INFLUX);
    ck_assert_int_eq(outbox_done(ob, out[0].id, INFLUX), 0);
    ck_assert_int_eq(outbox_fetch(ob, INFLUX, out, 8), 1);
    ck_assert_mem_eq(out[0].payload, "line", 4);
    ck_assert_int_eq(outbox_done(ob, out[0].id, INFLUX), 0);
    /* Confirmed in memory at once: not handed out again before the commit. */
    outbox_release_all(ob, INFLUX);
    ck_assert_int_eq(outbox_fetch(ob, INFLUX, out, 8), 0);
    close_ob(ob); /* close writes the confirmations */
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox"), 0);
}
END_TEST

START_TEST(test_inflight_window_bounds_hand_out_and_release_all_resends)
{
    struct outbox_limits lim = limits;
    struct outbox *ob;
    struct outbox_rec r[10], out[16];

    lim.max_inflight = 4;
    ob = open_ob(&lim);
    for (int i = 0; i < 10; i++)
        r[i] = reading_rec("s", text("%" PRIu64, (uint64_t)i), TO_MQTT);
    ck_assert_int_eq(commit_readings(ob, r, 10), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 4);
    int64_t first = out[0].id;
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 0); /* window full */
    ck_assert_int_eq(outbox_done(ob, first, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 1);
    ck_assert_mem_eq(out[0].payload, "4", 1);
    /* Connection lost: everything not confirmed is handed out anew, in order. */
    outbox_release_all(ob, MQTT);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 4);
    ck_assert_mem_eq(out[0].payload, "1", 1);
    ck_assert_mem_eq(out[3].payload, "4", 1);
    close_ob(ob);
}
END_TEST

START_TEST(test_pending_records_survive_restart_and_done_is_durable)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r[2] = {reading_rec("a", "a1", TO_MQTT), reading_rec("a", "a2", TO_MQTT)};
    struct outbox_rec out[8];

    ck_assert_int_eq(commit_readings(ob, r, 2), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 1), 1);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0); /* a1 */
    ck_assert_int_eq(commit_alarm(ob, "a", TO_MQTT, NULL), 0);
    close_ob(ob);

    ob = open_ob(&limits);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_int_eq(out[0].cls, OUTBOX_ALARM);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_mem_eq(out[0].payload, "a2", 2);
    close_ob(ob);
}
END_TEST

/* ---- the telemetry cap ---- */

START_TEST(test_telemetry_cap_by_rows_drops_oldest_and_counts)
{
    struct outbox_limits lim = limits;
    struct outbox *ob;
    struct outbox_rec r[8], out[16];
    struct outbox_stats st;

    lim.max_telemetry_rows = 5;
    ob = open_ob(&lim);
    for (int i = 0; i < 8; i++)
        r[i] = reading_rec("s", text("%" PRIu64, (uint64_t)i), TO_MQTT);
    ck_assert_int_eq(commit_readings(ob, r, 3), 0);
    ck_assert_int_eq(commit_readings(ob, r + 3, 5), 0);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.telemetry_rows, 5);
    ck_assert_int_eq(st.telemetry_dropped, 3);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 5);
    ck_assert_mem_eq(out[0].payload, "3", 1);
    ck_assert_mem_eq(out[4].payload, "7", 1);
    close_ob(ob);

    ob = open_ob(&lim); /* the counter is persisted */
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.telemetry_dropped, 3);
    ck_assert_int_eq(st.telemetry_rows, 5);
    close_ob(ob);
}
END_TEST

START_TEST(test_telemetry_cap_by_bytes_drops_oldest_and_counts)
{
    struct outbox_limits lim = limits;
    struct outbox *ob;
    struct outbox_rec r[4], out[16];
    struct outbox_stats st;

    lim.max_telemetry_bytes = 25; /* room for two 10-byte readings plus a bit */
    ob = open_ob(&lim);
    r[0] = reading_rec("s", "0123456789", TO_MQTT);
    r[1] = reading_rec("s", "1123456789", TO_MQTT);
    r[2] = reading_rec("s", "2123456789", TO_MQTT);
    r[3] = reading_rec("s", "3123456789", TO_MQTT);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(commit_readings(ob, &r[i], 1), 0);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.telemetry_rows, 2);
    ck_assert_int_eq(st.telemetry_bytes, 20);
    ck_assert_int_eq(st.telemetry_dropped, 2);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 16), 2);
    ck_assert_mem_eq(out[0].payload, "2", 1);
    ck_assert_mem_eq(out[1].payload, "3", 1);
    close_ob(ob);
}
END_TEST

START_TEST(test_alarms_are_kept_when_telemetry_is_over_cap)
{
    struct outbox_limits lim = limits;
    struct outbox *ob;
    struct outbox_rec r[3] = {reading_rec("s", "r0", TO_MQTT), reading_rec("s", "r1", TO_MQTT),
                              reading_rec("s", "r2", TO_MQTT)};
    struct outbox_stats st;

    lim.max_telemetry_rows = 1;
    lim.max_telemetry_bytes = 4;
    ob = open_ob(&lim);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(commit_alarm(ob, text("s%" PRIu64, (uint64_t)i), TO_MQTT, NULL), 0);
    ck_assert_int_eq(commit_readings(ob, r, 3), 0);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.alarm_rows, 20);
    ck_assert_int_eq(st.telemetry_rows, 1);
    ck_assert_int_eq(st.telemetry_dropped, 2);
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE class = 0"), 20);
}
END_TEST

/* ---- a full or failing disk ---- */

START_TEST(test_disk_full_keeps_alarms_in_memory_delivers_and_persists_them_later)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r = reading_rec("sump-1", "r", TO_MQTT);
    struct outbox_rec out[8];
    struct outbox_stats st;
    uint64_t s1, s2, s3;

    ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_BOTH, &s1), 0);
    vfs_fault_arm(VFS_FAULT_FULL, -1);
    ck_assert_int_eq(commit_alarm(ob, "sump-2", TO_BOTH, &s2), OUTBOX_DISK_FAILED);
    ck_assert_int_eq(commit_readings(ob, &r, 1), OUTBOX_DISK_FAILED);
    ck_assert_int_eq(commit_alarm(ob, "leak-1", TO_BOTH, &s3), OUTBOX_DISK_FAILED);
    ck_assert_ptr_nonnull(strstr(outbox_errmsg(ob), "full"));
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.disk_failed, 1);
    ck_assert_int_eq(st.mem_alarms, 2);
    ck_assert_int_eq(st.telemetry_dropped, 1); /* the reading could not be kept */
    ck_assert_uint_eq(s2, s1 + 1);
    ck_assert_uint_eq(s3, s2 + 1);

    /* The senders still get every alarm, in seq order. */
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 3);
    ck_assert_uint_eq(out[0].seq, s1);
    ck_assert_uint_eq(out[1].seq, s2);
    ck_assert_int_lt(out[1].id, 0);
    ck_assert_uint_eq(out[2].seq, s3);
    int64_t mem_id = out[1].id;
    ck_assert_int_eq(outbox_done(ob, out[2].id, MQTT), 0); /* leak-1 confirmed in memory */

    /* Space returns: memory goes to disk; the in-flight handle stays valid. */
    vfs_fault_clear();
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.disk_failed, 0);
    ck_assert_int_eq(st.mem_alarms, 0);
    ck_assert_int_eq(st.alarm_rows, 3);
    ck_assert_int_eq(outbox_done(ob, mem_id, MQTT), 0);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);

    sqlite3 *db = raw_open();
    ck_assert_int_eq(disk_seqs_are_prefix(db), 3);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox WHERE pending = 2"), 2);
    ck_assert_int_eq(meta_int(db, "outbox.telemetry_dropped"), 1);
    sqlite3_close(db);
    ck_assert_int_eq(outbox_fetch(ob, INFLUX, out, 8), 3);
    ck_assert_uint_eq(out[2].seq, s3);
    close_ob(ob);
}
END_TEST

START_TEST(test_disk_full_once_drops_oldest_telemetry_and_retries)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec r[16];
    struct outbox_stats st;

    for (int i = 0; i < 16; i++)
        r[i] = reading_rec("s", text("%02" PRIu64, (uint64_t)i), TO_MQTT);
    ck_assert_int_eq(commit_readings(ob, r, 16), 0);
    vfs_fault_arm(VFS_FAULT_FULL, 1);
    ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_MQTT, NULL), 0);
    ck_assert_int_eq(vfs_fault_hits(VFS_FAULT_FULL), 1);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.mem_alarms, 0);
    ck_assert_int_eq(st.alarm_rows, 1);
    ck_assert_int_eq(st.telemetry_dropped, 16 / 8 + 1);
    ck_assert_int_eq(st.telemetry_rows, 16 - (16 / 8 + 1));
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT min(id) FROM outbox WHERE class = 1"), 16 / 8 + 2);
}
END_TEST

START_TEST(test_disk_filling_mid_commit_still_records_the_seqs_handed_out)
{
    struct outbox *ob = open_ob(&limits);
    static char big[100000];
    struct outbox_stats st;
    uint64_t s;

    ck_assert_int_eq(commit_alarm(ob, "sump-1", TO_MQTT, NULL), 0);
    /* 16 KiB left: a 100 kB alarm does not fit, the counter alone does.  If
     * the process died now, the restart must not hand out seq 2 again. */
    vfs_fault_space(16384);
    s = outbox_next_seq(ob);
    memset(big, 'x', sizeof(big));
    struct outbox_rec a = alarm_rec("sump-2", s, TO_MQTT);
    a.payload = big;
    a.payload_len = sizeof(big);
    struct outbox_cycle c = {.alarms = &a, .nalarms = 1};
    ck_assert_int_eq(outbox_commit(ob, &c), OUTBOX_DISK_FAILED);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.mem_alarms, 1);

    sqlite3 *db = raw_open();
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox WHERE seq = 2"), 0);
    ck_assert_int_eq(meta_int(db, "outbox.next_seq"), 3);
    sqlite3_close(db);

    vfs_fault_clear();
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT length(payload) FROM outbox WHERE seq = 2"),
                     (int64_t)sizeof(big));
}
END_TEST

START_TEST(test_fsync_error_reopens_verifies_and_retries_once)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_stats st;
    uint64_t s;

    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, NULL), 0);
    vfs_fault_arm(VFS_FAULT_FSYNC, 1);
    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, &s), OUTBOX_RECOVERED);
    ck_assert_int_eq(vfs_fault_hits(VFS_FAULT_FSYNC), 1);
    ck_assert_ptr_nonnull(strstr(outbox_errmsg(ob), "reopened"));
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.io_errors, 1);
    ck_assert_int_eq(st.mem_alarms, 0);
    ck_assert_int_eq(st.disk_failed, 0);
    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, &s), 0);
    ck_assert_uint_eq(s, 3);
    close_ob(ob);

    sqlite3 *db = raw_open();
    ck_assert_int_eq(disk_seqs_are_prefix(db), 3);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox"), 3);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_failing_fsync_keeps_alarms_in_memory_without_seq_reuse)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec out[8];
    struct outbox_stats st;
    uint64_t s;

    ck_assert_int_eq(commit_alarm(ob, "door-1", TO_MQTT, NULL), 0);
    vfs_fault_arm(VFS_FAULT_FSYNC, -1);
    ck_assert_int_eq(commit_alarm(ob, "door-2", TO_MQTT, &s), OUTBOX_DISK_FAILED);
    ck_assert_uint_eq(s, 2);
    ck_assert_int_eq(commit_alarm(ob, "door-3", TO_MQTT, &s), OUTBOX_DISK_FAILED);
    ck_assert_uint_eq(s, 3);
    outbox_stats(ob, &st);
    ck_assert_int_ge(st.io_errors, 1);
    ck_assert_int_eq(st.disk_failed, 1);
    ck_assert_int_eq(st.mem_alarms, 2);
    ck_assert_uint_eq(st.next_seq, 4);
    /* Senders still get every alarm: the ones on disk and the ones in memory. */
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(out[i].seq, (uint64_t)i + 1);
    outbox_release_all(ob, MQTT);

    /* The disk recovers; the reopen waits out its backoff (1 s). */
    vfs_fault_clear();
    usleep(1100 * 1000);
    ck_assert_int_eq(commit_alarm(ob, "door-4", TO_MQTT, &s), OUTBOX_RECOVERED);
    ck_assert_uint_eq(s, 4);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.mem_alarms, 0);
    ck_assert_int_eq(st.alarm_rows, 4);
    close_ob(ob);

    sqlite3 *db = raw_open();
    ck_assert_int_eq(disk_seqs_are_prefix(db), 4);
    ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox"), 4);
    ck_assert_int_eq(meta_int(db, "outbox.next_seq"), 5);
    sqlite3_close(db);
}
END_TEST

/* ---- kill -9 ---- */

static void committer(int fd)
{
    struct outbox *ob = outbox_open(db_path, &limits, 2, err, sizeof(err));

    if (ob == NULL)
        _exit(2);
    for (;;) {
        uint64_t s = outbox_next_seq(ob);
        char state[32], tel[3][16];
        struct outbox_rec a[2] = {alarm_rec("s", s, TO_MQTT), alarm_rec("s", s, TO_INFLUX)};
        struct outbox_rec r[3];

        snprintf(state, sizeof(state), "last=%" PRIu64, s);
        for (int i = 0; i < 3; i++) {
            snprintf(tel[i], sizeof(tel[i]), "t%" PRIu64 ".%d", s, i);
            r[i] = reading_rec("s", tel[i], TO_BOTH);
        }
        struct outbox_cycle c = {.alarms = a,
                                 .nalarms = 2,
                                 .telemetry = r,
                                 .ntelemetry = 3,
                                 .state = state,
                                 .state_len = strlen(state)};
        if (outbox_commit(ob, &c) != 0)
            _exit(3);
        if (write(fd, &s, sizeof(s)) != sizeof(s))
            _exit(4);
    }
}

START_TEST(test_kill9_during_commits_leaves_contiguous_seqs_and_matching_state)
{
    int64_t n = 0;

    srand((unsigned)time(NULL));
    for (int round = 0; round < 30; round++) {
        int fds[2], status;
        uint64_t s, reported = 0;
        pid_t pid;

        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            committer(fds[1]);
        }
        close(fds[1]);
        /* Wait for the first commit, then kill at a random moment. */
        ck_assert_int_eq(read(fds[0], &s, sizeof(s)), sizeof(s));
        usleep((useconds_t)(rand() % 15000));
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "committer exited %d", WEXITSTATUS(status));
        reported = s;
        while (read(fds[0], &s, sizeof(s)) == sizeof(s))
            reported = s;
        close(fds[0]);

        sqlite3 *db = raw_open();
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        int64_t last = disk_seqs_are_prefix(db);
        ck_assert_int_ge(last, (int64_t)reported); /* every reported commit is there */
        ck_assert_int_ge(last, n);                 /* nothing went backwards */
        ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM outbox WHERE class = 0"), 2 * last);
        ck_assert_int_eq(meta_int(db, "outbox.next_seq"), last + 1);
        ck_assert_int_le(raw_int(db, "SELECT count(*) FROM outbox WHERE class = 1"),
                         limits.max_telemetry_rows);
        char want[32];
        snprintf(want, sizeof(want), "last=%" PRId64, last);
        ck_assert_int_eq(
            sqlite3_prepare_v2(db, "SELECT data FROM state WHERE chunk = 0", -1, &st, NULL),
            SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_bytes(st, 0), (int)strlen(want));
        ck_assert_mem_eq(sqlite3_column_blob(st, 0), want, strlen(want));
        sqlite3_finalize(st);
        sqlite3_close(db);
        n = last;
    }
    /* And the outbox itself picks up where the last child stopped. */
    struct outbox *ob = open_ob(&limits);
    ck_assert_uint_eq(outbox_next_seq(ob), (uint64_t)n + 1);
    close_ob(ob);
}
END_TEST

/* ---- storage that goes back in time (docs/design.md section 12) ---- */

static char seq_path[160];

static struct outbox_limits with_seq_file(void)
{
    struct outbox_limits lim = limits;

    snprintf(seq_path, sizeof(seq_path), "%s/seq", dir);
    lim.seq_path = seq_path;
    return lim;
}

/* A child commits n alarms, one cycle each, and dies without closing (as on
 * SIGKILL or a power cut); its -wal file stays behind.  space >= 0: the
 * disk has that many bytes free (the alarms are then held in memory). */
static void child_commits_and_dies(const struct outbox_limits *lim, int n, long long free_bytes)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct outbox *ob = outbox_open(db_path, lim, 2, err, sizeof(err));
        if (ob == NULL)
            _exit(2);
        if (free_bytes >= 0)
            vfs_fault_space(free_bytes);
        for (int i = 0; i < n; i++)
            if (commit_alarm(ob, "s", TO_MQTT, NULL) == -1)
                _exit(3);
        kill(getpid(), SIGKILL); /* no close, no exit handlers: as a crash */
        _exit(4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child: status %d", status);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Defect 1: a power cut takes the last WAL frames (truncated at a frame
 * boundary and at a random offset, or bytes flipped in the tail).  Seqs
 * handed out before must never come again, and the loss is told. */
START_TEST(test_seq_never_reused_after_the_wal_loses_its_last_writes)
{
    struct outbox_limits lim = with_seq_file();
    char wal[160];
    uint64_t handed_out = 0;

    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    for (int round = 0; round < 6; round++) {
        child_commits_and_dies(&lim, 5, -1);
        handed_out += 5;
        off_t size = file_size(wal);
        ck_assert_int_gt(size, 32);
        int fd = open(wal, O_RDWR);
        ck_assert_int_ge(fd, 0);
        if (round % 3 == 2) { /* flip bytes near the end */
            unsigned char junk[64];
            memset(junk, 0xa5, sizeof(junk));
            ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), size - 200), (ssize_t)sizeof(junk));
        } else {
            ck_assert_int_eq(ftruncate(fd, round % 3 == 0 ? size / 2 : 32 + rand() % (size - 32)),
                             0);
        }
        close(fd);
        struct outbox *ob = open_ob(&lim);
        struct outbox_stats st;
        outbox_stats(ob, &st);
        ck_assert_uint_gt(outbox_next_seq(ob), handed_out);
        if (st.db_seq_at_open <= handed_out)
            ck_assert_str_ne(outbox_storage_problem(ob), ""); /* told, for gateway/disk */
        handed_out = outbox_next_seq(ob) - 1;
        close_ob(ob);
    }
    unlink(seq_path);
}
END_TEST

/* Defect 2: a full disk holds the alarms in memory; a SIGKILL then, or a
 * clean close that cannot write them, must not give their seqs out again. */
START_TEST(test_seq_never_reused_after_kill_or_close_on_a_full_disk)
{
    struct outbox_limits lim = with_seq_file();
    struct outbox *ob = open_ob(&lim);
    uint64_t last = 0;

    ck_assert_int_eq(commit_alarm(ob, "s", TO_MQTT, &last), 0);
    close_ob(ob);
    /* Killed while full. */
    child_commits_and_dies(&lim, 4, 0);
    ob = open_ob(&lim);
    ck_assert_uint_eq(outbox_next_seq(ob), last + 5);
    ck_assert_str_ne(outbox_storage_problem(ob), "");
    /* Closed cleanly while full: the close reports the alarms it lost. */
    vfs_fault_space(0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(commit_alarm(ob, "s", TO_MQTT, &last), OUTBOX_DISK_FAILED);
    ck_assert_int_eq(outbox_close(ob, err, sizeof(err)), -1);
    vfs_fault_clear();
    ob = open_ob(&lim);
    ck_assert_uint_eq(outbox_next_seq(ob), last + 1);
    ck_assert_str_ne(outbox_storage_problem(ob), "");
    close_ob(ob);
    /* A healthy restart tells nothing. */
    ob = open_ob(&lim);
    ck_assert_str_eq(outbox_storage_problem(ob), "");
    close_ob(ob);
    unlink(seq_path);
}
END_TEST

START_TEST(test_a_lost_reservation_file_is_told)
{
    struct outbox_limits lim = with_seq_file();
    struct outbox *ob = open_ob(&lim);
    struct outbox_stats st;

    ck_assert_int_eq(commit_alarm(ob, "s", TO_MQTT, NULL), 0);
    close_ob(ob);
    unlink(seq_path);
    ob = open_ob(&lim);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.seq_unknown, 1);
    ck_assert_str_ne(outbox_storage_problem(ob), "");
    close_ob(ob);
    unlink(seq_path);
}
END_TEST

/* Defect 3's store: per topic the newest transition, same seq, same bytes. */
static char cur_seen[8][96];
static int ncur;
static void cur_fn(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                   const void *payload, size_t len)
{
    (void)ctx;
    snprintf(cur_seen[ncur++ % 8], 96, "%s %s %" PRIu64 " %.*s", topic, sensor, seq, (int)len,
             (const char *)payload);
}

START_TEST(test_current_state_holds_the_newest_transition_of_each_topic)
{
    struct outbox *ob = open_ob(&limits);
    uint64_t s = outbox_next_seq(ob);
    struct outbox_rec a[3] = {alarm_rec("door", s, TO_BOTH), alarm_rec("door", s + 1, TO_MQTT),
                              alarm_rec("leak", s + 2, TO_MQTT)};

    a[0].topic = a[1].topic = "alarm/door/chatter";
    a[2].topic = "alarm/leak/leak";
    struct outbox_cycle c = {.alarms = a, .nalarms = 3};
    ck_assert_int_eq(outbox_commit(ob, &c), 0);
    ck_assert_int_eq(outbox_topic_pending(ob, MQTT, "alarm/door/chatter"), 1);
    close_ob(ob);
    ob = open_ob(&limits);
    ncur = 0;
    ck_assert_int_eq(outbox_current(ob, cur_fn, NULL), 2);
    ck_assert_str_eq(cur_seen[0], "alarm/door/chatter door 2 {\"seq\":2}");
    ck_assert_str_eq(cur_seen[1], "alarm/leak/leak leak 3 {\"seq\":3}");
    close_ob(ob);
}
END_TEST

/* Defect 12: an unchanged state costs no write; delivered telemetry never
 * reaches the disk; undelivered telemetry does, later or at close. */
START_TEST(test_unchanged_state_and_delivered_telemetry_write_nothing)
{
    struct outbox_limits lim = limits;
    static char state[5000];
    struct outbox_rec out[8];

    lim.telemetry_spill_ms = 60000;
    struct outbox *ob = open_ob(&lim);
    memset(state, 'a', sizeof(state));
    struct outbox_cycle c = {.state = state, .state_len = sizeof(state)};
    ck_assert_int_eq(outbox_commit(ob, &c), 0);
    int64_t commits = disk_int("SELECT v FROM meta WHERE k = 'outbox.commit_no'");
    ck_assert_int_eq(outbox_commit(ob, &c), 0);
    struct outbox_rec r[2] = {reading_rec("s", "r1", TO_MQTT), reading_rec("s", "r2", TO_MQTT)};
    struct outbox_cycle t = {
        .telemetry = r, .ntelemetry = 2, .state = state, .state_len = sizeof(state)};
    ck_assert_int_eq(outbox_commit(ob, &t), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 2);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_done(ob, out[1].id, MQTT), 0);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    ck_assert_int_eq(disk_int("SELECT v FROM meta WHERE k = 'outbox.commit_no'"), commits);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox"), 0);
    /* One byte changes: one chunk of five is rewritten, the state reads back. */
    state[4000] = 'b';
    ck_assert_int_eq(outbox_commit(ob, &c), 0);
    ck_assert_int_eq(disk_int("SELECT v FROM meta WHERE k = 'outbox.commit_no'"), commits + 1);
    /* Undelivered telemetry survives a clean stop. */
    ck_assert_int_eq(outbox_commit(ob, &t), 0);
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE class = 1"), 2);
    ob = open_ob(&lim);
    void *blob;
    size_t len;
    ck_assert_int_eq(outbox_state_load(ob, &blob, &len), 0);
    ck_assert_uint_eq(len, sizeof(state));
    ck_assert_mem_eq(blob, state, sizeof(state));
    free(blob);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 2);
    close_ob(ob);
}
END_TEST

START_TEST(test_telemetry_not_delivered_promptly_is_written)
{
    struct outbox_limits lim = limits;

    lim.telemetry_spill_ms = 1;
    struct outbox *ob = open_ob(&lim);
    struct outbox_rec r = reading_rec("s", "r1", TO_MQTT), out[2];
    ck_assert_int_eq(commit_readings(ob, &r, 1), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 2), 1); /* in flight, unanswered */
    usleep(5000);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE class = 1"), 1);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0); /* its mem id still works */
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM outbox WHERE class = 1"), 0);
    close_ob(ob);
}
END_TEST

static void *rewrite_seq(void *ctx, uint64_t old_seq, uint64_t new_seq, const void *payload,
                         size_t len, size_t *newlen)
{
    char *p = malloc(64);
    (void)ctx;
    (void)old_seq;
    (void)payload;
    (void)len;
    *newlen = (size_t)snprintf(p, 64, "{\"seq\":%" PRIu64 "}", new_seq);
    return p;
}

START_TEST(test_renumber_gives_records_new_seqs_in_order)
{
    struct outbox *ob = open_ob(&limits);
    struct outbox_rec out[8];

    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(commit_alarm(ob, "s", TO_BOTH, NULL), 0);
    outbox_raise_seq(ob, 100);
    ck_assert_int_eq(outbox_renumber(ob, 2, rewrite_seq, NULL), 2);
    ck_assert_uint_eq(outbox_next_seq(ob), 102);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1); /* per sensor: one at a time */
    ck_assert_uint_eq(out[0].seq, 1);
    ck_assert_int_eq(outbox_done(ob, out[0].id, MQTT), 0);
    ck_assert_int_eq(outbox_fetch(ob, MQTT, out, 8), 1);
    ck_assert_uint_eq(out[0].seq, 100);
    ck_assert_mem_eq(out[0].payload, "{\"seq\":100}", 11);
    close_ob(ob);
    ob = open_ob(&limits);
    ck_assert_uint_eq(outbox_next_seq(ob), 102);
    ncur = 0;
    outbox_current(ob, cur_fn, NULL);
    ck_assert_str_eq(cur_seen[2], "alarm/x/3 s 101 {\"seq\":101}");
    close_ob(ob);
}
END_TEST

/* An outbox of the previous version (state in one meta blob, no current
 * state) is upgraded in place: the state survives its first chunked write,
 * and the current state waits to be seeded from the broker. */
START_TEST(test_version1_outbox_is_upgraded_in_place)
{
    sqlite3 *db;
    static char state[3000];
    void *blob;
    size_t len;
    struct outbox_stats st;

    memset(state, 's', sizeof(state));
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, class INTEGER NOT"
                     " NULL CHECK (class IN (0, 1)), sensor TEXT NOT NULL, topic TEXT NOT NULL,"
                     " payload BLOB NOT NULL, qos INTEGER NOT NULL, retained INTEGER NOT NULL,"
                     " seq INTEGER, created_ms INTEGER NOT NULL, pending INTEGER NOT NULL CHECK"
                     " (pending > 0));"
                     "CREATE INDEX outbox_class ON outbox(class);"
                     "CREATE INDEX outbox_seq ON outbox(seq) WHERE seq IS NOT NULL;"
                     "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
                     "INSERT INTO meta VALUES ('outbox.next_seq', 42);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *ins;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "INSERT INTO meta VALUES ('outbox.state', ?1)", -1, &ins, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(ins, 1, state, sizeof(state), SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_finalize(ins);
    sqlite3_close(db);

    struct outbox *ob = open_ob(&limits);
    ck_assert_uint_eq(outbox_next_seq(ob), 42);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.current_partial, 1);
    struct outbox_cycle c = {.state = state, .state_len = sizeof(state)};
    ck_assert_int_eq(outbox_commit(ob, &c), 0); /* the same state, now in chunks */
    ck_assert_int_eq(outbox_current_adopt(ob, "alarm/a/b", "a", 41, "{\"seq\":41}", 10), 0);
    outbox_current_seeded(ob);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    close_ob(ob);
    ob = open_ob(&limits);
    ck_assert_int_eq(outbox_state_load(ob, &blob, &len), 0);
    ck_assert_uint_eq(len, sizeof(state));
    ck_assert_mem_eq(blob, state, sizeof(state));
    free(blob);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.current_partial, 0);
    ncur = 0;
    ck_assert_int_eq(outbox_current(ob, cur_fn, NULL), 1);
    ck_assert_str_eq(cur_seen[0], "alarm/a/b a 41 {\"seq\":41}");
    close_ob(ob);
    ck_assert_int_eq(disk_int("SELECT count(*) FROM meta WHERE k = 'outbox.state'"), 0);
}
END_TEST

/* The row cap counts telemetry held in memory: an outage keeps the newest. */
START_TEST(test_telemetry_cap_counts_memory_and_keeps_the_newest)
{
    struct outbox_limits lim = limits;
    struct outbox_rec r[25], out[32];
    struct outbox_stats st;
    char text_buf[25][16]; /* room for any int: gcc -O1 cannot bound i */

    lim.telemetry_spill_ms = 60000;
    lim.max_telemetry_rows = 10;
    struct outbox *ob = open_ob(&lim);
    for (int i = 0; i < 25; i++) {
        snprintf(text_buf[i], sizeof(text_buf[i]), "r%d", i);
        r[i] = reading_rec("s", text_buf[i], TO_MQTT);
    }
    ck_assert_int_eq(commit_readings(ob, r, 25), 0);
    ck_assert_int_eq(outbox_commit(ob, NULL), 0);
    outbox_stats(ob, &st);
    ck_assert_int_eq(st.telemetry_rows + st.mem_telemetry, 10);
    ck_assert_int_eq(st.telemetry_dropped, 15);
    int n = outbox_fetch(ob, MQTT, out, 32);
    ck_assert_int_eq(n, 10);
    ck_assert_mem_eq(out[0].payload, "r15", 3);
    ck_assert_mem_eq(out[9].payload, "r24", 3);
    close_ob(ob);
}
END_TEST

static Suite *outbox_suite(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seq_continues_after_reopen_and_is_never_reused);
    tcase_add_test(tc, test_records_of_one_transition_share_one_seq);
    tcase_add_test(tc, test_cycle_with_wrong_seq_is_rejected_and_takes_nothing);
    tcase_add_test(tc, test_failed_commit_leaves_no_part_of_the_cycle_on_disk);
    tcase_add_test(tc, test_state_blob_and_settings_survive_restart);
    tcase_add_test(tc, test_alarms_are_handed_out_before_older_telemetry);
    tcase_add_test(tc, test_every_pending_alarm_goes_out_before_any_backlog_reading);
    tcase_add_test(tc, test_per_sensor_order_holds_and_a_retry_cannot_overtake);
    tcase_add_test(tc, test_record_for_two_sinks_is_deleted_only_after_both_confirm);
    tcase_add_test(tc, test_inflight_window_bounds_hand_out_and_release_all_resends);
    tcase_add_test(tc, test_pending_records_survive_restart_and_done_is_durable);
    tcase_add_test(tc, test_telemetry_cap_by_rows_drops_oldest_and_counts);
    tcase_add_test(tc, test_telemetry_cap_by_bytes_drops_oldest_and_counts);
    tcase_add_test(tc, test_alarms_are_kept_when_telemetry_is_over_cap);
    tcase_add_test(tc, test_disk_full_keeps_alarms_in_memory_delivers_and_persists_them_later);
    tcase_add_test(tc, test_disk_full_once_drops_oldest_telemetry_and_retries);
    tcase_add_test(tc, test_disk_filling_mid_commit_still_records_the_seqs_handed_out);
    tcase_add_test(tc, test_fsync_error_reopens_verifies_and_retries_once);
    tcase_add_test(tc, test_failing_fsync_keeps_alarms_in_memory_without_seq_reuse);
    tcase_add_test(tc, test_kill9_during_commits_leaves_contiguous_seqs_and_matching_state);
    tcase_add_test(tc, test_seq_never_reused_after_the_wal_loses_its_last_writes);
    tcase_add_test(tc, test_seq_never_reused_after_kill_or_close_on_a_full_disk);
    tcase_add_test(tc, test_a_lost_reservation_file_is_told);
    tcase_add_test(tc, test_current_state_holds_the_newest_transition_of_each_topic);
    tcase_add_test(tc, test_unchanged_state_and_delivered_telemetry_write_nothing);
    tcase_add_test(tc, test_telemetry_not_delivered_promptly_is_written);
    tcase_add_test(tc, test_renumber_gives_records_new_seqs_in_order);
    tcase_add_test(tc, test_version1_outbox_is_upgraded_in_place);
    tcase_add_test(tc, test_telemetry_cap_counts_memory_and_keeps_the_newest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(outbox_suite());
}
