/*
 * store: see store.h.  One SQLite connection, statements prepared once.
 *
 * Invariants (what the rest of shelter-notify relies on):
 *  N1  A live message's effects (its seen flags, its alarm or gateway
 *      state, its notices in outq for every channel of every route it
 *      matches, its timers) are written in one transaction; the caller
 *      releases the message to the broker (PUBACK) only after
 *      store_commit() returned 0.  A message taken but not committed when
 *      the process dies was never acknowledged: the broker sends it again
 *      (persistent session).  So every matching transition reaches outq.
 *  N2  An outq row is deleted only by store_out_done(), which the caller
 *      runs in the transaction recording that its channel answered a
 *      request holding it with success.  So every notice is delivered at
 *      least once (a crash between the answer and that commit sends it again).
 *  N3  seen holds (base, seq) with HANDLED from the transaction that queued
 *      its notices: a duplicate (the broker's resend, a retained copy)
 *      finds it and queues nothing, until the pair is pruned (weeks later).
 *  N4  alarms holds, per topic, the message with the highest seq ever put
 *      (ON CONFLICT ... WHERE excluded.seq > seq): an old copy arriving late
 *      never replaces a newer state.
 *  N5  An escalation timer exists while its escalation may still be due;
 *      firing it (its notices and the next step's timer) and deleting it
 *      happen in one transaction, and an ack or clear deletes it in the
 *      transaction of that transition.  Timers hold wall-clock times, so
 *      they survive restarts.
 *  N6  sent holds the start time of every rate-limited request, committed
 *      before the request is handed to libcurl, so a restart never forgets
 *      a request the robot counted.
 *
 * Errors: SQLite's message goes to errmsg.  After an I/O error, corruption
 * or a read-only file the connection is closed (after a failed fsync the
 * same connection may claim data that is not on disk) and reopened by the
 * next store_begin(); until then every call fails.
 */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 1

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_META_GET,
    S_META_SET,
    S_SEEN_GET,
    S_SEEN_ADD,
    S_SEEN_PRUNE,
    S_ALARM_PUT,
    S_ALARM_GET,
    S_ALARM_ACTIVE,
    S_GW_GET,
    S_GW_PUT,
    S_GW_ALL,
    S_TIMER_ADD,
    S_TIMER_DEL,
    S_TIMER_DEL_KEY,
    S_TIMER_NEXT,
    S_TIMER_DUE,
    S_OUT_ADD,
    S_OUT_PENDING,
    S_OUT_COUNT,
    S_OUT_CHANNELS,
    S_OUT_DONE,
    S_OUT_REFUSED,
    S_SENT_ADD,
    S_SENT_SINCE,
    S_SENT_PRUNE,
    NSTMT
};

