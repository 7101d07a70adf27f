/*
 * outbox: the durable store between the alarm engine and the senders
 * (docs/design.md sections 1, 11).  One SQLite database, {state_dir}/outbox.db, in WAL mode with
 * synchronous=FULL.  Each evaluation cycle is ONE transaction holding the
 * cycle's alarm records, the alarm engine's state blob, the sequence counter,
 * the cycle's telemetry and the deliveries confirmed since the last cycle;
 * nothing is handed to a sender before the cycle that made it has returned.
 *
 * Records are addressed to a subset of up to OUTBOX_MAX_SINKS sinks (the
 * caller numbers them, e.g. 0 = MQTT, 1 = InfluxDB); a record is deleted once
 * every sink it was addressed to has confirmed it (outbox_done).
 *
 * Guarantees:
 * - Alarms are never dropped.  When the disk is full or failing the cycle's
 *   alarms (with their seq) are kept in memory, handed to senders all the
 *   same, and written at the next cycle that succeeds.
 * - seq is per gateway, consecutive and never reused: the counter is
 *   committed with the alarms that used it and never goes back, even when a
 *   commit's fate is unknown.  Belt and braces against storage that goes
 *   back in time (a WAL cut short by a power cut, a full disk, a deleted
 *   database): before any seq is handed out it is also recorded in a small
 *   reservation file outside the database (lim->seq_path: two checksummed
 *   slots overwritten in place, so it needs no free space), and at open the
 *   counter starts above both.  A counter behind the reservation means the
 *   database lost writes it had reported durable: outbox_storage_problem()
 *   says so, for the gateway/disk alarm.  The caller's second check is the
 *   broker (the highest seq of its own retained messages): see
 *   outbox_raise_seq() and outbox_renumber().
 * - The current alarm state: per retained alarm topic, the newest record
 *   ever committed for it (same seq, same bytes), kept in the transaction
 *   that committed it, so it always matches the engine state committed with
 *   it; outbox_current() lists it for republishing after a reconnect.
 * - Flash wear: the engine state is stored in chunks and a commit writes only
 *   the chunks that changed (an unchanged state costs nothing).  With
 *   lim->telemetry_spill_ms > 0 telemetry stays in memory while it is being
 *   delivered and is written only when it is still pending that long later
 *   (or at close); a power cut loses at most that much telemetry, never an
 *   alarm.
 * - Telemetry is bounded by rows and payload bytes; when over, the OLDEST
 *   telemetry is deleted and counted.  The cap never touches alarms.
 * - Hand-out order: alarms before telemetry; within a class in commit order,
 *   so per sensor too.  An alarm is not handed out while an earlier alarm of
 *   the same sensor is in flight on that sink, so a retried publish can never
 *   overtake (and leave a stale retained state behind) a newer transition.
 *
 * Not thread-safe: main thread only.  No logging: functions return a status
 * and outbox_errmsg() tells what went wrong; the caller logs.
 */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define OUTBOX_MAX_SINKS 8

enum outbox_class { OUTBOX_ALARM = 0, OUTBOX_TELEMETRY = 1 };

/* Return values of outbox_commit() besides 0 (durable) and -1 (errno). */
enum {
    OUTBOX_RECOVERED = 1,   /* durable, but only after an I/O error made us reopen
                               and verify the database: log outbox_errmsg() */
    OUTBOX_DISK_FAILED = 2, /* NOT durable: the disk is full or failing; alarms are
                             held in memory, this cycle's telemetry was dropped.
                             Raise the gateway's `disk` alarm; retried each cycle. */
};

struct outbox_limits {
    int64_t max_telemetry_rows;  /* cap on pending telemetry rows (> 0) */
    int64_t max_telemetry_bytes; /* cap on their payload bytes (> 0) */
    int max_inflight;            /* records handed out and unconfirmed, per sink */
    int busy_timeout_ms;         /* another writer (never ours): wait this long */
    const char *vfs;             /* SQLite VFS name, NULL = default: the I/O seam
                                    through which tests inject disk faults */
    const char *seq_path;        /* the seq reservation file; NULL = none (tests,
                                    ":memory:").  Keep it beside, not inside, the
                                    database's files: it must outlive them */
    int64_t telemetry_spill_ms;  /* 0: telemetry is written with its cycle; > 0: kept
                                    in memory and written when still pending this long */
};

