/*
 * review: see review.h.  What each section means, exactly:
 *
 * - An episode is one alarm of one sensor from its `raised` in [from, to):
 *   the first `acknowledged` after it gives acked and by, the `cleared`
 *   after it ends it.  Transitions after --to are not looked at, so a
 *   review of a past period reads the same whenever it is made.
 * - door_faults: every blast_door alarm (exercise_overdue, comm_lost of a
 *   door included); floods: water_level and water_leak alarms but comm_lost
 *   and implausible; co2_events, smoke_events likewise.  A water level
 *   flood's peak is max(level_m) between its raise and its clear (or --to).
 * - A door's exercise is the engine's (gateway/alarm.c): a full cycle is the
 *   door seen `open` and then `locked`; last_exercise is that lock, found
 *   with last()/first() on the door field: the last open before --to, the
 *   first lock after it, and when the door has not been locked since, the
 *   same one cycle back.  Overdue: none ended in the 31 days before --to,
 *   and, when none was found at all, the shelter was watched for those 31
 *   days (as the engine counts from when it first saw the door).
 * - door_travel: daily mean travel time per door and movement (InfluxDB's
 *   mean GROUP BY time(1d) in the period's zone); first_s and last_s are the
 *   means of the first and last days with movements (up to 7 days each, at
 *   most half of them); creeping when last_s is 15 % and 0.5 s above.
 * - availability: every shelter that wrote a health point in the
 *   REVIEW_LOOKBACK_DAYS before --to (or in the period), so a gateway dead
 *   since before the period is listed at 0 %, not left out; a gateway
 *   writes a health point each minute, through its
 *   outbox, so a missing point is a minute the gateway was not running;
 *   online_pct = points / minutes of the period (up to now, and from the
 *   shelter's first point ever when it came in the period); comm_lost_s is
 *   the time the shelter's sensors spent in comm_lost (an alarm raised
 *   before the period and still raised counts from --from).
 *
 * Rounds (review_next): 1, one statement per section over the whole
 * subtree; 2 and later, per episode (peaks) and per door (its exercise, at
 * most EXERCISE_ROUNDS steps back).
 */
#include "review.h"

#include "alarmdef.h"
#include "kind.h"
#include "points.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400 * 1000LL)
#define EXERCISE_ROUNDS 8

enum stmt {
    ST_SHELTERS,
    ST_FIRST_SEEN,
    ST_HEALTH,
    ST_EVENTS,
    ST_COMM_BEFORE,
    ST_DOORS,
    ST_TRAVEL, /* idx: the movement */
    ST_OPEN_RECENT,
    ST_LOCATIONS,
    ST_PEAK_FLOOD, /* idx: the flood */
    ST_PEAK_CO2,   /* idx: the co2 event */
    ST_EXERCISE,   /* idx: the door */
};

struct pend {
    enum stmt type;
    int idx;
};

enum exercise_step { STEP_DONE, STEP_LOCK_AFTER, STEP_LOCK_BEFORE, STEP_OPEN_BEFORE };

struct door {
    struct review_site site;
    enum exercise_step step;
    int64_t open_ms, before_ms; /* the open being followed; the upper bound */
    int64_t last_exercise;
    int rounds;
};

enum event { EV_RAISED, EV_ACKED, EV_CLEARED, EV_OTHER };

struct ev {
    struct review_site site;
    char alarm[IQL_SLUG_MAX], kind[IQL_SLUG_MAX];
    enum event event;
    int64_t ts, seq;
    char by[REVIEW_TEXT_MAX], location[REVIEW_TEXT_MAX];
};

struct comm_before {
    struct review_site site;
    int64_t raised, cleared; /* last of each before the period */
};

struct loc {
    struct review_site site;
    char location[REVIEW_TEXT_MAX];
};

struct priv {
    int round;
    struct pend *pend;
    int npend, cappend;
    struct door *doors;
    int ndoors, capdoors;
    struct ev *evs;
    int nevs, capevs;
    struct comm_before *cb;
    int ncb, capcb;
    struct loc *locs;
    int nlocs, caplocs;
    int capdoor_faults, capfloods, capco2, capsmoke, capoverdue, captravel, capavail, capchildren;
};

static const char *const movements[] = {"open", "close", "lock"}; /* kind.h struct door_step */

/* The schema's names come from the tables that write it (sensors/points.h,
 * kind.h, alarmdef.h); the fields of the gateway's health point and of a
 * door's movement, and an alarm point's seq, by and message, are spelled as
 * points.c writes them. */
#define DOOR kind_name(KIND_BLAST_DOOR)

/* The field whose peak an episode shows (peak_m; ppm), as the
 * kind table names it in InfluxDB; NULL: none (water_leak, smoke). */
static const char *peak_field(enum kind k)
{
    const struct kind_field *kf = k == KIND_WATER_LEVEL ? kind_field(k, "level_m")
                                  : k == KIND_CO2       ? kind_field(k, "co2_ppm")
                                                        : NULL;
    return kf != NULL ? kf->influx : NULL;
}

/* ---- small helpers ---- */

static int grow(void **arr, int *cap, int n, size_t size)
{
    if (n < *cap)
        return 0;
    int ncap = *cap > 0 ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)ncap * size);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}