static const char *const stmt_sql[NSTMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [S_META_SET] = "INSERT INTO meta(k, v) VALUES (?1, ?2)"
                   " ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    [S_SEEN_GET] = "SELECT flags FROM seen WHERE base = ?1 AND seq = ?2",
    [S_SEEN_ADD] = "INSERT INTO seen(base, seq, flags, at_ms) VALUES (?1, ?2, ?3, ?4)"
                   " ON CONFLICT(base, seq) DO UPDATE SET flags = flags | excluded.flags",
    [S_SEEN_PRUNE] = "DELETE FROM seen WHERE at_ms < ?1",
    /* N4 */
    [S_ALARM_PUT] =
        "INSERT INTO alarms(topic, base, seq, event, active, acked, sev, ts_ms, payload)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT(topic) DO UPDATE SET base = excluded.base, seq = excluded.seq,"
        " event = excluded.event, active = excluded.active, acked = excluded.acked,"
        " sev = excluded.sev, ts_ms = excluded.ts_ms, payload = excluded.payload"
        " WHERE excluded.seq > alarms.seq",
    [S_ALARM_GET] = "SELECT topic, base, seq, event, active, acked, sev, ts_ms, payload"
                    " FROM alarms WHERE topic = ?1",
    [S_ALARM_ACTIVE] = "SELECT topic, base, seq, event, active, acked, sev, ts_ms, payload"
                       " FROM alarms WHERE active != 0 ORDER BY topic",
    [S_GW_GET] = "SELECT base, online, since_ms, seen_ms, outage_ms, off_noticed, on_noticed, name"
                 " FROM gateways WHERE base = ?1",
    [S_GW_PUT] = "INSERT INTO gateways(base, online, since_ms, seen_ms, outage_ms, off_noticed,"
                 " on_noticed, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                 " ON CONFLICT(base) DO UPDATE SET online = excluded.online,"
                 " since_ms = excluded.since_ms, seen_ms = excluded.seen_ms,"
                 " outage_ms = excluded.outage_ms, off_noticed = excluded.off_noticed,"
                 " on_noticed = excluded.on_noticed, name = coalesce(excluded.name, gateways.name)",
    [S_GW_ALL] = "SELECT base, online, since_ms, seen_ms, outage_ms, off_noticed, on_noticed, name"
                 " FROM gateways ORDER BY base",
    [S_TIMER_ADD] = "INSERT INTO timers(kind, due_ms, key, seq, route, step, since_ms)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_TIMER_DEL] = "DELETE FROM timers WHERE id = ?1",
    [S_TIMER_DEL_KEY] = "DELETE FROM timers WHERE kind = ?1 AND key = ?2",
    [S_TIMER_NEXT] = "SELECT min(due_ms) FROM timers",
    [S_TIMER_DUE] = "SELECT id, kind, due_ms, key, seq, route, step, since_ms FROM timers"
                    " WHERE due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2",
    [S_OUT_ADD] =
        "INSERT INTO outq(channel, route, kind, sev, summary, why, created_ms, topic, seq,"
        " step, from_route, unacked_ms, ts_ms, seen_ms, body)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [S_OUT_PENDING] = "SELECT id, channel, route, kind, sev, summary, why, created_ms, topic, seq,"
                      " step, from_route, unacked_ms, ts_ms, seen_ms, body, refusals FROM outq"
                      " WHERE channel = ?1 ORDER BY refusals, sev, id LIMIT ?2",
    [S_OUT_COUNT] = "SELECT count(*) FROM outq WHERE channel = ?1",
    [S_OUT_CHANNELS] = "SELECT channel, count(*) FROM outq GROUP BY channel ORDER BY channel",
    [S_OUT_DONE] = "DELETE FROM outq WHERE id = ?1",
    [S_OUT_REFUSED] = "UPDATE outq SET refusals = refusals + 1 WHERE id = ?1",
    [S_SENT_ADD] = "INSERT INTO sent(channel, at_ms) VALUES (?1, ?2)",
    [S_SENT_SINCE] = "SELECT at_ms FROM sent WHERE channel = ?1 AND at_ms >= ?2"
                     " ORDER BY at_ms LIMIT ?3",
    [S_SENT_PRUNE] = "DELETE FROM sent WHERE at_ms < ?1",
};

