/*
 * outbox: alarms and telemetry in SQLite until every sink has confirmed them.
 * See outbox.h for the contract.  The database is the source of truth; the
 * struct holds only what must survive a failing disk (alarms not yet
 * written, confirmations not yet applied) and per-sink delivery state.
 *
 * Main design choice: every cycle's alarms are first copied into the memory
 * list, and every transaction that succeeds writes the whole list, oldest
 * first.  So "disk failed, keep in memory, retry next cycle" is not a
 * separate path: it is the same commit that did not clear the list.
 *
 * Invariants:
 *  I1  ob->next_seq > every seq handed out in this process, and >= the
 *      counter on disk; every commit writes it.  It never goes down.
 *  I2  Alarm rows' id order is their seq order, and memory alarms have
 *      higher seqs than every alarm row: memory is written first and in
 *      order by each good commit, and nothing skips ahead of it.
 *  I3  ob->commit_no equals "outbox.commit_no" on disk, which every
 *      transaction bumps: after an I/O error and reopen it tells whether the
 *      transaction whose COMMIT failed landed after all.
 *  I4  alarm_rows, tel_rows and tel_bytes describe the table: changed only
 *      after COMMIT returned OK, recounted after every (re)open.
 *  I5  A sink's telemetry cursor lies below every telemetry row pending for
 *      that sink that is neither in flight nor confirmed (ids only grow:
 *      AUTOINCREMENT, so also a late outbox_done() never hits a new row).
 *  I6  A row exists only while some sink still needs it (CHECK pending > 0).
 *
 * Error classes: SQLITE_FULL keeps the connection (make room, retry once).
 * I/O errors, corruption and read-only close it (fsyncgate: after a failed
 * fsync the same connection and page cache may claim data that is not on
 * disk); it is reopened, quick_check'ed and fully checkpointed (the fsync
 * of that checkpoint is the proof) before anything is written again, and
 * until then a reopened connection is only read from ("untrusted").
 * Reopening is retried with a backoff (1 s doubling to 60 s).
 */
#include "outbox.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define SCHEMA_VERSION 1
#define REOPEN_BACKOFF_MIN_MS 1000
#define REOPEN_BACKOFF_MAX_MS 60000

static const struct outbox_limits default_limits = {
    .max_telemetry_rows = 100000,
    .max_telemetry_bytes = 64 << 20,
    .max_inflight = 64,
    .busy_timeout_ms = 1000,
    .vfs = NULL,
};

/* Cached statements; the SQL is in stmt_sql[] in the same order. */
enum {
    S_BEGIN,
    S_COMMIT,
    S_INSERT,
    S_META_GET,
    S_META_SET,
    S_ACK_DELETE,
    S_ACK_UPDATE,
    S_ALARMS,
    S_TELEMETRY,
    S_TEL_OLDEST,
    S_TEL_DROP,
    S_FIND,
    S_COUNT,
    S_MAX_SEQ,
    NSTMT
};

static const char *const stmt_sql[NSTMT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_INSERT] = "INSERT INTO outbox(class, sensor, topic, payload, qos, retained, seq,"
                 " created_ms, pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [S_META_SET] = "INSERT INTO meta(k, v) VALUES (?1, ?2)"
                   " ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    /* Two steps because of I6: delete when ?2 was the last sink, else clear it. */
    [S_ACK_DELETE] = "DELETE FROM outbox WHERE id = ?1 AND (pending & ~?2) = 0"
                     " RETURNING class, length(payload)",
    [S_ACK_UPDATE] = "UPDATE outbox SET pending = pending & ~?2"
                     " WHERE id = ?1 AND (pending & ?2) != 0",
    [S_ALARMS] = "SELECT id, sensor, topic, payload, qos, retained, seq, created_ms, pending"
                 " FROM outbox WHERE class = 0 ORDER BY id",
    [S_TELEMETRY] = "SELECT id, sensor, topic, payload, qos, retained, seq, created_ms, pending"
                    " FROM outbox WHERE class = 1 AND id > ?1 ORDER BY id",
    [S_TEL_OLDEST] = "SELECT id, length(payload) FROM outbox WHERE class = 1 ORDER BY id",
    [S_TEL_DROP] = "DELETE FROM outbox WHERE class = 1 AND id <= ?1",
    [S_FIND] = "SELECT id FROM outbox WHERE seq = ?1 AND class = 0 AND topic = ?2 AND sensor = ?3",
    [S_COUNT] = "SELECT class, count(*), coalesce(sum(length(payload)), 0) FROM outbox"
                " GROUP BY class",
    [S_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM outbox WHERE seq IS NOT NULL",
};

static const char schema_sql[] = "CREATE TABLE outbox("
                                 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 " class INTEGER NOT NULL CHECK (class IN (0, 1)),"
                                 " sensor TEXT NOT NULL,"
                                 " topic TEXT NOT NULL,"
                                 " payload BLOB NOT NULL,"
                                 " qos INTEGER NOT NULL,"
                                 " retained INTEGER NOT NULL,"
                                 " seq INTEGER,"
                                 " created_ms INTEGER NOT NULL,"
                                 " pending INTEGER NOT NULL CHECK (pending > 0));"
                                 "CREATE INDEX outbox_class ON outbox(class);"
                                 "CREATE INDEX outbox_seq ON outbox(seq) WHERE seq IS NOT NULL;"
                                 "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
                                 "PRAGMA user_version = 1;";

/* Internal meta keys; outbox_meta_set() refuses this prefix. */
#define META_PREFIX "outbox."
#define K_NEXT_SEQ META_PREFIX "next_seq"
#define K_COMMIT_NO META_PREFIX "commit_no"
#define K_DROPPED META_PREFIX "telemetry_dropped"
#define K_STATE META_PREFIX "state"

/* An alarm not yet on disk.  mem_id < 0 is its handle while it lives here. */
struct memrec {
    int64_t mem_id;
    char *sensor, *topic;
    void *payload;
    size_t payload_len;
    int qos, retained;
    uint64_t seq;
    int64_t created_ms;
    unsigned addressed, pending;
};

/* A record handed to a sender.  row is its database id, 0 while it is in
 * memory (then id is the memrec's mem_id); id is what the sender holds. */
struct inflight {
    int64_t id, row;
    uint64_t sensor_hash;
    enum outbox_class cls;
};

/* A confirmation not yet applied to disk. */
struct ack {
    int64_t row;
    unsigned bit;
};

