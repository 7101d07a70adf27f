/*
 * sink: what the delivery cycle hands outbox records to (docs/design.md
 * section 11): the MQTT uplink (sink_mqtt.c), the InfluxDB writer
 * (sink_influx.c), or a test's recording fake.  A sink is a small table of
 * functions over its own context; the cycle (delivery.c) asks how many
 * records it takes now, fetches that many from the outbox, offers them, and
 * later takes the sink's confirmations and turns them into outbox_done() or
 * outbox_release().  A sink never touches the outbox itself, so the only way
 * a record reaches a sink is outbox_fetch() after the commit that holds it.
 *
 * Main thread only.  Header only: the interface, no code.
 */
#ifndef GW_SINK_H
#define GW_SINK_H

#include <stdint.h>

#include "outbox.h"

/* The outbox's sink numbers: bit n of outbox_rec.sinks addresses sink n. */
enum { SINK_MQTT = 0, SINK_INFLUX = 1, SINK_COUNT = 2 };

/* The id of a record that is not in the outbox: the current alarm state
 * republished after a connect (sync.h).  Its confirmations are ignored
 * (a failure is redone at the next connect).  No outbox id is this. */
#define SINK_REPUB_ID INT64_MIN

enum sink_outcome {
    SINK_DONE,      /* delivered (or set aside for good): outbox_done() */
    SINK_AGAIN,     /* failed or abandoned: outbox_release(), handed out again */
    SINK_AGAIN_ALL, /* the connection is gone: outbox_release_all() (id unused) */
};

struct sink_confirm {
    int64_t id; /* the outbox_rec.id offered */
    enum sink_outcome outcome;
};

struct sink_ops {
    /* The descriptor to poll for POLLIN, -1 when none now (it may change
     * after timer(): a client set up afresh). */
    int (*fd)(void *ctx);
    /* Milliseconds until the sink needs a call without an fd event (a retry,
     * a client to set up again), at most cap_ms; >= 0. */
    int64_t (*timeout_ms)(void *ctx, int64_t now_ms, int64_t cap_ms);
    /* Begin connecting (once, at start).  0 or -1. */
    int (*start)(void *ctx);
    /* Due work that is not I/O: set a client up afresh after its backoff.
     * Not called while stopping or reloading. */
    void (*timer)(void *ctx, int64_t now_ms);
    /* How many records offer() would take now: 0 when not connected, backing
     * off, or its window is full. */
    int (*room)(void *ctx, int64_t now_ms);
    /* Hand out recs[0..n) in order (n <= room()).  Returns how many it took,
     * a prefix; the cycle hands the rest back to the outbox.  Every record
     * taken gets exactly one confirmation later (the REPUB id: none needed). */
    int (*offer)(void *ctx, const struct outbox_rec *recs, int n);
    /* Do the I/O that is ready, then copy up to max confirmations into out,
     * oldest first.  Returns how many; 0 when none is left. */
    int (*take)(void *ctx, struct sink_confirm *out, int max);
};

/* The ops table of a sink module whose static functions carry the names of
 * the members above (sink_mqtt.c, sink_influx.c; a test's fake may choose
 * other names): `static const struct sink_ops ops = SINK_OPS;`.  The one
 * list of the interface, so a member added is added once. */
#define SINK_OPS                                                                                   \
    {                                                                                              \
        .fd = fd, .timeout_ms = timeout_ms, .start = start, .timer = timer, .room = room,          \
        .offer = offer, .take = take,                                                              \
    }

struct sync;

struct sink {
    const char *name; /* in log lines: "mqtt", "influx" */
    unsigned id;      /* SINK_MQTT, SINK_INFLUX: the outbox's sink number */
    int batch;        /* the most records one offer() takes */
    const struct sink_ops *ops;
    void *ctx;
    struct sync *sync; /* non-NULL: nothing from the outbox until sync_over(), and the
                          sync's republished state before it (sync.h) */
};

#endif
