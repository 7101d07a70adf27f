/*
 * storage: see storage.h.  Every path ends with an outbox the gateway can
 * use; what it cost (durability, a seq jump) is said once here and raised
 * as gateway/disk by the caller.
 */
#include "storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "sink.h"

#define PATH_MAX_LEN 512

/* Open the outbox; a gateway that cannot must still poll and alarm.  A file
 * SQLite cannot open (corrupt after a power cut, say) is moved aside and a
 * fresh one made; when no file can be used at all (state_dir missing or
 * read-only) the outbox lives in memory.  Either way the old seq counter is
 * gone, so seq jumps to the wall-clock milliseconds: far above any count a
 * gateway reaches, so no seq the centre has seen comes again, only a gap. */
static struct outbox *open_or_replace(const char *path, const struct outbox_limits *lim,
                                      bool *memory_only, char *problem, size_t len)
{
    char why[256], aside[PATH_MAX_LEN + 64];
    struct outbox *ob = outbox_open(path, lim, SINK_COUNT, why, sizeof(why));

    if (ob != NULL)
        return ob;
    log_err("outbox %s: %s", path, why);
    snprintf(aside, sizeof(aside), "%s.broken-%lld", path, (long long)wall_ms());
    if (access(path, F_OK) == 0 && rename(path, aside) == 0) {
        /* The WAL belongs to the file moved aside. */
        char wal[PATH_MAX_LEN + 80], moved[PATH_MAX_LEN + 80];
        static const char *const exts[] = {"-wal", "-shm"};
        for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
            snprintf(wal, sizeof(wal), "%s%s", path, exts[i]);
            snprintf(moved, sizeof(moved), "%s%s", aside, exts[i]);
            if (rename(wal, moved) == -1 && errno != ENOENT)
                log_warn("outbox: move %s aside", wal);
        }
        ob = outbox_open(path, lim, SINK_COUNT, why, sizeof(why));
        if (ob != NULL) {
            snprintf(problem, len, "outbox unreadable, moved aside to %.200s", aside);
            log_err("outbox: %s; a fresh one is in use", problem);
        }
    }
    if (ob == NULL) {
        ob = outbox_open(":memory:", lim, SINK_COUNT, why, sizeof(why));
        if (ob == NULL) {
            snprintf(problem, len, "%s", why);
            return NULL;
        }
        *memory_only = true;
        snprintf(problem, len,
                 "no outbox file usable in the state directory: alarms are not "
                 "durable until it is fixed and the gateway restarted");
        log_err("outbox: %s", problem);
    }
    outbox_raise_seq(ob, (uint64_t)wall_ms());
    return ob;
}

/* What the outbox found at open about storage that went back in time; the
 * reservation lost too: seq jumps to the wall clock as for a lost outbox. */
static void storage_check(struct outbox *ob, char *problem, size_t len)
{
    struct outbox_stats os;
    const char *sp = outbox_storage_problem(ob);

    outbox_stats(ob, &os);
    if (os.seq_unknown)
        outbox_raise_seq(ob, (uint64_t)wall_ms());
    if (sp[0] == '\0')
        return;
    log_err("outbox: %s", sp);
    if (problem[0] == '\0')
        snprintf(problem, len, "%s", sp);
}

struct outbox *storage_open(const char *path, const struct outbox_limits *lim, bool *memory_only,
                            char *problem, size_t len)
{
    struct outbox_stats os;

    *memory_only = false;
    problem[0] = '\0';
    struct outbox *ob = open_or_replace(path, lim, memory_only, problem, len);
    if (ob == NULL)
        return NULL;
    storage_check(ob, problem, len);
    uint64_t first = outbox_next_seq(ob);
    outbox_stats(ob, &os);
    if (first > os.db_seq_at_open)
        log_warnx("outbox: seq continues at %llu, the outbox's counter gave %llu: seqs %llu..%llu "
                  "are skipped (lost with the storage, or never handed out)",
                  (unsigned long long)first, (unsigned long long)os.db_seq_at_open,
                  (unsigned long long)os.db_seq_at_open, (unsigned long long)first - 1);
    return ob;
}
