/*
 * scenario: timed control commands for shelter-sim (format in
 * sensors/sim/README.md): `at TIME COMMAND...` and
 * `ramp T0 T1 SENSOR FIELD FROM TO`.  Pure: the caller passes the monotonic
 * time and a callback that executes one command line.  Single-threaded.
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define SCN_RAMP_STEP_MS 100 /* a ramp sets its field this often (real time) */

struct scn;

/* Parse path; every time is divided by speed (> 0).  Returns NULL with
 * errno and "FILE:LINE: reason" lines (all of them) in err. */
struct scn *scn_load(const char *path, double speed, char *err, size_t errlen);
void scn_free(struct scn *s);

const char *scn_path(const struct scn *s);
int scn_nsteps(const struct scn *s);
/* Duration of the whole scenario in real (speed-scaled) ms. */
int64_t scn_duration_ms(const struct scn *s);

/* Time zero of the scenario. */
void scn_start(struct scn *s, int64_t now_ms);

/* Executes one command line; where is "FILE:LINE" for messages. */
typedef void scn_exec_fn(const char *command, const char *where, int is_ramp_step, void *ctx);

/* Run every command due at now_ms, in time order (file order for equal
 * times).  Returns the next time it needs to be called, or -1 when the
 * scenario has finished. */
int64_t scn_run(struct scn *s, int64_t now_ms, scn_exec_fn *exec, void *ctx);

#endif