struct sink {
    struct inflight *inflight;
    int ninflight;
    int64_t tel_cursor; /* I5 */
    void **fetched;     /* copies handed out by the last fetch */
    int nfetched;
};

struct outbox {
    sqlite3 *db;    /* NULL while closed after an I/O error */
    int db_trusted; /* 0: reopened after an I/O error but not yet verified
                       durable: senders may read from it, nothing writes */
    sqlite3_stmt *st[NSTMT];
    char *path, *vfs;
    struct outbox_limits lim;
    unsigned nsinks;

    uint64_t next_seq, disk_next_seq;        /* I1 */
    int64_t commit_no;                       /* I3 */
    int64_t alarm_rows, tel_rows, tel_bytes; /* I4 */
    int64_t dropped, disk_dropped;

    struct memrec *mem; /* seq order (I2) */
    int nmem, capmem;
    int64_t next_mem_id;
    void *mem_state; /* engine state not yet on disk */
    size_t mem_state_len;
    int have_mem_state;

    struct ack *acks;
    int nacks, capacks;

    struct sink sink[OUTBOX_MAX_SINKS];

    int disk_failed;
    int64_t io_errors;
    int64_t reopen_after_ms, backoff_ms;
    char errmsg[256];
};

/* A transaction's input and what it changed; the changes are applied to
 * the struct only after COMMIT returned OK (I4). */
struct txn_delta {
    const struct outbox_cycle *cycle;
    const char *meta_key, *meta_value; /* meta_body */
    int64_t *mem_rows;                 /* row id given to each memory alarm */
    int64_t alarm_rows, tel_rows, tel_bytes, dropped;
    int64_t drop_rows_wanted; /* drop_body: how many old telemetry rows to delete */
};

enum fail_kind { FAIL_NONE, FAIL_FULL, FAIL_BROKEN, FAIL_OTHER };

static enum fail_kind classify(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return FAIL_NONE;
    case SQLITE_FULL:
        return FAIL_FULL;
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return FAIL_BROKEN;
    default:
        return FAIL_OTHER; /* BUSY, LOCKED, NOMEM: keep the connection, retry */
    }
}

static int rc_to_errno(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return ENOSPC;
    case SQLITE_NOMEM:
        return ENOMEM;
    case SQLITE_READONLY:
        return EROFS;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return EUCLEAN;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return EBUSY;
    case SQLITE_CANTOPEN:
        if (db != NULL && sqlite3_system_errno(db) != 0)
            return sqlite3_system_errno(db);
        return EIO;
    default:
        return EIO;
    }
}

static void set_err(struct outbox *ob, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* errmsg = "<what>: <sqlite's message> (<code name>)" */
static void set_err(struct outbox *ob, int rc, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(ob->errmsg, sizeof(ob->errmsg), fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK || n < 0 || (size_t)n >= sizeof(ob->errmsg))
        return;
    if (ob->db != NULL && sqlite3_extended_errcode(ob->db) == rc)
        snprintf(ob->errmsg + n, sizeof(ob->errmsg) - (size_t)n, ": %s (%s, code %d)",
                 sqlite3_errmsg(ob->db), sqlite3_errstr(rc), rc);
    else
        snprintf(ob->errmsg + n, sizeof(ob->errmsg) - (size_t)n, ": %s (code %d)",
                 sqlite3_errstr(rc), rc);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- statement helpers ---- */

/* Step a statement that returns no rows, then reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int meta_set_int(struct outbox *ob, const char *key, int64_t v)
{
    sqlite3_stmt *st = ob->st[S_META_SET];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, v);
    return rc == SQLITE_OK ? step_done(st) : rc;
}

static int meta_set_blob(struct outbox *ob, const char *key, const void *v, size_t len)
{
    sqlite3_stmt *st = ob->st[S_META_SET];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob64(st, 2, len > 0 ? v : "", len, SQLITE_STATIC);
    return rc == SQLITE_OK ? step_done(st) : rc;
}

/* *v = the integer at key, or def when unset. */
static int meta_get_int(struct outbox *ob, const char *key, int64_t def, int64_t *v)
{
    sqlite3_stmt *st = ob->st[S_META_GET];
    int rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);

    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : def;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_row(struct outbox *ob, enum outbox_class cls, const char *sensor,
                      const char *topic, const void *payload, size_t payload_len, int qos,
                      int retained, uint64_t seq, int64_t created_ms, unsigned pending)
{
    sqlite3_stmt *st = ob->st[S_INSERT];
    int rc = sqlite3_bind_int(st, 1, (int)cls);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, sensor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, topic, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob64(st, 4, payload_len > 0 ? payload : "", payload_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 5, qos);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 6, retained);
    if (rc == SQLITE_OK)
        rc = cls == OUTBOX_ALARM ? sqlite3_bind_int64(st, 7, (int64_t)seq)
                                 : sqlite3_bind_null(st, 7);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 8, created_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 9, pending);
    return rc == SQLITE_OK ? step_done(st) : rc;
}

/* ---- memory list, acks, in-flight ---- */

static void memrec_free(struct memrec *m)
{
    free(m->sensor);
    free(m->topic);
    free(m->payload);
}

static void mem_remove(struct outbox *ob, int i)
{
    memrec_free(&ob->mem[i]);
    memmove(&ob->mem[i], &ob->mem[i + 1], (size_t)(ob->nmem - i - 1) * sizeof(*ob->mem));
    ob->nmem--;
}

static int mem_append(struct outbox *ob, const struct outbox_rec *r)
{
    struct memrec *m;

    if (ob->nmem == ob->capmem) {
        int cap = ob->capmem ? ob->capmem * 2 : 16;
        struct memrec *p = realloc(ob->mem, (size_t)cap * sizeof(*p));

        if (p == NULL)
            return -1;
        ob->mem = p;
        ob->capmem = cap;
    }
    m = &ob->mem[ob->nmem];
    memset(m, 0, sizeof(*m));
    m->sensor = strdup(r->sensor);
    m->topic = strdup(r->topic);
    m->payload = malloc(r->payload_len > 0 ? r->payload_len : 1);
    if (m->sensor == NULL || m->topic == NULL || m->payload == NULL) {
        memrec_free(m);
        errno = ENOMEM;
        return -1;
    }
    if (r->payload_len > 0)
        memcpy(m->payload, r->payload, r->payload_len);
    m->payload_len = r->payload_len;
    m->qos = r->qos;
    m->retained = r->retained;
    m->seq = r->seq;
    m->created_ms = r->created_ms;
    m->addressed = m->pending = r->sinks;
    m->mem_id = ob->next_mem_id--;
    ob->nmem++;
    return 0;
}

