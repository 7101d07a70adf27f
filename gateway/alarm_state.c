/*
 * alarm_state: the alarm engine's state image (see alarm.h, persistence):
 * every sensor's saved state as versioned bytes, matched on load by sensor
 * name and kind, and the orphans of an image (raised alarms of sensors no
 * longer configured, to be withdrawn).  One walker (xfer_sensor) sizes,
 * saves and loads, so the three cannot disagree.  Pure; main thread.
 *
 * The image outlives the build that wrote it, and the alarm catalogue
 * (sensors/alarmdef.h) changes between builds: a new alarm or kind renumbers
 * nothing in an image, an alarm that is gone is skipped, so an upgrade never
 * forgets a latched fire or an acknowledgement (docs/design.md section 9.1).
 * Kinds and alarms are saved by name: a record holds the slots of its kind's
 * alarms, each under its alarm's name; a mean ring names its rule.  Loading
 * maps the names onto this build's catalogue; a name it does not know is
 * skipped, and an alarm the image does not hold starts afresh.
 *
 * Versions (the header's):
 *   1  up to issue 10: one slot per alarm id of its day (v1_alarms) in every
 *      record, kinds and mean rules as numbers; fixed-size records.  Read,
 *      never written.
 *   2  names, as above.  Written.
 * A change of the record's layout (a field, a ring's size) is a new version
 * whose reader keeps the old ones; the layout's sizes are asserted below, and
 * tests/unit/fixtures holds an image of every version (README there).
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

#define STATE_MAGIC "SGWALARM"
#define STATE_VERSION 2u /* written; 1 is read too */
/* magic 8, version 4, record size 4 (version 1; 0 since), nsensors 4, pad 4,
 * anchor wall time 8 */
#define HEADER_SIZE 32
#define NAME_FIELD 32 /* a kind's or an alarm's name, NUL-padded (version 2) */
#define SLOTS_MAX 64  /* slots one record may hold (version 2) */

/* Both versions' records have these sizes; changing one is a new version. */
_Static_assert(ALARM_NAME_MAX == 64 && ALARM_BY_MAX == 64 && CHATTER_MAX == 32 &&
                   RATE_SAMPLES == 32 && MEANS_MAX == 2 && MEAN_BUCKETS == 64,
               "the state image's record layout changed: add a version (alarm_state.c)");

/* Version 1's numbers as they were: its kinds, and its alarm ids with the
 * kind each belonged to (-1: every kind).  Frozen: never edit. */
static const char *const v1_kinds[] = {"water_level", "water_leak", "co2", "blast_door", "smoke"};
#define V1_KINDS ((int)(sizeof(v1_kinds) / sizeof(v1_kinds[0])))
/* clang-format off */
static const struct {
    const char *name;
    int kind; /* index into v1_kinds, -1: every kind */
} v1_alarms[] = {
    {"comm_lost", -1}, {"implausible", -1},
    {"high", 0}, {"high_high", 0}, {"rising_fast", 0},
    {"leak", 1},
    {"high", 2}, {"high_high", 2}, {"critical", 2}, {"over_range", 2},
    {"sensor_disagree", 3}, {"chatter", 3}, {"not_secured", 3}, {"open_too_long", 3},
    {"closed_not_locked", 3}, {"exercise_overdue", 3},
    {"fire", 4}, {"fault", 4},
};
/* clang-format on */
#define V1_ALARMS ((int)(sizeof(v1_alarms) / sizeof(v1_alarms[0])))

/* One function walks every saved field, for sizing, saving and loading, so
 * the three cannot disagree.  Times are relative to `base`: the save time, or
 * on load now minus the downtime. */
struct xio {
    unsigned char *p; /* NULL: only count */
    size_t len, off;
    bool load;
    bool fail;
    unsigned version;
    int64_t base;
    bool present[ALARM_COUNT]; /* load: the slots the record held */
};

/* Reading real bytes (not only counting a load's size). */
static bool reading(const struct xio *x)
{
    return x->load && x->p != NULL;
}

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
    if (reading(x) && (*v < min || *v > max))
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
    if (!reading(x))
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
    if (reading(x))
        s[n - 1] = '\0';
}

/* A kind's or an alarm's name in a NUL-padded field.  Saving: `name`
 * (shorter than the field).  Loading: into `name` (NAME_FIELD bytes); a
 * field that is not a name as the catalogue writes them ([a-z0-9_], or empty
 * where `may_be_empty`) is a corrupt image. */