#define GROW(arr, cap, n) grow((void **)&(arr), &(cap), (n), sizeof(*(arr)))

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

static void site_from(struct review_site *s, const cJSON *series)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < IQL_LEVELS; i++)
        copy(s->level[i], sizeof(s->level[i]), iql_tag(series, topic_site_keys[i]));
    copy(s->sensor, sizeof(s->sensor), iql_tag(series, POINTS_SENSOR_TAG));
}

static int site_cmp(const struct review_site *a, const struct review_site *b)
{
    for (int i = 0; i < IQL_LEVELS; i++) {
        int c = strcmp(a->level[i], b->level[i]);
        if (c != 0)
            return c;
    }
    return strcmp(a->sensor, b->sensor);
}

static bool same_shelter(const struct review_site *a, const struct review_site *b)
{
    for (int i = 0; i < IQL_LEVELS; i++)
        if (strcmp(a->level[i], b->level[i]) != 0)
            return false;
    return true;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void tag_list(FILE *f, bool sensor)
{
    for (int i = 0; i < IQL_LEVELS; i++) {
        if (i > 0)
            fputc(',', f);
        iql_ident(f, topic_site_keys[i]);
    }
    if (sensor)
        fputs(",\"sensor\"", f);
}

static void group_by(FILE *f, bool sensor)
{
    fputs(" GROUP BY ", f);
    tag_list(f, sensor);
}

/* WHERE on one sensor (or one shelter when sensor is ""), in [lo, hi). */
static void where_site(FILE *f, const struct review_site *s, int64_t lo, int64_t hi)
{
    struct topic_subtree st = {.nlevels = IQL_LEVELS};
    for (int i = 0; i < IQL_LEVELS; i++)
        copy(st.level[i], sizeof(st.level[i]), s->level[i]);
    iql_where(f, &st, lo, hi);
    if (s->sensor[0] != '\0') {
        fputs(" AND \"sensor\" = ", f);
        iql_str(f, s->sensor);
    }
}

/* ---- public helpers ---- */

void review_location_from_message(const char *message, const char *sensor, char *buf, size_t len)
{
    size_t sl = strlen(sensor);
    buf[0] = '\0';
    if (strncmp(message, sensor, sl) != 0)
        return;
    const char *p = message + sl, *end = NULL;
    if (strncmp(p, "\xef\xbc\x88", 3) == 0) { /* （ */
        p += 3;
        end = strstr(p, "\xef\xbc\x89\xef\xbc\x9a"); /* ）： */
    } else if (strncmp(p, " (", 2) == 0) {
        p += 2;
        end = strstr(p, "): ");
    }
    if (end != NULL)
        snprintf(buf, len, "%.*s", (int)(end - p), p);
}

double review_round(double v, int digits)
{
    double f = pow(10, digits);
    return isfinite(v) ? round(v * f) / f : v;
}

const char *review_child_key(const struct review *rv)
{
    return iql_child_key(&rv->opts.subtree);
}

const char *review_child_of(const struct review *rv, const struct review_site *s)
{
    int n = rv->opts.subtree.nlevels;
    return n < IQL_LEVELS ? s->level[n] : s->sensor;
}

static const char *location_of(const struct review *rv, const struct review_site *s)
{
    const struct priv *pv = rv->priv;
    for (int i = 0; i < pv->nlocs; i++)
        if (site_cmp(&pv->locs[i].site, s) == 0)
            return pv->locs[i].location;
    return "";
}

/* ---- lifecycle ---- */

struct review *review_new(const struct review_opts *opts)
{
    struct review *rv = calloc(1, sizeof(*rv));
    if (rv == NULL || (rv->priv = calloc(1, sizeof(struct priv))) == NULL) {
        free(rv);
        return NULL;
    }
    rv->opts = *opts;
    rv->door_times.ack_median_s = rv->door_times.ack_worst_s = NAN;
    rv->door_times.clear_median_s = rv->door_times.clear_worst_s = NAN;
    return rv;
}

void review_free(struct review *rv)
{
    if (rv == NULL)
        return;
    struct priv *pv = rv->priv;
    free(pv->pend);
    free(pv->doors);
    free(pv->evs);
    free(pv->cb);
    free(pv->locs);
    free(pv);
    free(rv->door_faults);
    free(rv->floods);
    free(rv->co2);
    free(rv->smoke);
    free(rv->overdue);
    for (int i = 0; i < rv->ntravel; i++)
        free(rv->travel[i].days);
    free(rv->travel);
    free(rv->avail);
    free(rv->children);
    free(rv);
}

/* ---- statements ---- */

static int pend(struct priv *pv, enum stmt type, int idx, FILE *f)
{
    if (GROW(pv->pend, pv->cappend, pv->npend) == -1)
        return -1;
    if (pv->npend > 0)
        fputs(";\n", f);
    pv->pend[pv->npend++] = (struct pend){type, idx};
    return 0;
}

static int first_round(struct review *rv, FILE *f)
{
    struct priv *pv = rv->priv;
    const struct topic_subtree *st = &rv->opts.subtree;
    int64_t from = rv->opts.period.from_ms, to = rv->opts.period.to_ms;
    int64_t tz = ((-rv->opts.period.offset_ms) % DAY_MS + DAY_MS) % DAY_MS;

    if (pend(pv, ST_SHELTERS, 0, f) == -1)
        return -1;
    /* Every shelter heard from in the lookback, not only in the period: a
     * gateway dead since before it is listed offline, not left out. */
    fprintf(f, "SELECT last(\"uptime_s\") FROM \"%s\"", POINTS_GATEWAY);
    iql_where(f, st, min64(from, to - REVIEW_LOOKBACK_DAYS * DAY_MS), to);
    group_by(f, false);

    if (pend(pv, ST_FIRST_SEEN, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT first(\"uptime_s\") FROM \"%s\"", POINTS_GATEWAY);
    iql_where(f, st, INT64_MIN, to);
    group_by(f, false);

    if (pend(pv, ST_HEALTH, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT count(\"uptime_s\") FROM \"%s\"", POINTS_GATEWAY);
    iql_where(f, st, from, to);
    group_by(f, false);

    if (pend(pv, ST_EVENTS, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT \"seq\", \"by\", \"message\", \"location\" FROM \"%s\"", POINTS_ALARM);
    iql_where(f, st, from, to);
    fputs(" AND \"kind\" != 'gateway'", f);
    group_by(f, true);
    fputs(",\"alarm\",\"kind\",\"event\"", f);

    if (pend(pv, ST_COMM_BEFORE, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT last(\"seq\") FROM \"%s\"", POINTS_ALARM);
    iql_where(f, st, from - REVIEW_LOOKBACK_DAYS * DAY_MS, from);
    fprintf(f, " AND \"alarm\" = '%s'", alarm_name(ALARM_COMM_LOST));
    group_by(f, true);
    fputs(",\"event\"", f);

    if (pend(pv, ST_DOORS, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT last(\"door\") FROM \"%s\"", DOOR);
    iql_where(f, st, from, to);
    group_by(f, true);

    for (int m = 0; m < 3; m++) {
        if (pend(pv, ST_TRAVEL, m, f) == -1)
            return -1;
        fprintf(f, "SELECT mean(\"travel_s\"), count(\"travel_s\") FROM \"%s\"", DOOR);
        iql_where(f, st, from, to);
        fputs(" AND \"movement\" = ", f);
        iql_str(f, movements[m]);
        fprintf(f, " GROUP BY time(1d, %lldms),", (long long)tz);
        tag_list(f, true);
        fputs(" fill(none)", f);
    }

    if (pend(pv, ST_OPEN_RECENT, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT last(\"door\") FROM \"%s\"", DOOR);
    iql_where(f, st, to - REVIEW_OVERDUE_DAYS * DAY_MS, to);
    fprintf(f, " AND \"door\" = '%s'", door_state_name(DOOR_OPEN));
    group_by(f, true);

    if (pend(pv, ST_LOCATIONS, 0, f) == -1)
        return -1;
    fprintf(f, "SELECT last(\"message\") FROM \"%s\"", POINTS_ALARM);
    iql_where(f, st, to - REVIEW_LOOKBACK_DAYS * DAY_MS, to);
    fputs(" AND \"kind\" != 'gateway'", f);
    group_by(f, true);
    return pv->npend;
}

static int finish(struct review *rv);

/* Exercise: one statement per door still being followed back. */
static int exercise_stmt(struct review *rv, int i, FILE *f)
{
    struct priv *pv = rv->priv;
    struct door *d = &pv->doors[i];
    int64_t to = rv->opts.period.to_ms, oldest = to - REVIEW_LOOKBACK_DAYS * DAY_MS;

    if (pend(pv, ST_EXERCISE, i, f) == -1)
        return -1;
    switch (d->step) {
    case STEP_LOCK_AFTER: /* the first lock after the open */
        fprintf(f, "SELECT first(\"door\") FROM \"%s\"", DOOR);
        where_site(f, &d->site, d->open_ms + 1, d->before_ms);
        fprintf(f, " AND \"door\" = '%s'", door_state_name(DOOR_LOCKED));
        break;
    case STEP_LOCK_BEFORE: /* the lock that ended the cycle before */
        fprintf(f, "SELECT last(\"door\") FROM \"%s\"", DOOR);
        where_site(f, &d->site, oldest, d->open_ms);
        fprintf(f, " AND \"door\" = '%s'", door_state_name(DOOR_LOCKED));
        break;
    case STEP_OPEN_BEFORE:
        fprintf(f, "SELECT last(\"door\") FROM \"%s\"", DOOR);
        where_site(f, &d->site, oldest, d->before_ms);
        fprintf(f, " AND \"door\" = '%s'", door_state_name(DOOR_OPEN));
        break;
    case STEP_DONE:
        break;
    }
    return 0;
}

int review_next(struct review *rv, FILE *f)
{
    struct priv *pv = rv->priv;
    pv->npend = 0;
    pv->round++;
    if (pv->round == 1)
        return first_round(rv, f);
    if (pv->round == 2) {
        int64_t end_cap = min64(rv->opts.period.to_ms, max64(rv->opts.now_ms, 0));
        for (int i = 0; i < rv->nfloods; i++) {
            struct review_episode *e = &rv->floods[i];
            enum kind k;
            if (kind_from_name(e->kind, &k) == -1 || peak_field(k) == NULL)
                continue; /* water_leak: no level */
            if (pend(pv, ST_PEAK_FLOOD, i, f) == -1)
                return -1;
            fprintf(f, "SELECT max(\"%s\") FROM \"%s\"", peak_field(k), e->kind);
            where_site(f, &e->site, e->raised, (e->cleared ? e->cleared : end_cap) + 1);
        }
        for (int i = 0; i < rv->nco2; i++) {
            struct review_episode *e = &rv->co2[i];
            if (pend(pv, ST_PEAK_CO2, i, f) == -1)
                return -1;
            fprintf(f, "SELECT max(\"%s\") FROM \"%s\"", peak_field(KIND_CO2), e->kind);
            where_site(f, &e->site, e->raised, (e->cleared ? e->cleared : end_cap) + 1);
        }
    }
    for (int i = 0; i < pv->ndoors; i++) {
        struct door *d = &pv->doors[i];
        if (d->step == STEP_DONE)
            continue;
        if (++d->rounds > EXERCISE_ROUNDS) {
            d->step = STEP_DONE; /* cycling without an end in sight: unknown */
            continue;
        }
        if (exercise_stmt(rv, i, f) == -1)
            return -1;
    }
    if (pv->npend == 0 && finish(rv) == -1)
        return -1;
    return pv->npend;
}

/* ---- answers ---- */

static enum event event_of(const char *s)
{
    if (strcmp(s, alarm_event_type_name(ALARM_EV_RAISED)) == 0)
        return EV_RAISED;
    if (strcmp(s, alarm_event_type_name(ALARM_EV_ACKNOWLEDGED)) == 0)
        return EV_ACKED;
    if (strcmp(s, alarm_event_type_name(ALARM_EV_CLEARED)) == 0)
        return EV_CLEARED;
    return EV_OTHER;
}

static int take_events(struct review *rv, const cJSON *series)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        int ct = iql_column(s, "time"), cs = iql_column(s, "seq"), cb = iql_column(s, "by");
        int cm = iql_column(s, "message"), cl = iql_column(s, "location");
        enum event ev = event_of(iql_tag(s, "event"));
        if (ev == EV_OTHER)
            continue;
        const cJSON *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(s, "values"))
        {
            if (GROW(pv->evs, pv->capevs, pv->nevs) == -1)
                return -1;
            struct ev *e = &pv->evs[pv->nevs++];
            memset(e, 0, sizeof(*e));
            site_from(&e->site, s);
            copy(e->alarm, sizeof(e->alarm), iql_tag(s, "alarm"));
            copy(e->kind, sizeof(e->kind), iql_tag(s, "kind"));
            e->event = ev;
            e->ts = iql_int(row, ct, 0);
            e->seq = iql_int(row, cs, 0);
            copy(e->by, sizeof(e->by), iql_text(row, cb));
            copy(e->location, sizeof(e->location), iql_text(row, cl));
            if (e->location[0] == '\0')
                review_location_from_message(iql_text(row, cm), e->site.sensor, e->location,
                                             sizeof(e->location));
        }
    }
    return 0;
}

/* qsort for a list that may be empty: an empty list's pointer may be NULL,
 * which qsort must not be given, even with no element (C11 7.22.5). */
static void sort_list(void *base, int n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, (size_t)n, size, cmp);
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    int c = site_cmp(&x->site, &y->site);
    if (c == 0)
        c = strcmp(x->alarm, y->alarm);
    if (c == 0)
        c = (x->ts > y->ts) - (x->ts < y->ts);
    if (c == 0)
        c = (x->seq > y->seq) - (x->seq < y->seq);
    if (c == 0) /* same ms, same seq: raised, acknowledged, cleared */
        c = (int)x->event - (int)y->event;
    return c;
}

static bool is_process_alarm(const char *alarm)
{
    return strcmp(alarm, alarm_name(ALARM_COMM_LOST)) != 0 &&
           strcmp(alarm, alarm_name(ALARM_IMPLAUSIBLE)) != 0;
}

/* Which list an alarm of this kind goes to (NULL: none). */
static struct review_episode **list_for(struct review *rv, const struct ev *e, int **n, int **cap)
{
    struct priv *pv = rv->priv;
    enum kind k;
    if (kind_from_name(e->kind, &k) == -1)
        return NULL;
    if (k == KIND_BLAST_DOOR) {
        *n = &rv->ndoor_faults, *cap = &pv->capdoor_faults;
        return &rv->door_faults;
    }
    if (!is_process_alarm(e->alarm))
        return NULL;
    if (k == KIND_WATER_LEVEL || k == KIND_WATER_LEAK) {
        *n = &rv->nfloods, *cap = &pv->capfloods;
        return &rv->floods;
    }
    if (k == KIND_CO2) {
        *n = &rv->nco2, *cap = &pv->capco2;
        return &rv->co2;
    }
    if (k == KIND_SMOKE) {
        *n = &rv->nsmoke, *cap = &pv->capsmoke;
        return &rv->smoke;
    }
    return NULL;
}

/* Pair the events of each alarm into episodes. */
static int episodes(struct review *rv)
{
    struct priv *pv = rv->priv;
    int64_t from = rv->opts.period.from_ms, to = rv->opts.period.to_ms;
    struct review_episode **cur_list = NULL;
    int cur = -1;

    sort_list(pv->evs, pv->nevs, sizeof(*pv->evs), ev_cmp);
    for (int i = 0; i < pv->nevs; i++) {
        const struct ev *e = &pv->evs[i];
        if (i > 0 && (site_cmp(&e->site, &pv->evs[i - 1].site) != 0 ||
                      strcmp(e->alarm, pv->evs[i - 1].alarm) != 0))
            cur = -1;
        int *n, *cap;
        struct review_episode **list = list_for(rv, e, &n, &cap);
        if (list == NULL)
            continue;
        if (e->event == EV_RAISED) {
            cur = -1;
            if (e->ts < from || e->ts >= to)
                continue;
            if (grow((void **)list, cap, *n, sizeof(**list)) == -1)
                return -1;
            struct review_episode *ep = &(*list)[*n];
            memset(ep, 0, sizeof(*ep));
            ep->site = e->site;
            copy(ep->alarm, sizeof(ep->alarm), e->alarm);
            copy(ep->kind, sizeof(ep->kind), e->kind);
            copy(ep->location, sizeof(ep->location), e->location);
            ep->raised = e->ts;
            ep->peak = NAN;
            cur = (*n)++;
            cur_list = list;
        } else if (cur >= 0 && cur_list == list) {
            struct review_episode *ep = &(*list)[cur];
            if (e->event == EV_ACKED && ep->acked == 0) {
                ep->acked = e->ts;
                copy(ep->by, sizeof(ep->by), e->by);
            } else if (e->event == EV_CLEARED) {
                ep->cleared = e->ts;
                cur = -1;
            }
        }
    }
    return 0;
}

static int take_comm_before(struct review *rv, const cJSON *series)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        struct review_site site;
        site_from(&site, s);
        enum event ev = event_of(iql_tag(s, "event"));
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        int64_t ts = iql_int(row, iql_column(s, "time"), 0);
        int k;
        for (k = 0; k < pv->ncb; k++)
            if (site_cmp(&pv->cb[k].site, &site) == 0)
                break;
        if (k == pv->ncb) {
            if (GROW(pv->cb, pv->capcb, pv->ncb) == -1)
                return -1;
            pv->cb[pv->ncb++] = (struct comm_before){.site = site};
        }
        if (ev == EV_RAISED)
            pv->cb[k].raised = ts;
        else if (ev == EV_CLEARED)
            pv->cb[k].cleared = ts;
    }
    return 0;
}

static struct review_avail *avail_of(struct review *rv, const struct review_site *s)
{
    for (int i = 0; i < rv->navail; i++)
        if (same_shelter(&rv->avail[i].site, s))
            return &rv->avail[i];
    return NULL;
}

/* comm_lost time per shelter, clipped to the period (up to now). */
static void comm_lost(struct review *rv)
{
    struct priv *pv = rv->priv;
    int64_t from = rv->opts.period.from_ms;
    int64_t end = min64(rv->opts.period.to_ms, rv->opts.now_ms);
    int64_t start = 0;
    bool open = false;

    for (int i = 0; i < pv->nevs; i++) {
        const struct ev *e = &pv->evs[i];
        bool first = i == 0 || site_cmp(&e->site, &pv->evs[i - 1].site) != 0 ||
                     strcmp(e->alarm, pv->evs[i - 1].alarm) != 0;
        if (strcmp(e->alarm, alarm_name(ALARM_COMM_LOST)) != 0)
            continue;
        struct review_avail *a = avail_of(rv, &e->site);
        if (first) {
            open = false;
            for (int k = 0; k < pv->ncb; k++)
                if (site_cmp(&pv->cb[k].site, &e->site) == 0 &&
                    pv->cb[k].raised > pv->cb[k].cleared)
                    open = true, start = from;
        }
        if (e->event == EV_RAISED && !open) {
            open = true;
            start = e->ts;
        } else if (e->event == EV_CLEARED && open) {
            open = false;
            if (a != NULL && e->ts > start)
                a->comm_lost_s += (min64(e->ts, end) - start) / 1000;
        }
        bool last = i + 1 == pv->nevs || site_cmp(&e->site, &pv->evs[i + 1].site) != 0 ||
                    strcmp(e->alarm, pv->evs[i + 1].alarm) != 0;
        if (last && open && a != NULL && end > start)
            a->comm_lost_s += (end - start) / 1000;
    }
    /* Lost before the period, no transition in it: lost all along. */
    for (int k = 0; k < pv->ncb; k++) {
        if (pv->cb[k].raised <= pv->cb[k].cleared)
            continue;
        bool seen = false;
        for (int i = 0; i < pv->nevs && !seen; i++)
            seen = strcmp(pv->evs[i].alarm, alarm_name(ALARM_COMM_LOST)) == 0 &&
                   site_cmp(&pv->evs[i].site, &pv->cb[k].site) == 0;
        struct review_avail *a = avail_of(rv, &pv->cb[k].site);
        if (!seen && a != NULL && end > from)
            a->comm_lost_s += (end - from) / 1000;
    }
}

static int take_shelters(struct review *rv, const cJSON *series)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        if (GROW(rv->avail, pv->capavail, rv->navail) == -1)
            return -1;
        struct review_avail *a = &rv->avail[rv->navail++];
        memset(a, 0, sizeof(*a));
        site_from(&a->site, s);
        a->site.sensor[0] = '\0';
    }
    return 0;
}

/* When each shelter wrote its first health point: a shelter commissioned
 * in the period is not offline before. */
static void take_first_seen(struct review *rv, const cJSON *series)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        struct review_site site;
        site_from(&site, s);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        struct review_avail *a = avail_of(rv, &site);
        if (a != NULL)
            a->first_seen = iql_int(row, 0, 0);
    }
}

/* count() answers: one value per shelter. */
static void take_counts(struct review *rv, const cJSON *series)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        struct review_site site;
        site_from(&site, s);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        long n = (long)iql_int(row, 1, 0);
        struct review_avail *a = avail_of(rv, &site);
        if (a == NULL)
            continue;
        a->health_points = n;
        rv->health_points += n;
    }
}

