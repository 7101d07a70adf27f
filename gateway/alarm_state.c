/*
 * alarm_state: the alarm engine's state image (see alarm.h, persistence):
 * every sensor's saved state as versioned bytes, matched on load by sensor
 * name and kind, and the orphans of an image (raised alarms of sensors no
 * longer configured, to be withdrawn).  One walker (xfer_sensor) sizes,
 * saves and loads, so the three cannot disagree.  Pure; main thread.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm_internal.h"

#define TIME_SANE_MS (10 * 366 * DAY) /* older saved times are clamped to this age */
#define TIME_AHEAD_MS (8 * DAY)       /* saved times further ahead are corrupt */
/* Saved times are relative to a monotonic time this coarse (inhibit ends,
 * <= 7 days ahead, stay within TIME_AHEAD_MS). */
#define ANCHOR_MS (12 * HOUR)

/* One function walks every saved field, for sizing, saving and loading, so
 * the three cannot disagree.  Times are relative to `base`: the save time, or
 * on load now minus the downtime. */
struct xio {
    unsigned char *p; /* NULL: only count */
    size_t len, off;
    bool load;
    bool fail;
    int64_t base;
};

#define STATE_MAGIC "SGWALARM"
#define STATE_VERSION 1u
#define HEADER_SIZE 32 /* magic 8, version 4, record size 4, nsensors 4, pad 4, wall 8 */

static void x_raw(struct xio *x, void *v, size_t n)
{
    if (x->fail || x->off + n > x->len) {
        x->fail = true;
        return;
    }
    if (x->p != NULL) {
        if (x->load)
            memcpy(v, x->p + x->off, n);
        else
            memcpy(x->p + x->off, v, n);
    }
    x->off += n;
}

static void x_i32(struct xio *x, int32_t *v, int32_t min, int32_t max)
{
    x_raw(x, v, sizeof(*v));
    if (x->load && x->p != NULL && (*v < min || *v > max))
        x->fail = true;
}

static void x_f64(struct xio *x, double *v)
{
    x_raw(x, v, sizeof(*v));
}

static void x_time(struct xio *x, int64_t *t)
{
    int64_t rel = 0;

    if (!x->load)
        rel = *t == T_NONE ? T_NONE : *t - x->base;
    x_raw(x, &rel, sizeof(rel));
    if (!x->load || x->p == NULL)
        return;
    if (rel == T_NONE)
        *t = T_NONE;
    else if (rel > TIME_AHEAD_MS) /* only an inhibit end lies ahead, <= 7 days */
        x->fail = true;
    else
        *t = (rel < -TIME_SANE_MS ? -TIME_SANE_MS : rel) + x->base;
}

static void x_str(struct xio *x, char *s, size_t n)
{
    x_raw(x, s, n);
    if (x->load && x->p != NULL)
        s[n - 1] = '\0';
}

static void xfer_sensor(struct xio *x, struct sensor *s)
{
    int32_t kind = s->kind, st;

    x_str(x, s->name, sizeof(s->name));
    x_i32(x, &kind, 0, KIND_COUNT - 1);
    if (x->load)
        s->kind = (enum kind)kind;
    x_time(x, &s->inhibit_until);
    x_str(x, s->inhibit_by, sizeof(s->inhibit_by));
    x_i32(x, &s->door.prev_door, -1, DOOR_LOCKED);
    x_i32(x, &s->door.cycle_phase, 0, 1);
    x_time(x, &s->door.last_cycle_ms);
    x_i32(x, &s->nchg, 0, CHATTER_MAX);
    x_i32(x, &s->chg_head, 0, CHATTER_MAX - 1);
    for (int i = 0; i < CHATTER_MAX; i++)
        x_time(x, &s->chg[i]);
    x_i32(x, &s->rate.n, 0, RATE_SAMPLES);
    x_i32(x, &s->rate.head, 0, RATE_SAMPLES - 1);
    for (int i = 0; i < RATE_SAMPLES; i++) {
        x_time(x, &s->rate.t[i]);
        x_f64(x, &s->rate.v[i]);
    }
    for (int r = 0; r < MEANS_MAX; r++) {
        struct mean_ring *mr = &s->mean[r];
        x_i32(x, &mr->alarm, -1, ALARM_COUNT - 1);
        x_raw(x, &mr->bucket_ms, sizeof(mr->bucket_ms));
        if (x->load && x->p != NULL && mr->bucket_ms < 0)
            x->fail = true;
        x_i32(x, &mr->n, 0, MEAN_BUCKETS);
        x_i32(x, &mr->head, 0, MEAN_BUCKETS - 1);
        for (int i = 0; i < MEAN_BUCKETS; i++) {
            x_time(x, &mr->start[i]);
            x_f64(x, &mr->sum[i]);
            x_i32(x, &mr->cnt[i], 0, INT32_MAX);
        }
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        struct slot *sl = &s->slot[id];
        st = sl->st;
        x_i32(x, &st, ALARM_ST_INACTIVE, ALARM_ST_LATCHED);
        if (x->load)
            sl->st = st;
        x_i32(x, &sl->count, 0, COUNT_MAX);
        x_time(x, &sl->cond_since);
        x_time(x, &sl->clear_since);
        x_f64(x, &sl->value);
        x_str(x, sl->by, sizeof(sl->by));
    }
}

