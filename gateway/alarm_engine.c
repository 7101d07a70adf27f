/*
 * alarm_engine: the pure alarm engine's evaluation (see alarm.h).  Owns, per
 * sensor, the last reading it saw, the lifecycle and timers of each of its
 * alarms, bounded rolling windows (mean buckets, rate samples, door changes)
 * and its door's tracker.  The rules are alarm_rules.c's, the state image
 * alarm_state.c's.
 *
 * Main design choice: every rule is one row of the rule table (alarm_rules.c)
 * and reduces to the
 * same question at each reading and tick -- is the raise condition met, is the
 * clear condition met, or is it unknown -- answered by rule_cond(); step()
 * then runs the one lifecycle with its delays for all of them.  Principles:
 *  - a delay counts from the first evaluation that met its condition and
 *    fires at the first evaluation at/after it expires; any evaluation that
 *    does not meet it restarts it (values dancing around a level never flap);
 *  - when the engine cannot see (comm_lost, no value, warm-up, a restart) it
 *    neither raises nor clears: the unseen interval may count toward raising,
 *    never toward clearing, so clear delays restart and raise delays do not;
 *  - an implausible value (or an impossible jump) may raise but never clear:
 *    a broken sensor costs an inspection, a hidden flood costs lives;
 *  - a transition is made only once its event is in the output array.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm_internal.h"
#include "gwerr.h"

#define MEAN_PER_WINDOW 60 /* buckets per window: 1 h -> 1 min, 5 min -> 5 s */
#define MEAN_MIN_COVER_MS (10 * MIN)
#define RATE_PER_WINDOW 30 /* rate samples kept at least window/30 apart */
/* A rise counts only beyond this: twice the 1 cm deadband of a level reading
 * (delivery.c), more than a line fitted to noise within it can rise (1.5x). */
#define RISE_NOISE_CM 2.0
#define JUMP_MAX_GAP_MS (60 * SEC) /* a jump only counts between readings this close */

static bool is_process(enum alarm_id id)
{
    return id != ALARM_COMM_LOST && id != ALARM_IMPLAUSIBLE;
}

/* The implausible jump check needs the kind's value (kind.h). */
static bool has_jump_check(enum kind kind)
{
    const struct kind_def *kd = kind_def(kind);
    return kd != NULL && kd->value >= 0;
}

/* ---- windows ------------------------------------------------------------ */

static void mean_add(struct mean_ring *mr, int64_t now, double v)
{
    if (mr->n > 0 && now < mr->start[mr->head] + mr->bucket_ms) {
        mr->sum[mr->head] += v;
        mr->cnt[mr->head]++;
        return;
    }
    mr->head = (mr->head + 1) % MEAN_BUCKETS;
    mr->start[mr->head] = now;
    mr->sum[mr->head] = v;
    mr->cnt[mr->head] = 1;
    if (mr->n < MEAN_BUCKETS)
        mr->n++;
}

/* Mean of the samples in the buckets overlapping (now - window, now].  Only
 * once they span min(window, 10 min): a 1-h mean is not judged on one
 * sample after a start, and a 5-min mean needs its full 5 minutes. */
static bool mean_get(const struct mean_ring *mr, int64_t now, int64_t window, double *mean)
{
    double sum = 0;
    long cnt = 0;
    int64_t oldest = now;

    for (int k = 0; k < mr->n; k++) {
        int i = (mr->head - k + MEAN_BUCKETS) % MEAN_BUCKETS;
        if (mr->start[i] + mr->bucket_ms <= now - window)
            break;
        sum += mr->sum[i];
        cnt += mr->cnt[i];
        oldest = mr->start[i];
    }
    if (cnt == 0 || now - oldest < (window < MEAN_MIN_COVER_MS ? window : MEAN_MIN_COVER_MS))
        return false;
    *mean = sum / (double)cnt;
    return true;
}

static struct mean_ring *mean_of(struct sensor *s, enum alarm_id id)
{
    for (int i = 0; i < MEANS_MAX; i++)
        if (s->mean[i].alarm == (int32_t)id)
            return &s->mean[i];
    return NULL;
}

