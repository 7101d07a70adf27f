/*
 * busload: see busload.h.  The figures are the wire model of lib/rtutime.h,
 * the same one shelter-sim --wire-time enforces, so --check's verdict and
 * the bench agree.
 */
#include "busload.h"

#include <stdio.h>

#include "cfg.h"
#include "kind.h"
#include "plan.h"
#include "rtutime.h"

int64_t busload_gap_us(const struct cfg *c, const struct plan *p, int r)
{
    const struct plan_request *rq = &p->requests[r];
    int64_t gap = c->buses[rq->bus].gap_us;

    for (int m = 0; m < rq->nmembers; m++) {
        const struct cfg_sensor *s = &c->sensors[p->members[rq->first_member + m]];
        if (s->gap_ms >= 0 && (int64_t)s->gap_ms * 1000 > gap)
            gap = (int64_t)s->gap_ms * 1000;
    }
    return gap;
}

bool busload_urgent(const struct cfg *c, const struct plan *p, int r)
{
    const struct plan_request *rq = &p->requests[r];

    for (int m = 0; m < rq->nmembers; m++) {
        const struct kind_def *k = kind_def(c->sensors[p->members[rq->first_member + m]].def.kind);
        if (k != NULL && k->urgent)
            return true;
    }
    return false;
}

int64_t busload_slot_ns(const struct cfg *c, const struct plan *p, int r)
{
    const struct plan_request *rq = &p->requests[r];
    const struct cfg_bus *b = &c->buses[rq->bus];

    if (b->type != BUS_RTU || b->baud <= 0)
        return 0;
    int bits = rtutime_char_bits(b->data_bits, b->parity, b->stop_bits);
    int64_t t35 = rtutime_silence_ns(b->baud, bits);
    int64_t gap = busload_gap_us(c, p, r) * 1000;
    /* the wire bound holds t3.5 before the request; a longer gap replaces it */
    return rtutime_read_transaction_ns(b->baud, bits, (int)rq->fn, rq->count) +
           (gap > t35 ? gap - t35 : 0);
}

void busload_of(const struct cfg *c, const struct plan *p, int b, struct busload *out)
{
    double slots_s = 0, others_slots_s = 0;

    *out = (struct busload){0};
    for (int r = 0; r < p->nrequests; r++) {
        if (p->requests[r].bus != b)
            continue;
        double interval_s = p->requests[r].interval_ms / 1000.0;
        double slot_s = (double)busload_slot_ns(c, p, r) / 1e9;
        bool urgent = busload_urgent(c, p, r);
        out->requests++;
        out->asked_tps += 1 / interval_s;
        out->load += slot_s / interval_s;
        slots_s += slot_s;
        if (urgent) {
            out->urgent++;
            out->urgent_load += slot_s / interval_s;
        } else {
            others_slots_s += slot_s;
        }
    }
    if (out->load <= 0)
        return; /* tcp: no line to model */
    out->line_tps = out->asked_tps / out->load;
    out->overbooked = out->load > 1.0;
    if (!out->overbooked)
        return;
    /* Urgent requests first; what is left goes round the others.  If the
     * urgent ones alone overbook the line, everything goes round. */
    if (out->urgent_load < 1.0 && out->urgent < out->requests)
        out->others_cycle_s = others_slots_s / (1.0 - out->urgent_load);
    else
        out->others_cycle_s = slots_s;
}

void busload_describe(const struct busload *l, char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     "overbooked: the intervals ask %.1f transactions/s, the line carries "
                     "%.1f/s at most (%.0f %% load)",
                     l->asked_tps, l->line_tps, l->load * 100);
    if (n < 0 || (size_t)n >= len)
        return;
    if (l->urgent > 0 && l->urgent_load < 1.0 && l->urgent < l->requests)
        snprintf(buf + n, len - (size_t)n,
                 "; smoke, leak and door sensors (%d requests) keep their intervals, the other "
                 "%d requests get a cycle of %.2f s at best",
                 l->urgent, l->requests - l->urgent, l->others_cycle_s);
    else
        snprintf(buf + n, len - (size_t)n, "; every request gets a cycle of %.2f s at best",
                 l->others_cycle_s);
}
