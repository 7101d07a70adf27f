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
 *  I7  Every seq handed out is below the reservation on disk (seq_reserved):
 *      a commit that raised next_seq writes the reservation (pwrite +
 *      fdatasync) before outbox_commit() returns, and nothing is handed out
 *      before that.  At open next_seq = max(counter, reservation); a counter
 *      below the reservation means the database lost a commit it had
 *      reported durable (storage_problem).  Written after the commit, the
 *      reservation is exact: a crash in between leaves it behind the
 *      counter, never a gap.
 *  I8  current holds, per retained alarm topic, the record with the highest
 *      seq taken for it: curdirty (memory) has what the disk does not have
 *      yet, also for alarms delivered from memory while the disk failed; a
 *      good commit writes curdirty with the engine state taken with it, so
 *      on disk it always matches the engine state committed.
 *  I9  disk_state is the engine state as stored in the state chunks; a
 *      commit writes only the chunks that differ from it.
 *  I10 Memory telemetry (telemetry_spill_ms > 0) is pending for some sink;
 *      it is written by the first commit after it is spill_ms old, or when
 *      over MEMTEL_MAX records or the row cap, and at close.  The row cap
 *      counts it with the rows on disk.  A power cut loses only it.
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
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

#define SCHEMA_VERSION 2
#define STATE_CHUNK 1024 /* engine state chunk: a change rewrites ~one page */
#define MEMTEL_MAX 4096  /* memory telemetry over this is written (oldest first) */
#define SEQ_SLOT 512     /* reservation slot: one sector each, so a torn write hits one */
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
    S_CUR_SET,
    S_CUR_ALL,
    S_STATE_SET,
    S_STATE_TRIM,
    S_STATE_ALL,
    S_META_DEL,
    S_TOPIC_PENDING,
    S_RENUMBER_SEL,
    S_RENUMBER_SET,
    S_CUR_RENUM,
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
    /* I8: an older record never replaces a newer one */
    [S_CUR_SET] = "INSERT INTO current(topic, sensor, seq, payload) VALUES (?1, ?2, ?3, ?4)"
                  " ON CONFLICT(topic) DO UPDATE SET sensor = excluded.sensor,"
                  " seq = excluded.seq, payload = excluded.payload"
                  " WHERE excluded.seq >= current.seq",
    [S_CUR_ALL] = "SELECT topic, sensor, seq, payload FROM current ORDER BY seq",
    [S_STATE_SET] = "INSERT INTO state(chunk, data) VALUES (?1, ?2)"
                    " ON CONFLICT(chunk) DO UPDATE SET data = excluded.data",
    [S_STATE_TRIM] = "DELETE FROM state WHERE chunk >= ?1",
    [S_STATE_ALL] = "SELECT data FROM state ORDER BY chunk",
    [S_META_DEL] = "DELETE FROM meta WHERE k = ?1",
    [S_TOPIC_PENDING] = "SELECT 1 FROM outbox WHERE class = 0 AND topic = ?1"
                        " AND (pending & ?2) != 0 LIMIT 1",
    [S_RENUMBER_SEL] = "SELECT id, seq, payload, topic, retained FROM outbox"
                       " WHERE class = 0 AND seq >= ?1 ORDER BY seq, id",
    [S_CUR_RENUM] = "UPDATE current SET seq = ?3, payload = ?4 WHERE topic = ?1 AND seq = ?2",
    [S_RENUMBER_SET] = "UPDATE outbox SET seq = ?2, payload = ?3 WHERE id = ?1",
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

/* Version 2: the current alarm state (I8) and the chunked engine state (I9). */
static const char schema_v2_sql[] =
    "CREATE TABLE current("
    " topic TEXT PRIMARY KEY,"
    " sensor TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " payload BLOB NOT NULL);"
    "CREATE TABLE state(chunk INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "PRAGMA user_version = 2;";

/* Internal meta keys; outbox_meta_set() refuses this prefix. */
#define META_PREFIX "outbox."
#define K_NEXT_SEQ META_PREFIX "next_seq"
#define K_COMMIT_NO META_PREFIX "commit_no"
#define K_DROPPED META_PREFIX "telemetry_dropped"
#define K_STATE META_PREFIX "state"       /* version 1: the state in one blob */
#define K_SEQ_FILE META_PREFIX "seq_file" /* a reservation file was written for this database */
#define K_CUR_PARTIAL META_PREFIX "current_partial" /* upgraded: current not yet seeded */

/* An alarm (or telemetry) not yet on disk.  mem_id < 0 is its handle while
 * it lives here. */
struct memrec {
    int64_t mem_id;
    int64_t born_ms; /* mono: telemetry is written when it gets old (I10) */
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
    void *disk_state; /* I9 */
    size_t disk_state_len;
    int disk_state_legacy; /* disk_state is the version-1 blob: every chunk is new */
    int current_partial;   /* upgraded from version 1: current knows only later transitions */
    int current_seeded;    /* ... until the caller has seeded it (outbox_current_seeded) */

    struct memrec *curdirty; /* I8: newest record per topic not yet in current */
    int ncurdirty, capcurdirty;