static void rate_add(struct rate_ring *rr, int64_t now, double v, int64_t window)
{
    if (rr->n > 0 && now - rr->t[rr->head] < window / RATE_PER_WINDOW)
        return;
    rr->head = (rr->head + 1) % RATE_SAMPLES;
    rr->t[rr->head] = now;
    rr->v[rr->head] = v;
    if (rr->n < RATE_SAMPLES)
        rr->n++;
}

/* The rise of the level over the window it has: the least-squares line
 * through the samples of the last window and the newest reading, from the
 * first two readings on.  A line through every point, not two end points,
 * so it follows the rise itself: a fast rise shows at once, and a rise that
 * drained again reads as the drain, not as the net change between the ends
 * of the window (a steady pit after a flood is not rising).  cm_per_min is
 * its slope, rise_cm what it rose over span_ms.  False with no sample
 * before the reading in the window (a start, or after a gap). */
struct rise {
    double cm_per_min, rise_cm;
    int64_t span_ms;
};

static bool rise_get(const struct rate_ring *rr, int64_t t_now, double v_now, int64_t window,
                     struct rise *out)
{
    double x[RATE_SAMPLES + 1], y[RATE_SAMPLES + 1], mx = 0, my = 0, sxx = 0, sxy = 0;
    int64_t first = t_now;
    int n = 0;

