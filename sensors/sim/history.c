/*
 * history: see history.h.  Each shelter is its site (the five levels and the
 * id) and six sensors; its points and alarm messages are made by the
 * encoders the gateway uses (sensors/points.c, alarm_msg_from in
 * sensors/alarm_text.c).  Each sensor's stream is made on its own
 * (periodic readings, the planted windows at one reading a minute, the
 * door cycles); a shelter's alarm transitions are collected, sorted by time
 * and numbered with one seq counter, as the gateway numbers them.  Lines go
 * out in no global order: InfluxDB takes points in any order.
 */
#include "history.h"

#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alarmdef.h"
#include "clock.h"
#include "kind.h"
#include "points.h"

#define EX_USAGE 64
#define SENSORS 6
#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define CST_MS (8 * HOUR_MS)
#define PIT_M 2.0

enum { S_SUMP, S_LEAK, S_CO2, S_DOOR1, S_DOOR2, S_SMOKE };

/* clang-format off */
static const struct { const char *name; enum kind kind; const char *location; } sensor_defs[SENSORS] = {
    {"sump-1",    KIND_WATER_LEVEL, "B1 集水坑"},
    {"leak-ramp", KIND_WATER_LEAK,  "B1 入口坡道"},
    {"co2-1",     KIND_CO2,         "B1 车库中部"},
    {"door-1",    KIND_BLAST_DOOR,  "1号防护密闭门"},
    {"door-2",    KIND_BLAST_DOOR,  "2号密闭门"},
    {"smoke-1",   KIND_SMOKE,       "配电间"},
};
static const char *const streets[] = {"fengchan", "wenhua", "renmin", "nanyang"};
static const char *const communities[][2] = {
    {"dongfeng", "jinyuan"}, {"huayuan", "xinghe"}, {"lvcheng", "yinhe"}, {"nanguan", "beiyuan"},
};
/* clang-format on */

struct gen {
    FILE *out;
    cJSON *facts;
    int64_t start, end, interval;
    uint32_t rng;
    long lines;
    char buf[8192];
};

struct hsite {
    char id[32], city[64], district[64], street[64], community[64], property[80];
};

struct shelter {
    struct hsite cfg; /* the shelter's site, as its gateway.conf would name it */
    struct points_site site;
    int index;
    struct alarm_event *evs;
    int nevs, cap;
    int64_t off_from, off_to; /* the gateway is off in [from, to); 0: never */
};

static double rnd(struct gen *g) /* [0, 1) */
{
    uint32_t x = g->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g->rng = x;
    return (double)(x >> 8) / (double)(1u << 24);
}

static int64_t day_start(int64_t ts) /* 00:00 China Standard Time of ts's day */
{
    int64_t local = ts + CST_MS;
    return local - ((local % DAY_MS) + DAY_MS) % DAY_MS - CST_MS;
}

static void put(struct gen *g, int n)
{
    if (n < 0) {
        fprintf(stderr, "shelter-sim: --history: a point did not encode\n");
        exit(1);
    }
    fwrite(g->buf, 1, (size_t)n, g->out);
    g->lines++;
}

static bool off(const struct shelter *sh, int64_t ts)
{
    return ts >= sh->off_from && ts < sh->off_to;
}

static void emit_reading(struct gen *g, struct shelter *sh, struct reading *r)
{
    if (off(sh, r->ts_ms))
        return;
    put(g, points_reading(&sh->site, sensor_defs[r->sensor].name, r, g->buf, sizeof(g->buf)));
}

static struct reading base_reading(int s, int64_t ts)
{
    return (struct reading){
        .sensor = s, .kind = sensor_defs[s].kind, .quality = Q_GOOD, .ts_ms = ts};
}

