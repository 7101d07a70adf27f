/*
 * exec: shelter-watch's --exec runner (docs/design.md section 5.2).  Runs
 * CMD with /bin/sh -c once per new alarm, the alarm's JSON on its stdin and
 * the alarm topic in $SHELTER_ALARM_TOPIC, each child in its own process
 * group.  Bounded: at most max_running children at a time, at most
 * max_queued runs waiting (when full the oldest waiting run is dropped,
 * loudly), each child killed (its whole group) after timeout_ms.  Never
 * waits in the caller's loop: children are reaped by exec_reap(), which the
 * caller calls on SIGCHLD and at least once a second while any run.
 *
 * Main thread only.  A SIGCHLD handler of the caller's is left alone (the
 * child resets its own SIGCHLD and SIGPIPE dispositions and its mask).
 */
#ifndef WATCH_EXEC_H
#define WATCH_EXEC_H

#include <stdint.h>

struct exec;

/* Zero fields take the defaults. */
struct exec_opts {
    const char *cmd; /* required; copied */
    int max_running; /* default 4 */
    int max_queued;  /* default 256 */
    int timeout_ms;  /* default 60000: then SIGKILL to the child's group */
    int drain_ms;    /* default 5000: exec_free() waits this long for running children */
};

/* NULL with errno (EINVAL without cmd, ENOMEM). */
struct exec *exec_new(const struct exec_opts *o);

/* Queue a run with json on stdin and topic in the environment; what names it
 * in log lines ("gateway sensor alarm seq N").  Started by exec_pump(). */
void exec_add(struct exec *x, const char *json, const char *topic, const char *what);

/* Start what waits while slots are free. */
void exec_pump(struct exec *x);

/* Reap finished children (logging failures) and kill the overdue (now:
 * monotonic ms). */
void exec_reap(struct exec *x, int64_t now);

/* How many children run now. */
int exec_running(const struct exec *x);

/* Drop what waits (logged), give running children drain_ms, then SIGTERM
 * and reap them; free.  NULL is a no-op. */
void exec_free(struct exec *x);

#endif