    for (int k = 0; k < rr->n; k++) {
        int i = (rr->head - k + RATE_SAMPLES) % RATE_SAMPLES;
        if (rr->t[i] >= t_now || rr->t[i] < t_now - window)
            continue; /* the reading itself comes last; older ones are out */
        x[n] = (double)(rr->t[i] - t_now) / (double)MIN; /* minutes, <= 0 */
        y[n++] = rr->v[i] * 100.0;                       /* cm */
        if (rr->t[i] < first)
            first = rr->t[i];
    }
    if (n == 0)
        return false;
    x[n] = 0;
    y[n++] = v_now * 100.0;
    for (int i = 0; i < n; i++) {
        mx += x[i] / n;
        my += y[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    out->cm_per_min = sxy / sxx;
    out->span_ms = t_now - first;
    out->rise_cm = out->cm_per_min * (double)out->span_ms / (double)MIN;
    return true;
}

/* How long a calm must be seen before it clears a rise: long enough that a
 * rise at the threshold would have stood out of the noise (RISE_NOISE_CM),
 * at most the window. */
static int64_t calm_span(int64_t window, double threshold_cm_per_min)
{
    double ms = threshold_cm_per_min > 0 ? RISE_NOISE_CM / threshold_cm_per_min * (double)MIN
                                         : (double)window;
    return ms < (double)window ? (int64_t)ms : window;
}

static int chatter_count(const struct sensor *s, int64_t now, int64_t window)
{
    int n = 0;
    for (int k = 0; k < s->nchg; k++) {
        if (s->chg[(s->chg_head - k + CHATTER_MAX) % CHATTER_MAX] <= now - window)
            break;
        n++;
    }
    return n;
}

/* ---- engine ------------------------------------------------------------- */

static void sensor_init(struct sensor *s, const struct alarm_sensor *as, int64_t now)
{
    int nm = 0;

    snprintf(s->name, sizeof(s->name), "%s", as->name);
    s->kind = as->kind;
    s->pit_depth_m = as->pit_depth_m;
    s->cfg = *as->cfg;
    s->inhibit_until = T_NONE;
    door_track_init(&s->door, now);
    for (int i = 0; i < MEANS_MAX; i++)
        s->mean[i].alarm = -1;
    for (int id = 0; id < ALARM_COUNT; id++) {
        s->slot[id].cond_since = s->slot[id].clear_since = T_NONE;
        s->slot[id].value = NAN;
        if (alarm_applies(s->kind, (enum alarm_id)id) && alarm_rule_field(id) != NULL) {
            s->field[id] = kind_field(s->kind, alarm_rule_field(id));
            assert(s->field[id] != NULL); /* the rule names a field of the kind */
        }
        if (alarm_applies(s->kind, (enum alarm_id)id) && alarm_rule_type(id) == RT_LEVEL &&
            s->cfg.rule[id].window_ms > 0) {
            s->mean[nm].alarm = id; /* nm < MEANS_MAX: alarm_cfg_validate */
            s->mean[nm].bucket_ms = s->cfg.rule[id].window_ms / MEAN_PER_WINDOW;
            nm++;
        }
    }
}

struct alarm_engine *alarm_engine_new(const struct alarm_sensor *sensors, int nsensors,
                                      enum gw_mode mode, int64_t now_mono_ms)
{
    char why[128];
    struct alarm_engine *eng;

    if (nsensors < 0 || (nsensors > 0 && sensors == NULL) || (unsigned)mode >= ALARM_MODES) {
        errno = EINVAL;
        return NULL;
    }
    for (int i = 0; i < nsensors; i++) {
        const struct alarm_sensor *as = &sensors[i];
        if (as->name == NULL || as->name[0] == '\0' || strlen(as->name) >= ALARM_NAME_MAX ||
            (unsigned)as->kind >= KIND_COUNT || as->cfg == NULL) {
            errno = EINVAL;
            return NULL;
        }
        if (as->cfg->kind != as->kind || alarm_cfg_validate(as->cfg, why, sizeof(why)) < 0 ||
            (alarm_pct_of_pit(as->kind) && !(as->pit_depth_m > 0 && isfinite(as->pit_depth_m)))) {
            errno = EGW_CONFIG;
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(sensors[j].name, as->name) == 0) {
                errno = EINVAL;
                return NULL;
            }
        }
    }
    eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return NULL;
    eng->s = calloc(nsensors > 0 ? (size_t)nsensors : 1, sizeof(*eng->s));
    if (eng->s == NULL) {
        free(eng);
        return NULL;
    }
    eng->n = nsensors;
    eng->mode = mode;
    eng->start_ms = now_mono_ms;
    for (int i = 0; i < nsensors; i++)
        sensor_init(&eng->s[i], &sensors[i], now_mono_ms);
    return eng;
}

void alarm_engine_free(struct alarm_engine *eng)
{
    if (eng == NULL)
        return;
    free(eng->s);
    free(eng);
}

size_t alarm_events_max(const struct alarm_engine *eng)
{
    return (size_t)(eng->n > 0 ? eng->n : 1) * ALARM_SENSOR_EVENTS_MAX;
}

enum gw_mode alarm_mode(const struct alarm_engine *eng)
{
    return eng->mode;
}

static bool inhibited(const struct sensor *s, int64_t now)
{
    return s->inhibit_until != T_NONE && now < s->inhibit_until;
}

static bool warming(const struct alarm_engine *eng, const struct sensor *s, int64_t now)
{
    return kind_def(s->kind)->warmup_ms > 0 && now - eng->start_ms < s->cfg.warmup_ms;
}

/* ---- events ------------------------------------------------------------- */

static bool above(double v, double thr, bool strict)
{
    double eps = 1e-9 * fmax(1.0, fabs(thr)); /* 70% of a depth is 70%, not 69.999...% */
    return strict ? v > thr + eps : v >= thr - eps;
}

static bool below(double v, double clr, bool strict)
{
    double eps = 1e-9 * fmax(1.0, fabs(clr));
    return strict ? v < clr - eps : v <= clr + eps;
}

/* Internal units -> event units. */
static double display(const struct sensor *s, enum alarm_id id, double v)
{
    if (isnan(v))
        return v;
    if (alarm_rule_in_pit_pct(s->kind, id)) /* % of the pit depth, shown in m */
        return v / 100.0 * s->pit_depth_m;
    switch (alarm_rule_type(id)) {
    case RT_NOT_SECURED:
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
        return v / (double)SEC;
    case RT_EXERCISE:
        return v / (double)DAY;
    default:
        return v;
    }
}

/* The level an event reports (internal units): the raise level, or the
 * clear level for a cleared event; NAN where a rule has none. */
static double event_threshold(const struct sensor *s, enum alarm_id id, enum gw_mode m,
                              enum alarm_event_type type)
{
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];

    switch (alarm_rule_type(id)) {
    case RT_LEVEL:
    case RT_RATE:
    case RT_CHATTER:
        return type == ALARM_EV_CLEARED ? rc->clear[m] : rc->threshold[m];
    case RT_STATE:
        return rc->count;
    case RT_NOT_SECURED:
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
    case RT_EXERCISE:
        return type == ALARM_EV_CLEARED ? NAN : (double)rc->delay_ms[m];
    default:
        return NAN;
    }
}

