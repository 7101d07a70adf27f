/*
 * linkage: the on-site warning outputs (联动, docs/design.md section 21) in
 * the main loop.  It joins the pure core (output.h: which outputs are on,
 * from the alarm state and the time) to the buses (relay.h: the coils,
 * written by each bus's poller ahead of its polls) and to the delivery
 * (the state retained on output/{name} and the `output` point; the alarm
 * {output}/output_fault).
 *
 * Never silenced by accident: the first evaluation, from the restored alarm
 * state, comes before any bus starts; a reload carries every output's state
 * over (output_set_carry); a stop writes nothing, so the coils stay as they
 * are.  Main thread only.
 */
#ifndef GW_LINKAGE_H
#define GW_LINKAGE_H

#include <stdint.h>

#include "alarm.h"

struct cfg;
struct delivery;
struct linkage;
struct poller;
struct relay;

/* The outputs of c; NULL with errno (ENOMEM, EINVAL).  d may be NULL (no
 * publishing).  With no outputs configured every call is a no-op. */
struct linkage *linkage_new(const struct cfg *c, struct delivery *d);
void linkage_free(struct linkage *lk); /* NULL is a no-op */

/* The fd that becomes readable when a bus reports on its outputs (-1: none). */
int linkage_fd(const struct linkage *lk);

/* The relay of bus (NULL: no outputs on it), for poller_set_relay(). */
struct relay *linkage_relay(struct linkage *lk, int bus);

/* The buses' pollers (by bus index; entries may be NULL), to kick when an
 * output changes.  NULL: none running. */
void linkage_set_pollers(struct linkage *lk, struct poller **pollers);

/* A reload: take over what `from` knew of each output of the same name
 * (state, timers, silences, faults raised).  Before the first evaluation. */
void linkage_carry(struct linkage *to, const struct linkage *from);

/* Evaluate every output from eng at now_ms; what changed goes to the
 * relays (and the pollers are kicked) and is published. */
void linkage_eval(struct linkage *lk, const struct alarm_engine *eng, int64_t now_ms);

/* Take the buses' reports: read-backs and faults (output_fault raised or
 * cleared), the state published when it changed. */
void linkage_take(struct linkage *lk);

/* cmd/silence: output name off until a new alarm.  0; -1 with a reason in
 * why (no such output; nothing to silence). */
int linkage_silence(struct linkage *lk, const char *name, const char *by,
                    const struct alarm_engine *eng, int64_t now_ms, char *why, size_t whylen);

/* cmd/test with outputs: every output on for OUTPUT_TEST_MS. */
void linkage_test(struct linkage *lk, const struct alarm_engine *eng, int64_t now_ms);

/* Milliseconds until an output's timer ends (min_on, test), at most cap_ms. */
int64_t linkage_next_ms(const struct linkage *lk, int64_t now_ms, int64_t cap_ms);

#endif
