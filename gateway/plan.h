/*
 * plan: which Modbus requests one poll cycle makes.  Pure.
 *
 * Sensors on the same bus, unit and function whose address spans are
 * contiguous or close (a gap of at most PLAN_MAX_GAP_REGS registers or
 * PLAN_MAX_GAP_BITS bits) are served by one request, up to 125 registers or
 * 2000 bits (the Modbus PDU limits).  A request is polled at the shortest
 * interval of its members; every member gets a reading from each poll.
 */
#ifndef GW_PLAN_H
#define GW_PLAN_H

#include <stdint.h>

#include "model.h"

#define PLAN_MAX_REGS 125
#define PLAN_MAX_BITS 2000
#define PLAN_MAX_GAP_REGS 8
#define PLAN_MAX_GAP_BITS 64

struct cfg;

/* What one sensor needs read. */
struct plan_need {
    int sensor;
    int bus;
    int unit;
    enum mb_fn fn;
    uint16_t start;
    uint16_t count;
    int interval_ms;
};

struct plan_request {
    int bus;
    int unit;
    enum mb_fn fn;
    uint16_t start;
    uint16_t count;
    int interval_ms;  /* shortest interval among the members */
    int first_member; /* members are plan->members[first_member .. +nmembers) */
    int nmembers;
};

struct plan {
    struct plan_request *requests; /* sorted by bus, unit, fn, start */
    int nrequests;
    int *members; /* sensor indices */
    int nmembers;
};

/* Coalesce needs into requests.  Returns NULL with errno ENOMEM, or EINVAL
 * when a need alone exceeds the PDU limit.  Caller frees with plan_free(). */
struct plan *plan_build(const struct plan_need *needs, int nneeds);

/* The plan for every sensor of a loaded configuration (from each sensor's model span). */
struct plan *plan_from_cfg(const struct cfg *c);

void plan_free(struct plan *p);

/* Number of requests of the plan on one bus. */
int plan_bus_requests(const struct plan *p, int bus);

#endif
