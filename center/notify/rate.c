/*
 * rate: see rate.h.  A ring of the last limit + 1 event times, newest at
 * head - 1, never decreasing from oldest to newest (times after a clock step
 * back are lowered to the new time, which keeps the order), so the events
 * in the window are found by walking back from the newest.
 */
#include "rate.h"

#include <errno.h>
#include <stdlib.h>

struct rate {
    int limit, cap, n, head; /* cap = limit + 1 slots; n used; head: next slot */
    int64_t window_ms;
    int64_t t[];
};

struct rate *rate_new(int limit, int64_t window_ms)
{
    struct rate *r;

    if (limit < 1 || limit > 1000000 || window_ms < 1) {
        errno = EINVAL;
        return NULL;
    }
    r = calloc(1, sizeof(*r) + (size_t)(limit + 1) * sizeof(int64_t));
    if (r == NULL)
        return NULL;
    r->limit = limit;
    r->cap = limit + 1;
    r->window_ms = window_ms;
    return r;
}

void rate_free(struct rate *r)
{
    free(r);
}

/* The i-th newest stored time (0 = newest). */
static int64_t *nth_newest(struct rate *r, int i)
{
    return &r->t[(r->head - 1 - i + 2 * r->cap) % r->cap];
}

/* A clock step back: what was recorded after now happened at now. */
static void settle(struct rate *r, int64_t now)
{
    for (int i = 0; i<r->n && * nth_newest(r, i)> now; i++)
        *nth_newest(r, i) = now;
}

void rate_add(struct rate *r, int64_t t)
{
    settle(r, t);
    r->t[r->head] = t;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
}

int rate_count(struct rate *r, int64_t now)
{
    int c = 0;

    settle(r, now);
    while (c<r->n && * nth_newest(r, c)> now - r->window_ms)
        c++;
    return c;
}

int64_t rate_next_free(struct rate *r, int64_t now)
{
    if (rate_count(r, now) < r->limit)
        return now;
    /* limit events or more in the window: one more may go when the
     * limit-th newest has left it. */
    return *nth_newest(r, r->limit - 1) + r->window_ms;
}

int rate_limit(const struct rate *r)
{
    return r->limit;
}

int64_t rate_window_ms(const struct rate *r)
{
    return r->window_ms;
}