static int take_doors(struct review *rv, const cJSON *series)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        if (GROW(pv->doors, pv->capdoors, pv->ndoors) == -1)
            return -1;
        struct door *d = &pv->doors[pv->ndoors++];
        memset(d, 0, sizeof(*d));
        site_from(&d->site, s);
        /* Until round 1's recent opens say otherwise: look further back. */
        d->step = STEP_OPEN_BEFORE;
        d->before_ms = rv->opts.period.to_ms - REVIEW_OVERDUE_DAYS * DAY_MS;
    }
    rv->doors = pv->ndoors;
    return 0;
}

static struct door *door_of(struct review *rv, const struct review_site *s)
{
    struct priv *pv = rv->priv;
    for (int i = 0; i < pv->ndoors; i++)
        if (site_cmp(&pv->doors[i].site, s) == 0)
            return &pv->doors[i];
    return NULL;
}

static void take_open_recent(struct review *rv, const cJSON *series)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        struct review_site site;
        site_from(&site, s);
        struct door *d = door_of(rv, &site);
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        if (d == NULL || row == NULL)
            continue;
        d->step = STEP_LOCK_AFTER;
        d->open_ms = iql_int(row, 0, 0);
        d->before_ms = rv->opts.period.to_ms;
    }
}

static int take_locations(struct review *rv, const cJSON *series)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
        if (GROW(pv->locs, pv->caplocs, pv->nlocs) == -1)
            return -1;
        struct loc *l = &pv->locs[pv->nlocs];
        site_from(&l->site, s);
        review_location_from_message(iql_text(row, 1), l->site.sensor, l->location,
                                     sizeof(l->location));
        if (l->location[0] != '\0')
            pv->nlocs++;
    }
    return 0;
}