static int emit(struct alarm_events *out, const struct alarm_event *ev)
{
    if (out->n >= out->cap) {
        out->deferred++;
        errno = EGW_FULL;
        return -1;
    }
    out->ev[out->n++] = *ev;
    return 0;
}

/* An event of (sensor, alarm); active and acked as published after it. */
static struct alarm_event make_event(const struct alarm_engine *eng, int si, enum alarm_id id,
                                     enum alarm_event_type type, bool active, bool acked,
                                     int64_t wall)
{
    const struct sensor *s = &eng->s[si];
    const struct slot *sl = &s->slot[id];
    struct alarm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.sensor = si;
    ev.alarm = id;
    ev.type = type;
    ev.active = active;
    ev.acked = acked;
    ev.severity = s->cfg.rule[id].severity;
    ev.value = display(s, id, sl->value);
    ev.threshold = display(s, id, event_threshold(s, id, eng->mode, type));
    ev.unit = alarm_event_unit(s->kind, id);
    ev.mode = eng->mode;
    ev.ts_ms = wall;
    snprintf(ev.by, sizeof(ev.by), "%s", sl->by);
    return ev;
}

static int emit_inhibit(const struct alarm_engine *eng, int si, enum alarm_event_type type,
                        int64_t wall, int64_t until_wall, const char *by, struct alarm_events *out)
{
    struct alarm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.sensor = si;
    ev.alarm = ALARM_INHIBIT;
    ev.type = type;
    ev.active = type == ALARM_EV_INHIBIT_STARTED;
    ev.severity = ALARM_SEV_INFO;
    ev.value = ev.threshold = NAN;
    ev.unit = "";
    ev.mode = eng->mode;
    ev.ts_ms = wall;
    ev.until_ms = until_wall;
    snprintf(ev.by, sizeof(ev.by), "%s", by ? by : "");
    return emit(out, &ev);
}

/* ---- evaluation --------------------------------------------------------- */

struct cond {
    bool known; /* false: hold (no raise, no clear, clear delay restarts) */
    bool raise;
    bool clear;
    double value; /* internal units; NAN: keep the last */
};