static const char schema_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE seen(base TEXT NOT NULL, seq INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " at_ms INTEGER NOT NULL, PRIMARY KEY(base, seq)) WITHOUT ROWID;"
    "CREATE INDEX seen_at ON seen(at_ms);"
    "CREATE TABLE alarms(topic TEXT PRIMARY KEY, base TEXT NOT NULL, seq INTEGER NOT NULL,"
    " event TEXT NOT NULL, active INTEGER NOT NULL, acked INTEGER NOT NULL, sev INTEGER NOT NULL,"
    " ts_ms INTEGER NOT NULL, payload BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE gateways(base TEXT PRIMARY KEY, online INTEGER NOT NULL,"
    " since_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL, outage_ms INTEGER NOT NULL,"
    " off_noticed INTEGER NOT NULL, on_noticed INTEGER NOT NULL, name TEXT) WITHOUT ROWID;"
    "CREATE TABLE timers(id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, route TEXT NOT NULL,"
    " step INTEGER NOT NULL, since_ms INTEGER NOT NULL);"
    "CREATE INDEX timers_due ON timers(due_ms);"
    "CREATE INDEX timers_key ON timers(kind, key);"
    "CREATE TABLE outq(id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,"
    " route TEXT NOT NULL, kind INTEGER NOT NULL, sev INTEGER NOT NULL, summary INTEGER NOT NULL,"
    " why INTEGER NOT NULL, created_ms INTEGER NOT NULL, topic TEXT NOT NULL,"
    " seq INTEGER NOT NULL, step INTEGER NOT NULL, from_route TEXT NOT NULL,"
    " unacked_ms INTEGER NOT NULL, ts_ms INTEGER NOT NULL, seen_ms INTEGER NOT NULL,"
    " body BLOB NOT NULL, refusals INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outq_order ON outq(channel, refusals, sev, id);"
    "CREATE TABLE sent(channel TEXT NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX sent_order ON sent(channel, at_ms);"
    "PRAGMA user_version = 1;";

struct store {
    sqlite3 *db; /* NULL after an I/O error until the next begin reopens it */
    sqlite3_stmt *st[NSTMT];
    char *path;
    int in_tx;
    char errmsg[512];
};

static void set_err(struct store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
    va_end(ap);
}

static void db_close(struct store *s)
{
    for (int i = 0; i < NSTMT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db != NULL)
        sqlite3_close_v2(s->db);
    s->db = NULL;
    s->in_tx = 0;
}

/* An error that makes the connection untrustworthy closes it. */
static int fail(struct store *s, int rc, const char *what)
{
    int primary = rc & 0xff;

    set_err(s, "%s: %s", what, s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    if (primary == SQLITE_IOERR || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ||
        primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN)
        db_close(s);
    return -1;
}

static int exec(struct store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(s, rc, sql);
}

static int pragma_text(struct store *s, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return fail(s, rc, sql);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        out[0] = '\0';
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, rc, sql);
}

/* Open the file, check it, set it up.  1 when it was made new, 0 when it
 * existed, -1 on failure; -2 when it is not a usable database of ours. */
static int db_open(struct store *s)
{
    char v[64];
    int rc, version;

    rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        fail(s, rc, "open");
        return -1;
    }
    sqlite3_busy_timeout(s->db, 2000);
    sqlite3_extended_result_codes(s->db, 1);
    if (pragma_text(s, "PRAGMA quick_check", v, sizeof(v)) < 0)
        return s->db == NULL ? -2 : -1;
    if (strcmp(v, "ok") != 0) {
        set_err(s, "quick_check: %s", v);
        db_close(s);
        return -2;
    }
    if (pragma_text(s, "PRAGMA journal_mode=WAL", v, sizeof(v)) < 0)
        return -1;
    if (strcmp(v, "wal") != 0) {
        set_err(s, "journal_mode is %s, not wal", v);
        db_close(s);
        return -1;
    }
    if (exec(s, "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=4194304") < 0 ||
        pragma_text(s, "PRAGMA user_version", v, sizeof(v)) < 0)
        return -1;
    version = atoi(v);
    if (version == 0) {
        char tables[16];
        if (pragma_text(s, "SELECT count(*) FROM sqlite_schema", tables, sizeof(tables)) < 0)
            return -1;
        if (atoi(tables) != 0) {
            set_err(s, "not a shelter-notify database (tables without a schema version)");
            db_close(s);
            return -2;
        }
        if (exec(s, "BEGIN IMMEDIATE") < 0)
            return -1;
        if (exec(s, schema_sql) < 0) {
            if (s->db != NULL)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (exec(s, "COMMIT") < 0)
            return -1;
    } else if (version != SCHEMA_VERSION) {
        set_err(s, "schema version %d, this build knows %d", version, SCHEMA_VERSION);
        db_close(s);
        return -2;
    }
    for (int i = 0; i < NSTMT; i++) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            fail(s, rc, stmt_sql[i]);
            db_close(s);
            return -1;
        }
    }
    return version == 0 ? 1 : 0;
}

struct store *store_open(const char *dir, bool *fresh, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof(*s));
    size_t n;
    int rc;

    *fresh = false;
    if (s == NULL || dir == NULL) {
        snprintf(err, errlen, "%s", s == NULL ? strerror(ENOMEM) : "no state_dir");
        free(s);
        return NULL;
    }
    n = strlen(dir) + sizeof("/notify.db");
    s->path = malloc(n);
    if (s->path == NULL) {
        snprintf(err, errlen, "%s", strerror(ENOMEM));
        free(s);
        return NULL;
    }
    snprintf(s->path, n, "%s/notify.db", dir);
    rc = db_open(s);
    if (rc == -2) {
        /* Not ours or damaged: keep it for a post-mortem, start afresh.
         * Notices queued in it are lost; the broker's retained state and
         * the first-start summary tell people what is active. */
        char aside[4096];
        const char *suffixes[] = {"", "-wal", "-shm"};
        long now = (long)time(NULL);
        db_close(s);
        for (size_t i = 0; i < 3; i++) {
            char from[4096];
            snprintf(from, sizeof(from), "%s%s", s->path, suffixes[i]);
            snprintf(aside, sizeof(aside), "%s.broken-%ld%s", s->path, now, suffixes[i]);
            if (rename(from, aside) < 0 && errno != ENOENT) {
                snprintf(err, errlen, "%s: %s, and moving it aside failed: %s", s->path, s->errmsg,
                         strerror(errno));
                store_close(s);
                return NULL;
            }
        }
        rc = db_open(s);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", s->path, s->errmsg);
        store_close(s);
        return NULL;
    }
    *fresh = rc == 1;
    return s;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->in_tx && s->db != NULL)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    db_close(s);
    free(s->path);
    free(s);
}

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