static void x_name(struct xio *x, char *name, bool may_be_empty)
{
    char field[NAME_FIELD] = {0};

    if (!x->load) {
        assert(strlen(name) < NAME_FIELD);
        memcpy(field, name, strlen(name));
    }
    x_raw(x, field, sizeof(field));
    if (!reading(x) || x->fail)
        return;
    size_t n = strnlen(field, sizeof(field));
    bool ok = n < sizeof(field) && (n > 0 || may_be_empty);
    for (size_t i = 0; ok && i < sizeof(field); i++) {
        char c = field[i];
        ok = i < n ? (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' : c == '\0';
    }
    if (!ok)
        x->fail = true;
    memcpy(name, field, sizeof(field));
    name[NAME_FIELD - 1] = '\0';
}

/* This build's alarm of version 1's id for a sensor of version 1's kind,
 * or -1 (another kind's slot, or an alarm this build does not have). */
static int v1_alarm(int32_t v1_id, int v1_kind)
{
    enum kind k;
    enum alarm_id id;

    if (v1_id < 0 || v1_id >= V1_ALARMS || v1_kind < 0 ||
        (v1_alarms[v1_id].kind != -1 && v1_alarms[v1_id].kind != v1_kind) ||
        kind_from_name(v1_kinds[v1_kind], &k) == -1 ||
        alarm_from_name(k, v1_alarms[v1_id].name, &id) == -1)
        return -1;
    return (int)id;
}

/* The sensor's kind: version 1 a number (its index into v1_kinds in
 * *v1_kind), version 2 its name.  Loaded, a kind this build does not know
 * is KIND_COUNT: no configured sensor matches it. */
static void xfer_kind(struct xio *x, struct sensor *s, int *v1_kind)
{
    char name[NAME_FIELD];
    enum kind k = KIND_COUNT;

    if (x->version == 1) {
        int32_t v = 0;
        x_i32(x, &v, 0, V1_KINDS - 1);
        if (!reading(x))
            return;
        *v1_kind = v;
        if (!x->fail && kind_from_name(v1_kinds[v], &k) == -1)
            k = KIND_COUNT;
        s->kind = k;
        return;
    }
    if (!x->load)
        snprintf(name, sizeof(name), "%s", kind_name(s->kind));
    x_name(x, name, false);
    if (!reading(x))
        return;
    if (x->fail || kind_from_name(name, &k) == -1)
        k = KIND_COUNT;
    s->kind = k;
}

/* The rule of a mean ring (-1: unused): version 1 its alarm id, version 2
 * its alarm's name ("" unused).  Loaded, an alarm this build does not know
 * leaves the ring unused. */
static void xfer_mean_alarm(struct xio *x, struct sensor *s, int v1_kind, int32_t *alarm)
{
    char name[NAME_FIELD];
    enum alarm_id id;

    if (x->version == 1) {
        int32_t v = -1;
        x_i32(x, &v, -1, V1_ALARMS - 1);
        if (reading(x))
            *alarm = v1_alarm(v, v1_kind);
        return;
    }
    if (!x->load)
        snprintf(name, sizeof(name), "%s", *alarm >= 0 ? alarm_name((enum alarm_id) * alarm) : "");
    x_name(x, name, true);
    if (reading(x))
        *alarm = !x->fail && alarm_from_name(s->kind, name, &id) == 0 ? (int32_t)id : -1;
}

static void xfer_slot(struct xio *x, struct slot *sl)
{
    x_i32(x, &sl->st, ALARM_ST_INACTIVE, ALARM_ST_LATCHED);
    x_i32(x, &sl->count, 0, COUNT_MAX);
    x_time(x, &sl->cond_since);
    x_time(x, &sl->clear_since);
    x_f64(x, &sl->value);
    x_str(x, sl->by, sizeof(sl->by));
}

/* A loaded slot of alarm id (-1: skipped) goes to the sensor. */
static void put_slot(struct xio *x, struct sensor *s, int id, const struct slot *sl)
{
    if (!reading(x) || x->fail || id < 0)
        return;
    if (x->present[id]) { /* an image never names an alarm twice */
        x->fail = true;
        return;
    }
    x->present[id] = true;
    s->slot[id] = *sl;
}

/* The alarms' slots.  Version 1: one per alarm id of its day.  Version 2:
 * their count, then each slot of the kind's alarms under its name. */
static void xfer_slots(struct xio *x, struct sensor *s, int v1_kind)
{
    struct slot sl;
    char name[NAME_FIELD];
    enum alarm_id id;

    if (x->version == 1) {
        for (int32_t v = 0; v < V1_ALARMS; v++) {
            memset(&sl, 0, sizeof(sl));
            xfer_slot(x, &sl);
            put_slot(x, s, reading(x) ? v1_alarm(v, v1_kind) : -1, &sl);
        }
        return;
    }
    int32_t n = 0;
    if (!x->load) {
        for (int a = 0; a < ALARM_COUNT; a++)
            n += alarm_applies(s->kind, (enum alarm_id)a);
        x_i32(x, &n, 0, SLOTS_MAX);
        for (int a = 0; a < ALARM_COUNT; a++) {
            if (!alarm_applies(s->kind, (enum alarm_id)a))
                continue;
            snprintf(name, sizeof(name), "%s", alarm_name((enum alarm_id)a));
            x_name(x, name, false);
            xfer_slot(x, &s->slot[a]);
        }
        return;
    }
    assert(x->p != NULL); /* a version 2 record's size is in its bytes */
    x_i32(x, &n, 0, SLOTS_MAX);
    for (int32_t i = 0; i < n && !x->fail; i++) {
        memset(&sl, 0, sizeof(sl));
        x_name(x, name, false);
        xfer_slot(x, &sl);
        put_slot(x, s, !x->fail && alarm_from_name(s->kind, name, &id) == 0 ? (int)id : -1, &sl);
    }
}

static void xfer_sensor(struct xio *x, struct sensor *s)
{
    int v1_kind = -1;

    x_str(x, s->name, sizeof(s->name));
    xfer_kind(x, s, &v1_kind);
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
        xfer_mean_alarm(x, s, v1_kind, &mr->alarm);
        x_raw(x, &mr->bucket_ms, sizeof(mr->bucket_ms));
        if (reading(x) && mr->bucket_ms < 0)
            x->fail = true;
        x_i32(x, &mr->n, 0, MEAN_BUCKETS);
        x_i32(x, &mr->head, 0, MEAN_BUCKETS - 1);
        for (int i = 0; i < MEAN_BUCKETS; i++) {
            x_time(x, &mr->start[i]);
            x_f64(x, &mr->sum[i]);
            x_i32(x, &mr->cnt[i], 0, INT32_MAX);
        }
    }
    xfer_slots(x, s, v1_kind);
}