static void alarm(struct shelter *sh, int s, enum alarm_id id, enum alarm_event_type type,
                  int64_t ts, double value, double threshold, const char *unit, const char *by)
{
    if (sh->nevs == sh->cap) {
        sh->cap = sh->cap ? sh->cap * 2 : 32;
        sh->evs = realloc(sh->evs, sizeof(*sh->evs) * (size_t)sh->cap);
        if (sh->evs == NULL) {
            fprintf(stderr, "shelter-sim: out of memory\n");
            exit(1);
        }
    }
    struct alarm_event *e = &sh->evs[sh->nevs++];
    *e = (struct alarm_event){.sensor = s,
                              .alarm = id,
                              .type = type,
                              .active = type != ALARM_EV_CLEARED,
                              .acked = type == ALARM_EV_ACKNOWLEDGED,
                              .severity = alarm_def(id)->severity,
                              .value = value,
                              .threshold = threshold,
                              .unit = unit,
                              .mode = MODE_PEACETIME,
                              .ts_ms = ts};
    snprintf(e->by, sizeof(e->by), "%s", by != NULL ? by : "");
}

static int ev_cmp(const void *a, const void *b)
{
    const struct alarm_event *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    return (int)x->type - (int)y->type;
}

static void emit_alarms(struct gen *g, struct shelter *sh)
{
    char text[512];
    qsort(sh->evs, (size_t)sh->nevs, sizeof(*sh->evs), ev_cmp);
    for (int i = 0; i < sh->nevs; i++) {
        struct alarm_msg m;
        if (off(sh, sh->evs[i].ts_ms))
            continue;
        const struct alarm_event *e = &sh->evs[i];
        alarm_msg_from(e, LANG_ZH, sensor_defs[e->sensor].name, sensor_defs[e->sensor].kind,
                       sensor_defs[e->sensor].location, (uint64_t)i + 1, text, sizeof(text), &m);
        put(g, points_alarm(&sh->site, &m, g->buf, sizeof(g->buf)));
    }
}

/* An episode raised, optionally acknowledged, cleared (0: not), with its fact. */
static void episode(struct shelter *sh, cJSON *list, int s, enum alarm_id id, int64_t raised,
                    int64_t acked, int64_t cleared, const char *by, double value, double thr,
                    const char *unit, double peak)
{
    alarm(sh, s, id, ALARM_EV_RAISED, raised, value, thr, unit, NULL);
    if (acked)
        alarm(sh, s, id, ALARM_EV_ACKNOWLEDGED, acked, value, thr, unit, by);
    if (cleared)
        alarm(sh, s, id, ALARM_EV_CLEARED, cleared, NAN, thr, unit, NULL);
    if (list == NULL)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "shelter", sh->cfg.id);
    cJSON_AddStringToObject(o, "community", sh->cfg.community);
    cJSON_AddStringToObject(o, "sensor", sensor_defs[s].name);
    cJSON_AddStringToObject(o, "alarm", alarm_name(id));
    cJSON_AddNumberToObject(o, "raised", (double)raised);
    cJSON_AddNumberToObject(o, "acked", (double)acked);
    cJSON_AddNumberToObject(o, "cleared", (double)cleared);
    cJSON_AddStringToObject(o, "by", acked ? by : "");
    if (isfinite(peak))
        cJSON_AddNumberToObject(o, "peak", peak);
    cJSON_AddItemToArray(list, o);
}

static cJSON *facts(struct gen *g, const char *key)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(g->facts, key);
    return a != NULL ? a : cJSON_AddArrayToObject(g->facts, key);
}

/* ---- the streams ---- */

static void health(struct gen *g, struct shelter *sh)
{
    int64_t boot = g->start;
    for (int64_t t = g->start + (sh->index * 997) % MIN_MS; t < g->end; t += MIN_MS) {
        if (off(sh, t)) {
            boot = sh->off_to;
            continue;
        }
        struct health h = {.ts_ms = t,
                           .uptime_s = (t - boot) / 1000,
                           .polls = (uint64_t)((t - boot) / 1000) * SENSORS,
                           .broker_connected = true};
        put(g, points_health(&sh->site, &h, g->buf, sizeof(g->buf)));
    }
}

/* Periodic readings outside [w0, w1), each made by fill(). */
typedef void (*fill_fn)(struct gen *g, struct shelter *sh, struct reading *r);

static void periodic(struct gen *g, struct shelter *sh, int s, int64_t w0, int64_t w1, fill_fn fill)
{
    for (int64_t t = g->start + (sh->index * 7919 + s * 1301) % g->interval; t < g->end;
         t += g->interval) {
        if (t >= w0 && t < w1)
            continue;
        struct reading r = base_reading(s, t);
        fill(g, sh, &r);
        emit_reading(g, sh, &r);
    }
}