static int ack_add(struct outbox *ob, int64_t row, unsigned bit)
{
    if (ob->nacks == ob->capacks) {
        int cap = ob->capacks ? ob->capacks * 2 : 64;
        struct ack *p = realloc(ob->acks, (size_t)cap * sizeof(*p));

        if (p == NULL)
            return -1;
        ob->acks = p;
        ob->capacks = cap;
    }
    ob->acks[ob->nacks++] = (struct ack){.row = row, .bit = bit};
    return 0;
}

static int is_acked(const struct outbox *ob, int64_t row, unsigned bit)
{
    for (int i = 0; i < ob->nacks; i++)
        if (ob->acks[i].row == row && (ob->acks[i].bit & bit))
            return 1;
    return 0;
}

static int inflight_find(const struct sink *s, int64_t id)
{
    for (int i = 0; i < s->ninflight; i++)
        if (s->inflight[i].id == id)
            return i;
    return -1;
}

static int inflight_has_row(const struct sink *s, int64_t row)
{
    for (int i = 0; i < s->ninflight; i++)
        if (s->inflight[i].row == row)
            return 1;
    return 0;
}

static int sensor_alarm_inflight(const struct sink *s, uint64_t h)
{
    for (int i = 0; i < s->ninflight; i++)
        if (s->inflight[i].cls == OUTBOX_ALARM && s->inflight[i].sensor_hash == h)
            return 1;
    return 0;
}

static void inflight_remove(struct sink *s, int i)
{
    s->inflight[i] = s->inflight[--s->ninflight];
}

/* A memory alarm now has a database row: senders holding its mem_id keep
 * it, their in-flight entry learns the row. */
static void inflight_remap(struct outbox *ob, int64_t mem_id, int64_t row)
{
    for (unsigned k = 0; k < ob->nsinks; k++) {
        int i = inflight_find(&ob->sink[k], mem_id);

        if (i >= 0)
            ob->sink[k].inflight[i].row = row;
    }
}

/* ---- opening, closing, verifying ---- */

static void db_close(struct outbox *ob)
{
    if (ob->db == NULL)
        return;
    for (int i = 0; i < NSTMT; i++) {
        sqlite3_finalize(ob->st[i]); /* returns the last step's error: already seen */
        ob->st[i] = NULL;
    }
    if (!sqlite3_get_autocommit(ob->db))
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL); /* best effort: closing anyway */
    /* close_v2 cannot fail with every statement finalized; it also never
     * leaves a half-closed handle behind. */
    sqlite3_close_v2(ob->db);
    ob->db = NULL;
    ob->db_trusted = 0;
}

/* Run a one-column pragma and compare its first row with want. */
static int pragma_expect(struct outbox *ob, const char *sql, const char *want)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL);
    const unsigned char *got;

    if (rc != SQLITE_OK) {
        set_err(ob, rc, "%s", sql);
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        got = sqlite3_column_text(st, 0);
        if (got == NULL || strcmp((const char *)got, want) != 0) {
            set_err(ob, SQLITE_OK, "%s: got \"%s\", want \"%s\"", sql,
                    got ? (const char *)got : "(null)", want);
            rc = SQLITE_CORRUPT;
        } else {
            rc = SQLITE_OK;
        }
    } else {
        set_err(ob, rc, "%s", sql);
    }
    sqlite3_finalize(st);
    return rc;
}