    struct memrec *memtel; /* I10: oldest first */
    int nmemtel, capmemtel;
    int spill_all; /* close: write every pending memory telemetry record */

    int seq_fd;            /* the reservation file, -1: none */
    uint64_t seq_reserved; /* I7 */
    uint64_t seq_gen;
    int seq_marker; /* K_SEQ_FILE is on disk */
    int seq_unknown;
    uint64_t open_seq, db_seq_at_open;
    char *seq_path;
    char storage_problem[256];

    struct ack *acks;
    int nacks, capacks;

    struct sink sink[OUTBOX_MAX_SINKS];

    int disk_failed;
    int64_t io_errors;
    int64_t reopen_after_ms, backoff_ms;
    char errmsg[256];
};

struct renum;

/* A transaction's input and what it changed; the changes are applied to
 * the struct only after COMMIT returned OK (I4). */
struct txn_delta {
    const struct outbox_cycle *cycle;
    const char *meta_key, *meta_value; /* meta_body */
    int64_t *mem_rows;                 /* row id given to each memory alarm */
    int64_t *tel_rows_ids;             /* row id given to each spilled memory telemetry record */
    int nspill;                        /* memory telemetry records this commit writes */
    int state_written;                 /* the state chunks were written */
    int marker_written;
    int partial_cleared;
    const struct renum *renum; /* renumber_body */
    int nrenum;
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

/* Append a copy of r to a memory list (ob->mem or ob->memtel). */
static int list_append(struct outbox *ob, struct memrec **list, int *nlist, int *caplist,
                       const struct outbox_rec *r)
{
    struct memrec *m;

    if (*nlist == *caplist) {
        int cap = *caplist ? *caplist * 2 : 16;
        struct memrec *p = realloc(*list, (size_t)cap * sizeof(*p));

        if (p == NULL)
            return -1;
        *list = p;
        *caplist = cap;
    }
    m = &(*list)[*nlist];
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
    m->born_ms = mono_ms();
    (*nlist)++;
    return 0;
}

static int mem_append(struct outbox *ob, const struct outbox_rec *r)
{
    return list_append(ob, &ob->mem, &ob->nmem, &ob->capmem, r);
}

/* I8: r is now the newest record of its topic. */
static int curdirty_set(struct outbox *ob, const struct outbox_rec *r)
{
    for (int i = 0; i < ob->ncurdirty; i++) {
        if (strcmp(ob->curdirty[i].topic, r->topic) != 0)
            continue;
        if (ob->curdirty[i].seq > r->seq)
            return 0;
        memrec_free(&ob->curdirty[i]);
        ob->curdirty[i] = ob->curdirty[--ob->ncurdirty];
        break;
    }
    return list_append(ob, &ob->curdirty, &ob->ncurdirty, &ob->capcurdirty, r);
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

static int alarm_inflight(const struct sink *s)
{
    for (int i = 0; i < s->ninflight; i++)
        if (s->inflight[i].cls == OUTBOX_ALARM)
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
    if (version > SCHEMA_VERSION) {
        set_err(ob, SQLITE_OK, "schema version %d, this program knows %d", version, SCHEMA_VERSION);
        return SQLITE_CORRUPT;
    }
    /* 0: a new database; 1: upgraded in place (the state blob in meta is
     * still read until the first chunked write replaces it). */
    rc = sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK && version == 0)
        rc = sqlite3_exec(ob->db, schema_sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ob->db, schema_v2_sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK && version == 1)
        rc = sqlite3_exec(ob->db, "INSERT INTO meta(k, v) VALUES ('" K_CUR_PARTIAL "', 1)", NULL,
                          NULL, &msg);
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

    int64_t marker, partial;

    if ((rc = meta_get_int(ob, K_NEXT_SEQ, 1, &next)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_COMMIT_NO, 0, &commit_no)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_DROPPED, 0, &dropped)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_SEQ_FILE, 0, &marker)) != SQLITE_OK ||
        (rc = meta_get_int(ob, K_CUR_PARTIAL, 0, &partial)) != SQLITE_OK)
        return rc;
    ob->seq_marker = marker != 0;
    ob->current_partial = partial != 0;
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

/* Append a column's blob to *buf (malloc'd, grown). */
static int blob_append(sqlite3_stmt *st, int col, unsigned char **buf, size_t *len)
{
    const void *v = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    unsigned char *p;

    if (v == NULL && n > 0)
        return SQLITE_NOMEM;
    p = realloc(*buf, *len + (size_t)n + 1);
    if (p == NULL)
        return SQLITE_NOMEM;
    *buf = p;
    if (n > 0)
        memcpy(p + *len, v, (size_t)n);
    *len += (size_t)n;
    return SQLITE_OK;
}

/* I9: the stored engine state into disk_state (its chunks, or the version-1
 * blob in meta); disk_state NULL when none is stored. */