static struct cond rule_cond(const struct alarm_engine *eng, struct sensor *s, enum alarm_id id,
                             int64_t now)
{
    enum rule_type type = alarm_rule_type(id);
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];
    int m = eng->mode;
    struct cond c = {.known = false, .value = NAN};
    bool strict = alarm_is_strict(id);
    int door = s->last.v.blast_door.door;
    double v;

    if (!s->have)
        return c;
    if (type == RT_COMM) {
        c.known = true;
        c.raise = s->comm_lost;
        c.clear = !s->comm_lost;
        return c;
    }
    if (s->comm_lost || s->warming)
        return c;
    if (type == RT_IMPLAUSIBLE) {
        c.known = true;
        c.raise = s->implausible;
        c.clear = !s->implausible;
        if (s->trust != TRUST_NONE && has_jump_check(s->kind))
            c.value = s->value;
        return c;
    }
    if (s->trust == TRUST_NONE)
        return c;
    c.known = true;
    switch (type) {
    case RT_LEVEL:
        if (rc->window_ms > 0) {
            const struct mean_ring *mr = mean_of(s, id);
            if (mr == NULL || !mean_get(mr, now, rc->window_ms, &v)) {
                c.known = false;
                return c;
            }
            c.raise = above(v, rc->threshold[m], strict);
            c.clear = below(v, rc->clear[m], strict);
        } else {
            v = s->value;
            /* A saturated sensor reads "at least v". */
            c.raise = above(v, rc->threshold[m], strict) ||
                      (s->over_range && above(v, rc->threshold[m], false));
            c.clear = !s->over_range && below(v, rc->clear[m], strict);
        }
        c.value = v;
        break;
    case RT_RATE: {
        struct rise r;
        if (!rise_get(&s->rate, s->last_t, kind_number(&s->last, s->field[id]), rc->window_ms,
                      &r)) {
            c.known = false;
            return c;
        }
        v = r.cm_per_min;
        /* Raise on a rise beyond noise; clear on a calm seen long enough.
         * Either one seen too briefly yet is not known: hold. */
        c.raise = above(v, rc->threshold[m], strict) && r.rise_cm > RISE_NOISE_CM;
        c.clear = below(v, rc->clear[m], strict) &&
                  r.span_ms >= calm_span(rc->window_ms, rc->threshold[m]);
        if (!c.raise && !c.clear &&
            (above(v, rc->threshold[m], strict) || below(v, rc->clear[m], strict))) {
            c.known = false;
            return c;
        }
        c.value = v;
        break;
    }
    case RT_STATE: {
        bool on = kind_state(&s->last, s->field[id]) == alarm_rule_state(id);
        c.raise = on && s->slot[id].count >= rc->count;
        c.clear = !on;
        c.value = s->slot[id].count;
        break;
    }
    case RT_OVER_RANGE:
        c.raise = s->over_range;
        c.clear = !s->over_range;
        c.value = s->value;
        break;
    case RT_DISAGREE: {
        unsigned contacts = s->last.v.blast_door.contacts;
        bool closed = contacts & CONTACT_CLOSED, locked = contacts & CONTACT_LOCKED;
        bool open =
            (s->last.v.blast_door.contacts_present & CONTACT_OPEN) && (contacts & CONTACT_OPEN);
        c.raise = (closed && open) || (locked && !closed);
        c.clear = !c.raise;
        break;
    }
    case RT_CHATTER:
        v = chatter_count(s, now, rc->window_ms);
        c.raise = above(v, rc->threshold[m], strict);
        c.clear = below(v, rc->clear[m], strict);
        c.value = v;
        break;
    case RT_NOT_SECURED:
        c.raise = eng->mode == MODE_PROTECTIVE && door != DOOR_LOCKED;
        c.clear = !c.raise;
        break;
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
        if (door == DOOR_UNKNOWN) { /* sensor_disagree speaks for it */
            c.known = false;
            return c;
        }
        c.raise = door == (type == RT_DOOR_OPEN ? DOOR_OPEN : DOOR_CLOSED);
        c.clear = !c.raise;
        break;
    case RT_EXERCISE:
        c.raise = true; /* since the last cycle; see step() */
        c.clear = now - s->door.last_cycle_ms < rc->delay_ms[m];
        c.value = (double)(now - s->door.last_cycle_ms);
        break;
    case RT_COMM:
    case RT_IMPLAUSIBLE:
        break;
    }
    if (s->trust == TRUST_RAISE)
        c.clear = false;
    return c;
}

/* One lifecycle step of (sensor si, alarm id) at now. */
static void step(struct alarm_engine *eng, int si, enum alarm_id id, const struct cond *c,
                 int64_t now, int64_t wall, struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];
    struct slot *sl = &s->slot[id];
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];
    enum rule_type type = alarm_rule_type(id);
    int m = eng->mode;
    struct alarm_event ev;

    if (!rc->enabled) { /* disabled by a reload while raised: clear it */
        sl->cond_since = sl->clear_since = T_NONE;
        if (sl->st != ALARM_ST_INACTIVE) {
            ev = make_event(eng, si, id, ALARM_EV_CLEARED, false, sl->st == ALARM_ST_ACKED, wall);
            if (emit(out, &ev) == 0) {
                sl->st = ALARM_ST_INACTIVE;
                sl->by[0] = '\0';
            }
        }
        return;
    }
    if (!c->known) {
        sl->clear_since = T_NONE;
        return;
    }
    if (!isnan(c->value) || type == RT_IMPLAUSIBLE)
        sl->value = c->value;
    if (type == RT_EXERCISE)
        sl->cond_since = s->door.last_cycle_ms;
    else if (!c->raise)
        sl->cond_since = T_NONE;
    else if (sl->cond_since == T_NONE)
        sl->cond_since = now;
    if (!c->clear)
        sl->clear_since = T_NONE;
    else if (sl->clear_since == T_NONE)
        sl->clear_since = now;
    if (type == RT_NOT_SECURED || type == RT_DOOR_OPEN || type == RT_DOOR_CLOSED)
        sl->value = c->raise ? (double)(now - sl->cond_since) : NAN;

    bool raise_due = c->raise && now - sl->cond_since >= rc->delay_ms[m];
    bool clear_due = c->clear && now - sl->clear_since >= rc->clear_delay_ms[m];
    if (is_process(id) && inhibited(s, now))
        return; /* timers run, transitions wait for the end of the inhibit */

    switch (sl->st) {
    case ALARM_ST_INACTIVE:
        if (!raise_due)
            break;
        sl->by[0] = '\0';
        ev = make_event(eng, si, id, ALARM_EV_RAISED, true, false, wall);
        if (emit(out, &ev) == 0)
            sl->st = ALARM_ST_ACTIVE;
        break;
    case ALARM_ST_ACTIVE:
    case ALARM_ST_ACKED:
        if (!clear_due)
            break;
        if (sl->st == ALARM_ST_ACTIVE && rc->latch) {
            sl->st = ALARM_ST_LATCHED; /* stays published as raised until acked */
            break;
        }
        ev = make_event(eng, si, id, ALARM_EV_CLEARED, false, sl->st == ALARM_ST_ACKED, wall);
        if (emit(out, &ev) == 0)
            sl->st = ALARM_ST_INACTIVE;
        break;
    case ALARM_ST_LATCHED:
        if (raise_due)
            sl->st = ALARM_ST_ACTIVE; /* never published as gone: nothing to say */
        break;
    }
}

