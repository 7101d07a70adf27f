/*
 * uplink: when an output of the gateway (the MQTT uplink, the InfluxDB
 * writer) is failing long enough to raise the gateway's own alarm for it,
 * and when to clear it.  Pure: the caller reports what it sees, with the
 * time, and asks what is due; no I/O, no clock of its own.
 *
 * The rules (one watch per output):
 * - a failure someone must fix on site (a file the client needs, a
 *   configuration error, credentials the server refuses) raises at once;
 * - being down (unreachable, not connected yet after the start) raises only
 *   after grace_ms, so a broker restart or a slow network at boot is no
 *   alarm;
 * - only the output working again clears, not the problem merely going
 *   away (a client set up again has not connected yet);
 * - the alarm's state at the last stop is restored, so a problem fixed
 *   across a restart is cleared, and one still there is not raised twice.
 * Main thread only.
 */
#ifndef GW_UPLINK_H
#define GW_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPLINK_WHY_MAX 512

enum uplink_state { UPLINK_WORKING, UPLINK_DOWN, UPLINK_FAILING };

struct uplink_watch {
    bool raised; /* the alarm as last reported by uplink_due() (or restored) */
    enum uplink_state state;
    int64_t since_ms; /* when the output stopped working (DOWN, FAILING) */
    char why[UPLINK_WHY_MAX];
};

/* Start: the output is down since now (nothing has worked yet); raised is the
 * alarm's state stored by the last run. */
void uplink_init(struct uplink_watch *w, bool raised, int64_t now_ms, const char *why);

/* Connected, or a write was delivered. */
void uplink_working(struct uplink_watch *w);

/* Down for a reason that may pass by itself.  Keeps the time it started. */
void uplink_down(struct uplink_watch *w, int64_t now_ms, const char *why);

/* A failure that needs fixing (the alarm is due at once). */
void uplink_failing(struct uplink_watch *w, int64_t now_ms, const char *why);

/* What the alarm should do now: 1 raise (why in buf), 0 clear, -1 nothing.
 * A returned 1 or 0 is taken as done. */
int uplink_due(struct uplink_watch *w, int64_t now_ms, int64_t grace_ms, char *buf, size_t len);

/* Milliseconds until uplink_due() may have something to do without a new
 * report, at most cap_ms. */
int64_t uplink_next_ms(const struct uplink_watch *w, int64_t now_ms, int64_t grace_ms,
                       int64_t cap_ms);

#endif