static int take_travel(struct review *rv, const cJSON *series, int movement)
{
    struct priv *pv = rv->priv;
    const cJSON *s;
    cJSON_ArrayForEach(s, series)
    {
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values"), *row;
        int n = cJSON_GetArraySize(values);
        if (n == 0)
            continue;
        if (GROW(rv->travel, pv->captravel, rv->ntravel) == -1)
            return -1;
        struct review_travel *t = &rv->travel[rv->ntravel];
        memset(t, 0, sizeof(*t));
        if ((t->days = calloc((size_t)n, sizeof(*t->days))) == NULL)
            return -1;
        rv->ntravel++;
        site_from(&t->site, s);
        t->movement = movements[movement];
        cJSON_ArrayForEach(row, values)
        {
            struct review_day *d = &t->days[t->ndays];
            d->day_ms = iql_int(row, 0, 0);
            d->mean_s = iql_num(row, 1, NAN);
            d->count = (int)iql_int(row, 2, 0);
            if (d->count > 0 && !isnan(d->mean_s)) {
                t->ndays++;
                t->count += d->count;
            }
        }
    }
    return 0;
}

static void take_peak(struct review_episode *e, const cJSON *series)
{
    const cJSON *s = cJSON_GetArrayItem(series, 0);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
    e->peak = iql_num(row, 1, NAN);
}

