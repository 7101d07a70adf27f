/* busdiag: what --once tells an installer when no unit on a bus answered. */
#ifndef BUSDIAG_H
#define BUSDIAG_H

#include <stddef.h>

struct cfg;

/* Explain why bus `bus` of c may be silent, for a person at the cabinet:
 * every sensor on it failed its poll, the last failure errno `err` (0: no
 * poll result came at all).  Writes lines ending in '\n' to buf (always
 * NUL-terminated) and returns the length they need, like snprintf.  Pure:
 * no I/O; any thread. */
size_t busdiag_silent(const struct cfg *c, int bus, int err, char *buf, size_t len);

#endif
