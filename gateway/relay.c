/*
 * relay: see relay.h.
 *
 * Invariants:
 * - want_gen counts the main thread's changes of an output; done_gen is the
 *   last one the poller acted on.  The poller writes an output only when the
 *   two differ or a read-back disagrees with want, and only once want_set.
 * - Under the lock: want, want_set, want_gen (main writes, poller reads) and
 *   the shared reports with their dirty flags (poller writes, main takes).
 *   Everything else is the poller's alone.  The lock is never held across
 *   Modbus I/O.
 */
#include "relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "gwerr.h"
#include "model.h"

struct rout {
    int oi;     /* index into cfg->outputs */
    int module; /* index into r->modules */
    uint16_t coil;
    int write_fc; /* 5 or 15 */
    /* shared (lock) */
    bool want, want_set, dirty;
    unsigned want_gen;
    struct relay_report shared;
    /* the poller's */
    unsigned done_gen;
    struct relay_report mine;
};

struct rmodule {
    int unit;
    uint16_t start, count; /* the read-back span (the model's) */
    int64_t next_read_ms;
    int read_failures;
};

struct relay {
    const struct cfg *cfg;
    int wake_fd;
    pthread_mutex_t lock;
    struct rout *outs;
    int nouts;
    struct rmodule *modules;
    int nmodules;
};

struct relay *relay_new(const struct cfg *c, int bus, int wake_fd)
{
    struct relay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->cfg = c;
    r->wake_fd = wake_fd;
    pthread_mutex_init(&r->lock, NULL);
    r->outs = calloc((size_t)c->noutputs + 1, sizeof(*r->outs));
    r->modules = calloc((size_t)c->noutputs + 1, sizeof(*r->modules));
    if (r->outs == NULL || r->modules == NULL)
        goto fail;
    for (int i = 0; i < c->noutputs; i++) {
        const struct cfg_output *o = &c->outputs[i];
        const struct model_point *p = model_outputs(o->model);
        if (o->bus != bus || p == NULL)
            continue;
        int m;
        for (m = 0; m < r->nmodules && r->modules[m].unit != o->unit; m++)
            ;
        if (m == r->nmodules) {
            r->modules[m] = (struct rmodule){
                .unit = o->unit, .start = o->model->start, .count = o->model->count};
            r->nmodules++;
        }
        struct rout *ro = &r->outs[r->nouts++];
        ro->oi = i;
        ro->module = m;
        ro->coil = (uint16_t)(p->address + o->channel);
        ro->write_fc = p->write == MB_WRITE_MULTIPLE ? 15 : 5;
        ro->mine.actual = ro->shared.actual = -1;
    }
    if (r->nouts == 0) {
        errno = ENOENT;
        goto fail;
    }
    return r;
fail:
    relay_free(r);
    return NULL;
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    int saved = errno;
    pthread_mutex_destroy(&r->lock);
    free(r->outs);
    free(r->modules);
    free(r);
    errno = saved;
}

static struct rout *out_of(struct relay *r, int oi)
{
    for (int i = 0; i < r->nouts; i++)
        if (r->outs[i].oi == oi)
            return &r->outs[i];
    return NULL;
}

bool relay_want(struct relay *r, int oi, bool on)
{
    struct rout *ro = out_of(r, oi);
    bool changed = false;

    if (ro == NULL)
        return false;
    pthread_mutex_lock(&r->lock);
    if (!ro->want_set || ro->want != on) {
        ro->want = on;
        ro->want_set = true;
        ro->want_gen++;
        changed = true;
    }
    pthread_mutex_unlock(&r->lock);
    return changed;
}

int relay_take(struct relay *r, struct relay_report *out, bool *changed)
{
    int n = 0;

    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nouts; i++) {
        struct rout *ro = &r->outs[i];
        if (!ro->dirty)
            continue;
        out[ro->oi] = ro->shared;
        changed[ro->oi] = true;
        ro->dirty = false;
        n++;
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

int64_t relay_due_ms(struct relay *r, int64_t now_ms)
{
    int64_t due = RELAY_READBACK_MS;

    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nouts; i++)
        if (r->outs[i].want_set && r->outs[i].want_gen != r->outs[i].done_gen)
            due = 0;
    pthread_mutex_unlock(&r->lock);
    for (int m = 0; m < r->nmodules && due > 0; m++) {
        int64_t left = r->modules[m].next_read_ms - now_ms;
        if (left < due)
            due = left < 0 ? 0 : left;
    }
    return due;
}