static void fill_level(struct gen *g, struct shelter *sh, struct reading *r)
{
    (void)sh;
    r->v.water_level.level_m = round((0.30 + 0.02 * (rnd(g) - 0.5)) * 1000) / 1000;
    r->v.water_level.level_pct = r->v.water_level.level_m / PIT_M * 100;
}

static double flood_level(int m) /* minute m of the planted flood */
{
    if (m <= 40)
        return 0.30 + 1.55 * m / 40;
    if (m <= 50)
        return 1.85;
    if (m <= 140)
        return 1.85 - 1.55 * (m - 50) / 90;
    return 0.30;
}

static void sump(struct gen *g, struct shelter *sh)
{
    int64_t f = sh->index == 0 ? day_start(g->end - 10 * DAY_MS) + 18 * HOUR_MS : 0;
    periodic(g, sh, S_SUMP, f - 10 * MIN_MS, f + 180 * MIN_MS, fill_level);
    if (f == 0)
        return;
    for (int m = -10; m < 180; m++) {
        struct reading r = base_reading(S_SUMP, f + m * MIN_MS);
        r.v.water_level.level_m = round(flood_level(m < 0 ? 0 : m) * 1000) / 1000;
        r.v.water_level.level_pct = r.v.water_level.level_m / PIT_M * 100;
        emit_reading(g, sh, &r);
    }
    cJSON *fl = facts(g, "floods");
    int64_t ack = f + 52 * MIN_MS;
    episode(sh, fl, S_SUMP, ALARM_WL_HIGH, f + 30 * MIN_MS, ack, f + 83 * MIN_MS, "物业王经理",
            flood_level(30), 1.4, "m", 1.85);
    episode(sh, fl, S_SUMP, ALARM_WL_HIGH_HIGH, f + 40 * MIN_MS, ack + 1000, f + 60 * MIN_MS,
            "物业王经理", 1.85, 1.8, "m", 1.85);
}

static void fill_dry(struct gen *g, struct shelter *sh, struct reading *r)
{
    (void)g, (void)sh;
    r->v.water_leak.wet = false;
}

static void leak(struct gen *g, struct shelter *sh)
{
    int64_t f = sh->index == 0 ? day_start(g->end - 10 * DAY_MS) + 18 * HOUR_MS : 0;
    periodic(g, sh, S_LEAK, f + 20 * MIN_MS, f + 150 * MIN_MS, fill_dry);
    if (f == 0)
        return;
    for (int m = 20; m < 150; m += 10) {
        struct reading r = base_reading(S_LEAK, f + m * MIN_MS);
        r.v.water_leak.wet = true;
        emit_reading(g, sh, &r);
    }
    episode(sh, facts(g, "floods"), S_LEAK, ALARM_LEAK, f + 21 * MIN_MS, f + 55 * MIN_MS,
            f + 151 * MIN_MS, "物业王经理", NAN, NAN, "", NAN);
}

static void fill_co2(struct gen *g, struct shelter *sh, struct reading *r)
{
    (void)sh;
    double hour = (double)((r->ts_ms + CST_MS) % DAY_MS) / HOUR_MS;
    r->v.co2.co2_ppm = round(520 + 120 * sin((hour - 8) / 24 * 2 * M_PI) + 30 * rnd(g));
}