static int create_schema(struct outbox *ob)
{
    sqlite3_stmt *st;
    int rc, version;
    char *msg = NULL;

    rc = sqlite3_prepare_v2(ob->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return rc;
    if (version == SCHEMA_VERSION)
        return SQLITE_OK;
    if (version != 0) {
        set_err(ob, SQLITE_OK, "schema version %d, this program knows %d", version, SCHEMA_VERSION);
        return SQLITE_CORRUPT;
    }
    rc = sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ob->db, schema_sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(ob, rc, "create schema%s%s", msg ? ": " : "", msg ? msg : "");
        if (!sqlite3_get_autocommit(ob->db))
            sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_free(msg);
    return rc;
}

/* Load counters (I1, I3, I4) from the database. */
static int load_counters(struct outbox *ob)
{
    int64_t next, commit_no, dropped, maxseq = 0;
    int64_t unsaved_drops = ob->dropped - ob->disk_dropped;
    sqlite3_stmt *st;
    int rc;

    if ((rc = meta_get_int(ob, K_NEXT_SEQ, 1, &next)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_COMMIT_NO, 0, &commit_no)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_DROPPED, 0, &dropped)) != SQLITE_OK)
        return rc;
    st = ob->st[S_MAX_SEQ];
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        maxseq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc;
    /* A row with a seq at or above the counter would mean meta was damaged;
     * never hand that seq out again either way. */
    if (maxseq >= next)
        next = maxseq + 1;
    ob->disk_next_seq = (uint64_t)next;
    if (ob->next_seq < (uint64_t)next)
        ob->next_seq = (uint64_t)next;
    ob->commit_no = commit_no;
    ob->disk_dropped = dropped;
    ob->dropped = dropped + unsaved_drops;

    ob->alarm_rows = ob->tel_rows = ob->tel_bytes = 0;
    st = ob->st[S_COUNT];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0) == OUTBOX_ALARM) {
            ob->alarm_rows = sqlite3_column_int64(st, 1);
        } else {
            ob->tel_rows = sqlite3_column_int64(st, 1);
            ob->tel_bytes = sqlite3_column_int64(st, 2);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* After a reopen: memory alarms that a transaction of unknown fate did
 * write are found by seq and leave memory (the row wins; confirmations
 * they got meanwhile become acks). */
static int reconcile_memory(struct outbox *ob)
{
    sqlite3_stmt *st = ob->st[S_FIND];
    int rc = SQLITE_OK;

    for (int i = 0; i < ob->nmem;) {
        struct memrec *m = &ob->mem[i];
        int64_t row = 0;
        unsigned confirmed = m->addressed & ~m->pending;

        rc = sqlite3_bind_int64(st, 1, (int64_t)m->seq);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 2, m->topic, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 3, m->sensor, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return rc;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            row = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return rc;
        if (row == 0) {
            i++;
            continue;
        }
        for (unsigned k = 0; k < ob->nsinks; k++)
            if ((confirmed & (1u << k)) && ack_add(ob, row, 1u << k) != 0)
                return SQLITE_NOMEM;
        inflight_remap(ob, m->mem_id, row);
        mem_remove(ob, i);
    }
    return SQLITE_OK;
}

/* Open (or reopen) ob->path: WAL, synchronous=FULL, quick_check, schema,
 * statements, counters.  Returns 0, or -1 with errno and errmsg set and
 * ob->db NULL. */
static int db_open(struct outbox *ob)
{
    int rc;

    rc = sqlite3_open_v2(ob->path, &ob->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, ob->vfs);
    if (rc != SQLITE_OK) {
        set_err(ob, rc, "open %s", ob->path);
        goto fail;
    }
    if ((rc = sqlite3_extended_result_codes(ob->db, 1)) != SQLITE_OK ||
        (rc = sqlite3_busy_timeout(ob->db, ob->lim.busy_timeout_ms)) != SQLITE_OK) {
        set_err(ob, rc, "configure %s", ob->path);
        goto fail;
    }
    /* ":memory:" is the fallback when no file can be opened: no WAL there. */
    if ((rc = pragma_expect(ob, "PRAGMA journal_mode=WAL",
                            strcmp(ob->path, ":memory:") == 0 ? "memory" : "wal")) != SQLITE_OK)
        goto fail;
    rc = sqlite3_exec(ob->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(ob, rc, "PRAGMA synchronous=FULL");
        goto fail;
    }
    if ((rc = pragma_expect(ob, "PRAGMA quick_check", "ok")) != SQLITE_OK)
        goto fail;
    if ((rc = create_schema(ob)) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < NSTMT; i++) {
        rc = sqlite3_prepare_v3(ob->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ob->st[i],
                                NULL);
        if (rc != SQLITE_OK) {
            set_err(ob, rc, "prepare \"%s\"", stmt_sql[i]);
            goto fail;
        }
    }
    if ((rc = load_counters(ob)) != SQLITE_OK) {
        set_err(ob, rc, "read %s", ob->path);
        goto fail;
    }
    return 0;
fail:
    errno = rc_to_errno(ob->db, rc);
    db_close(ob);
    return -1;
}

static void schedule_reopen(struct outbox *ob)
{
    if (ob->backoff_ms < REOPEN_BACKOFF_MIN_MS)
        ob->backoff_ms = REOPEN_BACKOFF_MIN_MS;
    ob->reopen_after_ms = mono_ms() + ob->backoff_ms;
    ob->backoff_ms *= 2;
    if (ob->backoff_ms > REOPEN_BACKOFF_MAX_MS)
        ob->backoff_ms = REOPEN_BACKOFF_MAX_MS;
}

/* Reopen after an I/O error, honouring the backoff.  A failed fsync may
 * have left pages that the kernel marked clean but never wrote (fsyncgate);
 * what the page cache still holds is rewritten into the database file by a
 * full checkpoint, and only its successful fsync makes the store trusted.
 * Until then an opened connection stays, untrusted, for senders to read. */
static int db_reopen(struct outbox *ob)
{
    char why[sizeof(ob->errmsg)];
    int rc, wal_frames = -1, copied = -1;

    if (mono_ms() < ob->reopen_after_ms)
        return -1;
    memcpy(why, ob->errmsg, sizeof(why));
    db_close(ob);
    if (db_open(ob) != 0) {
        schedule_reopen(ob);
        return -1;
    }
    rc = sqlite3_wal_checkpoint_v2(ob->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &wal_frames, &copied);
    if (rc != SQLITE_OK || wal_frames != copied) {
        set_err(ob, rc, "checkpoint after reopen (%d of %d frames)", copied, wal_frames);
        schedule_reopen(ob);
        return -1;
    }
    ob->db_trusted = 1;
    rc = reconcile_memory(ob);
    if (rc != SQLITE_OK) {
        set_err(ob, rc, "reconcile after reopen");
        db_close(ob);
        schedule_reopen(ob);
        return -1;
    }
    snprintf(ob->errmsg, sizeof(ob->errmsg), "%.200s; database reopened and verified", why);
    return 0;
}

/* A statement failed: note why; close the connection when it can no longer be
 * trusted (it is reopened by the next commit). */
static void db_failed(struct outbox *ob, int rc, const char *what)
{
    set_err(ob, rc, "%s", what);
    if (classify(rc) == FAIL_BROKEN) {
        ob->io_errors++;
        db_close(ob);
    }
}

/* ---- transactions ---- */

/* Every transaction: BEGIN IMMEDIATE, body, bump commit_no (I3), COMMIT.
 * On failure everything is rolled back and the struct is untouched. */
static int txn_run(struct outbox *ob, int (*body)(struct outbox *, struct txn_delta *),
                   struct txn_delta *d)
{
    int rc;

    assert(ob->db != NULL && ob->db_trusted);
    rc = step_done(ob->st[S_BEGIN]);
    if (rc != SQLITE_OK)
        return rc;
    rc = body(ob, d);
    if (rc == SQLITE_OK)
        rc = meta_set_int(ob, K_COMMIT_NO, ob->commit_no + 1);
    if (rc == SQLITE_OK)
        rc = step_done(ob->st[S_COMMIT]);
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(ob->db))
            sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL); /* the connection may be dead */
        return rc;
    }
    ob->commit_no++;
    return SQLITE_OK;
}

/* Delete the oldest telemetry until rows >= want_rows and bytes >= want_bytes. */
static int drop_oldest(struct outbox *ob, int64_t want_rows, int64_t want_bytes,
                       struct txn_delta *d)
{
    sqlite3_stmt *st = ob->st[S_TEL_OLDEST];
    int64_t rows = 0, bytes = 0, last = 0;
    int rc = SQLITE_ROW;

