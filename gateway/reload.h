/*
 * reload: what a SIGHUP may change while the gateway runs (docs/design.md
 * section 6).  Sensors, buses, alarm parameters, the name and the language
 * take effect at once; the gateway's identity, state_dir, the telemetry cap,
 * [mqtt] and [influx] need a restart (they are the outbox's and the
 * clients').  Pure.
 */
#ifndef GW_RELOAD_H
#define GW_RELOAD_H

#include <stddef.h>

struct cfg;

/* 0 when configuration b may replace a at run time; -1 when it needs a
 * restart, with the reason in why. */
int reload_check(const struct cfg *a, const struct cfg *b, char *why, size_t len);

#endif