static void co2(struct gen *g, struct shelter *sh)
{
    int64_t e = sh->index == 5 ? day_start(g->end - 8 * DAY_MS) + 19 * HOUR_MS : 0;
    int64_t c = sh->index == 4 ? day_start(g->end - 20 * DAY_MS) + 2 * HOUR_MS : 0;
    int64_t w0 = e ? e - 10 * MIN_MS : c, w1 = e ? e + 150 * MIN_MS : c + 3 * HOUR_MS;
    periodic(g, sh, S_CO2, w0, w1, fill_co2);
    if (e != 0) {
        for (int m = -10; m < 150; m++) {
            struct reading r = base_reading(S_CO2, e + m * MIN_MS);
            r.v.co2.co2_ppm = m >= 0 && m <= 120 ? round(600 + 850 * sin(M_PI * m / 120)) : 600;
            emit_reading(g, sh, &r);
        }
        episode(sh, facts(g, "co2"), S_CO2, ALARM_CO2_HIGH, e + 45 * MIN_MS, e + 60 * MIN_MS,
                e + 125 * MIN_MS, "值班员", 1200, 1000, "ppm", 1450);
    }
    if (c != 0) {
        for (int64_t t = c; t < c + 3 * HOUR_MS; t += g->interval) {
            struct reading r = base_reading(S_CO2, t);
            r.quality = Q_COMM_LOST;
            r.no_value = true;
            emit_reading(g, sh, &r);
        }
        alarm(sh, S_CO2, ALARM_COMM_LOST, ALARM_EV_RAISED, c, NAN, NAN, "", NULL);
        alarm(sh, S_CO2, ALARM_COMM_LOST, ALARM_EV_CLEARED, c + 3 * HOUR_MS, NAN, NAN, "", NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "shelter", sh->cfg.id);
        cJSON_AddStringToObject(o, "sensor", "co2-1");
        cJSON_AddNumberToObject(o, "from", (double)c);
        cJSON_AddNumberToObject(o, "to", (double)(c + 3 * HOUR_MS));
        cJSON_AddItemToArray(facts(g, "comm_lost"), o);
    }
}

static void fill_smoke(struct gen *g, struct shelter *sh, struct reading *r)
{
    (void)g, (void)sh;
    r->v.smoke.smoke = SMOKE_NORMAL;
}

static void smoke(struct gen *g, struct shelter *sh)
{
    int64_t s = sh->index == 0 ? day_start(g->end - 12 * DAY_MS) + 3 * HOUR_MS : 0;
    periodic(g, sh, S_SMOKE, s, s + 31 * MIN_MS, fill_smoke);
    if (s == 0)
        return;
    for (int m = 0; m <= 31; m++) {
        struct reading r = base_reading(S_SMOKE, s + m * MIN_MS);
        r.v.smoke.smoke = m < 31 ? SMOKE_FAULT : SMOKE_NORMAL;
        emit_reading(g, sh, &r);
    }
    episode(sh, facts(g, "smoke"), S_SMOKE, ALARM_SMOKE_FAULT, s + 2 * MIN_MS, 0, s + 31 * MIN_MS,
            NULL, NAN, NAN, "", NAN);
}

/* A blast door: locked between weekly exercise cycles. */
static void door_reading(struct gen *g, struct shelter *sh, int s, int64_t t, unsigned contacts,
                         struct door_track *tr)
{
    unsigned present = CONTACT_CLOSED | CONTACT_LOCKED | CONTACT_OPEN;
    struct reading r = base_reading(s, t);
    struct door_step step;
    r.v.blast_door.contacts = contacts;
    r.v.blast_door.contacts_present = present;
    r.v.blast_door.door = door_state_from_contacts(contacts, present);
    if (off(sh, t))
        return;
    emit_reading(g, sh, &r);
    door_track_update(tr, &r, t, &step);
    if (step.movement != NULL)
        put(g, points_door_movement(&sh->site, sensor_defs[s].name, step.movement, step.travel_s, t,
                                    g->buf, sizeof(g->buf)));
}

