/*
 * store: shelter-notify's durable state (docs/design.md section 22.3), one
 * SQLite database {state_dir}/notify.db in WAL mode with synchronous=FULL:
 *
 *   seen      (gateway, seq) pairs taken, so a duplicate is sent once
 *   alarms    the current state of every alarm topic (the newest seq)
 *   gateways  online or offline, since when, last seen
 *   timers    escalations and offline checks that are due later
 *   outq      notices waiting for their channel (one row per channel)
 *   sent      the recent requests per channel (the rate limit, across restarts)
 *
 * Guarantees (the invariants are at the top of store.c):
 * - What the caller writes between store_begin() and a store_commit() that
 *   returned 0 is on disk, all or nothing; the caller releases a message to
 *   the broker (its PUBACK) only after that.
 * - A notice leaves outq only through store_out_done(), in the transaction
 *   that records its channel's success; nothing else deletes it.
 *
 * Main thread only.  No logging: functions return -1 and store_errmsg()
 * says why.  Strings returned in structs are malloc'd and freed by the
 * matching *_release() function.
 */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Open or create {dir}/notify.db.  NULL with err on failure (a database
 * that is not ours, or one that fails its quick_check, is moved aside as
 * notify.db.broken-TIME and a fresh one made; *fresh tells the caller a new
 * database was made: its first start). */
struct store *store_open(const char *dir, bool *fresh, char *err, size_t errlen);
void store_close(struct store *s); /* NULL is a no-op */
const char *store_errmsg(const struct store *s);
const char *store_path(const struct store *s);

/* One transaction.  begin: 0 or -1 (the database is reopened on the next
 * begin after an I/O error).  commit: 0 when durable; -1 and rolled back.
 * rollback: always leaves no transaction open. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* ---- meta: small integers by name ---- */
int store_meta_get(struct store *s, const char *k, int64_t *v); /* 1 found, 0 not, -1 */
int store_meta_set(struct store *s, const char *k, int64_t v);

/* ---- seen: (gateway topic base, seq) with flags ---- */
#define STORE_SEEN_TRACKED 1 /* its state went into alarms */
#define STORE_SEEN_HANDLED 2 /* its notices went into outq (this instance's duty) */
/* The flags recorded for (base, seq): 0 when never seen; -1 on error. */
int store_seen_get(struct store *s, const char *base, uint64_t seq);
/* Add flags to (base, seq), recording it at now_ms if new. */
int store_seen_add(struct store *s, const char *base, uint64_t seq, int flags, int64_t now_ms);
/* Forget pairs recorded before before_ms; returns how many, or -1. */
int64_t store_seen_prune(struct store *s, int64_t before_ms);

/* ---- alarms: the newest state of each alarm topic ---- */
struct store_alarm {
    char *topic, *base, *event;
    uint64_t seq;
    bool active, acked;
    int sev; /* rank: 0 critical .. 3 info, 4 unknown */
    int64_t ts_ms;
    char *payload; /* the message as received, NUL-terminated */
    size_t len;
};
/* Store a's state when it is newer than what is stored (a higher seq, or
 * the same seq: a duplicate changes nothing).  1 stored, 0 older, -1. */
int store_alarm_put(struct store *s, const struct store_alarm *a);
/* 1 and *a (release it), 0 when unknown, -1. */
int store_alarm_get(struct store *s, const char *topic, struct store_alarm *a);
/* Call fn for every stored alarm that is active, in topic order; fn
 * returns 0 to go on.  -1 on error. */
int store_alarm_each_active(struct store *s, int (*fn)(const struct store_alarm *a, void *ctx),
                            void *ctx);
void store_alarm_release(struct store_alarm *a);

/* ---- gateways ---- */
struct store_gateway {
    char *base;
    bool online;
    int64_t since_ms;  /* when the current state (online or offline) began */
    int64_t seen_ms;   /* last seen online */
    int64_t outage_ms; /* online: how long the last outage lasted (0: none known) */
    bool off_noticed;  /* an offline notice was queued for the current (or last) outage */
    bool on_noticed;   /* an online notice was queued after the last outage */
    char *name;        /* display name from its last status, or NULL */
};
int store_gateway_get(struct store *s, const char *base, struct store_gateway *g); /* 1, 0, -1 */
int store_gateway_put(struct store *s, const struct store_gateway *g);
int store_gateway_each(struct store *s, int (*fn)(const struct store_gateway *g, void *ctx),
                       void *ctx);
