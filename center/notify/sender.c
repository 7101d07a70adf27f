/*
 * sender: see sender.h.  A rate window (rate.c) of request start times and
 * a backoff; sender_next() is a short list of rules in order.
 */
#include "sender.h"

#include <errno.h>
#include <stdlib.h>

#include "rate.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define REJECTED_MIN_MS 60000
#define REJECTED_MAX_MS 600000

struct sender {
    struct sender_policy p;
    struct rate *rate; /* NULL: no limit */
    int64_t blocked_until;
    int64_t backoff_ms, rejected_ms;
};

struct sender *sender_new(const struct sender_policy *p)
{
    struct sender *s;

    if (p->rate_limit < 0 || (p->rate_limit > 0 && p->rate_window_ms <= 0) || p->reserve < 0 ||
        (p->rate_limit > 0 && p->reserve >= p->rate_limit)) {
        errno = EINVAL;
        return NULL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->p = *p;
    if (p->rate_limit > 0 &&
        (s->rate = rate_new(p->rate_limit, p->rate_window_ms + SENDER_MARGIN_MS)) == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void sender_free(struct sender *s)
{
    if (s != NULL) {
        rate_free(s->rate);
        free(s);
    }
}

void sender_started(struct sender *s, int64_t t)
{
    if (s->rate != NULL)
        rate_add(s->rate, t);
}

static int64_t doubled(int64_t cur, int64_t lo, int64_t hi)
{
    int64_t next = cur < lo ? lo : cur * 2;
    return next > hi ? hi : next;
}

void sender_answer(struct sender *s, enum sender_answer a, int64_t now)
{
    switch (a) {
    case SENDER_OK:
        s->blocked_until = 0;
        s->backoff_ms = 0;
        s->rejected_ms = 0;
        break;
    case SENDER_RATE:
        /* The robot counts differently from us: give it a whole window. */
        s->blocked_until = now + (s->p.rate_window_ms > 0 ? s->p.rate_window_ms : 60000);
        break;
    case SENDER_RETRY:
    case SENDER_REFUSED:
        s->backoff_ms = doubled(s->backoff_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
        s->blocked_until = now + s->backoff_ms;
        break;
    case SENDER_REJECTED:
        s->rejected_ms = doubled(s->rejected_ms, REJECTED_MIN_MS, REJECTED_MAX_MS);
        s->blocked_until = now + s->rejected_ms;
        break;
    }
}

int64_t sender_blocked_until(const struct sender *s)
{
    return s->blocked_until;
}

static void wait_until(struct sender_plan *plan, int64_t t)
{
    plan->action = SENDER_WAIT;
    plan->wake_ms = t;
}

/* A summary of the items that pass `want`, in order; why from the first
 * one's reason unless given. */
static void summary_of(struct sender_plan *plan, const struct sender_item *items, int n,
                       bool only_summary, int why)
{
    plan->action = SENDER_SUMMARY;
    plan->npick = 0;
    for (int i = 0; i < n; i++) {
        if (items[i].refusals > 0)
            continue; /* one refused content must not sink a summary */
        if (only_summary && !items[i].summary_only)
            continue;
        plan->pick[plan->npick++] = i;
    }
    if (why >= 0)
        plan->why = (enum ntext_summary)why;
    else
        plan->why = plan->npick > 0 ? (enum ntext_summary)items[plan->pick[0]].why : NTEXT_SUM_RATE;
}

void sender_next(struct sender *s, const struct sender_item *items, int n, int64_t now,
                 struct sender_plan *plan)
{
    int64_t oldest_summary = INT64_MAX, oldest = INT64_MAX;
    int first_single = -1, fresh = 0;
    bool singles_ok = true;

    plan->npick = 0;
    plan->first = -1;
    plan->why = NTEXT_SUM_RATE;
    if (n <= 0) {
        wait_until(plan, INT64_MAX);
        return;
    }
    if (s->blocked_until > now) {
        wait_until(plan, s->blocked_until);
        return;
    }
    if (s->rate != NULL) {
        int64_t free_at = rate_next_free(s->rate, now);
        if (free_at > now) {
            wait_until(plan, free_at);
            return;
        }
        singles_ok = rate_count(s->rate, now) < s->p.rate_limit - s->p.reserve;
    }
    for (int i = 0; i < n; i++) {
        if (items[i].refusals == 0)
            fresh++;
        if (items[i].created_ms < oldest)
            oldest = items[i].created_ms;
        if (items[i].summary_only) {
            if (items[i].created_ms < oldest_summary)
                oldest_summary = items[i].created_ms;
        } else if (first_single < 0) {
            first_single = i;
        }
    }
    /* Back from an outage: the old ones together. */
    if (fresh > 1 && oldest + s->p.backlog_ms <= now) {
        summary_of(plan, items, n, false, NTEXT_SUM_BACKLOG);
        return;
    }
    if (oldest_summary != INT64_MAX && oldest_summary + s->p.gather_ms <= now) {
        summary_of(plan, items, n, true, -1);
        if (plan->npick > 0)
            return;
    }
    if (first_single >= 0 && (singles_ok || fresh == 0)) {
        plan->action = SENDER_SINGLE;
        plan->first = first_single;
        return;
    }
    if (first_single >= 0 && fresh > 0) {
        /* Over the share for single notices: everything in summaries (a
         * summary of one would only be harder to read). */
        summary_of(plan, items, n, false, NTEXT_SUM_RATE);
        if (plan->npick == 1 && !items[plan->pick[0]].summary_only) {
            plan->action = SENDER_SINGLE;
            plan->first = plan->pick[0];
            plan->npick = 0;
        }
        if (plan->npick > 0 || plan->action == SENDER_SINGLE)
            return;
    }
    if (oldest_summary != INT64_MAX) {
        if (oldest_summary + s->p.gather_ms > now) {
            wait_until(plan, oldest_summary + s->p.gather_ms);
            return;
        }
        /* Only refused summary-only notices are left: one at a time. */
        for (int i = 0; i < n; i++)
            if (items[i].summary_only) {
                plan->action = SENDER_SINGLE;
                plan->first = i;
                return;
            }
    }
    wait_until(plan, INT64_MAX);
}