static void door(struct gen *g, struct shelter *sh, int s)
{
    struct door_track tr;
    bool wearing = sh->index == 2 && s == S_DOOR1, overdue = sh->index == 1 && s == S_DOOR2;
    int64_t first = day_start(g->start) + ((sh->index + (s == S_DOOR2 ? 3 : 0)) % 7) * DAY_MS +
                    10 * HOUR_MS + sh->index * 13 * MIN_MS;
    int64_t next = g->start + (sh->index * 7919 + s * 1301) % g->interval, last_lock = 0;
    unsigned contacts = CONTACT_CLOSED | CONTACT_LOCKED;

    door_track_init(&tr, g->start);
    for (int64_t c = first;; c += 7 * DAY_MS) {
        bool cycle = c + HOUR_MS < g->end && !(overdue && c >= g->end - 35 * DAY_MS);
        int64_t until = cycle ? c : g->end;
        for (; next < until; next += g->interval)
            door_reading(g, sh, s, next, contacts, &tr);
        if (!cycle)
            break;
        double frac = (double)(c - g->start) / (double)(g->end - g->start);
        double open_s = (wearing ? 12 + 8 * frac : 12) + 0.6 * (rnd(g) - 0.5);
        double close_s = (wearing ? 13 + 8 * frac : 13) + 0.6 * (rnd(g) - 0.5);
        double lock_s = 4 + 0.4 * (rnd(g) - 0.5);
        int64_t t = c;
        door_reading(g, sh, s, t, CONTACT_CLOSED, &tr); /* unlocked */
        t += 3000;
        door_reading(g, sh, s, t, 0, &tr); /* leaves closed */
        t += llround(open_s * 1000);
        door_reading(g, sh, s, t, CONTACT_OPEN, &tr);
        t = c + 10 * MIN_MS;
        door_reading(g, sh, s, t, 0, &tr); /* leaves open */
        t += llround(close_s * 1000);
        door_reading(g, sh, s, t, CONTACT_CLOSED, &tr);
        t += llround(lock_s * 1000);
        door_reading(g, sh, s, t, CONTACT_CLOSED | CONTACT_LOCKED, &tr);
        if (!off(sh, t))
            last_lock = t;
        while (next <= t)
            next += g->interval;
    }
    if (overdue && last_lock != 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "shelter", sh->cfg.id);
        cJSON_AddStringToObject(o, "sensor", sensor_defs[s].name);
        cJSON_AddNumberToObject(o, "last_exercise", (double)last_lock);
        cJSON_AddItemToArray(facts(g, "overdue"), o);
        /* The gateway's own alarm 31 days after the last cycle. */
        episode(sh, facts(g, "door_faults"), s, ALARM_DOOR_EXERCISE_OVERDUE,
                last_lock + 31 * DAY_MS, 0, 0, NULL, 31, 31, "d", NAN);
    }
    if (wearing) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "shelter", sh->cfg.id);
        cJSON_AddStringToObject(o, "sensor", sensor_defs[s].name);
        cJSON_AddItemToArray(facts(g, "wearing"), o);
    }
}

static void door_faults(struct gen *g, struct shelter *sh)
{
    int i = sh->index;
    cJSON *list = facts(g, "door_faults");
    int64_t early = day_start(g->start + 2 * DAY_MS) + 9 * HOUR_MS + i * MIN_MS;
    episode(sh, list, S_DOOR1, ALARM_DOOR_DISAGREE, early, early + 15 * MIN_MS, early + HOUR_MS,
            "物业值班员", NAN, NAN, "", NAN);
    for (int k = 0; k < i % 3; k++) {
        int64_t r = day_start(g->end - (25 - 7 * k) * DAY_MS) + 14 * HOUR_MS + i * 7 * MIN_MS;
        episode(sh, list, S_DOOR1, ALARM_DOOR_DISAGREE, r, r + (20 + 3 * i) * MIN_MS,
                r + 2 * HOUR_MS + i * MIN_MS, "物业值班员", NAN, NAN, "", NAN);
    }
}

