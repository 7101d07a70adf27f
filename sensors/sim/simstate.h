/*
 * simstate: what shelter-sim serves.  One set of Modbus tables per configured
 * (bus, unit), filled and read through each sensor's model (struct model), so
 * `set sump-1 level_m 0.85` becomes the raw registers the model describes.
 * Also holds the per-unit fault injection mode and request counters, and
 * executes the control commands that touch them (set, raw, fault, get,
 * stats).  Pure: no I/O, no clock.  Single-threaded (the simulator's loop).
 */
#ifndef SIM_SIMSTATE_H
#define SIM_SIMSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "mbslave.h"

struct sensorcfg;
struct simstate;

enum sim_fault_mode {
    SIM_FAULT_NONE,
    SIM_FAULT_MUTE,      /* receive, count, never answer */
    SIM_FAULT_SLOW,      /* answer arg ms late */
    SIM_FAULT_BADCRC,    /* RTU: wrong CRC; TCP: byte count that contradicts the data */
    SIM_FAULT_EXCEPTION, /* answer every request with exception arg */
    SIM_FAULT_UNIT,      /* answer as unit arg (with its data when it is on the bus) */
    SIM_FAULT_REFUSE,    /* output module: answer writes with exception arg, reads normally */
    SIM_FAULT_STUCK,     /* output module: acknowledge writes, keep the coils (welded relay) */
};

struct sim_fault {
    enum sim_fault_mode mode;
    int arg;
};

/* Build the tables for every sensor and output module of c, in the normal state (level 0.30 m,
 * CO2 600 ppm, status 0, smoke normal, doors closed and locked, leak dry),
 * with each sensor's input polarity applied.  c is borrowed and must outlive
 * the state.  Returns NULL with errno (ENOMEM, or EINVAL with a reason in
 * err when a sensor's model lacks a point its kind needs). */
struct simstate *simstate_new(const struct sensorcfg *c, char *err, size_t errlen);
void simstate_free(struct simstate *st);

/* The tables served at (bus index, unit id); NULL when no sensor sits there
 * (the simulator then stays silent, like an absent device). */
struct mbs_tables *simstate_tables(struct simstate *st, int bus, int unit);

/* Fault mode of (bus, unit); SIM_FAULT_NONE for unknown units. */
struct sim_fault simstate_fault(const struct simstate *st, int bus, int unit);

/* A coil write request (FC05, FC15: pdu, function code first) for (bus,
 * unit), received at wall_ms: answered (the response PDU into resp, room for
 * MBS_PDU_MAX bytes; the length returned) or not (0: muted), as the unit's
 * fault mode says, applied to the coils unless refused or stuck, and recorded
 * with its time and outcome (the `writes` command lists them).  A unit that
 * is no output module answers exception 01, as for any other function. */
int simstate_write(struct simstate *st, int bus, int unit, const uint8_t *pdu, size_t pdulen,
                   int64_t wall_ms, uint8_t *resp);

/* Count one received request with function code fc for (bus, unit). */
void simstate_count(struct simstate *st, int bus, int unit, uint8_t fc);

/* Semantic access to one sensor's values (fields: see sensors/sim/README.md).
 * Return 0, or -1 with a reason in err. */
int simstate_set(struct simstate *st, const char *sensor, const char *field, const char *value,
                 char *err, size_t errlen);
/* Writes "FIELD=VALUE FIELD=VALUE ..." into out. */
int simstate_get(struct simstate *st, const char *sensor, char *out, size_t outlen);

/* Execute one control command line (set, raw, fault, get, stats [reset],
 * writes [reset]).
 * The reply (without final newline) starts with "ok" or "error: "; stats
 * replies span several lines, the last one ".".  Returns 0 for ok, -1 for
 * error, 1 when the verb is not one of these (reply untouched). */
int simstate_command(struct simstate *st, const char *line, char *reply, size_t replylen);

#endif