static int load_disk_state(struct outbox *ob)
{
    sqlite3_stmt *st = ob->st[S_STATE_ALL];
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc, found = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        found = 1;
        if ((rc = blob_append(st, 0, &buf, &len)) != SQLITE_OK)
            break;
    }
    sqlite3_reset(st);
    ob->disk_state_legacy = 0;
    if (rc == SQLITE_DONE && !found) {
        ob->disk_state_legacy = 1;
        st = ob->st[S_META_GET];
        rc = sqlite3_bind_text(st, 1, K_STATE, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            found = 1;
            rc = blob_append(st, 0, &buf, &len);
            if (rc == SQLITE_OK)
                rc = SQLITE_DONE;
        }
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        free(buf);
        return rc;
    }
    if (found && buf == NULL && (buf = malloc(1)) == NULL)
        return SQLITE_NOMEM;
    free(ob->disk_state);
    ob->disk_state = buf;
    ob->disk_state_len = len;
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
    /* The WAL restarts after each checkpoint (1000 pages); the limit also
     * gives back the space a backlog made it grow to. */
    rc = sqlite3_exec(ob->db, "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=4194304", NULL,
                      NULL, NULL);
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
    if ((rc = load_counters(ob)) != SQLITE_OK || (rc = load_disk_state(ob)) != SQLITE_OK) {
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
    if (rc == SQLITE_OK && ob->seq_fd >= 0 && !ob->seq_marker) {
        rc = meta_set_int(ob, K_SEQ_FILE, 1);
        d->marker_written = 1;
    }
    if (rc == SQLITE_OK && ob->current_partial && ob->current_seeded) {
        rc = sqlite3_bind_text(ob->st[S_META_DEL], 1, K_CUR_PARTIAL, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(ob->st[S_META_DEL]);
        d->partial_cleared = 1;
    }
    return rc;
}

/* I8: the newest record of a retained alarm topic. */
static int current_set(struct outbox *ob, const struct memrec *m)
{
    sqlite3_stmt *st = ob->st[S_CUR_SET];
    int rc = sqlite3_bind_text(st, 1, m->topic, -1, SQLITE_STATIC);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, m->sensor, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, (int64_t)m->seq);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob64(st, 4, m->payload_len > 0 ? m->payload : "", m->payload_len,
                                 SQLITE_STATIC);
    return rc == SQLITE_OK ? step_done(st) : rc;
}