/* The size of a sensor's record as this build saves it (its kind's slots). */
static size_t record_size(const struct sensor *s)
{
    struct xio x = {.p = NULL, .len = SIZE_MAX, .version = STATE_VERSION};
    /* Counting only reads the sensor: the cast is for the shared walker. */
    xfer_sensor(&x, (struct sensor *)s);
    return x.off;
}

/* The size of every version 1 record. */
static size_t v1_record_size(void)
{
    static struct sensor scratch; /* only counted, never read or written */
    struct xio x = {.p = NULL, .len = SIZE_MAX, .load = true, .version = 1};
    xfer_sensor(&x, &scratch);
    return x.off;
}

size_t alarm_state_size(const struct alarm_engine *eng)
{
    size_t n = HEADER_SIZE;
    for (int i = 0; i < eng->n; i++)
        n += record_size(&eng->s[i]);
    return n;
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
    put_u32(p + 16, (uint32_t)eng->n);
    memcpy(p + 24, &anchor_wall, sizeof(anchor_wall));
    struct xio x = {
        .p = p, .len = need, .off = HEADER_SIZE, .version = STATE_VERSION, .base = anchor};
    for (int i = 0; i < eng->n; i++) {
        /* Saving only reads the sensor: the cast is for the shared walker. */
        xfer_sensor(&x, (struct sensor *)&eng->s[i]);
    }
    assert(!x.fail && x.off == need);
    return (int)need;
}

/* Restore the saved part of sensor `from` into `to` (same name and kind):
 * the slots the image held (present), the others as the engine made them. */
