/*
 * rqueue: the one bounded queue of poll results from the bus threads to the
 * main thread, with an eventfd the main loop polls to wake up.
 *
 * Full policy: a producer blocks (in slices, so it still notices a stop)
 * until the main thread makes room.  Nothing is dropped: a poll result may
 * carry a link-state change that an alarm depends on, and a full queue only
 * happens when the main thread is stalled, when polling slower is right.
 */
#ifndef GW_RQUEUE_H
#define GW_RQUEUE_H

#include <stdatomic.h>
#include <stdint.h>

#include "plan.h"

enum link_state { LINK_OK, LINK_FAILING, LINK_LOST };

struct poll_result {
    int request;          /* index into plan->requests */
    int ok;               /* 1: the device answered; data is valid */
    int err;              /* errno of the last failure when !ok */
    enum link_state link; /* the request's link state after this poll */
    int failures;         /* consecutive failed polls (0 when ok) */
    int64_t ts_ms;        /* wall clock when the poll completed */
    union {
        uint16_t regs[PLAN_MAX_REGS];
        uint8_t bits[PLAN_MAX_BITS];
    } data;
};

struct rqueue;

/* capacity results; returns NULL with errno set. */
struct rqueue *rqueue_new(int capacity);
void rqueue_free(struct rqueue *q);

/* The fd that becomes readable when results are waiting (main loop polls it). */
int rqueue_fd(const struct rqueue *q);

/* Producer (bus thread): copy r in.  Blocks while full until room appears or
 * *stop becomes non-zero; returns 0, or -1 when stopped before it fit. */
int rqueue_push(struct rqueue *q, const struct poll_result *r, const atomic_int *stop);

/* rqueue_push without waking the consumer: a poller in a burst of polls
 * holds the wake-up for the burst's end (rqueue_wake()), so the main thread
 * wakes once per burst, not once per poll (docs/design.md section 8.1). */
int rqueue_push_held(struct rqueue *q, const struct poll_result *r, const atomic_int *stop);

/* Producer: wake the consumer if results are waiting and it was not woken yet. */
void rqueue_wake(struct rqueue *q);

/* Consumer (main thread): pop one result into *r; returns 1, or 0 when empty.
 * Clears the eventfd when the queue runs empty. */
int rqueue_pop(struct rqueue *q, struct poll_result *r);

/* Current number of queued results (for health figures). */
int rqueue_depth(struct rqueue *q);

#endif