/* One record.  In outbox_commit() the caller fills everything but id and
 * the outbox copies it; in outbox_fetch() the outbox fills it all. */
struct outbox_rec {
    int64_t id;            /* handle for outbox_done/release, never reused;
                              < 0 while the record is held in memory (it
                              stays valid after the record reaches disk) */
    enum outbox_class cls; /* set by the outbox on fetch */
    const char *sensor;    /* ordering key and diagnostics; not NULL */
    const char *topic;     /* MQTT topic ("" for sinks without topics) */
    const void *payload;
    size_t payload_len;
    int qos;            /* 0..2 */
    int retained;       /* 0 or 1 */
    uint64_t seq;       /* alarms: see outbox_commit; telemetry: 0 */
    int64_t created_ms; /* wall clock, ms */
    unsigned sinks;     /* commit: addressed sinks (bit n = sink n);
                           fetch: sinks still to confirm */
};

/* One evaluation cycle.  Alarm records carry seq: the first equals
 * outbox_next_seq(), each next one equals the previous or the previous + 1
 * (records of one transition, e.g. its MQTT and its InfluxDB record, share a
 * seq).  So the caller reads outbox_next_seq(), builds its payloads with
 * seq = next, next + 1, ..., then commits; nothing may commit in between. */
struct outbox_cycle {
    const struct outbox_rec *alarms;
    int nalarms;
    const struct outbox_rec *telemetry;
    int ntelemetry;
    const void *state; /* the alarm engine's state; NULL = keep the stored one */
    size_t state_len;
};

struct outbox_stats {
    int64_t alarm_rows;        /* pending alarms on disk */
    int64_t telemetry_rows;    /* pending telemetry on disk */
    int64_t telemetry_bytes;   /* their payload bytes */
    int64_t telemetry_dropped; /* persisted total dropped by cap or full disk */
    int mem_alarms;            /* alarm records held in memory only */
    int disk_failed;           /* the last write failed; cleared by a good commit */
    int64_t io_errors;         /* database reopens after I/O errors, this run */
    uint64_t next_seq;
    uint64_t open_seq;       /* next_seq right after open: this run's first seq */
    uint64_t db_seq_at_open; /* the database's own counter at open (before the
                                reservation): a seq at or above it that the centre
                                has seen means the database lost writes */
    int mem_telemetry;       /* telemetry records held in memory */
    int seq_unknown;         /* the reservation file was lost or damaged: the
                                caller must jump seq (e.g. to the wall clock) */
    int current_partial;     /* upgraded from a version without the current state:
                                it lacks transitions older than the upgrade until
                                the caller seeds it (outbox_current_adopt) */
};

struct outbox;

/* Open or create the outbox at path (its directory must exist; ":memory:"
 * gives an outbox that lives only as long as the process) with nsinks
 * sinks (1..OUTBOX_MAX_SINKS); lim NULL = defaults (100000 rows, 64 MiB,
 * 64 in flight, 1 s busy timeout).  An existing database keeps its pending records, seq
 * counter and state.  The database is checked (quick_check).  Returns NULL
 * with errno set (EUCLEAN: the database is corrupt) and a reason in err. */
struct outbox *outbox_open(const char *path, const struct outbox_limits *lim, unsigned nsinks,
                           char *err, size_t errlen);

/* Write what is pending (confirmations, in-memory alarms) and close.
 * Returns 0, or -1 when in-memory alarms could not be written and are lost
 * (why is in err).  ob NULL is a no-op returning 0. */
int outbox_close(struct outbox *ob, char *err, size_t errlen);

/* Never hand out a seq below floor from now on (written with the next
 * commit).  For a fresh outbox that replaces a lost one: seqs the centre has
 * seen must not come again. */
void outbox_raise_seq(struct outbox *ob, uint64_t floor);

/* "" when the storage behaved, else what went wrong at open that the
 * gateway/disk alarm must tell: the database lost writes (its seq counter
 * was behind the reservation), the reservation file was lost, damaged or
 * cannot be written.  Valid until outbox_close(). */
const char *outbox_storage_problem(const struct outbox *ob);

