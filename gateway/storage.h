/*
 * storage: opening the outbox so that a gateway whose storage failed still
 * polls and alarms (docs/design.md sections 12, 13).  A database SQLite
 * cannot open is moved aside and a fresh one made; with no usable file the
 * outbox lives in memory; a lost database or reservation makes seq jump to
 * the wall clock, so no seq the centre has seen comes again.  Main thread,
 * at start.
 */
#ifndef GW_STORAGE_H
#define GW_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

struct outbox;
struct outbox_limits;

/* Open the outbox at path (lim as for outbox_open, SINK_COUNT sinks).
 * problem: "" when all went well, else what the gateway/disk alarm must
 * say (moved aside, memory only, storage that went back); logged here.
 * *memory_only: no file could be used.  NULL only when not even a memory
 * outbox could be made (the reason in problem). */
struct outbox *storage_open(const char *path, const struct outbox_limits *lim, bool *memory_only,
                            char *problem, size_t len);

#endif