static size_t record_size(void)
{
    static struct sensor scratch; /* only counted, never read or written */
    struct xio x = {.p = NULL, .len = SIZE_MAX};
    xfer_sensor(&x, &scratch);
    return x.off;
}

size_t alarm_state_size(const struct alarm_engine *eng)
{
    return HEADER_SIZE + (size_t)eng->n * record_size();
}

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

int alarm_state_save(const struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
                     void *buf, size_t len)
{
    size_t need = alarm_state_size(eng);
    unsigned char *p = buf;

    if (len < need || need > INT32_MAX) {
        errno = ENOSPC;
        return -1;
    }
    /* Times are saved relative to an anchor that moves only every
     * ANCHOR_MS, not to the save itself: an engine whose state did not
     * change saves the same bytes (but for the anchor's wall time, in the
     * header), so the outbox writes nothing for it (issue 9, flash wear). */
    int64_t anchor = now_mono_ms - (now_mono_ms % ANCHOR_MS + ANCHOR_MS) % ANCHOR_MS;
    int64_t anchor_wall = wall_ms - (now_mono_ms - anchor);
    memset(p, 0, HEADER_SIZE);
    memcpy(p, STATE_MAGIC, 8);
    put_u32(p + 8, STATE_VERSION);
    put_u32(p + 12, (uint32_t)record_size());
    put_u32(p + 16, (uint32_t)eng->n);
    memcpy(p + 24, &anchor_wall, sizeof(anchor_wall));
    struct xio x = {.p = p, .len = need, .off = HEADER_SIZE, .base = anchor};
    for (int i = 0; i < eng->n; i++) {
        /* Saving only reads the sensor: the cast is for the shared walker. */
        xfer_sensor(&x, (struct sensor *)&eng->s[i]);
    }
    assert(!x.fail && x.off == need);
    return (int)need;
}

/* Restore the saved part of sensor `from` into `to` (same name and kind). */
static void restore_sensor(struct sensor *to, const struct sensor *from)
{
    to->inhibit_until = from->inhibit_until;
    memcpy(to->inhibit_by, from->inhibit_by, sizeof(to->inhibit_by));
    to->door.prev_door = from->door.prev_door;
    to->door.cycle_phase = from->door.cycle_phase;
    to->door.last_cycle_ms = from->door.last_cycle_ms;
    to->nchg = from->nchg;
    to->chg_head = from->chg_head;
    memcpy(to->chg, from->chg, sizeof(to->chg));
    to->rate = from->rate;
    for (int r = 0; r < MEANS_MAX; r++) {
        struct mean_ring *mr = &to->mean[r];
        if (mr->alarm < 0)
            continue;
        for (int q = 0; q < MEANS_MAX; q++) {
            /* Same rule and bucket size (window): the buckets still mean the same. */
            if (from->mean[q].alarm == mr->alarm && from->mean[q].bucket_ms == mr->bucket_ms)
                *mr = from->mean[q];
        }
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        to->slot[id] = from->slot[id];
        to->slot[id].clear_since = T_NONE; /* the downtime never counts toward clearing */
    }
    to->have = false;
}

/* The header of a state image: 0 with the record count and the monotonic
 * time its saved times are relative to, or -1 with errno EINVAL.  The
 * wall-clock downtime since the save counts as elapsed. */
static int image_check(const unsigned char *p, size_t len, int64_t now_mono_ms, int64_t wall_ms,
                       uint32_t *n, int64_t *base)
{
    int64_t saved_wall, downtime;
    size_t rec = record_size();

    if (len < HEADER_SIZE || memcmp(p, STATE_MAGIC, 8) != 0 || get_u32(p + 8) != STATE_VERSION ||
        get_u32(p + 12) != rec) {
        errno = EINVAL;
        return -1;
    }
    *n = get_u32(p + 16);
    if (*n > (len - HEADER_SIZE) / rec || len != HEADER_SIZE + (size_t)*n * rec) {
        errno = EINVAL;
        return -1;
    }
    memcpy(&saved_wall, p + 24, sizeof(saved_wall));
    downtime = wall_ms - saved_wall;
    if (downtime < 0 || downtime > TIME_SANE_MS)
        downtime = 0; /* the wall clock went back (or is garbage): assume none */
    *base = now_mono_ms - downtime;
    return 0;
}