const char *store_path(const struct store *s)
{
    return s->path;
}

/* ---- statements ---- */

static sqlite3_stmt *stmt(struct store *s, int which)
{
    if (s->db == NULL) {
        set_err(s, "database closed after an error");
        return NULL;
    }
    sqlite3_reset(s->st[which]);
    sqlite3_clear_bindings(s->st[which]);
    return s->st[which];
}

static int run(struct store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(s, rc, what);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    char *p;

    if (t == NULL)
        return NULL;
    p = malloc((size_t)n + 1);
    if (p != NULL) {
        memcpy(p, t, (size_t)n);
        p[n] = '\0';
    }
    return p;
}

int store_begin(struct store *s)
{
    sqlite3_stmt *st;

    if (s->db == NULL && db_open(s) < 0)
        return -1;
    if ((st = stmt(s, S_BEGIN)) == NULL || run(s, st, "BEGIN") < 0)
        return -1;
    s->in_tx = 1;
    return 0;
}

int store_commit(struct store *s)
{
    sqlite3_stmt *st = stmt(s, S_COMMIT);

    if (st == NULL || run(s, st, "COMMIT") < 0) {
        store_rollback(s);
        return -1;
    }
    s->in_tx = 0;
    return 0;
}

void store_rollback(struct store *s)
{
    if (s->db != NULL && sqlite3_get_autocommit(s->db) == 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
}

/* ---- meta ---- */

int store_meta_get(struct store *s, const char *k, int64_t *v)
{
    sqlite3_stmt *st = stmt(s, S_META_GET);
    int rc;

    if (st == NULL)
        return -1;
    bind_text(st, 1, k);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : fail(s, rc, "meta get");
}

int store_meta_set(struct store *s, const char *k, int64_t v)
{
    sqlite3_stmt *st = stmt(s, S_META_SET);

    if (st == NULL)
        return -1;
    bind_text(st, 1, k);
    sqlite3_bind_int64(st, 2, v);
    return run(s, st, "meta set");
}

/* ---- seen ---- */

int store_seen_get(struct store *s, const char *base, uint64_t seq)
{
    sqlite3_stmt *st = stmt(s, S_SEEN_GET);
    int rc, flags = 0;

    if (st == NULL)
        return -1;
    bind_text(st, 1, base);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        flags = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? flags : fail(s, rc, "seen get");
}

int store_seen_add(struct store *s, const char *base, uint64_t seq, int flags, int64_t now_ms)
{
    sqlite3_stmt *st = stmt(s, S_SEEN_ADD);

    if (st == NULL)
        return -1;
    bind_text(st, 1, base);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_int(st, 3, flags);
    sqlite3_bind_int64(st, 4, now_ms);
    return run(s, st, "seen add");
}

int64_t store_seen_prune(struct store *s, int64_t before_ms)
{
    sqlite3_stmt *st = stmt(s, S_SEEN_PRUNE);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, before_ms);
    if (run(s, st, "seen prune") < 0)
        return -1;
    return sqlite3_changes64(s->db);
}

/* ---- alarms ---- */

int store_alarm_put(struct store *s, const struct store_alarm *a)
{
    sqlite3_stmt *st = stmt(s, S_ALARM_PUT);

    if (st == NULL)
        return -1;
    bind_text(st, 1, a->topic);
    bind_text(st, 2, a->base);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)a->seq);
    bind_text(st, 4, a->event);
    sqlite3_bind_int(st, 5, a->active);
    sqlite3_bind_int(st, 6, a->acked);
    sqlite3_bind_int(st, 7, a->sev);
    sqlite3_bind_int64(st, 8, a->ts_ms);
    sqlite3_bind_blob(st, 9, a->payload != NULL ? a->payload : "", (int)a->len, SQLITE_STATIC);
    if (run(s, st, "alarm put") < 0)
        return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