/* Publish the poller's view of each output that changed; wake the main thread. */
static void report(struct relay *r)
{
    bool any = false;

    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nouts; i++) {
        struct rout *ro = &r->outs[i];
        if (memcmp(&ro->mine, &ro->shared, sizeof(ro->mine)) == 0)
            continue;
        ro->shared = ro->mine;
        ro->dirty = true;
        any = true;
    }
    pthread_mutex_unlock(&r->lock);
    if (any && r->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(r->wake_fd, &one, sizeof(one)) == -1) {
            /* EAGAIN: the counter is full, the main thread is woken anyway */
        }
    }
}

static void set_fault(struct rout *ro, const char *what, int err)
{
    ro->mine.fault = true;
    snprintf(ro->mine.why, sizeof(ro->mine.why), "%s: %s", what, gw_strerror(err));
}

/* Write ro's wanted state, with the bus's retries.  0 or -1 (errno). */
static int write_out(struct rout *ro, bool want, const struct relay_io *io, int unit)
{
    int err = 0;
    for (int a = 0; a < io->attempts; a++) {
        if (io->write_coil(io->ctx, unit, ro->write_fc, ro->coil, want) == 0) {
            ro->mine.wrote_wall_ms = wall_ms();
            return 0;
        }
        err = errno;
    }
    errno = err;
    return -1;
}

/* Read module m back, with the bus's retries.  0 or -1 (errno). */
static int read_module(struct rmodule *m, uint8_t *bits, const struct relay_io *io)
{
    int err = 0;
    for (int a = 0; a < io->attempts; a++) {
        if (io->read_coils(io->ctx, m->unit, m->start, m->count, bits) == 0)
            return 0;
        err = errno;
    }
    errno = err;
    return -1;
}

int relay_serve(struct relay *r, int64_t now_ms, const struct relay_io *io)
{
    bool want[r->nouts], set[r->nouts];
    unsigned gen[r->nouts];
    uint8_t bits[2000];
    int n = 0;

    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nouts; i++) {
        want[i] = r->outs[i].want;
        set[i] = r->outs[i].want_set;
        gen[i] = r->outs[i].want_gen;
    }
    pthread_mutex_unlock(&r->lock);

    /* Writes first: they are what somebody on site is waiting for. */
    for (int i = 0; i < r->nouts; i++) {
        struct rout *ro = &r->outs[i];
        struct rmodule *m = &r->modules[ro->module];
        if (!set[i] || ro->done_gen == gen[i])
            continue;
        ro->done_gen = gen[i];
        n++;
        if (write_out(ro, want[i], io, m->unit) == -1)
            set_fault(ro, want[i] ? "switching on" : "switching off", errno);
        m->next_read_ms = now_ms; /* read back at once */
    }
    report(r);

    /* Read-backs: each module once a second, and at once after a write.  A
     * coil that differs from what is wanted is written again and read back,
     * up to the bus's retries; still different, it is a fault. */
    for (int mi = 0; mi < r->nmodules; mi++) {
        struct rmodule *m = &r->modules[mi];
        if (m->next_read_ms > now_ms)
            continue;
        m->next_read_ms = now_ms + RELAY_READBACK_MS;
        for (int round = 0;; round++) {
            int differ = 0;
            n++;
            if (read_module(m, bits, io) == -1) {
                int err = errno;
                if (++m->read_failures >= RELAY_LOST_AFTER)
                    for (int i = 0; i < r->nouts; i++)
                        if (r->outs[i].module == mi) {
                            r->outs[i].mine.actual = -1;
                            set_fault(&r->outs[i], "no read-back", err);
                        }
                break;
            }
            m->read_failures = 0;
            for (int i = 0; i < r->nouts; i++) {
                struct rout *ro = &r->outs[i];
                if (ro->module != mi)
                    continue;
                ro->mine.actual = bits[ro->coil - m->start] ? 1 : 0;
                if (!set[i] || ro->mine.actual == (int)want[i]) {
                    ro->mine.fault = false;
                    ro->mine.why[0] = '\0';
                    continue;
                }
                if (round >= (io->attempts > 1 ? io->attempts - 1 : 1)) {
                    ro->mine.fault = true;
                    snprintf(ro->mine.why, sizeof(ro->mine.why),
                             "read-back %s, wanted %s (after %d write%s)",
                             ro->mine.actual ? "on" : "off", want[i] ? "on" : "off", round + 1,
                             round ? "s" : "");
                    continue;
                }
                differ++;
                n++;
                if (write_out(ro, want[i], io, m->unit) == -1) {
                    set_fault(ro, want[i] ? "switching on" : "switching off", errno);
                    differ--;
                }
            }
            if (differ == 0)
                break;
        }
    }
    report(r);
    return n;
}