static void end_inhibit_if_due(struct alarm_engine *eng, int si, int64_t now, int64_t wall,
                               struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];

    if (s->inhibit_until == T_NONE || now < s->inhibit_until)
        return;
    if (emit_inhibit(eng, si, ALARM_EV_INHIBIT_ENDED, wall, 0, s->inhibit_by, out) == 0) {
        s->inhibit_until = T_NONE;
        s->inhibit_by[0] = '\0';
    }
}

static void evaluate(struct alarm_engine *eng, int si, int64_t now, int64_t wall,
                     struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];

    for (int id = 0; id < ALARM_COUNT; id++) {
        if (!alarm_applies(s->kind, (enum alarm_id)id))
            continue;
        struct cond c = rule_cond(eng, s, (enum alarm_id)id, now);
        step(eng, si, (enum alarm_id)id, &c, now, wall, out);
    }
}

static int call_result(const struct alarm_events *out, int deferred_before)
{
    if (out->deferred > deferred_before) {
        errno = EGW_FULL;
        return -1;
    }
    return 0;
}

/* Take in what a reading says, before the rules look at it. */
static void ingest(struct alarm_engine *eng, struct sensor *s, const struct reading *r, int64_t now)
{
    const struct alarm_rule_cfg *imp = &s->cfg.rule[ALARM_IMPLAUSIBLE];
    const struct kind_def *kd = kind_def(s->kind);
    bool has_value = !r->no_value && r->quality != Q_COMM_LOST;

    memset(&s->step, 0, sizeof(s->step));
    s->have = true;
    s->last_t = now;
    s->comm_lost = r->quality == Q_COMM_LOST;
    s->warming = kd->warmup_ms > 0 && (r->quality == Q_WARMING_UP || warming(eng, s, now));
    if (s->comm_lost || s->warming) {
        s->trust = TRUST_NONE;
        s->jump_have = false;
        return;
    }
    /* warming_up on other kinds is not ours: their values are good. */
    s->implausible = r->quality == Q_IMPLAUSIBLE;
    if (!has_value) { /* keep the last values; nothing is judged on this one */
        s->trust = TRUST_NONE;
        s->jump_have = false;
        return;
    }
    s->trust = s->implausible ? TRUST_RAISE : TRUST_FULL;
    s->last = *r;
    if (kd->value >= 0)
        s->value = kind_number(r, &kd->fields[kd->value]);
    s->over_range = kd->saturated >= 0 && kind_state(r, &kd->fields[kd->saturated]) != 0;
    if (has_jump_check(s->kind) && s->trust == TRUST_FULL) {
        double jump = imp->threshold[eng->mode];
        if (jump > 0 && s->jump_have && now - s->jump_t <= JUMP_MAX_GAP_MS &&
            above(fabs(s->value - s->jump_v), jump, true)) {
            s->implausible = true;
            s->trust = TRUST_RAISE;
        }
        s->jump_have = true;
        s->jump_v = s->value;
        s->jump_t = now;
    } else {
        s->jump_have = false;
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        if (!alarm_applies(s->kind, (enum alarm_id)id))
            continue;
        if (alarm_rule_type(id) == RT_RATE && s->trust == TRUST_FULL) {
            /* one ring: a kind has at most one rate rule */
            rate_add(&s->rate, now, kind_number(r, s->field[id]), s->cfg.rule[id].window_ms);
        } else if (alarm_rule_type(id) == RT_STATE) {
            bool on = kind_state(r, s->field[id]) == alarm_rule_state(id);
            struct slot *sl = &s->slot[id];
            sl->count = on ? (sl->count < COUNT_MAX ? sl->count + 1 : COUNT_MAX) : 0;
        }
    }
    if (s->trust == TRUST_FULL)
        for (int i = 0; i < MEANS_MAX; i++)
            if (s->mean[i].alarm >= 0)
                mean_add(&s->mean[i], now, s->value);
    /* A blast door: chatter counts its state changes, exercise_overdue its cycles. */
    door_track_update(&s->door, r, now, &s->step);
    if (s->step.changed) {
        s->chg_head = (s->chg_head + 1) % CHATTER_MAX;
        s->chg[s->chg_head] = now;
        if (s->nchg < CHATTER_MAX)
            s->nchg++;
    }
}