static void alarm_from_row(sqlite3_stmt *st, struct store_alarm *a)
{
    memset(a, 0, sizeof(*a));
    a->topic = col_dup(st, 0);
    a->base = col_dup(st, 1);
    a->seq = (uint64_t)sqlite3_column_int64(st, 2);
    a->event = col_dup(st, 3);
    a->active = sqlite3_column_int(st, 4) != 0;
    a->acked = sqlite3_column_int(st, 5) != 0;
    a->sev = sqlite3_column_int(st, 6);
    a->ts_ms = sqlite3_column_int64(st, 7);
    a->payload = col_dup(st, 8);
    a->len = a->payload != NULL ? strlen(a->payload) : 0;
}

static bool alarm_complete(const struct store_alarm *a)
{
    return a->topic && a->base && a->event && a->payload;
}

int store_alarm_get(struct store *s, const char *topic, struct store_alarm *a)
{
    sqlite3_stmt *st = stmt(s, S_ALARM_GET);
    int rc;

    memset(a, 0, sizeof(*a));
    if (st == NULL)
        return -1;
    bind_text(st, 1, topic);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        alarm_from_row(st, a);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        if (alarm_complete(a))
            return 1;
        store_alarm_release(a);
        set_err(s, "out of memory");
        return -1;
    }
    return rc == SQLITE_DONE ? 0 : fail(s, rc, "alarm get");
}

int store_alarm_each_active(struct store *s, int (*fn)(const struct store_alarm *a, void *ctx),
                            void *ctx)
{
    sqlite3_stmt *st = stmt(s, S_ALARM_ACTIVE);
    struct store_alarm a;
    int rc = SQLITE_DONE, stop = 0;

    if (st == NULL)
        return -1;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        alarm_from_row(st, &a);
        if (alarm_complete(&a))
            stop = fn(&a, ctx);
        store_alarm_release(&a);
    }
    sqlite3_reset(st);
    return stop || rc == SQLITE_DONE ? 0 : fail(s, rc, "alarms");
}

void store_alarm_release(struct store_alarm *a)
{
    if (a == NULL)
        return;
    free(a->topic);
    free(a->base);
    free(a->event);
    free(a->payload);
    memset(a, 0, sizeof(*a));
}

/* ---- gateways ---- */

static void gateway_from_row(sqlite3_stmt *st, struct store_gateway *g)
{
    memset(g, 0, sizeof(*g));
    g->base = col_dup(st, 0);
    g->online = sqlite3_column_int(st, 1) != 0;
    g->since_ms = sqlite3_column_int64(st, 2);
    g->seen_ms = sqlite3_column_int64(st, 3);
    g->outage_ms = sqlite3_column_int64(st, 4);
    g->off_noticed = sqlite3_column_int(st, 5) != 0;
    g->on_noticed = sqlite3_column_int(st, 6) != 0;
    g->name = col_dup(st, 7);
}

int store_gateway_get(struct store *s, const char *base, struct store_gateway *g)
{
    sqlite3_stmt *st = stmt(s, S_GW_GET);
    int rc;

    memset(g, 0, sizeof(*g));
    if (st == NULL)
        return -1;
    bind_text(st, 1, base);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        gateway_from_row(st, g);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        if (g->base != NULL)
            return 1;
        store_gateway_release(g);
        set_err(s, "out of memory");
        return -1;
    }
    return rc == SQLITE_DONE ? 0 : fail(s, rc, "gateway get");
}

int store_gateway_put(struct store *s, const struct store_gateway *g)
{
    sqlite3_stmt *st = stmt(s, S_GW_PUT);

    if (st == NULL)
        return -1;
    bind_text(st, 1, g->base);
    sqlite3_bind_int(st, 2, g->online);
    sqlite3_bind_int64(st, 3, g->since_ms);
    sqlite3_bind_int64(st, 4, g->seen_ms);
    sqlite3_bind_int64(st, 5, g->outage_ms);
    sqlite3_bind_int(st, 6, g->off_noticed);
    sqlite3_bind_int(st, 7, g->on_noticed);
    if (g->name != NULL)
        bind_text(st, 8, g->name);
    else
        sqlite3_bind_null(st, 8);
    return run(s, st, "gateway put");
}