    while ((rows < want_rows || bytes < want_bytes) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        bytes += sqlite3_column_int64(st, 1);
        rows++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    if (rows == 0)
        return SQLITE_OK;
    rc = sqlite3_bind_int64(ob->st[S_TEL_DROP], 1, last);
    if (rc == SQLITE_OK)
        rc = step_done(ob->st[S_TEL_DROP]);
    if (rc == SQLITE_OK) {
        d->tel_rows -= rows;
        d->tel_bytes -= bytes;
        d->dropped += rows;
    }
    return rc;
}

static int apply_acks(struct outbox *ob, struct txn_delta *d)
{
    sqlite3_stmt *del = ob->st[S_ACK_DELETE], *upd = ob->st[S_ACK_UPDATE];
    int rc = SQLITE_OK;

    for (int i = 0; i < ob->nacks && rc == SQLITE_OK; i++) {
        rc = sqlite3_bind_int64(del, 1, ob->acks[i].row);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(del, 2, ob->acks[i].bit);
        if (rc != SQLITE_OK)
            break;
        rc = sqlite3_step(del);
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_int(del, 0) == OUTBOX_ALARM) {
                d->alarm_rows--;
            } else {
                d->tel_rows--;
                d->tel_bytes -= sqlite3_column_int64(del, 1);
            }
            rc = sqlite3_step(del); /* RETURNING: run to completion */
        }
        sqlite3_reset(del);
        if (rc != SQLITE_DONE)
            break;
        rc = sqlite3_bind_int64(upd, 1, ob->acks[i].row);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(upd, 2, ob->acks[i].bit);
        if (rc == SQLITE_OK)
            rc = step_done(upd);
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_counters(struct outbox *ob, struct txn_delta *d)
{
    int rc = meta_set_int(ob, K_NEXT_SEQ, (int64_t)ob->next_seq);

    if (rc == SQLITE_OK && ob->dropped + d->dropped != ob->disk_dropped)
        rc = meta_set_int(ob, K_DROPPED, ob->dropped + d->dropped);
    return rc;
}

/* The cycle: confirmations, memory alarms (oldest first, I2), telemetry,
 * the cap, the engine state and the counters. */
static int commit_body(struct outbox *ob, struct txn_delta *d)
{
    const struct outbox_cycle *c = d->cycle;
    int64_t over_rows, over_bytes;
    int rc = apply_acks(ob, d);

    for (int i = 0; i < ob->nmem && rc == SQLITE_OK; i++) {
        const struct memrec *m = &ob->mem[i];

        rc = insert_row(ob, OUTBOX_ALARM, m->sensor, m->topic, m->payload, m->payload_len, m->qos,
                        m->retained, m->seq, m->created_ms, m->pending);
        d->mem_rows[i] = sqlite3_last_insert_rowid(ob->db);
        d->alarm_rows++;
    }
    for (int i = 0; c != NULL && i < c->ntelemetry && rc == SQLITE_OK; i++) {
        const struct outbox_rec *r = &c->telemetry[i];

        rc = insert_row(ob, OUTBOX_TELEMETRY, r->sensor, r->topic, r->payload, r->payload_len,
                        r->qos, r->retained, 0, r->created_ms, r->sinks);
        d->tel_rows++;
        d->tel_bytes += (int64_t)r->payload_len;
    }
    if (rc != SQLITE_OK)
        return rc;
    over_rows = ob->tel_rows + d->tel_rows - ob->lim.max_telemetry_rows;
    over_bytes = ob->tel_bytes + d->tel_bytes - ob->lim.max_telemetry_bytes;
    if (over_rows > 0 || over_bytes > 0)
        rc = drop_oldest(ob, over_rows, over_bytes, d);
    if (rc == SQLITE_OK && ob->have_mem_state)
        rc = meta_set_blob(ob, K_STATE, ob->mem_state, ob->mem_state_len);
    if (rc == SQLITE_OK)
        rc = write_counters(ob, d);
    return rc;
}

/* Making room on a full disk: the oldest eighth of the telemetry. */
static int drop_body(struct outbox *ob, struct txn_delta *d)
{
    int rc = drop_oldest(ob, d->drop_rows_wanted, 0, d);

    return rc == SQLITE_OK ? write_counters(ob, d) : rc;
}

/* In memory mode: at least make the seqs handed out durable, so a crash
 * leaves a gap (the centre sees alarms were lost) rather than a reuse. */
static int counter_body(struct outbox *ob, struct txn_delta *d)
{
    return write_counters(ob, d);
}

static void apply_delta(struct outbox *ob, const struct txn_delta *d)
{
    ob->alarm_rows += d->alarm_rows;
    ob->tel_rows += d->tel_rows;
    ob->tel_bytes += d->tel_bytes;
    ob->dropped += d->dropped;
    ob->disk_dropped = ob->dropped;
    ob->disk_next_seq = ob->next_seq;
}

/* Everything pending is on disk now. */
static void commit_succeeded(struct outbox *ob, const struct txn_delta *d)
{
    if (d != NULL) {
        apply_delta(ob, d);
        for (int i = 0; i < ob->nmem; i++) {
            inflight_remap(ob, ob->mem[i].mem_id, d->mem_rows[i]);
            memrec_free(&ob->mem[i]);
        }
        ob->nmem = 0;
    }
    assert(ob->nmem == 0);
    ob->nacks = 0;
    free(ob->mem_state);
    ob->mem_state = NULL;
    ob->mem_state_len = 0;
    ob->have_mem_state = 0;
    ob->disk_failed = 0;
    ob->backoff_ms = 0;
    ob->reopen_after_ms = 0;
}

static int commit_try(struct outbox *ob, const struct outbox_cycle *c, int64_t *mem_rows)
{
    struct txn_delta d = {.cycle = c, .mem_rows = mem_rows};
    int rc = txn_run(ob, commit_body, &d);

    if (rc == SQLITE_OK)
        commit_succeeded(ob, &d);
    return rc;
}

/* SQLITE_FULL: let the WAL restart from its beginning (a checkpoint) and
 * delete the oldest telemetry.  Either may fail on a full disk too. */
static void make_room(struct outbox *ob)
{
    struct txn_delta d = {0};

    /* Failure here changes nothing: the retry will tell. */
    (void)sqlite3_wal_checkpoint_v2(ob->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (ob->tel_rows == 0)
        return;
    d.drop_rows_wanted = ob->tel_rows / 8 + 1;
    if (txn_run(ob, drop_body, &d) == SQLITE_OK)
        apply_delta(ob, &d);
}

static int keep_in_memory(struct outbox *ob, const struct outbox_cycle *c)
{
    ob->disk_failed = 1;
    ob->dropped += c != NULL ? c->ntelemetry : 0; /* written by the next good commit */
    if (ob->db != NULL && ob->db_trusted && ob->next_seq > ob->disk_next_seq) {
        struct txn_delta d = {0};
        int rc = txn_run(ob, counter_body, &d);

        if (rc == SQLITE_OK)
            apply_delta(ob, &d);
        else if (classify(rc) == FAIL_BROKEN) {
            ob->io_errors++;
            db_close(ob);
            schedule_reopen(ob);
        }
    }
    return OUTBOX_DISK_FAILED;
}

static int rec_ok(const struct outbox *ob, const struct outbox_rec *r)
{
    unsigned all = (1u << ob->nsinks) - 1;

    return r->sensor != NULL && r->topic != NULL && (r->payload != NULL || r->payload_len == 0) &&
           r->qos >= 0 && r->qos <= 2 && (r->retained == 0 || r->retained == 1) && r->sinks != 0 &&
           (r->sinks & ~all) == 0;
}

static int cycle_ok(const struct outbox *ob, const struct outbox_cycle *c)
{
    uint64_t want = ob->next_seq;

    if (c->nalarms < 0 || c->ntelemetry < 0 || (c->nalarms > 0 && c->alarms == NULL) ||
        (c->ntelemetry > 0 && c->telemetry == NULL) || (c->state == NULL && c->state_len > 0))
        return 0;
    for (int i = 0; i < c->nalarms; i++) {
        const struct outbox_rec *r = &c->alarms[i];

        if (!rec_ok(ob, r))
            return 0;
        /* consecutive from next_seq; records of one transition share it */
        if (!(r->seq == want || (i > 0 && r->seq == c->alarms[i - 1].seq)))
            return 0;
        want = r->seq + 1;
    }
    for (int i = 0; i < c->ntelemetry; i++)
        if (!rec_ok(ob, &c->telemetry[i]) || c->telemetry[i].seq != 0)
            return 0;
    return 1;
}

/* Move the cycle's alarms and state into memory; all or nothing. */
static int take_cycle(struct outbox *ob, const struct outbox_cycle *c)
{
    int n0 = ob->nmem;
    void *state = NULL;

    if (c->state != NULL) {
        state = malloc(c->state_len > 0 ? c->state_len : 1);
        if (state == NULL)
            return -1;
        if (c->state_len > 0)
            memcpy(state, c->state, c->state_len);
    }
    for (int i = 0; i < c->nalarms; i++) {
        if (mem_append(ob, &c->alarms[i]) != 0) {
            while (ob->nmem > n0)
                mem_remove(ob, ob->nmem - 1);
            free(state);
            errno = ENOMEM;
            return -1;
        }
    }
    if (c->nalarms > 0)
        ob->next_seq = c->alarms[c->nalarms - 1].seq + 1;
    if (state != NULL) {
        free(ob->mem_state);
        ob->mem_state = state;
        ob->mem_state_len = c->state_len;
        ob->have_mem_state = 1;
    }
    return 0;
}

int outbox_commit(struct outbox *ob, const struct outbox_cycle *c)
{
    int64_t *mem_rows, before;
    int rc, recovered = 0, ret;
    enum fail_kind kind;

    if (c != NULL && !cycle_ok(ob, c)) {
        errno = EINVAL;
        return -1;
    }
    if (c != NULL && take_cycle(ob, c) != 0)
        return -1;
    if (ob->nmem == 0 && ob->nacks == 0 && !ob->have_mem_state &&
        (c == NULL || c->ntelemetry == 0) && ob->next_seq == ob->disk_next_seq &&
        ob->dropped == ob->disk_dropped && ob->db != NULL && ob->db_trusted)
        return 0; /* nothing to write: no transaction, no fsync */
    mem_rows = malloc((size_t)(ob->nmem > 0 ? ob->nmem : 1) * sizeof(*mem_rows));
    if (mem_rows == NULL)
        return keep_in_memory(ob, c); /* the alarms are safe in memory; retried */

    if (ob->db == NULL || !ob->db_trusted) {
        if (db_reopen(ob) != 0) {
            ret = keep_in_memory(ob, c);
            goto out;
        }
        recovered = 1;
    }
    rc = commit_try(ob, c, mem_rows);
    kind = classify(rc);
    if (kind == FAIL_FULL) {
        set_err(ob, rc, "commit");
        make_room(ob);
        rc = commit_try(ob, c, mem_rows);
        kind = classify(rc);
    } else if (kind == FAIL_BROKEN) {
        /* Never retry on this connection: its page cache may hold what the
         * disk lost.  Reopen, verify, and find out whether it landed. */
        before = ob->commit_no;
        set_err(ob, rc, "commit");
        ob->io_errors++;
        db_close(ob);
        if (db_reopen(ob) == 0) {
            recovered = 1;
            if (ob->commit_no > before && ob->nmem == 0) {
                /* It landed (reconcile took its alarms out of memory): do
                 * not write its telemetry twice. */
                commit_succeeded(ob, NULL);
                rc = SQLITE_OK;
            } else {
                rc = commit_try(ob, c, mem_rows);
            }
            kind = classify(rc);
        }
    }
    if (kind == FAIL_NONE) {
        ret = recovered ? OUTBOX_RECOVERED : 0;
        goto out;
    }
    if (ob->db != NULL && ob->db_trusted) {
        set_err(ob, rc, "commit");
        if (kind == FAIL_BROKEN) {
            ob->io_errors++;
            db_close(ob);
            schedule_reopen(ob);
        }
    }
    ret = keep_in_memory(ob, c);
out:
    free(mem_rows);
    return ret;
}

/* ---- senders ---- */

static void fetched_free(struct sink *s)
{
    for (int i = 0; i < s->nfetched; i++)
        free(s->fetched[i]);
    s->nfetched = 0;
}

/* Copy a record into one block owned by the sink until its next fetch. */
static int hand_out(struct sink *s, struct outbox_rec *out, int64_t id, int64_t row,
                    enum outbox_class cls, const char *sensor, const char *topic,
                    const void *payload, size_t payload_len, int qos, int retained, uint64_t seq,
                    int64_t created_ms, unsigned pending)
{
    size_t slen = strlen(sensor) + 1, tlen = strlen(topic) + 1;
    char *block = malloc(slen + tlen + (payload_len > 0 ? payload_len : 1));

    if (block == NULL)
        return -1;
    memcpy(block, sensor, slen);
    memcpy(block + slen, topic, tlen);
    if (payload_len > 0)
        memcpy(block + slen + tlen, payload, payload_len);
    s->fetched[s->nfetched++] = block;
    *out = (struct outbox_rec){.id = id,
                               .cls = cls,
                               .sensor = block,
                               .topic = block + slen,
                               .payload = block + slen + tlen,
                               .payload_len = payload_len,
                               .qos = qos,
                               .retained = retained,
                               .seq = seq,
                               .created_ms = created_ms,
                               .sinks = pending};
    s->inflight[s->ninflight++] =
        (struct inflight){.id = id, .row = row, .sensor_hash = hash_str(sensor), .cls = cls};
    return 0;
}

/* Hand out rows of st (columns as in S_ALARMS) while n < max.  Returns the
 * SQLite result; *last_id is the last row looked at (the telemetry cursor). */
static int fetch_rows(struct outbox *ob, sqlite3_stmt *st, struct sink *s, unsigned bit,
                      enum outbox_class cls, struct outbox_rec *out, int *n, int max,
                      int64_t *last_id)
{
    int rc = SQLITE_ROW;

    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *sensor = (const char *)sqlite3_column_text(st, 1);
        unsigned pending = (unsigned)sqlite3_column_int64(st, 8);

        *last_id = id;
        if (!(pending & bit) || is_acked(ob, id, bit) || inflight_has_row(s, id))
            continue;
        if (sensor == NULL) {
            rc = sqlite3_errcode(ob->db); /* NULL only when out of memory */
            break;
        }
        if (cls == OUTBOX_ALARM && sensor_alarm_inflight(s, hash_str(sensor)))
            continue;
        const char *topic = (const char *)sqlite3_column_text(st, 2);
        const void *payload = sqlite3_column_blob(st, 3);
        int plen = sqlite3_column_bytes(st, 3);

        if (topic == NULL || (payload == NULL && plen > 0)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (hand_out(s, &out[*n], id, id, cls, sensor, topic, payload, (size_t)plen,
                     sqlite3_column_int(st, 4), sqlite3_column_int(st, 5),
                     (uint64_t)sqlite3_column_int64(st, 6), sqlite3_column_int64(st, 7),
                     pending) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        (*n)++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int outbox_fetch(struct outbox *ob, unsigned sink, struct outbox_rec *out, int max)
{
    struct sink *s;
    unsigned bit;
    int n = 0, rc;
    int64_t last;

    if (sink >= ob->nsinks || max < 0 || (max > 0 && out == NULL)) {
        errno = EINVAL;
        return -1;
    }
    s = &ob->sink[sink];
    bit = 1u << sink;
    fetched_free(s);
    if (max > ob->lim.max_inflight - s->ninflight)
        max = ob->lim.max_inflight - s->ninflight;

    /* 1. alarms on disk, oldest first (their seqs are below memory's, I2) */
    if (ob->db != NULL) {
        rc = fetch_rows(ob, ob->st[S_ALARMS], s, bit, OUTBOX_ALARM, out, &n, max, &last);
        if (rc != SQLITE_OK)
            db_failed(ob, rc, "read alarms");
    }
    /* 2. alarms in memory: never held back by a failing disk */
    for (int i = 0; i < ob->nmem && n < max; i++) {
        const struct memrec *m = &ob->mem[i];

        if (!(m->pending & bit) || inflight_find(s, m->mem_id) >= 0 ||
            sensor_alarm_inflight(s, hash_str(m->sensor)))
            continue;
        if (hand_out(s, &out[n], m->mem_id, 0, OUTBOX_ALARM, m->sensor, m->topic, m->payload,
                     m->payload_len, m->qos, m->retained, m->seq, m->created_ms, m->pending) != 0)
            break; /* out of memory: hand out what we have */
        n++;
    }
    /* 3. telemetry from the cursor on (I5) */
    if (ob->db != NULL && n < max) {
        sqlite3_stmt *st = ob->st[S_TELEMETRY];

        last = s->tel_cursor;
        rc = sqlite3_bind_int64(st, 1, s->tel_cursor);
        if (rc == SQLITE_OK)
            rc = fetch_rows(ob, st, s, bit, OUTBOX_TELEMETRY, out, &n, max, &last);
        if (rc == SQLITE_OK)
            s->tel_cursor = last;
        else
            db_failed(ob, rc, "read telemetry");
    }
    return n;
}

int outbox_done(struct outbox *ob, int64_t id, unsigned sink)
{
    struct sink *s;
    int64_t row;
    int i;

    if (sink >= ob->nsinks) {
        errno = EINVAL;
        return -1;
    }
    s = &ob->sink[sink];
    i = inflight_find(s, id);
    row = i >= 0 ? s->inflight[i].row : (id > 0 ? id : 0);
    if (i >= 0)
        inflight_remove(s, i);
    if (row > 0) {
        if (ack_add(ob, row, 1u << sink) != 0) {
            errno = ENOMEM;
            return -1; /* the record is sent again: a duplicate, not a loss */
        }
        return 0;
    }
    for (i = 0; i < ob->nmem; i++) {
        if (ob->mem[i].mem_id == id) {
            ob->mem[i].pending &= ~(1u << sink);
            if (ob->mem[i].pending == 0)
                mem_remove(ob, i);
            break;
        }
    }
    return 0;
}

void outbox_release(struct outbox *ob, int64_t id, unsigned sink)
{
    struct sink *s;
    int i;

    if (sink >= ob->nsinks)
        return;
    s = &ob->sink[sink];
    i = inflight_find(s, id);
    if (i < 0)
        return;
    if (s->inflight[i].cls == OUTBOX_TELEMETRY && s->inflight[i].row <= s->tel_cursor)
        s->tel_cursor = s->inflight[i].row - 1;
    inflight_remove(s, i);
}

void outbox_release_all(struct outbox *ob, unsigned sink)
{
    if (sink >= ob->nsinks)
        return;
    ob->sink[sink].ninflight = 0;
    ob->sink[sink].tel_cursor = 0;
}

/* ---- state, settings, figures ---- */

int outbox_state_load(struct outbox *ob, void **blob, size_t *len)
{
    sqlite3_stmt *st;
    const void *v;
    int rc, n;

    *blob = NULL;
    *len = 0;
    if (ob->have_mem_state) {
        *blob = malloc(ob->mem_state_len > 0 ? ob->mem_state_len : 1);
        if (*blob == NULL)
            return -1;
        memcpy(*blob, ob->mem_state, ob->mem_state_len);
        *len = ob->mem_state_len;
        return 0;
    }
    if (ob->db == NULL) {
        errno = EIO;
        return -1;
    }
    st = ob->st[S_META_GET];
    rc = sqlite3_bind_text(st, 1, K_STATE, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = sqlite3_column_blob(st, 0);
        n = sqlite3_column_bytes(st, 0);
        *blob = malloc(n > 0 ? (size_t)n : 1);
        if (*blob == NULL || (v == NULL && n > 0)) {
            free(*blob);
            *blob = NULL;
            sqlite3_reset(st);
            errno = ENOMEM;
            return -1;
        }
        if (n > 0)
            memcpy(*blob, v, (size_t)n);
        *len = (size_t)n;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        errno = rc_to_errno(ob->db, rc);
        db_failed(ob, rc, "load state");
        return -1;
    }
    return 0;
}

int outbox_meta_get(struct outbox *ob, const char *key, char *buf, size_t len)
{
    sqlite3_stmt *st;
    const unsigned char *v;
    int rc, found = 0;

    if (key == NULL || buf == NULL || len == 0) {
        errno = EINVAL;
        return -1;
    }
    if (ob->db == NULL) {
        errno = EIO;
        return -1;
    }
    st = ob->st[S_META_GET];
    rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = sqlite3_column_text(st, 0);
        snprintf(buf, len, "%s", v != NULL ? (const char *)v : "");
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        errno = rc_to_errno(ob->db, rc);
        db_failed(ob, rc, "read setting");
        return -1;
    }
    return found;
}

static int meta_body(struct outbox *ob, struct txn_delta *d)
{
    sqlite3_stmt *st = ob->st[S_META_SET];
    int rc = sqlite3_bind_text(st, 1, d->meta_key, -1, SQLITE_STATIC);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, d->meta_value, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? step_done(st) : rc;
}

int outbox_meta_set(struct outbox *ob, const char *key, const char *value)
{
    struct txn_delta d = {.meta_key = key, .meta_value = value};
    int rc;

    if (key == NULL || value == NULL || strncmp(key, META_PREFIX, strlen(META_PREFIX)) == 0) {
        errno = EINVAL;
        return -1;
    }
    if (ob->db == NULL || !ob->db_trusted) {
        errno = EIO;
        return -1;
    }
    rc = txn_run(ob, meta_body, &d);
    if (rc != SQLITE_OK) {
        errno = rc_to_errno(ob->db, rc);
        db_failed(ob, rc, "store setting");
        return -1;
    }
    return 0;
}

void outbox_stats(const struct outbox *ob, struct outbox_stats *st)
{
    *st = (struct outbox_stats){.alarm_rows = ob->alarm_rows,
                                .telemetry_rows = ob->tel_rows,
                                .telemetry_bytes = ob->tel_bytes,
                                .telemetry_dropped = ob->dropped,
                                .mem_alarms = ob->nmem,
                                .disk_failed = ob->disk_failed,
                                .io_errors = ob->io_errors,
                                .next_seq = ob->next_seq};
}

const char *outbox_errmsg(const struct outbox *ob)
{
    return ob->errmsg;
}

void outbox_raise_seq(struct outbox *ob, uint64_t floor)
{
    if (ob->next_seq < floor)
        ob->next_seq = floor;   /* I1 holds; written with the next commit */
}

uint64_t outbox_next_seq(const struct outbox *ob)
{
    return ob->next_seq;
}

/* ---- life cycle ---- */

static void outbox_free(struct outbox *ob)
{
    db_close(ob);
    for (int i = 0; i < ob->nmem; i++)
        memrec_free(&ob->mem[i]);
    for (unsigned k = 0; k < OUTBOX_MAX_SINKS; k++) {
        fetched_free(&ob->sink[k]);
        free(ob->sink[k].fetched);
        free(ob->sink[k].inflight);
    }
    free(ob->mem);
    free(ob->mem_state);
    free(ob->acks);
    free(ob->path);
    free(ob->vfs);
    free(ob);
}

struct outbox *outbox_open(const char *path, const struct outbox_limits *lim, unsigned nsinks,
                           char *err, size_t errlen)
{
    struct outbox *ob;
    int saved;

    if (lim == NULL)
        lim = &default_limits;
    if (path == NULL || nsinks < 1 || nsinks > OUTBOX_MAX_SINKS || lim->max_telemetry_rows <= 0 ||
        lim->max_telemetry_bytes <= 0 || lim->max_inflight <= 0 || lim->busy_timeout_ms < 0) {
        snprintf(err, errlen, "outbox: invalid arguments");
        errno = EINVAL;
        return NULL;
    }
    ob = calloc(1, sizeof(*ob));
    if (ob == NULL)
        goto nomem;
    ob->lim = *lim;
    ob->lim.vfs = NULL; /* the copy in ob->vfs is used */
    ob->nsinks = nsinks;
    ob->next_mem_id = -1;
    ob->path = strdup(path);
    if (ob->path == NULL || (lim->vfs != NULL && (ob->vfs = strdup(lim->vfs)) == NULL))
        goto nomem;
    for (unsigned k = 0; k < nsinks; k++) {
        ob->sink[k].inflight = calloc((size_t)lim->max_inflight, sizeof(struct inflight));
        ob->sink[k].fetched = calloc((size_t)lim->max_inflight, sizeof(void *));
        if (ob->sink[k].inflight == NULL || ob->sink[k].fetched == NULL)
            goto nomem;
    }
    if (db_open(ob) != 0) {
        saved = errno;
        snprintf(err, errlen, "%s", ob->errmsg);
        outbox_free(ob);
        errno = saved;
        return NULL;
    }
    ob->db_trusted = 1;
    return ob;
nomem:
    snprintf(err, errlen, "outbox: out of memory");
    if (ob != NULL)
        outbox_free(ob);
    errno = ENOMEM;
    return NULL;
}

int outbox_close(struct outbox *ob, char *err, size_t errlen)
{
    int ret = 0, rc;

    if (ob == NULL)
        return 0;
    ob->reopen_after_ms = 0; /* last chance: ignore the backoff */
    rc = outbox_commit(ob, NULL);
    if (rc != 0 && rc != OUTBOX_RECOVERED && ob->nmem > 0) {
        snprintf(err, errlen, "%d alarm records not written and lost: %s", ob->nmem, ob->errmsg);
        ret = -1;
    }
    outbox_free(ob);
    return ret;
}