static void restore_sensor(struct sensor *to, const struct sensor *from, const bool *present)
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
        if (!present[id])
            continue;
        to->slot[id] = from->slot[id];
        to->slot[id].clear_since = T_NONE; /* the downtime never counts toward clearing */
    }
    to->have = false;
}

/* The header of a state image: 0 with its version, the record count and the
 * monotonic time its saved times are relative to, or -1 with errno EINVAL.
 * The wall-clock downtime since the save counts as elapsed. */
static int image_check(const unsigned char *p, size_t len, int64_t now_mono_ms, int64_t wall_ms,
                       unsigned *version, uint32_t *n, int64_t *base)
{
    int64_t saved_wall, downtime;

    if (len < HEADER_SIZE || memcmp(p, STATE_MAGIC, 8) != 0) {
        errno = EINVAL;
        return -1;
    }
    *version = get_u32(p + 8);
    *n = get_u32(p + 16);
    if (*version == 1) {
        /* Fixed-size records, their size in the header. */
        size_t rec = v1_record_size();
        if (get_u32(p + 12) != rec || *n > (len - HEADER_SIZE) / rec ||
            len != HEADER_SIZE + (size_t)*n * rec) {
            errno = EINVAL;
            return -1;
        }
    } else if (*version != STATE_VERSION || get_u32(p + 12) != 0) {
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
static struct xio image_reader(const unsigned char *p, size_t len, unsigned version, int64_t base)
{
    return (struct xio){.p = (unsigned char *)p,
                        .len = len,
                        .off = HEADER_SIZE,
                        .load = true,
                        .version = version,
                        .base = base};
}

/* The next record into tmp, its slots in x->present: 0, or -1 with errno
 * EINVAL (not a valid record). */
static int next_record(struct xio *x, struct sensor *tmp)
{
    memset(tmp, 0, sizeof(*tmp));
    memset(x->present, 0, sizeof(x->present));
    xfer_sensor(x, tmp);
    if (x->fail) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* After the last record: 0, or -1 with errno EINVAL (bytes left over). */
static int image_end(const struct xio *x)
{
    if (x->off != x->len) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int alarm_state_load(struct alarm_engine *eng, const void *buf, size_t len, int64_t now_mono_ms,
                     int64_t wall_ms)
{
    const unsigned char *p = buf;
    unsigned version;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    int restored = 0;

    if (image_check(p, len, now_mono_ms, wall_ms, &version, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    /* Pass 0 validates every record, pass 1 applies: all or nothing. */
    for (int pass = 0; pass < 2; pass++) {
        struct xio x = image_reader(p, len, version, base);
        for (uint32_t i = 0; i < n; i++) {
            if (next_record(&x, tmp) == -1) {
                free(tmp);
                return -1;
            }
            if (pass == 0)
                continue;
            for (int j = 0; j < eng->n; j++) {
                if (same_sensor(&eng->s[j], tmp)) {
                    restore_sensor(&eng->s[j], tmp, x.present);
                    restored++;
                }
            }
        }
        if (image_end(&x) == -1) {
            free(tmp);
            return -1;
        }
    }
    free(tmp);
    return restored;
}

int alarm_state_orphans(const struct alarm_engine *eng, const void *buf, size_t len,
                        int64_t now_mono_ms, int64_t wall_ms, struct alarm_orphan **out)
{
    const unsigned char *p = buf;
    unsigned version;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    struct alarm_orphan *o = NULL;
    int count = 0, cap = 0;

    *out = NULL;
    if (image_check(p, len, now_mono_ms, wall_ms, &version, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    struct xio x = image_reader(p, len, version, base);
    for (uint32_t i = 0; i < n; i++) {
        if (next_record(&x, tmp) == -1)
            goto fail;
        /* A kind this build does not know has no alarms it could name. */
        if (tmp->kind == KIND_COUNT || engine_has(eng, tmp))
            continue;
        struct alarm_cfg defaults;
        alarm_cfg_defaults(tmp->kind, &defaults);
        for (int id = 0; id <= ALARM_COUNT; id++) {
            bool inhibit = id == ALARM_COUNT;
            /* An inhibit is published raised until a tick emits its end,
             * which a removed sensor never gets: past its expiry or not.
             * A slot the image did not hold is inactive (tmp is zeroed). */
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
    if (image_end(&x) == -1)
        goto fail;
    free(tmp);
    *out = o;
    return count;
fail:
    free(tmp);
    free(o);
    return -1;
}