/* Saved state belongs to a configured sensor of the same name and kind. */
static bool same_sensor(const struct sensor *a, const struct sensor *b)
{
    return a->kind == b->kind && strcmp(a->name, b->name) == 0;
}

static bool engine_has(const struct alarm_engine *eng, const struct sensor *s)
{
    for (int j = 0; j < eng->n; j++) {
        if (same_sensor(&eng->s[j], s))
            return true;
    }
    return false;
}

/* A reader of the records of a checked image (image_check). */
static struct xio image_reader(const unsigned char *p, size_t len, int64_t base)
{
    return (struct xio){
        .p = (unsigned char *)p, .len = len, .off = HEADER_SIZE, .load = true, .base = base};
}

/* The next record into tmp: 0, or -1 with errno EINVAL (not a valid record). */
static int next_record(struct xio *x, struct sensor *tmp)
{
    memset(tmp, 0, sizeof(*tmp));
    xfer_sensor(x, tmp);
    if (x->fail) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int alarm_state_load(struct alarm_engine *eng, const void *buf, size_t len, int64_t now_mono_ms,
                     int64_t wall_ms)
{
    const unsigned char *p = buf;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    int restored = 0;

    if (image_check(p, len, now_mono_ms, wall_ms, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    /* Pass 0 validates every record, pass 1 applies: all or nothing. */
    for (int pass = 0; pass < 2; pass++) {
        struct xio x = image_reader(p, len, base);
        for (uint32_t i = 0; i < n; i++) {
            if (next_record(&x, tmp) == -1) {
                free(tmp);
                return -1;
            }
            if (pass == 0)
                continue;
            for (int j = 0; j < eng->n; j++) {
                if (same_sensor(&eng->s[j], tmp)) {
                    restore_sensor(&eng->s[j], tmp);
                    restored++;
                }
            }
        }
    }
    free(tmp);
    return restored;
}

int alarm_state_orphans(const struct alarm_engine *eng, const void *buf, size_t len,
                        int64_t now_mono_ms, int64_t wall_ms, struct alarm_orphan **out)
{
    const unsigned char *p = buf;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    struct alarm_orphan *o = NULL;
    int count = 0, cap = 0;

    *out = NULL;
    if (image_check(p, len, now_mono_ms, wall_ms, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    struct xio x = image_reader(p, len, base);
    for (uint32_t i = 0; i < n; i++) {
        if (next_record(&x, tmp) == -1)
            goto fail;
        if (engine_has(eng, tmp))
            continue;
        struct alarm_cfg defaults;
        alarm_cfg_defaults(tmp->kind, &defaults);
        for (int id = 0; id <= ALARM_COUNT; id++) {
            bool inhibit = id == ALARM_COUNT;
            /* An inhibit is published raised until a tick emits its end,
             * which a removed sensor never gets: past its expiry or not. */
            if (inhibit ? tmp->inhibit_until == T_NONE : tmp->slot[id].st == ALARM_ST_INACTIVE)
                continue;
            if (count == cap) {
                int ncap = cap ? cap * 2 : 8;
                struct alarm_orphan *no = realloc(o, sizeof(*o) * (size_t)ncap);
                if (no == NULL)
                    goto fail;
                o = no;
                cap = ncap;
            }
            struct alarm_orphan *a = &o[count++];
            memset(a, 0, sizeof(*a));
            snprintf(a->sensor, sizeof(a->sensor), "%s", tmp->name);
            a->kind = tmp->kind;
            a->ev.sensor = -1;
            a->ev.alarm = inhibit ? ALARM_INHIBIT : (enum alarm_id)id;
            a->ev.type = ALARM_EV_WITHDRAWN;
            a->ev.active = false;
            a->ev.acked = !inhibit && tmp->slot[id].st == ALARM_ST_ACKED;
            a->ev.severity = inhibit ? ALARM_SEV_INFO : defaults.rule[id].severity;
            a->ev.value = a->ev.threshold = NAN;
            a->ev.unit = "";
            a->ev.mode = eng->mode;
            a->ev.ts_ms = wall_ms;
        }
    }
    free(tmp);
    *out = o;
    return count;
fail:
    free(tmp);
    free(o);
    return -1;
}