/* I9: write the chunks of mem_state that differ from disk_state. */
static int write_state(struct outbox *ob, struct txn_delta *d)
{
    const unsigned char *a = ob->mem_state, *b = ob->disk_state;
    size_t n = ob->mem_state_len, old = b != NULL ? ob->disk_state_len : 0;
    int64_t chunks = (int64_t)((n + STATE_CHUNK - 1) / STATE_CHUNK);
    int64_t old_chunks = (int64_t)((old + STATE_CHUNK - 1) / STATE_CHUNK);
    int rc = SQLITE_OK;

    for (int64_t i = 0; i < chunks && rc == SQLITE_OK; i++) {
        size_t off = (size_t)i * STATE_CHUNK;
        size_t len = n - off < STATE_CHUNK ? n - off : STATE_CHUNK;
        size_t old_len = off < old ? (old - off < STATE_CHUNK ? old - off : STATE_CHUNK) : 0;

        if (!ob->disk_state_legacy && len == old_len && memcmp(a + off, b + off, len) == 0)
            continue;
        sqlite3_stmt *st = ob->st[S_STATE_SET];
        rc = sqlite3_bind_int64(st, 1, i);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob64(st, 2, a + off, len, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(st);
    }
    if (rc == SQLITE_OK && old_chunks > chunks) {
        rc = sqlite3_bind_int64(ob->st[S_STATE_TRIM], 1, chunks);
        if (rc == SQLITE_OK)
            rc = step_done(ob->st[S_STATE_TRIM]);
    }
    if (rc == SQLITE_OK) { /* the version-1 blob, if any, is replaced for good */
        rc = sqlite3_bind_text(ob->st[S_META_DEL], 1, K_STATE, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(ob->st[S_META_DEL]);
    }
    if (rc == SQLITE_OK)
        d->state_written = 1;
    return rc;
}

/* How many memory telemetry records (oldest first) the next commit writes (I10). */
static int spill_due(const struct outbox *ob, int64_t now)
{
    int n = 0;

    if (ob->spill_all)
        return ob->nmemtel;
    int64_t cap = ob->lim.max_telemetry_rows < MEMTEL_MAX ? ob->lim.max_telemetry_rows : MEMTEL_MAX;

    if (ob->nmemtel > cap)
        n = ob->nmemtel - (int)cap; /* to disk, where the cap drops the oldest */
    while (n < ob->nmemtel && now - ob->memtel[n].born_ms >= ob->lim.telemetry_spill_ms)
        n++;
    return n;
}

/* The cycle: confirmations, memory alarms (oldest first, I2) and the current
 * state they make (I8), telemetry, the cap, the engine state and the counters. */
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
    for (int i = 0; i < ob->ncurdirty && rc == SQLITE_OK; i++)
        rc = current_set(ob, &ob->curdirty[i]);
    for (int i = 0;
         ob->lim.telemetry_spill_ms == 0 && c != NULL && i < c->ntelemetry && rc == SQLITE_OK;
         i++) {
        const struct outbox_rec *r = &c->telemetry[i];

        rc = insert_row(ob, OUTBOX_TELEMETRY, r->sensor, r->topic, r->payload, r->payload_len,
                        r->qos, r->retained, 0, r->created_ms, r->sinks);
        d->tel_rows++;
        d->tel_bytes += (int64_t)r->payload_len;
    }
    for (int i = 0; i < d->nspill && rc == SQLITE_OK; i++) {
        const struct memrec *m = &ob->memtel[i];

        rc = insert_row(ob, OUTBOX_TELEMETRY, m->sensor, m->topic, m->payload, m->payload_len,
                        m->qos, m->retained, 0, m->created_ms, m->pending);
        d->tel_rows_ids[i] = sqlite3_last_insert_rowid(ob->db);
        d->tel_rows++;
        d->tel_bytes += (int64_t)m->payload_len;
    }
    if (rc != SQLITE_OK)
        return rc;
    /* The cap counts the telemetry held in memory too (I10). */
    over_rows = ob->tel_rows + d->tel_rows + (ob->nmemtel - d->nspill) - ob->lim.max_telemetry_rows;
    over_bytes = ob->tel_bytes + d->tel_bytes - ob->lim.max_telemetry_bytes;
    if (over_rows > 0 || over_bytes > 0)
        rc = drop_oldest(ob, over_rows, over_bytes, d);
    if (rc == SQLITE_OK && ob->have_mem_state)
        rc = write_state(ob, d);
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
    if (d->marker_written)
        ob->seq_marker = 1;
    if (d->partial_cleared)
        ob->current_partial = 0;
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
        for (int i = 0; i < d->nspill; i++) {
            inflight_remap(ob, ob->memtel[i].mem_id, d->tel_rows_ids[i]);
            memrec_free(&ob->memtel[i]);
        }
        if (d->nspill > 0) {
            memmove(ob->memtel, ob->memtel + d->nspill,
                    (size_t)(ob->nmemtel - d->nspill) * sizeof(*ob->memtel));
            ob->nmemtel -= d->nspill;
        }
    }
    assert(ob->nmem == 0);
    ob->nacks = 0;
    for (int i = 0; i < ob->ncurdirty; i++)
        memrec_free(&ob->curdirty[i]);
    ob->ncurdirty = 0;
    if (d != NULL && d->state_written) {
        ob->disk_state_legacy = 0;
        free(ob->disk_state);
        ob->disk_state = ob->mem_state; /* I9 */
        ob->disk_state_len = ob->mem_state_len;
    } else {
        free(ob->mem_state); /* landed in a commit of unknown fate: reopen reloaded it */
    }
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
    int rc;

    d.nspill = spill_due(ob, mono_ms());
    if (d.nspill > 0 && (d.tel_rows_ids = malloc((size_t)d.nspill * sizeof(int64_t))) == NULL)
        d.nspill = 0; /* written by a later commit */
    rc = txn_run(ob, commit_body, &d);
    if (rc == SQLITE_OK)
        commit_succeeded(ob, &d);
    free(d.tel_rows_ids);
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
    if (ob->lim.telemetry_spill_ms == 0)
        ob->dropped += c != NULL ? c->ntelemetry : 0; /* written by the next good commit */
    /* Memory telemetry while the disk is failing: bounded, oldest dropped. */
    while (ob->nmemtel > 2 * MEMTEL_MAX) {
        memrec_free(&ob->memtel[0]);
        memmove(ob->memtel, ob->memtel + 1, (size_t)(ob->nmemtel - 1) * sizeof(*ob->memtel));
        ob->nmemtel--;
        ob->dropped++;
    }
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

/* Move the cycle's alarms and state (and, in spill mode, its telemetry)
 * into memory; all or nothing.  A state equal to the stored one is no news. */
static int take_cycle(struct outbox *ob, const struct outbox_cycle *c)
{
    int n0 = ob->nmem, t0 = ob->nmemtel;
    void *state = NULL;
    int same = c->state != NULL && !ob->have_mem_state && ob->disk_state != NULL &&
               !ob->disk_state_legacy && c->state_len == ob->disk_state_len &&
               memcmp(c->state, ob->disk_state, c->state_len) == 0;

    if (c->state != NULL && !same) {
        state = malloc(c->state_len > 0 ? c->state_len : 1);
        if (state == NULL)
            return -1;
        if (c->state_len > 0)
            memcpy(state, c->state, c->state_len);
    }
    for (int i = 0; i < c->nalarms + (ob->lim.telemetry_spill_ms > 0 ? c->ntelemetry : 0); i++) {
        int rc = i < c->nalarms ? mem_append(ob, &c->alarms[i])
                                : list_append(ob, &ob->memtel, &ob->nmemtel, &ob->capmemtel,
                                              &c->telemetry[i - c->nalarms]);
        if (rc != 0) {
            while (ob->nmem > n0)
                mem_remove(ob, ob->nmem - 1);
            while (ob->nmemtel > t0)
                memrec_free(&ob->memtel[--ob->nmemtel]);
            free(state);
            errno = ENOMEM;
            return -1;
        }
    }
    /* Out of memory here only leaves the current state without this
     * transition until its topic's next one; the alarm itself is kept. */
    for (int i = 0; i < c->nalarms; i++)
        if (c->alarms[i].retained && c->alarms[i].topic[0] != '\0')
            (void)curdirty_set(ob, &c->alarms[i]);
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

static int commit_cycle(struct outbox *ob, const struct outbox_cycle *c)
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
    if (ob->nmem == 0 && ob->nacks == 0 && !ob->have_mem_state && ob->ncurdirty == 0 &&
        !(ob->current_partial && ob->current_seeded) &&
        (c == NULL || c->ntelemetry == 0 || ob->lim.telemetry_spill_ms > 0) &&
        spill_due(ob, mono_ms()) == 0 && ob->next_seq == ob->disk_next_seq &&
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

/* ---- the seq reservation (I7) ---- */

/* A slot: magic, generation, the next seq, and a checksum of those. */
struct seq_slot {
    char magic[8];
    uint64_t gen, next, check;
};
#define SEQ_MAGIC "GWSEQRS1"

static uint64_t slot_check(const struct seq_slot *sl)
{
    const unsigned char *p = (const unsigned char *)sl;
    uint64_t h = 14695981039346656037ull; /* FNV-1a over magic, gen, next */

    for (size_t i = 0; i < offsetof(struct seq_slot, check); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The valid slot with the highest generation: 1 and *next, or 0 when none
 * is valid (a new, damaged or foreign file); -1 on a read error. */
static int seq_read(struct outbox *ob, uint64_t *next)
{
    unsigned char buf[2 * SEQ_SLOT];
    ssize_t n = pread(ob->seq_fd, buf, sizeof(buf), 0);
    int found = 0;

    if (n < 0)
        return -1;
    for (int i = 0; i < 2 && (size_t)n >= (size_t)(i + 1) * SEQ_SLOT; i++) {
        struct seq_slot sl;

        memcpy(&sl, buf + i * SEQ_SLOT, sizeof(sl));
        if (memcmp(sl.magic, SEQ_MAGIC, 8) != 0 || sl.check != slot_check(&sl))
            continue;
        if (!found || sl.gen > ob->seq_gen) {
            ob->seq_gen = sl.gen;
            *next = sl.next;
            found = 1;
        }
    }
    return found;
}

/* Record next in the older slot, in place (no allocation: works on a full
 * disk), and make it durable.  0, or -1 with errno. */
static int seq_write(struct outbox *ob, uint64_t next)
{
    unsigned char buf[SEQ_SLOT] = {0};
    struct seq_slot sl = {.gen = ob->seq_gen + 1, .next = next};

    memcpy(sl.magic, SEQ_MAGIC, 8);
    sl.check = slot_check(&sl);
    memcpy(buf, &sl, sizeof(sl));
    if (pwrite(ob->seq_fd, buf, sizeof(buf), (off_t)(sl.gen % 2) * SEQ_SLOT) != SEQ_SLOT) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    if (fdatasync(ob->seq_fd) == -1)
        return -1;
    ob->seq_gen = sl.gen;
    ob->seq_reserved = next;
    return 0;
}

/* Open or create the reservation file and start next_seq above it.  A
 * problem is told through storage_problem (the outbox works on). */
static void seq_open(struct outbox *ob)
{
    uint64_t reserved = 0;
    int found, created = access(ob->seq_path, F_OK) != 0;

    ob->db_seq_at_open = ob->next_seq;
    ob->seq_fd = open(ob->seq_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ob->seq_fd == -1) {
        snprintf(ob->storage_problem, sizeof(ob->storage_problem), "seq reservation %.120s: %s",
                 ob->seq_path, strerror(errno));
        return;
    }
    found = seq_read(ob, &reserved);
    if (found == -1) {
        snprintf(ob->storage_problem, sizeof(ob->storage_problem),
                 "seq reservation %.120s: read: %s", ob->seq_path, strerror(errno));
    } else if (found && reserved > ob->next_seq) {
        snprintf(ob->storage_problem, sizeof(ob->storage_problem),
                 "the outbox went back in time (lost writes): its counter gives seq %llu "
                 "next, but seqs up to %llu were handed out; seq continues at %llu",
                 (unsigned long long)ob->next_seq, (unsigned long long)reserved - 1,
                 (unsigned long long)reserved);
        ob->next_seq = reserved;
    } else if (!found && ob->seq_marker) {
        snprintf(ob->storage_problem, sizeof(ob->storage_problem),
                 "seq reservation %.120s %s: seqs handed out before are unknown", ob->seq_path,
                 created ? "lost" : "damaged");
        ob->seq_unknown = 1;
    }
    if (created) {
        /* Both slots allocated now, so later writes overwrite in place. */
        unsigned char zero[2 * SEQ_SLOT] = {0};
        char *copy = strdup(ob->seq_path);
        int dfd = copy != NULL ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

        if (pwrite(ob->seq_fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) ||
            fsync(ob->seq_fd) == -1 || dfd == -1 || fsync(dfd) == -1)
            snprintf(ob->storage_problem, sizeof(ob->storage_problem),
                     "seq reservation %.120s: create: %s", ob->seq_path, strerror(errno));
        if (dfd != -1)
            close(dfd);
        free(copy);
    }
    if (seq_write(ob, ob->next_seq) == -1 && ob->storage_problem[0] == '\0')
        snprintf(ob->storage_problem, sizeof(ob->storage_problem),
                 "seq reservation %.120s: write: %s", ob->seq_path, strerror(errno));
}

int outbox_commit(struct outbox *ob, const struct outbox_cycle *c)
{
    int ret = commit_cycle(ob, c);

    /* I7: before anything of this cycle can be handed out. */
    if (ret != -1 && ob->seq_fd >= 0 && ob->next_seq > ob->seq_reserved &&
        seq_write(ob, ob->next_seq) == -1) {
        snprintf(ob->errmsg, sizeof(ob->errmsg), "seq reservation %.120s: write: %s", ob->seq_path,
                 strerror(errno));
        ob->disk_failed = 1;
        ret = OUTBOX_DISK_FAILED;
    }
    return ret;
}

const char *outbox_storage_problem(const struct outbox *ob)
{
    return ob->storage_problem;
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
    /* Every alarm out before any telemetry: while an alarm is in flight on
     * this sink (handed out just now or before), a later alarm of its
     * sensor may be held back behind it, and telemetry would fill the
     * window ahead of that one (after an outage, thousands of readings). */
    if (alarm_inflight(s))
        return n;
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
    /* 4. telemetry in memory (I10): newer than any on disk */
    for (int i = 0; i < ob->nmemtel && n < max; i++) {
        const struct memrec *m = &ob->memtel[i];

        if (!(m->pending & bit) || inflight_find(s, m->mem_id) >= 0)
            continue;
        if (hand_out(s, &out[n], m->mem_id, 0, OUTBOX_TELEMETRY, m->sensor, m->topic, m->payload,
                     m->payload_len, m->qos, m->retained, 0, m->created_ms, m->pending) != 0)
            break;
        n++;
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
            return 0;
        }
    }
    for (i = 0; i < ob->nmemtel; i++) {
        if (ob->memtel[i].mem_id == id) {
            ob->memtel[i].pending &= ~(1u << sink);
            if (ob->memtel[i].pending == 0) { /* delivered: never written (I10) */
                memrec_free(&ob->memtel[i]);
                memmove(&ob->memtel[i], &ob->memtel[i + 1],
                        (size_t)(ob->nmemtel - i - 1) * sizeof(*ob->memtel));
                ob->nmemtel--;
            }
            return 0;
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
    if (s->inflight[i].cls == OUTBOX_TELEMETRY && s->inflight[i].row > 0 &&
        s->inflight[i].row <= s->tel_cursor)
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
    const void *src = ob->have_mem_state ? ob->mem_state : ob->disk_state;
    size_t n = ob->have_mem_state ? ob->mem_state_len : ob->disk_state_len;

    *blob = NULL;
    *len = 0;
    if (src == NULL)
        return 0; /* none stored */
    *blob = malloc(n > 0 ? n : 1);
    if (*blob == NULL)
        return -1;
    if (n > 0)
        memcpy(*blob, src, n);
    *len = n;
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
                                .next_seq = ob->next_seq,
                                .open_seq = ob->open_seq,
                                .db_seq_at_open = ob->db_seq_at_open,
                                .mem_telemetry = ob->nmemtel,
                                .current_partial = ob->current_partial && !ob->current_seeded,
                                .seq_unknown = ob->seq_unknown};
}

const char *outbox_errmsg(const struct outbox *ob)
{
    return ob->errmsg;
}

void outbox_raise_seq(struct outbox *ob, uint64_t floor)
{
    if (ob->next_seq < floor)
        ob->next_seq = floor; /* I1 holds; written with the next commit */
}

uint64_t outbox_next_seq(const struct outbox *ob)
{
    return ob->next_seq;
}

int outbox_current(struct outbox *ob,
                   void (*fn)(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                              const void *payload, size_t len),
                   void *ctx)
{
    sqlite3_stmt *st;
    int rc, n = 0;

    if (ob->db == NULL) {
        errno = EIO;
        return -1;
    }
    st = ob->st[S_CUR_ALL];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *topic = (const char *)sqlite3_column_text(st, 0);
        const char *sensor = (const char *)sqlite3_column_text(st, 1);
        const void *payload = sqlite3_column_blob(st, 3);
        int len = sqlite3_column_bytes(st, 3), dirty = 0;

        if (topic == NULL || sensor == NULL || (payload == NULL && len > 0)) {
            rc = SQLITE_NOMEM;
            break;
        }
        for (int i = 0; i < ob->ncurdirty && !dirty; i++)
            dirty = strcmp(ob->curdirty[i].topic, topic) == 0;
        if (dirty)
            continue; /* newer in memory: below */
        fn(ctx, topic, sensor, (uint64_t)sqlite3_column_int64(st, 2), payload, (size_t)len);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        errno = rc_to_errno(ob->db, rc);
        db_failed(ob, rc, "read the current state");
        return -1;
    }
    for (int i = 0; i < ob->ncurdirty; i++, n++)
        fn(ctx, ob->curdirty[i].topic, ob->curdirty[i].sensor, ob->curdirty[i].seq,
           ob->curdirty[i].payload, ob->curdirty[i].payload_len);
    return n;
}

int outbox_current_adopt(struct outbox *ob, const char *topic, const char *sensor, uint64_t seq,
                         const void *payload, size_t len)
{
    struct outbox_rec r = {.sensor = sensor,
                           .topic = topic,
                           .payload = payload,
                           .payload_len = len,
                           .qos = 1,
                           .retained = 1,
                           .seq = seq};

    return curdirty_set(ob, &r);
}

void outbox_current_seeded(struct outbox *ob)
{
    ob->current_seeded = 1; /* the flag goes with the next commit */
}

int outbox_topic_pending(struct outbox *ob, unsigned sink, const char *topic)
{
    sqlite3_stmt *st;
    int rc;

    if (sink >= ob->nsinks) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < ob->nmem; i++)
        if ((ob->mem[i].pending & (1u << sink)) && strcmp(ob->mem[i].topic, topic) == 0)
            return 1;
    if (ob->db == NULL) {
        errno = EIO;
        return -1;
    }
    st = ob->st[S_TOPIC_PENDING];
    rc = sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, 1u << sink);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    errno = rc_to_errno(ob->db, rc);
    db_failed(ob, rc, "read pending alarms");
    return -1;
}

/* One record to renumber: its row (0: in memory, then mem is its index). */
struct renum {
    int64_t row;
    char *topic; /* retained alarm topic: its current row follows (I8) */
    uint64_t old_seq, new_seq;
    void *payload;
    size_t len;
};

static int renumber_body(struct outbox *ob, struct txn_delta *d)
{
    const struct renum *r = d->renum;
    int rc = SQLITE_OK;

    for (int i = 0; i < d->nrenum && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st = ob->st[S_RENUMBER_SET];

        if (r[i].row == 0)
            continue;
        rc = sqlite3_bind_int64(st, 1, r[i].row);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 2, (int64_t)r[i].new_seq);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob64(st, 3, r[i].len > 0 ? r[i].payload : "", r[i].len,
                                     SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(st);
    }
    /* I8: a current row naming an old seq follows its record. */
    for (int i = 0; i < d->nrenum && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st = ob->st[S_CUR_RENUM];

        if (r[i].row == 0 || r[i].topic == NULL)
            continue;
        rc = sqlite3_bind_text(st, 1, r[i].topic, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 2, (int64_t)r[i].old_seq);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 3, (int64_t)r[i].new_seq);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob64(st, 4, r[i].len > 0 ? r[i].payload : "", r[i].len,
                                     SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = step_done(st);
    }
    return rc == SQLITE_OK ? write_counters(ob, d) : rc;
}

static void renum_free(struct renum *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].payload);
        free(r[i].topic);
    }
    free(r);
}

