/*
 * relay: the coils of a bus's output modules (docs/design.md section 21),
 * between the main thread, which decides what each output should be, and the
 * bus's poller thread, which writes and reads them back.
 *
 * The main thread sets what it wants (relay_want) and kicks the poller; the
 * poller calls relay_serve() ahead of its queued polls, which writes what
 * changed, reads every module back once a second, rewrites a coil whose
 * read-back differs, and reports each output's state (read-back, fault)
 * for relay_take().  A fault is a write refused or failed after the bus's
 * retries, a read-back that still differs after them, or a module that
 * gives no read-back RELAY_LOST_AFTER times in a row; it ends with a
 * read-back that matches.  Nothing is written before the main thread has
 * said what it wants, and nothing on stop: the coils stay as they are.
 *
 * Threads: relay_want, relay_take, relay_count from main; relay_serve,
 * relay_due_ms from the bus's poller; a mutex between them.
 */
#ifndef GW_RELAY_H
#define GW_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#define RELAY_READBACK_MS 1000 /* each module read back this often */
#define RELAY_LOST_AFTER 3     /* read-backs failed in a row: the outputs are at fault */
#define RELAY_WHY_MAX 128

struct cfg;
struct relay;

/* The Modbus transactions relay_serve() needs, one attempt each (the relay
 * retries); the poller supplies them on its own connection.  0, or -1 with
 * errno. */
struct relay_io {
    void *ctx;
    int attempts; /* 1 + the bus's retries */
    int (*write_coil)(void *ctx, int unit, int fc, uint16_t addr, bool on);
    int (*read_coils)(void *ctx, int unit, uint16_t start, uint16_t count, uint8_t *bits);
};

/* What the poller last saw of one output. */
struct relay_report {
    int actual;              /* last read-back: 0 or 1; -1 unknown */
    bool fault;              /* output_fault: see above */
    char why[RELAY_WHY_MAX]; /* the fault's reason, "" when none */
    int64_t wrote_wall_ms;   /* wall clock of the last write acknowledged, 0: none */
};

/* The outputs of c on bus (indices of c->outputs); NULL with errno ENOMEM,
 * or ENOENT when the bus has none.  wake_fd: an eventfd written when a
 * report changes (-1: none).  c must outlive the relay.  Main thread. */
struct relay *relay_new(const struct cfg *c, int bus, int wake_fd);
void relay_free(struct relay *r); /* NULL is a no-op */

/* Output oi (index into c->outputs) should be on or off.  Returns true when
 * this changes what the relay had, so the poller needs a kick.  Main. */
bool relay_want(struct relay *r, int oi, bool on);

/* Copy each report that changed since the last call into out[oi] (out has
 * room for every output of the configuration) and set changed[oi]; returns
 * how many changed.  Main. */
int relay_take(struct relay *r, struct relay_report *out, bool *changed);

/* Poller: milliseconds until relay_serve() has something to do (0: now). */
int64_t relay_due_ms(struct relay *r, int64_t now_ms);

/* Poller: do what is due (writes first, then read-backs).  Returns the
 * number of transactions made. */
int relay_serve(struct relay *r, int64_t now_ms, const struct relay_io *io);

#endif