static void take_exercise(struct review *rv, struct door *d, const cJSON *series)
{
    const cJSON *s = cJSON_GetArrayItem(series, 0);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, "values"), 0);
    int64_t ts = row != NULL ? iql_int(row, 0, 0) : 0;
    switch (d->step) {
    case STEP_LOCK_AFTER:
        if (ts != 0) {
            d->last_exercise = ts;
            d->step = STEP_DONE;
        } else {
            d->step = STEP_LOCK_BEFORE; /* open since: the cycle before */
        }
        break;
    case STEP_LOCK_BEFORE:
        if (ts != 0) {
            d->step = STEP_OPEN_BEFORE;
            d->before_ms = ts;
        } else {
            d->step = STEP_DONE;
        }
        break;
    case STEP_OPEN_BEFORE:
        if (ts != 0) {
            d->step = STEP_LOCK_AFTER; /* the first lock after it ends that cycle */
            d->open_ms = ts;
            d->before_ms = rv->opts.period.to_ms;
        } else {
            d->step = STEP_DONE;
        }
        break;
    case STEP_DONE:
        break;
    }
}

int review_take(struct review *rv, const cJSON *answer, char *err, size_t errlen)
{
    struct priv *pv = rv->priv;
    for (int i = 0; i < pv->npend; i++) {
        char why[256];
        const cJSON *series = iql_series(answer, i, why, sizeof(why));
        if (series == NULL) {
            snprintf(err, errlen, "statement %d of round %d: %s", i + 1, pv->round, why);
            return -1;
        }
        const struct pend *p = &pv->pend[i];
        int rc = 0;
        switch (p->type) {
        case ST_SHELTERS:
            rc = take_shelters(rv, series);
            break;
        case ST_FIRST_SEEN:
            take_first_seen(rv, series);
            break;
        case ST_HEALTH:
            take_counts(rv, series);
            break;
        case ST_EVENTS:
            rc = take_events(rv, series);
            break;
        case ST_COMM_BEFORE:
            rc = take_comm_before(rv, series);
            break;
        case ST_DOORS:
            rc = take_doors(rv, series);
            break;
        case ST_TRAVEL:
            rc = take_travel(rv, series, p->idx);
            break;
        case ST_OPEN_RECENT:
            take_open_recent(rv, series);
            break;
        case ST_LOCATIONS:
            rc = take_locations(rv, series);
            break;
        case ST_PEAK_FLOOD:
            take_peak(&rv->floods[p->idx], series);
            break;
        case ST_PEAK_CO2:
            take_peak(&rv->co2[p->idx], series);
            break;
        case ST_EXERCISE:
            take_exercise(rv, &pv->doors[p->idx], series);
            break;
        }
        if (rc == -1) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (pv->round == 1 && (episodes(rv) == -1)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pv->round == 1)
        comm_lost(rv);
    return 0;
}

/* ---- the finished sections ---- */

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    sort_list(v, n, sizeof(*v), dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void door_times(struct review *rv)
{
    struct review_times *t = &rv->door_times;
    double *ack = malloc(sizeof(double) * (size_t)(rv->ndoor_faults + 1));
    double *clr = malloc(sizeof(double) * (size_t)(rv->ndoor_faults + 1));
    t->faults = rv->ndoor_faults;
    if (ack == NULL || clr == NULL) {
        free(ack);
        free(clr);
        return;
    }
    for (int i = 0; i < rv->ndoor_faults; i++) {
        const struct review_episode *e = &rv->door_faults[i];
        if (e->acked)
            ack[t->acked++] = (double)(e->acked - e->raised) / 1000.0;
        if (e->cleared)
            clr[t->cleared++] = (double)(e->cleared - e->raised) / 1000.0;
    }
    t->ack_median_s = median(ack, t->acked);
    t->ack_worst_s = t->acked ? ack[t->acked - 1] : NAN;
    t->clear_median_s = median(clr, t->cleared);
    t->clear_worst_s = t->cleared ? clr[t->cleared - 1] : NAN;
    free(ack);
    free(clr);
}

static struct review_child *child(struct review *rv, const char *slug)
{
    struct priv *pv = rv->priv;
    for (int i = 0; i < rv->nchildren; i++)
        if (strcmp(rv->children[i].slug, slug) == 0)
            return &rv->children[i];
    if (GROW(rv->children, pv->capchildren, rv->nchildren) == -1)
        return NULL;
    struct review_child *c = &rv->children[rv->nchildren++];
    memset(c, 0, sizeof(*c));
    copy(c->slug, sizeof(c->slug), slug);
    return c;
}

static int child_cmp(const void *a, const void *b)
{
    return strcmp(((const struct review_child *)a)->slug, ((const struct review_child *)b)->slug);
}

static int children(struct review *rv)
{
    struct priv *pv = rv->priv;
    struct review_child *c;
    bool sensors = rv->opts.subtree.nlevels == IQL_LEVELS;
    for (int i = 0; i < rv->navail && !sensors; i++) {
        if ((c = child(rv, review_child_of(rv, &rv->avail[i].site))) == NULL)
            return -1;
        c->shelters++;
    }
    for (int i = 0; i < pv->ndoors && sensors; i++)
        if (child(rv, pv->doors[i].site.sensor) == NULL)
            return -1;
    for (int i = 0; i < rv->ndoor_faults; i++) {
        if ((c = child(rv, review_child_of(rv, &rv->door_faults[i].site))) == NULL)
            return -1;
        c->door_faults++;
    }
    for (int i = 0; i < rv->nfloods; i++) {
        if ((c = child(rv, review_child_of(rv, &rv->floods[i].site))) == NULL)
            return -1;
        c->floods++;
    }
    sort_list(rv->children, rv->nchildren, sizeof(*rv->children), child_cmp);
    return 0;
}

static void travel(struct review *rv)
{
    for (int i = 0; i < rv->ntravel; i++) {
        struct review_travel *t = &rv->travel[i];
        struct review_day *d = t->days;
        int n = t->ndays, k = n / 2 < 7 ? n / 2 : 7;
        double sum = 0, cnt = 0;
        if (k < 1)
            k = 1;
        copy(t->location, sizeof(t->location), location_of(rv, &t->site));
        if (n == 0) {
            t->first_s = t->last_s = NAN;
            continue;
        }
        for (int j = 0; j < k; j++)
            sum += d[j].mean_s * d[j].count, cnt += d[j].count;
        t->first_s = sum / cnt;
        sum = cnt = 0;
        for (int j = n - k; j < n; j++)
            sum += d[j].mean_s * d[j].count, cnt += d[j].count;
        t->last_s = sum / cnt;
        t->creeping = n >= 4 && t->last_s >= t->first_s * REVIEW_CREEP_RATIO &&
                      t->last_s - t->first_s >= REVIEW_CREEP_MIN_S;
    }
}

/* Overdue: no full cycle ended in the 31 days before --to.  A door with no
 * cycle found at all is overdue only when its shelter was watched for those
 * 31 days (its first health point before them): the gateway's engine counts
 * a door's 31 days from when it first saw it, so a shelter commissioned
 * less than 31 days before --to is not overdue yet, and its gateway has
 * raised no exercise_overdue either. */
static int overdue(struct review *rv)
{
    struct priv *pv = rv->priv;
    int64_t limit = rv->opts.period.to_ms - REVIEW_OVERDUE_DAYS * DAY_MS;
    for (int i = 0; i < pv->ndoors; i++) {
        const struct door *d = &pv->doors[i];
        if (d->last_exercise != 0 && d->last_exercise >= limit)
            continue;
        const struct review_avail *a = avail_of(rv, &d->site);
        if (d->last_exercise == 0 && a != NULL && a->first_seen >= limit)
            continue;
        if (GROW(rv->overdue, pv->capoverdue, rv->noverdue) == -1)
            return -1;
        struct review_overdue *o = &rv->overdue[rv->noverdue++];
        memset(o, 0, sizeof(*o));
        o->site = d->site;
        o->last_exercise = d->last_exercise;
        copy(o->location, sizeof(o->location), location_of(rv, &d->site));
    }
    return 0;
}

static void availability(struct review *rv)
{
    int64_t end = min64(rv->opts.period.to_ms, rv->opts.now_ms);
    for (int i = 0; i < rv->navail; i++) {
        struct review_avail *a = &rv->avail[i];
        /* From its first health point ever when that is in the period
         * (commissioned then): the minutes from it, it included. */
        int64_t minutes = a->first_seen > rv->opts.period.from_ms
                              ? (end - a->first_seen) / 60000 + 1
                              : (end - rv->opts.period.from_ms) / 60000;
        long pts = minutes > 0 && a->health_points > minutes ? (long)minutes : a->health_points;
        a->online_pct = minutes > 0 ? 100.0 * (double)pts / (double)minutes : NAN;
        a->offline_s = minutes > 0 ? (minutes - pts) * 60 : 0;
    }
}

static int episode_cmp(const void *a, const void *b)
{
    const struct review_episode *x = a, *y = b;
    return (x->raised > y->raised) - (x->raised < y->raised);
}

static void fill_locations(struct review *rv, struct review_episode *e, int n)
{
    for (int i = 0; i < n; i++)
        if (e[i].location[0] == '\0')
            copy(e[i].location, sizeof(e[i].location), location_of(rv, &e[i].site));
    sort_list(e, n, sizeof(*e), episode_cmp);
}

static int avail_cmp(const void *a, const void *b)
{
    return site_cmp(&((const struct review_avail *)a)->site,
                    &((const struct review_avail *)b)->site);
}

/* The creeping doors first, then by shelter, door and movement. */
static int travel_cmp(const void *a, const void *b)
{
    const struct review_travel *x = a, *y = b;
    if (x->creeping != y->creeping)
        return x->creeping ? -1 : 1;
    int c = site_cmp(&x->site, &y->site);
    return c != 0 ? c : strcmp(y->movement, x->movement); /* open, lock, close */
}

static int finish(struct review *rv)
{
    fill_locations(rv, rv->door_faults, rv->ndoor_faults);
    fill_locations(rv, rv->floods, rv->nfloods);
    fill_locations(rv, rv->co2, rv->nco2);
    fill_locations(rv, rv->smoke, rv->nsmoke);
    door_times(rv);
    travel(rv);
    availability(rv);
    sort_list(rv->avail, rv->navail, sizeof(*rv->avail), avail_cmp);
    sort_list(rv->travel, rv->ntravel, sizeof(*rv->travel), travel_cmp);
    if (overdue(rv) == -1 || children(rv) == -1)
        return -1;
    return 0;
}

int review_has_data(const struct review *rv, char *err, size_t errlen)
{
    char sub[IQL_LEVELS * IQL_SLUG_MAX], a[16], b[16];
    iql_subtree_text(&rv->opts.subtree, sub, sizeof(sub));
    period_date(&rv->opts.period, rv->opts.period.from_ms, a, sizeof(a));
    period_date(&rv->opts.period, rv->opts.period.to_ms, b, sizeof(b));
    if (rv->navail == 0) {
        snprintf(err, errlen,
                 "no data: no shelter under %s wrote to InfluxDB between %s and %s (is the "
                 "subtree spelled as its full path, city/district/...?)",
                 sub, a, b);
        return -1;
    }
    if (rv->health_points == 0) {
        snprintf(err, errlen,
                 "no data: none of the %d shelter(s) under %s wrote to InfluxDB from %s to %s "
                 "(not a quiet period: the gateways were not running or not writing)",
                 rv->navail, sub, a, b);
        return -1;
    }
    return 0;
}