/* Give the alarm records with seq >= from (pending; a record in flight on a
 * sink keeps its old payload there: hold them back first) new seqs from outbox_next_seq() on, in
 * seq order (records that shared a seq still share one); rewrite(ctx, old, new, payload, len) makes
 * each record's new payload (malloc'd, *newlen set; NULL: out of memory).
 * For the storage that went back so far that seqs of this run were seen at
 * the centre already.  Returns how many seqs were given anew, or -1. */
int outbox_renumber(struct outbox *ob, uint64_t from,
                    void *(*rewrite)(void *ctx, uint64_t old_seq, uint64_t new_seq,
                                     const void *payload, size_t len, size_t *newlen),
                    void *ctx);

/* Call fn for every retained alarm topic's newest committed record (the
 * gateway's current alarm state as last committed), in seq order.  fn's
 * arguments are valid during the call only.  Returns the count, or -1. */
int outbox_current(struct outbox *ob,
                   void (*fn)(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                              const void *payload, size_t len),
                   void *ctx);

/* Make a record the current state of its topic (unless a newer one is): for
 * a retained message of ours the broker kept and the outbox lost.  Written
 * with the next commit.  0 or -1 (ENOMEM). */
int outbox_current_adopt(struct outbox *ob, const char *topic, const char *sensor, uint64_t seq,
                         const void *payload, size_t len);

/* The caller has adopted what the broker still had: the current state is
 * complete from now on (stored with the next commit). */
void outbox_current_seeded(struct outbox *ob);

/* Is an alarm record for topic still pending on sink (on disk or in memory)?
 * 1, 0, or -1 when the database cannot be read. */
int outbox_topic_pending(struct outbox *ob, unsigned sink, const char *topic);

/* The seq the next committed alarm transition gets. */
uint64_t outbox_next_seq(const struct outbox *ob);

/* Commit one cycle (see struct outbox_cycle) together with the confirmations
 * and in-memory alarms still pending; c NULL commits only those.  Returns 0,
 * OUTBOX_RECOVERED or OUTBOX_DISK_FAILED (the alarms are kept either way), or -1
 * with errno EINVAL (bad cycle: nothing taken) or ENOMEM. */
int outbox_commit(struct outbox *ob, const struct outbox_cycle *c);

/* Hand out up to max records pending for sink, alarms first, and mark them
 * in flight on that sink; at most lim->max_inflight are in flight per sink.
 * No telemetry is handed out while an alarm is in flight on the sink, so
 * every pending alarm is confirmed before any telemetry goes (after an
 * outage: the alarms first, then the backlog).
 * Every record handed out must end in outbox_done() or outbox_release()
 * (or release_all): until then its sensor's later alarms are held back.
 * Returns how many were written to out, or -1 (EINVAL).  Strings and
 * payloads stay valid until the next outbox_fetch() for the same sink or
 * outbox_close().  While the database is unreadable only in-memory alarms
 * are handed out. */
int outbox_fetch(struct outbox *ob, unsigned sink, struct outbox_rec *out, int max);

/* The publish of record id on sink succeeded.  Takes effect in memory at once;
 * on disk with the next outbox_commit() (a crash in between means a
 * duplicate, never a loss).  Unknown ids are ignored.  Returns 0 or -1 (EINVAL). */
int outbox_done(struct outbox *ob, int64_t id, unsigned sink);

/* The publish of record id on sink failed or was abandoned: hand it out again.
 * release_all: the sink lost its connection; everything is handed out anew. */
void outbox_release(struct outbox *ob, int64_t id, unsigned sink);
void outbox_release_all(struct outbox *ob, unsigned sink);

/* The alarm engine's last committed state, for restoring it after a restart:
 * *blob is malloc'd (caller frees) or NULL with *len 0 when none is stored.
 * Returns 0 or -1 with errno. */
int outbox_state_load(struct outbox *ob, void **blob, size_t *len);

/* Small persistent settings (e.g. "mode" after a cmd/mode).  get: copies the
 * value into buf and returns 1, 0 when unset, -1 on error.  set: its own
 * transaction; returns 0 or -1 (the value is not stored). */
int outbox_meta_get(struct outbox *ob, const char *key, char *buf, size_t len);
int outbox_meta_set(struct outbox *ob, const char *key, const char *value);

void outbox_stats(const struct outbox *ob, struct outbox_stats *st);

/* What the last failing or recovered call ran into, for the caller's log line. */
const char *outbox_errmsg(const struct outbox *ob);

#endif