int outbox_renumber(struct outbox *ob, uint64_t from,
                    void *(*rewrite)(void *ctx, uint64_t old_seq, uint64_t new_seq,
                                     const void *payload, size_t len, size_t *newlen),
                    void *ctx)
{
    struct renum *r = NULL;
    int n = 0, cap = 0, rc = SQLITE_OK, given = 0;
    uint64_t next = ob->next_seq, prev_old = 0;
    sqlite3_stmt *st;

    if (ob->db == NULL || !ob->db_trusted) {
        errno = EIO;
        return -1;
    }
    /* Disk rows first: their seqs are below memory's (I2). */
    st = ob->st[S_RENUMBER_SEL];
    rc = sqlite3_bind_int64(st, 1, (int64_t)from);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            struct renum *p = realloc(r, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*p));
            if (p == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            r = p;
        }
        const char *topic = (const char *)sqlite3_column_text(st, 3);
        r[n] = (struct renum){.row = sqlite3_column_int64(st, 0),
                              .old_seq = (uint64_t)sqlite3_column_int64(st, 1)};
        if (sqlite3_column_int(st, 4) && topic != NULL && topic[0] != '\0')
            r[n].topic = strdup(topic);
        n++;
        r[n - 1].payload = rewrite(ctx, r[n - 1].old_seq, 0, sqlite3_column_blob(st, 2),
                                   (size_t)sqlite3_column_bytes(st, 2), &r[n - 1].len);
        if (r[n - 1].payload == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        renum_free(r, n);
        errno = rc_to_errno(ob->db, rc);
        return -1;
    }
    /* New seqs in seq order; records that shared one share the new one. */
    for (int i = 0; i < n; i++) {
        if (i > 0 && r[i].old_seq != prev_old)
            next++;
        if (i == 0 || r[i].old_seq != prev_old)
            given++;
        prev_old = r[i].old_seq;
        r[i].new_seq = next;
        free(r[i].payload);
        r[i].payload = NULL;
    }
    if (n > 0)
        next++; /* the first seq for memory alarms */
    /* Payloads again, now with the new seq (the first pass only read them). */
    st = ob->st[S_RENUMBER_SEL];
    rc = sqlite3_bind_int64(st, 1, (int64_t)from);
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW)
            break;
        r[i].payload = rewrite(ctx, r[i].old_seq, r[i].new_seq, sqlite3_column_blob(st, 2),
                               (size_t)sqlite3_column_bytes(st, 2), &r[i].len);
        rc = r[i].payload != NULL ? SQLITE_OK : SQLITE_NOMEM;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_OK) {
        renum_free(r, n);
        errno = rc == SQLITE_NOMEM ? ENOMEM : rc_to_errno(ob->db, rc);
        return -1;
    }
    uint64_t after = next;
    for (int i = 0; i < ob->nmem; i++) /* the seqs memory alarms will take */
        if (ob->mem[i].seq >= from && (i == 0 || ob->mem[i].seq != ob->mem[i - 1].seq))
            after++;
    uint64_t saved_next = ob->next_seq;
    ob->next_seq = after; /* I1: written with the renumbered rows */
    struct txn_delta d = {.renum = r, .nrenum = n};
    rc = n > 0 ? txn_run(ob, renumber_body, &d) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        ob->next_seq = saved_next;
        renum_free(r, n);
        db_failed(ob, rc, "renumber");
        errno = EIO;
        return -1;
    }
    if (n > 0)
        apply_delta(ob, &d);
    renum_free(r, n);
    /* Memory alarms: rewritten in place. */
    uint64_t cur = next;
    int first = 1;
    for (int i = 0; i < ob->nmem; i++) {
        struct memrec *m = &ob->mem[i];
        size_t len;
        void *p;

        if (m->seq < from)
            continue;
        if (!first && m->seq != prev_old)
            cur++;
        if (first || m->seq != prev_old)
            given++;
        first = 0;
        prev_old = m->seq;
        p = rewrite(ctx, m->seq, cur, m->payload, m->payload_len, &len);
        if (p == NULL)
            continue; /* keeps its old payload and seq: a duplicate seq, the lesser evil
                         than losing the alarm (only out of memory) */
        for (int k = 0; k < ob->ncurdirty; k++) {
            struct memrec *cd = &ob->curdirty[k];
            void *q;
            if (cd->seq != m->seq || strcmp(cd->topic, m->topic) != 0 ||
                (q = malloc(len > 0 ? len : 1)) == NULL)
                continue;
            memcpy(q, p, len);
            free(cd->payload);
            cd->payload = q;
            cd->payload_len = len;
            cd->seq = cur;
        }
        free(m->payload);
        m->payload = p;
        m->payload_len = len;
        m->seq = cur;
    }
    return given;
}

