/*
 * sync: after every (re)connect, the gateway's alarm state at the broker is
 * made whole before anything of the outbox is published (docs/design.md
 * sections 12, 14).  The broker sends back the gateway's own retained alarm
 * messages, ended by a message on its own status topic (subscribed in the
 * same SUBSCRIBE after alarm/#); or SYNC_TIMEOUT_MS passes.  Then the sync
 * (1) detects storage that went back (the broker holds a seq of this run
 * that this run never sent: seq jumps, what is pending is numbered anew,
 * gateway/disk is raised), (2) lists the current alarm state to republish
 * where the broker's copy is missing or different: each topic's last
 * transition as it was (same seq, same bytes), never over a newer one.
 *
 * The MQTT sink feeds it (start, messages, stop); the delivery cycle asks
 * sync_over() before handing the sink anything and hands out the republished
 * state first (sink.h: struct sink's sync).  Main thread only.
 */
#ifndef GW_SYNC_H
#define GW_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct outbox;
struct outbox_rec;
struct selfalarm;
struct sync;

#define SYNC_TIMEOUT_MS 5000 /* reading back the broker's retained alarms after a connect */

/* For the outbox ob and the gateway alarms sa (neither owned); first_seq is
 * this run's first seq (after every jump at open).  NULL: ENOMEM or a topic
 * too long. */
struct sync *sync_new(const struct cfg *c, struct outbox *ob, struct selfalarm *sa,
                      uint64_t first_seq);
void sync_free(struct sync *sy); /* NULL is a no-op */
void sync_set_cfg(struct sync *sy, const struct cfg *c);

/* Connected at now_ms: the broker is sending our retained alarms back. */
void sync_start(struct sync *sy, int64_t now_ms);
/* Disconnected, or a new client: nothing is synced until the next start;
 * what was still to be republished is dropped (redone then). */
void sync_stop(struct sync *sy);
/* One retained alarm message of ours, sent back during the sync (ignored
 * when no sync is running: our own publishes coming back). */
void sync_take(struct sync *sy, const char *topic, const void *payload, size_t len);
/* Our status message came back: the broker has sent all our retained
 * alarms.  The next sync_over() finishes the sync (ignored when no sync is
 * running). */
void sync_end(struct sync *sy);

/* May the outbox be handed out?  True once the sync after the last start
 * is over.  It ends here: complete after sync_end(), or incomplete (nothing
 * known, so the whole current state is republished) past its deadline.
 * Call it after the sink's confirmations were applied. */
bool sync_over(struct sync *sy, int64_t now_ms);
/* Milliseconds until sync_over() has something to do, at most cap_ms. */
int64_t sync_next_ms(const struct sync *sy, int64_t now_ms, int64_t cap_ms);

/* The next record of the current state to publish again before the outbox
 * (id SINK_REPUB_ID, valid until the next sync call), NULL when none is left;
 * sync_repub_taken(): the sink took it. */
const struct outbox_rec *sync_repub_next(struct sync *sy);
void sync_repub_taken(struct sync *sy);

/* A record with this seq was handed to the broker (the highest tells apart
 * a seq this run sent from one it never did). */
void sync_sent(struct sync *sy, uint64_t seq);

#endif
