/*
 * plan: coalesce sensors' register spans into the fewest Modbus requests.
 *
 * Greedy over the needs sorted by (bus, unit, fn, start): a need joins the
 * current request when it is on the same bus/unit/function, starts no more
 * than the allowed gap after the request's end, and the merged span still
 * fits one PDU.  Sorting by start makes greedy optimal for interval merging
 * under a length cap in the cases that matter here (spans of one device).
 */
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

static int need_cmp(const void *a, const void *b)
{
    const struct plan_need *x = a, *y = b;
    if (x->bus != y->bus)
        return x->bus < y->bus ? -1 : 1;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->fn != y->fn)
        return x->fn < y->fn ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->sensor < y->sensor ? -1 : x->sensor > y->sensor;
}

static int is_bit_fn(enum mb_fn fn)
{
    return fn == MB_FN_COILS || fn == MB_FN_DISCRETE;
}

struct plan *plan_build(const struct plan_need *needs, int nneeds)
{
    struct plan *p = calloc(1, sizeof(*p));
    struct plan_need *sorted = NULL;

    if (p == NULL)
        return NULL;
    if (nneeds == 0)
        return p;
    sorted = malloc(sizeof(*sorted) * (size_t)nneeds);
    p->requests = calloc((size_t)nneeds, sizeof(*p->requests));
    p->members = calloc((size_t)nneeds, sizeof(*p->members));
    if (sorted == NULL || p->requests == NULL || p->members == NULL)
        goto fail;
    memcpy(sorted, needs, sizeof(*sorted) * (size_t)nneeds);
    qsort(sorted, (size_t)nneeds, sizeof(*sorted), need_cmp);

    struct plan_request *cur = NULL;
    for (int i = 0; i < nneeds; i++) {
        const struct plan_need *n = &sorted[i];
        int max = is_bit_fn(n->fn) ? PLAN_MAX_BITS : PLAN_MAX_REGS;
        int gap = is_bit_fn(n->fn) ? PLAN_MAX_GAP_BITS : PLAN_MAX_GAP_REGS;

        if (n->count == 0 || n->count > max) {
            errno = EINVAL;
            goto fail;
        }
        if (cur != NULL && cur->bus == n->bus && cur->unit == n->unit && cur->fn == n->fn) {
            int cur_end = cur->start + cur->count;
            int need_end = n->start + n->count;
            int new_end = need_end > cur_end ? need_end : cur_end;
            if (n->start <= cur_end + gap && new_end - cur->start <= max) {
                cur->count = (uint16_t)(new_end - cur->start);
                if (n->interval_ms < cur->interval_ms)
                    cur->interval_ms = n->interval_ms;
                p->members[p->nmembers++] = n->sensor;
                cur->nmembers++;
                continue;
            }
        }
        cur = &p->requests[p->nrequests++];
        cur->bus = n->bus;
        cur->unit = n->unit;
        cur->fn = n->fn;
        cur->start = n->start;
        cur->count = n->count;
        cur->interval_ms = n->interval_ms;
        cur->first_member = p->nmembers;
        cur->nmembers = 1;
        p->members[p->nmembers++] = n->sensor;
    }
    free(sorted);
    return p;
fail:
    free(sorted);
    plan_free(p);
    return NULL;
}

struct plan *plan_from_cfg(const struct cfg *c)
{
    struct plan_need *needs = calloc((size_t)c->nsensors + 1, sizeof(*needs));
    if (needs == NULL)
        return NULL;
    for (int i = 0; i < c->nsensors; i++) {
        const struct cfg_sensor *s = &c->sensors[i];
        needs[i] = (struct plan_need){.sensor = i,
                                      .bus = s->bus,
                                      .unit = s->unit,
                                      .fn = s->def.model->function,
                                      .start = s->def.model->start,
                                      .count = s->def.model->count,
                                      .interval_ms = s->interval_ms};
    }
    struct plan *p = plan_build(needs, c->nsensors);
    free(needs);
    return p;
}

void plan_free(struct plan *p)
{
    if (p == NULL)
        return;
    free(p->requests);
    free(p->members);
    free(p);
}

int plan_bus_requests(const struct plan *p, int bus)
{
    int n = 0;
    for (int i = 0; i < p->nrequests; i++)
        n += p->requests[i].bus == bus;
    return n;
}
