/*
 * poller: one poller thread per bus (RS-485 port or Modbus TCP endpoint).
 *
 * The thread owns its modbus_t and the schedule of the plan's requests on
 * its bus; it shares nothing else.  Each poll's result goes to the main
 * thread through the rqueue.  Blocking Modbus I/O happens only here.
 */
#ifndef GW_POLLER_H
#define GW_POLLER_H

#include <stdint.h>

#include "rqueue.h"

struct cfg;
struct plan;
struct poller;
struct relay;

/* Failed polls in a row after which a request's sensors are lost (docs/design.md section 8). */
#define POLLER_LOST_AFTER 3

/* How often a lost request is tried (once, no retries): a dead unit costs
 * the others at most one response timeout per this, and its return is seen
 * within it (docs/design.md section 8). */
#define POLLER_LOST_RETRY_MS 7000

/* A poller for bus_index of c, scheduling the plan's requests on that bus.
 * once: poll each request a single time, then the thread ends.
 * c, plan and q must outlive the bus.  Main thread.  NULL with errno. */
struct poller *poller_new(const struct cfg *c, int bus_index, const struct plan *plan,
                          struct rqueue *q, int once);

/* The bus's output modules (relay.h, not owned; must outlive the poller):
 * served ahead of the queued polls.  Before poller_start().  Main thread. */
void poller_set_relay(struct poller *b, struct relay *r);

/* An output was set (relay_want): stop idling and serve it now.  NULL is a
 * no-op.  Main thread. */
void poller_kick(struct poller *b);

/* Start the thread.  0 or -1 with errno.  Main thread. */
int poller_start(struct poller *b);

/* Ask the thread to stop without waiting (stop several buses at once, then
 * poller_stop() each).  Main thread. */
void poller_request_stop(struct poller *b);

/* Ask the thread to stop and join it.  Returns within one response timeout.
 * Safe on a bus never started.  Main thread. */
void poller_stop(struct poller *b);

/* Stop (if running) and free.  poller_free(NULL) is a no-op. */
void poller_free(struct poller *b);

/* Monotonic ms of the thread's last sign of progress (any thread): the
 * watchdog pings only while every bus keeps this fresh. */
int64_t poller_heartbeat_ms(const struct poller *b);

/* How long without a heartbeat means the thread is stuck (any thread). */
int64_t poller_stall_limit_ms(const struct poller *b);

/* Polls made and polls failed since start (any thread). */
uint64_t poller_polls(const struct poller *b);
uint64_t poller_poll_failures(const struct poller *b);

#endif
