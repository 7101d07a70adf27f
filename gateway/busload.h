/*
 * busload: what the plan asks of each bus's line, and whether the line can
 * give it (docs/design.md section 8.1).  Pure; main thread (--check, the
 * pollers' setup) and any thread on an immutable plan.
 *
 * An RTU transaction holds the line for the gap before the request (at
 * least t3.5), the request, t3.5 and the answer (lib/rtutime.h); a bus is
 * overbooked when its requests' transactions per interval add up to more
 * than the line's time.  Then the urgent kinds (smoke, leak, door: the kind
 * table's `urgent`) keep their intervals and the others share what is left.
 * A TCP endpoint has no line to model: never overbooked here.
 */
#ifndef GW_BUSLOAD_H
#define GW_BUSLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct plan;

struct busload {
    int requests;          /* on the bus */
    int urgent;            /* of them, with an urgent member */
    double asked_tps;      /* transactions per second the intervals ask */
    double line_tps;       /* the most the line carries at this mix of requests (0: tcp) */
    double load;           /* fraction of the line's time asked (0: tcp) */
    double urgent_load;    /* of it, by the urgent requests */
    bool overbooked;       /* load > 1 */
    double others_cycle_s; /* overbooked: the cycle the others get at best */
};

/* The silence kept before request r: the longest of its bus's gap and the
 * `gap` of its members (a slow unit), in microseconds. */
int64_t busload_gap_us(const struct cfg *c, const struct plan *p, int r);

/* Whether request r serves a sensor of an urgent kind. */
bool busload_urgent(const struct cfg *c, const struct plan *p, int r);

/* The time request r holds its RTU line (gap, request, t3.5, answer); 0 on tcp. */
int64_t busload_slot_ns(const struct cfg *c, const struct plan *p, int r);

/* The load of bus b.  Always fills out. */
void busload_of(const struct cfg *c, const struct plan *p, int b, struct busload *out);

/* One line describing an overbooked bus (no newline): what it asks, what
 * the line carries, what the sensors get. */
void busload_describe(const struct busload *l, char *buf, size_t len);

#endif