static void shelter(struct gen *g, int i, const char *city, const char *district)
{
    struct shelter sh = {.index = i};
    int st = i % 4, cm = (i / 4) % 2;
    struct hsite *c = &sh.cfg;
    snprintf(c->id, sizeof(c->id), "sh-%02d", i + 1);
    snprintf(c->city, sizeof(c->city), "%s", city);
    snprintf(c->district, sizeof(c->district), "%s", district);
    snprintf(c->street, sizeof(c->street), "%s", streets[st]);
    snprintf(c->community, sizeof(c->community), "%s", communities[st][cm]);
    snprintf(c->property, sizeof(c->property), "%s-wuye", communities[st][cm]);
    sh.site = (struct points_site){
        .level = {c->city, c->district, c->street, c->community, c->property, c->id}};
    if (i == 3) {
        sh.off_from = day_start(g->end - 15 * DAY_MS) + 8 * HOUR_MS;
        sh.off_to = sh.off_from + 36 * HOUR_MS;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "shelter", c->id);
        cJSON_AddNumberToObject(o, "from", (double)sh.off_from);
        cJSON_AddNumberToObject(o, "to", (double)sh.off_to);
        cJSON_AddItemToArray(facts(g, "offline"), o);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "street", c->street);
    cJSON_AddStringToObject(o, "community", c->community);
    cJSON_AddStringToObject(o, "property", c->property);
    cJSON_AddItemToArray(facts(g, "shelters"), o);

    health(g, &sh);
    sump(g, &sh);
    leak(g, &sh);
    co2(g, &sh);
    door(g, &sh, S_DOOR1);
    door(g, &sh, S_DOOR2);
    smoke(g, &sh);
    door_faults(g, &sh);
    emit_alarms(g, &sh);
    free(sh.evs);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shelter-sim --history [--shelters N] [--days N] [--end UNIX_S]\n"
               "           [--interval S] [--city SLUG] [--district SLUG] [--seed N]\n"
               "           [--facts FILE] [-o FILE]\n"
               "  writes InfluxDB line protocol (ms) of N shelters (default 40, at least 6)\n"
               "  over the N days (default 90) before --end (default: today 00:00 UTC+8);\n"
               "  readings every --interval seconds (default 60) and at every change\n");
}

int history_main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"shelters", required_argument, NULL, 'n'}, {"days", required_argument, NULL, 'd'},
        {"end", required_argument, NULL, 'e'},      {"interval", required_argument, NULL, 'i'},
        {"city", required_argument, NULL, 'C'},     {"district", required_argument, NULL, 'D'},
        {"seed", required_argument, NULL, 's'},     {"facts", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    long shelters = 40, days = 90, interval = 60, seed = 1, end_s = -1;
    const char *city = "zhengzhou", *district = "jinshui", *facts_path = NULL, *out = NULL;
    char err[256];
    int opt;
    long *num = NULL;
    long lo = 0, hi = 0;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (opt) {
        case 'n':
            num = &shelters, lo = 6, hi = 10000;
            break;
        case 'd':
            num = &days, lo = 45, hi = 3660;
            break;
        case 'e':
            num = &end_s, lo = 946684800, hi = 7258118400;
            break;
        case 'i':
            num = &interval, lo = 1, hi = 3600;
            break;
        case 's':
            num = &seed, lo = 1, hi = 2147483647;
            break;
        case 'C':
            city = optarg;
            continue;
        case 'D':
            district = optarg;
            continue;
        case 'f':
            facts_path = optarg;
            continue;
        case 'o':
            out = optarg;
            continue;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EX_USAGE;
        }
        if (parse_int(optarg, lo, hi, num, err, sizeof(err)) == -1) {
            fprintf(stderr, "shelter-sim: --history: %s: %s\n", argv[optind - 2], err);
            return EX_USAGE;
        }
    }
    struct gen g = {.out = stdout, .interval = interval * 1000, .rng = (uint32_t)seed};
    g.end = end_s >= 0 ? end_s * 1000 : day_start(wall_ms());
    g.start = g.end - days * DAY_MS;
    if (out != NULL && (g.out = fopen(out, "w")) == NULL) {
        perror(out);
        return 1;
    }
    g.facts = cJSON_CreateObject();
    cJSON_AddNumberToObject(g.facts, "start", (double)g.start);
    cJSON_AddNumberToObject(g.facts, "end", (double)g.end);
    for (int i = 0; i < shelters; i++)
        shelter(&g, i, city, district);
    if (fflush(g.out) == EOF || (out != NULL && fclose(g.out) == EOF)) {
        perror(out != NULL ? out : "stdout");
        return 1;
    }
    if (facts_path != NULL) {
        FILE *f = fopen(facts_path, "w");
        char *text = cJSON_Print(g.facts);
        if (f == NULL || text == NULL || fputs(text, f) < 0 || fclose(f) == EOF) {
            perror(facts_path);
            return 1;
        }
        free(text);
    }
    cJSON_Delete(g.facts);
    fprintf(stderr, "shelter-sim: --history: %ld points, %ld shelters, %ld days\n", g.lines,
            shelters, days);
    return 0;
}