int alarm_on_reading(struct alarm_engine *eng, const struct reading *r, int64_t now_mono_ms,
                     struct alarm_events *out)
{
    int deferred = out->deferred;

    if (r->sensor < 0 || r->sensor >= eng->n || r->kind != eng->s[r->sensor].kind ||
        (unsigned)r->quality > Q_WARMING_UP) {
        errno = EINVAL;
        return -1;
    }
    end_inhibit_if_due(eng, r->sensor, now_mono_ms, r->ts_ms, out);
    ingest(eng, &eng->s[r->sensor], r, now_mono_ms);
    evaluate(eng, r->sensor, now_mono_ms, r->ts_ms, out);
    return call_result(out, deferred);
}

int alarm_tick(struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
               struct alarm_events *out)
{
    int deferred = out->deferred;

    for (int i = 0; i < eng->n; i++) {
        end_inhibit_if_due(eng, i, now_mono_ms, wall_ms, out);
        evaluate(eng, i, now_mono_ms, wall_ms, out);
    }
    return call_result(out, deferred);
}

int alarm_set_mode(struct alarm_engine *eng, enum gw_mode mode, int64_t now_mono_ms,
                   int64_t wall_ms, struct alarm_events *out)
{
    if ((unsigned)mode >= ALARM_MODES) {
        errno = EINVAL;
        return -1;
    }
    eng->mode = mode;
    /* Evaluate at the switch itself: not_secured's grace starts here. */
    return alarm_tick(eng, now_mono_ms, wall_ms, out);
}