void store_gateway_release(struct store_gateway *g);

/* ---- timers ---- */
enum store_timer_kind { STORE_TIMER_ESCALATE = 1, STORE_TIMER_OFFLINE = 2 };
struct store_timer {
    int64_t id;
    enum store_timer_kind kind;
    int64_t due_ms;
    char *key;        /* escalate: the alarm topic; offline: the gateway base */
    uint64_t seq;     /* escalate: the raise's seq */
    char *route;      /* escalate: the route whose people were told last */
    int step;         /* escalate: 1 for the first escalation */
    int64_t since_ms; /* escalate: when the alarm was raised; offline: when it went offline */
};
int64_t store_timer_add(struct store *s, const struct store_timer *t); /* its id, or -1 */
int store_timer_del(struct store *s, int64_t id);
/* Delete every timer of kind on key; returns how many, or -1. */
int store_timer_del_key(struct store *s, enum store_timer_kind kind, const char *key);
/* The earliest due time, or INT64_MAX when none; -1 on error (*due unset). */
int store_timer_next(struct store *s, int64_t *due);
/* Up to max timers due at or before now, earliest first, into t; returns
 * how many, or -1.  Release each. */
int store_timer_due(struct store *s, int64_t now_ms, struct store_timer *t, int max);
void store_timer_release(struct store_timer *t);

/* ---- outq: notices per channel ---- */
enum store_out_kind {
    STORE_OUT_ALARM = 1,   /* an alarm transition (topic, seq, body: its payload) */
    STORE_OUT_OFFLINE = 2, /* a gateway offline (topic: its base, body: its status) */
    STORE_OUT_ONLINE = 3,  /* ... back online */
};
struct store_out {
    int64_t id;
    char *channel, *route;
    enum store_out_kind kind;
    int sev;      /* rank, for "critical first" */
    bool summary; /* only in a summary (a flood, the alarms active at the first start) */
    int why;      /* enum ntext_summary when summary */
    int64_t created_ms;
    char *topic;
    uint64_t seq;
    int step; /* escalation step, 0 when not escalated */
    char *from_route;
    int64_t unacked_ms; /* escalated: for how long nobody acknowledged */
    int64_t ts_ms;      /* offline: when it went offline; online: when it came back */
    int64_t seen_ms;    /* offline/online: last seen before the outage */
    char *body;
    size_t len;
    int refusals; /* times the channel refused a request holding it */
};
int64_t store_out_add(struct store *s, const struct store_out *o); /* its id, or -1 */
/* Up to max pending notices of channel in sending order (fewest refusals,
 * most severe, oldest), into o; returns how many, or -1.  Release each. */
int store_out_pending(struct store *s, const char *channel, struct store_out *o, int max);
/* How many notices channel has pending, -1 on error. */
int64_t store_out_count(struct store *s, const char *channel);
/* Call fn(channel, count) for every channel with pending notices.  0 or -1. */
int store_out_channels(struct store *s, void (*fn)(const char *channel, int64_t n, void *ctx),
                       void *ctx);
/* The channel delivered these: delete them. */
int store_out_done(struct store *s, const int64_t *ids, int n);
/* The channel refused a request holding these: count it against them. */
int store_out_refused(struct store *s, const int64_t *ids, int n);
void store_out_release(struct store_out *o);

/* ---- sent: request times per channel ---- */
int store_sent_add(struct store *s, const char *channel, int64_t at_ms);
/* Times of channel's requests at or after since_ms, oldest first, up to
 * max; returns how many, or -1. */
int store_sent_since(struct store *s, const char *channel, int64_t since_ms, int64_t *at, int max);
/* Forget requests before before_ms. */
int store_sent_prune(struct store *s, int64_t before_ms);

#endif