int store_gateway_each(struct store *s, int (*fn)(const struct store_gateway *g, void *ctx),
                       void *ctx)
{
    sqlite3_stmt *st = stmt(s, S_GW_ALL);
    struct store_gateway g;
    int rc = SQLITE_DONE, stop = 0;

    if (st == NULL)
        return -1;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        gateway_from_row(st, &g);
        if (g.base != NULL)
            stop = fn(&g, ctx);
        store_gateway_release(&g);
    }
    sqlite3_reset(st);
    return stop || rc == SQLITE_DONE ? 0 : fail(s, rc, "gateways");
}

void store_gateway_release(struct store_gateway *g)
{
    if (g == NULL)
        return;
    free(g->base);
    free(g->name);
    memset(g, 0, sizeof(*g));
}

/* ---- timers ---- */

int64_t store_timer_add(struct store *s, const struct store_timer *t)
{
    sqlite3_stmt *st = stmt(s, S_TIMER_ADD);

    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, t->kind);
    sqlite3_bind_int64(st, 2, t->due_ms);
    bind_text(st, 3, t->key);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)t->seq);
    bind_text(st, 5, t->route);
    sqlite3_bind_int(st, 6, t->step);
    sqlite3_bind_int64(st, 7, t->since_ms);
    if (run(s, st, "timer add") < 0)
        return -1;
    return sqlite3_last_insert_rowid(s->db);
}

int store_timer_del(struct store *s, int64_t id)
{
    sqlite3_stmt *st = stmt(s, S_TIMER_DEL);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    return run(s, st, "timer del");
}

int store_timer_del_key(struct store *s, enum store_timer_kind kind, const char *key)
{
    sqlite3_stmt *st = stmt(s, S_TIMER_DEL_KEY);

    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, kind);
    bind_text(st, 2, key);
    if (run(s, st, "timer del key") < 0)
        return -1;
    return sqlite3_changes(s->db);
}

int store_timer_next(struct store *s, int64_t *due)
{
    sqlite3_stmt *st = stmt(s, S_TIMER_NEXT);
    int rc;

    if (st == NULL)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *due = sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : fail(s, rc, "timer next");
}

int store_timer_due(struct store *s, int64_t now_ms, struct store_timer *t, int max)
{
    sqlite3_stmt *st = stmt(s, S_TIMER_DUE);
    int rc = SQLITE_DONE, n = 0;

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_timer *x = &t[n];
        memset(x, 0, sizeof(*x));
        x->id = sqlite3_column_int64(st, 0);
        x->kind = (enum store_timer_kind)sqlite3_column_int(st, 1);
        x->due_ms = sqlite3_column_int64(st, 2);
        x->key = col_dup(st, 3);
        x->seq = (uint64_t)sqlite3_column_int64(st, 4);
        x->route = col_dup(st, 5);
        x->step = sqlite3_column_int(st, 6);
        x->since_ms = sqlite3_column_int64(st, 7);
        if (x->key == NULL || x->route == NULL) {
            store_timer_release(x);
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        for (int i = 0; i < n; i++)
            store_timer_release(&t[i]);
        return fail(s, rc, "timers due");
    }
    return n;
}

void store_timer_release(struct store_timer *t)
{
    if (t == NULL)
        return;
    free(t->key);
    free(t->route);
    memset(t, 0, sizeof(*t));
}

/* ---- outq ---- */

int64_t store_out_add(struct store *s, const struct store_out *o)
{
    sqlite3_stmt *st = stmt(s, S_OUT_ADD);

    if (st == NULL)
        return -1;
    bind_text(st, 1, o->channel);
    bind_text(st, 2, o->route);
    sqlite3_bind_int(st, 3, o->kind);
    sqlite3_bind_int(st, 4, o->sev);
    sqlite3_bind_int(st, 5, o->summary);
    sqlite3_bind_int(st, 6, o->why);
    sqlite3_bind_int64(st, 7, o->created_ms);
    bind_text(st, 8, o->topic);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)o->seq);
    sqlite3_bind_int(st, 10, o->step);
    bind_text(st, 11, o->from_route);
    sqlite3_bind_int64(st, 12, o->unacked_ms);
    sqlite3_bind_int64(st, 13, o->ts_ms);
    sqlite3_bind_int64(st, 14, o->seen_ms);
    sqlite3_bind_blob(st, 15, o->body != NULL ? o->body : "", (int)o->len, SQLITE_STATIC);
    if (run(s, st, "outq add") < 0)
        return -1;
    return sqlite3_last_insert_rowid(s->db);
}