static int check_alarm(const struct alarm_engine *eng, int sensor, enum alarm_id alarm)
{
    if (sensor < 0 || sensor >= eng->n || !alarm_applies(eng->s[sensor].kind, alarm)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int alarm_ack(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
              int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out)
{
    struct slot *sl;
    struct alarm_event ev[2];
    (void)now_mono_ms;

    if (check_alarm(eng, sensor, alarm) < 0)
        return -1;
    sl = &eng->s[sensor].slot[alarm];
    switch (sl->st) {
    case ALARM_ST_INACTIVE:
        errno = ENOENT;
        return -1;
    case ALARM_ST_ACKED:
        return 1;
    case ALARM_ST_ACTIVE:
    case ALARM_ST_LATCHED:
        break;
    }
    if (out->cap - out->n < (sl->st == ALARM_ST_LATCHED ? 2 : 1)) {
        out->deferred++;
        errno = EGW_FULL;
        return -1;
    }
    snprintf(sl->by, sizeof(sl->by), "%s", by ? by : "");
    if (sl->st == ALARM_ST_ACTIVE) {
        ev[0] = make_event(eng, sensor, alarm, ALARM_EV_ACKNOWLEDGED, true, true, wall_ms);
        emit(out, &ev[0]); /* room checked above */
        sl->st = ALARM_ST_ACKED;
        return 0;
    }
    /* Latched and its condition gone: the acknowledgement ends it. */
    ev[0] = make_event(eng, sensor, alarm, ALARM_EV_ACKNOWLEDGED, false, true, wall_ms);
    ev[1] = make_event(eng, sensor, alarm, ALARM_EV_CLEARED, false, true, wall_ms);
    emit(out, &ev[0]);
    emit(out, &ev[1]);
    sl->st = ALARM_ST_INACTIVE;
    return 0;
}

int alarm_inhibit(struct alarm_engine *eng, int sensor, int64_t duration_ms, const char *by,
                  int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out)
{
    int deferred = out->deferred;
    struct sensor *s;

    if (sensor < 0 || sensor >= eng->n || duration_ms < 0 || duration_ms > ALARM_INHIBIT_MAX_MS) {
        errno = EINVAL;
        return -1;
    }
    s = &eng->s[sensor];
    if (duration_ms == 0) {
        if (s->inhibit_until == T_NONE) {
            errno = ENOENT;
            return -1;
        }
        if (emit_inhibit(eng, sensor, ALARM_EV_INHIBIT_ENDED, wall_ms, 0, by, out) < 0)
            return -1;
        s->inhibit_until = T_NONE;
        s->inhibit_by[0] = '\0';
        evaluate(eng, sensor, now_mono_ms, wall_ms, out);
        return call_result(out, deferred);
    }
    if (emit_inhibit(eng, sensor, ALARM_EV_INHIBIT_STARTED, wall_ms, wall_ms + duration_ms, by,
                     out) < 0)
        return -1;
    s->inhibit_until = now_mono_ms + duration_ms;
    snprintf(s->inhibit_by, sizeof(s->inhibit_by), "%s", by ? by : "");
    return 0;
}

int alarm_test(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
               int64_t wall_ms, struct alarm_events *out)
{
    if (check_alarm(eng, sensor, alarm) < 0)
        return -1;
    int st = eng->s[sensor].slot[alarm].st;
    /* A latched alarm is published as active until acknowledged. */
    struct alarm_event ev = make_event(eng, sensor, alarm, ALARM_EV_TEST, st != ALARM_ST_INACTIVE,
                                       st == ALARM_ST_ACKED, wall_ms);
    snprintf(ev.by, sizeof(ev.by), "%s", by ? by : "");
    return emit(out, &ev);
}

enum alarm_status alarm_status(const struct alarm_engine *eng, int sensor, enum alarm_id alarm)
{
    if (check_alarm(eng, sensor, alarm) < 0)
        return ALARM_ST_INACTIVE;
    return (enum alarm_status)eng->s[sensor].slot[alarm].st;
}

int alarm_active_count(const struct alarm_engine *eng)
{
    int n = 0;
    for (int i = 0; i < eng->n; i++)
        for (int id = 0; id < ALARM_COUNT; id++)
            n += eng->s[i].slot[id].st != ALARM_ST_INACTIVE;
    return n;
}

void alarm_active_by_severity(const struct alarm_engine *eng, int counts[4])
{
    for (int k = 0; k < 4; k++)
        counts[k] = 0;
    for (int i = 0; i < eng->n; i++)
        for (int id = 0; id < ALARM_COUNT; id++)
            if (eng->s[i].slot[id].st != ALARM_ST_INACTIVE &&
                (unsigned)eng->s[i].cfg.rule[id].severity < 4)
                counts[eng->s[i].cfg.rule[id].severity]++;
}

bool alarm_inhibited(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms)
{
    return sensor >= 0 && sensor < eng->n && inhibited(&eng->s[sensor], now_mono_ms);
}

int alarm_door_movement(const struct alarm_engine *eng, int sensor, const char **movement,
                        double *travel_s)
{
    if (sensor < 0 || sensor >= eng->n || eng->s[sensor].step.movement == NULL)
        return 0;
    *movement = eng->s[sensor].step.movement;
    *travel_s = eng->s[sensor].step.travel_s;
    return 1;
}

bool alarm_warming_up(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms)
{
    return sensor >= 0 && sensor < eng->n && warming(eng, &eng->s[sensor], now_mono_ms);
}
