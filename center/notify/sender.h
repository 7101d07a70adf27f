/*
 * sender: when a channel may send its next request, and what it holds
 * (docs/design.md section 22.4): one notice alone, or a summary of several,
 * so that a robot's rate limit is never exceeded and nothing is dropped.
 *
 * The rules, per channel:
 * - one request at a time (the caller's part), at most rate_limit requests
 *   in any rate_window_ms (plus a margin, so the robot's clock, which sees
 *   the arrivals, agrees);
 * - while fewer than rate_limit - reserve requests went in the window, a
 *   notice that may go alone goes alone, the most severe first;
 * - beyond that, everything pending is merged into summaries (critical
 *   first), so the reserve carries the overflow: never dropped, never over
 *   the limit;
 * - notices that may only go in a summary (a route's alarm flood, the
 *   alarms active at the first start) wait gather_ms for company first;
 * - after an outage, notices older than backlog_ms go as summaries too;
 * - a failure backs off (1 s doubling to 60 s), a rate-limit answer waits a
 *   whole window, a refused key or signature waits 60 s doubling to 10 min:
 *   the notices stay queued, whatever the answer.
 *
 * Pure: the caller passes the time (wall-clock ms) and the pending notices
 * in sending order.  Main thread.
 */
#ifndef NOTIFY_SENDER_H
#define NOTIFY_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "ntext.h"

#define SENDER_MARGIN_MS 2000 /* added to the rate window */

struct sender_policy {
    int rate_limit;         /* requests per window; 0: no limit */
    int64_t rate_window_ms; /* the robot's window (without the margin) */
    int reserve;            /* of rate_limit, kept for summaries; < rate_limit */
    int64_t gather_ms;      /* a summary-only notice waits this long for company */
    int64_t backlog_ms;     /* notices this old go as summaries */
};

/* What the caller knows of a pending notice. */
struct sender_item {
    bool summary_only;
    int why; /* enum ntext_summary, for summary-only notices */
    int64_t created_ms;
    int refusals; /* requests holding it that the channel refused */
};

enum sender_answer {
    SENDER_OK,       /* delivered */
    SENDER_RATE,     /* the robot says too fast (45009, 130101, HTTP 429) */
    SENDER_RETRY,    /* a failure that may pass: no answer, 5xx, a timeout */
    SENDER_REJECTED, /* the channel is set up wrong: bad key, bad signature */
    SENDER_REFUSED,  /* the robot refused this content */
};

enum sender_action { SENDER_WAIT, SENDER_SINGLE, SENDER_SUMMARY };

struct sender_plan {
    enum sender_action action;
    int64_t wake_ms;        /* WAIT: when to ask again (INT64_MAX: when a notice comes) */
    int first;              /* SINGLE: the item's index */
    enum ntext_summary why; /* SUMMARY: the heading */
    /* SUMMARY: which items, in order (indices into the caller's array);
     * the caller sends those that fit one message */
    int *pick;
    int npick;
};

struct sender;

struct sender *sender_new(const struct sender_policy *p); /* NULL: ENOMEM, EINVAL */
void sender_free(struct sender *s);                       /* NULL is a no-op */

/* A request began at t (restore: for each request of the last window). */
void sender_started(struct sender *s, int64_t t);

/* The answer to the request in flight, at now. */
void sender_answer(struct sender *s, enum sender_answer a, int64_t now);

/* The next step for n pending items (sending order: fewest refusals, most
 * severe, oldest).  plan->pick must have room for n indices. */
void sender_next(struct sender *s, const struct sender_item *items, int n, int64_t now,
                 struct sender_plan *plan);

/* When the channel is blocked by a backoff, until when (0: not blocked). */
int64_t sender_blocked_until(const struct sender *s);

#endif