int store_out_pending(struct store *s, const char *channel, struct store_out *o, int max)
{
    sqlite3_stmt *st = stmt(s, S_OUT_PENDING);
    int rc = SQLITE_DONE, n = 0;

    if (st == NULL)
        return -1;
    bind_text(st, 1, channel);
    sqlite3_bind_int(st, 2, max);
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_out *x = &o[n];
        memset(x, 0, sizeof(*x));
        x->id = sqlite3_column_int64(st, 0);
        x->channel = col_dup(st, 1);
        x->route = col_dup(st, 2);
        x->kind = (enum store_out_kind)sqlite3_column_int(st, 3);
        x->sev = sqlite3_column_int(st, 4);
        x->summary = sqlite3_column_int(st, 5) != 0;
        x->why = sqlite3_column_int(st, 6);
        x->created_ms = sqlite3_column_int64(st, 7);
        x->topic = col_dup(st, 8);
        x->seq = (uint64_t)sqlite3_column_int64(st, 9);
        x->step = sqlite3_column_int(st, 10);
        x->from_route = col_dup(st, 11);
        x->unacked_ms = sqlite3_column_int64(st, 12);
        x->ts_ms = sqlite3_column_int64(st, 13);
        x->seen_ms = sqlite3_column_int64(st, 14);
        x->body = col_dup(st, 15);
        x->len = x->body != NULL ? strlen(x->body) : 0;
        x->refusals = sqlite3_column_int(st, 16);
        if (!x->channel || !x->route || !x->topic || !x->from_route || !x->body) {
            store_out_release(x);
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        for (int i = 0; i < n; i++)
            store_out_release(&o[i]);
        return fail(s, rc, "outq pending");
    }
    return n;
}

int64_t store_out_count(struct store *s, const char *channel)
{
    sqlite3_stmt *st = stmt(s, S_OUT_COUNT);
    int64_t n = -1;
    int rc;

    if (st == NULL)
        return -1;
    bind_text(st, 1, channel);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? n : fail(s, rc, "outq count");
}

int store_out_channels(struct store *s, void (*fn)(const char *channel, int64_t n, void *ctx),
                       void *ctx)
{
    sqlite3_stmt *st = stmt(s, S_OUT_CHANNELS);
    int rc = SQLITE_DONE;

    if (st == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(s, rc, "outq channels");
}

static int each_id(struct store *s, int which, const int64_t *ids, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(s, which);
        if (st == NULL)
            return -1;
        sqlite3_bind_int64(st, 1, ids[i]);
        if (run(s, st, what) < 0)
            return -1;
    }
    return 0;
}

int store_out_done(struct store *s, const int64_t *ids, int n)
{
    return each_id(s, S_OUT_DONE, ids, n, "outq done");
}

int store_out_refused(struct store *s, const int64_t *ids, int n)
{
    return each_id(s, S_OUT_REFUSED, ids, n, "outq refused");
}

void store_out_release(struct store_out *o)
{
    if (o == NULL)
        return;
    free(o->channel);
    free(o->route);
    free(o->topic);
    free(o->from_route);
    free(o->body);
    memset(o, 0, sizeof(*o));
}

/* ---- sent ---- */

int store_sent_add(struct store *s, const char *channel, int64_t at_ms)
{
    sqlite3_stmt *st = stmt(s, S_SENT_ADD);

    if (st == NULL)
        return -1;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, at_ms);
    return run(s, st, "sent add");
}

int store_sent_since(struct store *s, const char *channel, int64_t since_ms, int64_t *at, int max)
{
    sqlite3_stmt *st = stmt(s, S_SENT_SINCE);
    int rc = SQLITE_DONE, n = 0;

    if (st == NULL)
        return -1;
    bind_text(st, 1, channel);
    sqlite3_bind_int64(st, 2, since_ms);
    sqlite3_bind_int(st, 3, max);
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        at[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : fail(s, rc, "sent since");
}

int store_sent_prune(struct store *s, int64_t before_ms)
{
    sqlite3_stmt *st = stmt(s, S_SENT_PRUNE);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, before_ms);
    return run(s, st, "sent prune");
}
