/*
 * sink_influx: the InfluxDB writer (influx.h) as a sink of outbox records
 * (sink.h), docs/design.md sections 14, 15.  One batch in flight: the
 * records offered (at most SINK_INFLUX_BATCH points and
 * SINK_INFLUX_BATCH_BYTES) are sent as one write; its fate confirms them all
 * (delivered or rejected for good: done; unreachable or refused: again,
 * after the writer's backoff).  A writer that cannot be set up or is refused
 * raises gateway/influx (selfalarm) and is set up afresh with a backoff,
 * reading the token again.  Main thread only.
 */
#ifndef GW_SINK_INFLUX_H
#define GW_SINK_INFLUX_H

#include <stdint.h>

struct cfg;
struct selfalarm;
struct sink;
struct sink_influx;

/* A batch: at most this many points and bytes (small enough for a slow
 * uplink's timeout). */
#define SINK_INFLUX_BATCH 500
#define SINK_INFLUX_BATCH_BYTES 65536

/* Set the writer up ([influx] must be configured); one that cannot be is
 * retried (sa, not owned, is told).  NULL: ENOMEM. */
struct sink_influx *sink_influx_new(const struct cfg *c, struct selfalarm *sa);
/* Free; a batch in flight stays in the outbox.  NULL is a no-op. */
void sink_influx_free(struct sink_influx *si);
struct sink *sink_influx_sink(struct sink_influx *si);
void sink_influx_set_cfg(struct sink_influx *si, const struct cfg *c);

#endif