/* ---- life cycle ---- */

static void outbox_free(struct outbox *ob)
{
    db_close(ob);
    for (int i = 0; i < ob->nmem; i++)
        memrec_free(&ob->mem[i]);
    for (int i = 0; i < ob->nmemtel; i++)
        memrec_free(&ob->memtel[i]);
    free(ob->memtel);
    for (int i = 0; i < ob->ncurdirty; i++)
        memrec_free(&ob->curdirty[i]);
    free(ob->curdirty);
    free(ob->disk_state);
    free(ob->seq_path);
    if (ob->seq_fd >= 0)
        close(ob->seq_fd);
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
        lim->max_telemetry_bytes <= 0 || lim->max_inflight <= 0 || lim->busy_timeout_ms < 0 ||
        lim->telemetry_spill_ms < 0) {
        snprintf(err, errlen, "outbox: invalid arguments");
        errno = EINVAL;
        return NULL;
    }
    ob = calloc(1, sizeof(*ob));
    if (ob == NULL)
        goto nomem;
    ob->lim = *lim;
    ob->lim.vfs = NULL;      /* the copy in ob->vfs is used */
    ob->lim.seq_path = NULL; /* and ob->seq_path */
    ob->seq_fd = -1;
    ob->nsinks = nsinks;
    ob->next_mem_id = -1;
    ob->path = strdup(path);
    if (ob->path == NULL || (lim->vfs != NULL && (ob->vfs = strdup(lim->vfs)) == NULL) ||
        (lim->seq_path != NULL && (ob->seq_path = strdup(lim->seq_path)) == NULL))
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
    if (ob->seq_path != NULL)
        seq_open(ob);
    else
        ob->db_seq_at_open = ob->next_seq;
    ob->open_seq = ob->next_seq;
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
    ob->spill_all = 1;       /* I10: telemetry not yet delivered survives a restart */
    rc = outbox_commit(ob, NULL);
    if (rc != 0 && rc != OUTBOX_RECOVERED && ob->nmem > 0) {
        snprintf(err, errlen, "%d alarm records not written and lost: %s", ob->nmem, ob->errmsg);
        ret = -1;
    }
    outbox_free(ob);
    return ret;
}
