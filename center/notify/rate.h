/*
 * rate: a sliding-window event counter, for shelter-notify's per-channel
 * rate limits (a robot that takes 20 requests a minute) and per-route alarm
 * flood detection (ISA-18.2: more than 10 alarms in 10 minutes).  It keeps
 * the times of the last limit + 1 events, so it can say both "how many in
 * the window" (up to limit + 1) and "when may the next one go".
 *
 * Pure: the caller passes the time (wall-clock ms, since a limiter's recent
 * requests are restored after a restart).  When the time goes back (a clock
 * step), events recorded after the new time are taken as happening at it:
 * a step never opens the window early, and holds it shut for at most one
 * window.  Any thread, one object per thread.
 */
#ifndef NOTIFY_RATE_H
#define NOTIFY_RATE_H

#include <stdint.h>

struct rate;

/* limit events per window_ms; limit >= 1, window_ms >= 1.  NULL on ENOMEM
 * or EINVAL. */
struct rate *rate_new(int limit, int64_t window_ms);
void rate_free(struct rate *r); /* NULL is a no-op */

/* Record an event at t. */
void rate_add(struct rate *r, int64_t t);

/* Events in the window ending at now, (now - window_ms, now]; at most
 * limit + 1. */
int rate_count(struct rate *r, int64_t now);

/* The earliest time >= now at which one more event keeps the count within
 * the limit: now when it already would, else when the oldest counted event
 * leaves the window. */
int64_t rate_next_free(struct rate *r, int64_t now);

int rate_limit(const struct rate *r);
int64_t rate_window_ms(const struct rate *r);

#endif
