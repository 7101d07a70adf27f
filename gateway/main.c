/*
 * shelter-gateway: polls a shelter's Modbus sensors and runs its alarm logic.
 *
 * The main thread owns all state but the buses' Modbus contexts.  Its loop
 * is a poll() over a signalfd and the result queue's eventfd; each pass
 * reads like a checklist: signals, poll results, timers.  Signals are
 * blocked in every thread and taken only through the signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "alarm.h"
#include "busdiag.h"
#include "poller.h"
#include "cfg.h"
#include "ini.h"
#include "clock.h"
#include "command.h"
#include "delivery.h"
#include "filecheck.h"
#include "gwerr.h"
#include "kind.h"
#include "linkage.h"
#include "log.h"
#include "paths.h"
#include "plan.h"
#include "busload.h"
#include "points.h"
#include "rqueue.h"

#define EX_CONFIG 78
#define QUEUE_CAPACITY 64
#define ALARM_TICK_MS 500              /* time-only alarm rules are evaluated at least this often */
#define STUCK_CHECK_MS 500             /* stuck pollers are looked for at most this often */
#define HEALTH_EVERY_MS 60000          /* the gateway measurement in InfluxDB */
#define SERVICE_USER "shelter-gateway" /* the systemd unit's User= */

struct gw {
    const char *path; /* the configuration file, for SIGHUP */
    struct cfg *cfg;
    struct plan *plan;
    struct rqueue *q;
    struct poller **pollers;    /* one per bus, by bus index */
    struct reading *last;       /* latest reading per sensor */
    int *have;                  /* per sensor: a reading or loss was reported */
    int64_t *last_result_ms;    /* per plan request: when its last poll result came */
    int *stuck;                 /* per plan request: reported as stuck */
    int *bus_err;               /* --once, per bus: errno of its last failed poll */
    struct poll_result *result; /* the one being handled (allocated once) */
    struct alarm_engine *alarms;
    struct alarm_events events; /* one evaluation's transitions, sized for any one call */
    void *state;                /* the engine's state image, saved for the outbox */
    size_t state_len;
    struct delivery *delivery;
    struct linkage *outputs; /* the on-site warning outputs (linkage.h) */
    int64_t started_ms, next_health_ms;
    int64_t next_stuck_ms; /* stuck_timer() looks again then */
    int64_t watchdog_ms;   /* ping interval; 0: no systemd watchdog */
    int64_t next_watchdog_ms;
    int stalled_bus; /* index of a bus seen stuck, -1: none */
    int64_t next_tick_ms;
    int sigfd;
    int once;
    bool alarms_changed; /* transitions since the status's counts were taken */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: shelter-gateway [-c FILE] [--check] [--once] [-v] [--version] [--help]\n"
               "  -c FILE    configuration (default /etc/shelter-gateway/gateway.conf)\n"
               "  --check    validate the configuration, print a summary, exit (78 on errors)\n"
               "  --once     poll every sensor once, print one JSON reading per line;\n"
               "             exit 0 when all answered, 1 otherwise\n"
               "  -v         debug logging (every reading)\n");
}

static void print_summary(const struct cfg *c, const struct plan *p)
{
    printf("configuration OK\n");
    printf("gateway %s (%s), site %s/%s/%s/%s/%s, mode %s\n", c->id, c->name, c->city, c->district,
           c->street, c->community, c->property, mode_name(c->mode));
    /* What the retained status will call this configuration (its "config"). */
    printf("configuration hash %s, status heartbeat every %d s\n", c->config_hash,
           c->heartbeat_ms / 1000);
    printf("%d bus%s, %d sensor%s, %d poll request%s per cycle\n", c->nbuses,
           c->nbuses == 1 ? "" : "es", c->nsensors, c->nsensors == 1 ? "" : "s", p->nrequests,
           p->nrequests == 1 ? "" : "s");
    for (int b = 0; b < c->nbuses; b++) {
        const struct cfg_bus *cb = &c->buses[b];
        if (cb->type == BUS_TCP)
            printf("  bus %s: tcp %s:%d", cb->name, cb->host, cb->port);
        else
            printf("  bus %s: rtu %s %d %c%d%d", cb->name, cb->device, cb->baud, cb->parity,
                   cb->data_bits, cb->stop_bits);
        printf(", %d request%s per cycle", plan_bus_requests(p, b),
               plan_bus_requests(p, b) == 1 ? "" : "s");
        struct busload load;
        busload_of(c, p, b, &load);
        if (load.load > 0)
            printf(", gap %.2f ms, line load %.0f %% (%.1f of %.1f transactions/s)",
                   cb->gap_us / 1000.0, load.load * 100, load.asked_tps, load.line_tps);
        printf("\n");
        for (int r = 0; r < p->nrequests; r++) {
            const struct plan_request *rq = &p->requests[r];
            if (rq->bus != b)
                continue;
            printf("    unit %d %s 0x%04x+%u every %d ms:", rq->unit, mb_fn_name(rq->fn), rq->start,
                   rq->count, rq->interval_ms);
            for (int m = 0; m < rq->nmembers; m++)
                printf(" %s", c->sensors[p->members[rq->first_member + m]].name);
            printf("\n");
        }
        for (int o = 0; o < c->noutputs; o++) {
            const struct cfg_output *co = &c->outputs[o];
            if (co->bus == b)
                printf("    unit %d %s coil %d: output %s (until %s, min_on %d ms) on %s\n",
                       co->unit, co->model->name, co->channel, co->name,
                       co->until == OUTPUT_UNTIL_ACKED ? "acked" : "cleared", co->min_on_ms,
                       co->on);
        }
    }
}

/* Each line of text ("\n"-terminated lines) but those equal to skip1 or
 * skip2, through fn. */
static int each_line(const char *text, const char *skip1, const char *skip2,
                     void (*fn)(const char *line, void *arg), void *arg)
{
    char line[1024];
    int n = 0;

    for (const char *p = text, *nl; p != NULL && *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
        snprintf(line, sizeof(line), "%.*s", len, p);
        if (strcmp(line, skip1) != 0 && strcmp(line, skip2) != 0) {
            fn(line, arg);
            n++;
        }
        if (nl == NULL)
            break;
    }
    return n;
}

/* The language of what --check and the start print for the installer
 * (cfg_load_lang): the file's `language`, else the locale's. */
static enum gw_lang check_lang = LANG_EN;
static const char *check_path = "";

static void print_warning(const char *line, void *arg)
{
    char text[2048];

    (void)arg;
    ini_translate(line, check_path, check_lang, text, sizeof(text));
    fprintf(stderr, check_lang == LANG_ZH ? "警告：%s\n" : "warning: %s\n", text);
}

/* --check: each overbooked bus (busload.h) as a warning; the poller logs
 * it at run time with the cycle it achieves.  Returns how many. */
static int check_busload(const struct cfg *c, const struct plan *p)
{
    int n = 0;
    for (int b = 0; b < c->nbuses; b++) {
        struct busload load;
        char what[512];
        busload_of(c, p, b, &load);
        if (!load.overbooked)
            continue;
        busload_describe(&load, what, sizeof(what));
        fprintf(stderr, "warning: %s:%d: [bus %s] %s\n", c->path, c->buses[b].line,
                c->buses[b].name, what);
        n++;
    }
    return n;
}

static void log_warning(const char *line, void *arg)
{
    (void)arg;
    log_warnx("%s", line);
}

/* What needs fixing but does not stop local polling and alarms: the
 * [mqtt] and [influx] problems of a lenient load and the file checks
 * (filecheck.h), each one line through fn, unusable ones with what they
 * stop.  skip_clients: leave out what the delivery reports and retries (an
 * unusable [mqtt] or [influx] section, an unusable file of their clients).
 * Returns the number of lines. */
static int report_warnings(const struct cfg *c, const char *service_user, bool skip_clients,
                           void (*fn)(const char *line, void *arg))
{
    const unsigned clients = FILECHECK_MQTT | FILECHECK_INFLUX;
    struct filecheck_problem *fp = NULL;
    char line[1024];
    int n;

    n = each_line(c->warnings, skip_clients ? c->mqtt.error : "",
                  skip_clients ? c->influx.error : "", fn, NULL);
    if (!skip_clients && c->mqtt.error[0] != '\0') {
        snprintf(line, sizeof(line), "[mqtt] unusable: %s", filecheck_consequence(FILECHECK_MQTT));
        fn(line, NULL);
        n++;
    }
    if (!skip_clients && c->influx.error[0] != '\0') {
        snprintf(line, sizeof(line), "[influx] unusable: %s",
                 filecheck_consequence(FILECHECK_INFLUX));
        fn(line, NULL);
        n++;
    }
    int nf = filecheck_run(c, FILECHECK_ALL, service_user, &fp);
    if (nf == -1) {
        fn("file checks: out of memory", NULL);
        return n + 1;
    }
    for (int i = 0; i < nf; i++) {
        const char *then = filecheck_consequence(fp[i].scope);
        bool unusable = fp[i].level == FILECHECK_UNUSABLE;
        if (skip_clients && unusable && (fp[i].scope & clients))
            continue;
        snprintf(line, sizeof(line), "%s%s%s", fp[i].text, unusable && then ? "; " : "",
                 unusable && then ? then : "");
        fn(line, NULL);
        n++;
    }
    free(fp);
    return n;
}

/* One journal line per alarm transition: warning, critical ones at error. */
static void log_event(const struct gw *g, const struct alarm_event *ev)
{
    const struct cfg_sensor *s = &g->cfg->sensors[ev->sensor];
    char text[512];

    if (alarm_event_message(ev, g->cfg->language, s->name, s->location, text, sizeof(text)) < 0)
        text[0] = '\0';
    log_at(ev->severity == ALARM_SEV_CRITICAL ? LOG_LVL_ERR : LOG_LVL_WARN,
           "ALARM %s %s %s (%s): %s", alarm_event_type_name(ev->type), s->name,
           alarm_name(ev->alarm), alarm_severity_name(ev->severity), text);
}

/* Take the transitions one engine call produced.  A full event array defers
 * the rest to the next call (the engine keeps their state); with the array
 * sized by alarm_events_max() that does not happen, so it is logged. */
static void evaluate(struct gw *g, int rc)
{
    if (rc == -1 && errno == EGW_FULL)
        log_warnx("alarm engine: %d transition(s) deferred to the next evaluation",
                  g->events.deferred);
    g->alarms_changed |= g->events.n > 0;
    for (int i = 0; i < g->events.n; i++) {
        log_event(g, &g->events.ev[i]);
        if (g->delivery != NULL && delivery_queue_event(g->delivery, &g->events.ev[i]) == -1)
            log_err("ALARM %s %s %s could not be queued for delivery: out of memory",
                    alarm_event_type_name(g->events.ev[i].type),
                    g->cfg->sensors[g->events.ev[i].sensor].name,
                    alarm_name(g->events.ev[i].alarm));
    }
    if (g->events.n > 0)
        linkage_eval(g->outputs, g->alarms, mono_ms()); /* the outputs follow at once */
    g->events.n = 0;
    g->events.deferred = 0;
}

static void alarm_timer(struct gw *g)
{
    int64_t now = mono_ms();
    if (g->alarms == NULL || now < g->next_tick_ms)
        return;
    evaluate(g, alarm_tick(g->alarms, now, wall_ms(), &g->events));
    linkage_eval(g->outputs, g->alarms, now); /* min_on and test pulses end */
    g->next_tick_ms = now + ALARM_TICK_MS;
}

/* A new engine for configuration c in mode, restoring a saved state image
 * (matched by sensor name and kind, so it survives config edits).  Sets
 * *restored to the number of sensors whose state came back (-1: image not
 * usable).  NULL with errno. */
static struct alarm_engine *new_engine(const struct cfg *c, enum gw_mode mode, int64_t started_ms,
                                       const void *saved, size_t saved_len, int *restored)
{
    struct alarm_sensor *as = calloc((size_t)c->nsensors + 1, sizeof(*as));
    struct alarm_engine *eng;

    if (as == NULL)
        return NULL;
    for (int i = 0; i < c->nsensors; i++) {
        const struct cfg_sensor *s = &c->sensors[i];
        as[i] = (struct alarm_sensor){.name = s->name,
                                      .kind = s->def.kind,
                                      .pit_depth_m = s->def.pit_depth_m,
                                      .cfg = &c->alarms[i]};
    }
    /* started_ms: warm-up counts from the gateway's start, not from a reload. */
    eng = alarm_engine_new(as, c->nsensors, mode, started_ms);
    free(as);
    *restored = 0;
    if (eng != NULL && saved != NULL)
        *restored = alarm_state_load(eng, saved, saved_len, mono_ms(), wall_ms());
    return eng;
}

/* Withdraw the raised alarms of sensors that left the configuration (saved in
 * the image, unknown to the new engine g->alarms): nothing else would ever
 * clear their retained messages at the centre.  Committed before the first
 * state image without them, so a crash in between withdraws them again
 * rather than never.  -1 when one could not be queued (out of memory): the
 * caller must then stop before committing a state image, so the stored one
 * still holds them for the next start. */
static int withdraw_orphans(struct gw *g, const void *saved, size_t saved_len)
{
    struct alarm_orphan *o;
    int n, rc = 0;

    if (g->delivery == NULL || saved == NULL)
        return 0;
    n = alarm_state_orphans(g->alarms, saved, saved_len, mono_ms(), wall_ms(), &o);
    if (n == -1) /* EINVAL: the image was not usable, said already; nothing to do */
        return errno == EINVAL ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++)
        rc = delivery_withdraw(g->delivery, &o[i]);
    free(o);
    return rc;
}

/* The engine's event array and state image buffer, sized for it. */
static int size_engine_buffers(struct gw *g)
{
    free(g->events.ev);
    free(g->state);
    g->events = (struct alarm_events){.cap = (int)alarm_events_max(g->alarms)};
    g->events.ev = calloc((size_t)g->events.cap, sizeof(*g->events.ev));
    g->state_len = alarm_state_size(g->alarms);
    g->state = malloc(g->state_len);
    return g->events.ev != NULL && g->state != NULL ? 0 : -1;
}

static int start_alarms(struct gw *g)
{
    enum gw_mode mode = g->cfg->mode;
    void *saved = NULL;
    size_t saved_len = 0;
    int restored;

    if (g->delivery != NULL && delivery_restore(g->delivery, &saved, &saved_len, &mode) == -1)
        log_warnx("outbox: no alarm state restored: %s", strerror(errno));
    bool had_state = saved != NULL;
    g->alarms = new_engine(g->cfg, mode, g->started_ms, saved, saved_len, &restored);
    g->alarms_changed = true; /* the restored state's alarms are counted at once */
    if (g->alarms != NULL && withdraw_orphans(g, saved, saved_len) == -1) {
        log_err("alarms of removed sensors could not be withdrawn: stopping (the next start "
                "tries again)");
        free(saved);
        return -1;
    }
    free(saved);
    if (g->alarms == NULL)
        return -1;
    if (restored == -1)
        log_warnx("outbox: stored alarm state not usable (%s): starting with none",
                  strerror(errno));
    else if (had_state)
        /* Alarms active before the restart stay active, not raised again. */
        log_info("restored the alarm state of %d sensor%s (%d active alarm%s), mode %s", restored,
                 restored == 1 ? "" : "s", alarm_active_count(g->alarms),
                 alarm_active_count(g->alarms) == 1 ? "" : "s", mode_name(mode));
    if (size_engine_buffers(g) == -1)
        return -1;
    g->next_tick_ms = mono_ms() + ALARM_TICK_MS;
    return 0;
}

/* One reading of sensor si: warm-up flag, the alarm engine, delivery. */
static void take_reading(struct gw *g, int si, struct reading *r)
{
    const struct cfg_sensor *s = &g->cfg->sensors[si];

    if (g->alarms != NULL && r->quality == Q_GOOD && alarm_warming_up(g->alarms, si, mono_ms()))
        r->quality = Q_WARMING_UP;
    g->last[si] = *r;
    g->have[si] = 1;
    if (log_debug_enabled()) {
        char json[512];
        if (reading_json(r, s->name, json, sizeof(json)) > 0)
            log_debug("reading %s", json);
    }
    if (g->alarms != NULL)
        evaluate(g, alarm_on_reading(g->alarms, r, mono_ms(), &g->events));
    const char *movement;
    double travel_s;
    if (g->alarms != NULL && g->delivery != NULL &&
        alarm_door_movement(g->alarms, si, &movement, &travel_s) == 1 &&
        delivery_queue_movement(g->delivery, si, movement, travel_s, r->ts_ms) == -1)
        log_warnx("sensor %s: door movement not queued: out of memory", s->name);
    if (g->delivery != NULL && delivery_queue_reading(g->delivery, r, mono_ms()) == -1)
        log_warnx("sensor %s: reading not queued: out of memory", s->name);
}

/* Turn one poll result into readings for each sensor it serves. */
static void handle_result(struct gw *g, const struct poll_result *res)
{
    const struct plan_request *rq = &g->plan->requests[res->request];

    g->last_result_ms[res->request] = mono_ms();
    if (g->stuck[res->request]) {
        g->stuck[res->request] = 0;
        log_warnx("bus %s unit %d: poll results arrive again", g->cfg->buses[rq->bus].name,
                  rq->unit);
    }
    for (int m = 0; m < rq->nmembers; m++) {
        int si = g->plan->members[rq->first_member + m];
        const struct cfg_sensor *s = &g->cfg->sensors[si];
        struct reading r;

        if (res->ok) {
            int off = s->def.model->start - rq->start;
            int bits = rq->fn == MB_FN_COILS || rq->fn == MB_FN_DISCRETE;
            if (kind_decode(&s->def, si, bits ? NULL : res->data.regs + off,
                            bits ? res->data.bits + off : NULL, res->ts_ms, &r) == -1) {
                log_warnx("sensor %s: cannot decode %s data: %s", s->name, s->def.model->name,
                          gw_strerror(errno));
                kind_comm_lost(&s->def, si, res->ts_ms, &r);
                r.quality = Q_IMPLAUSIBLE;
            }
        } else if (res->link == LINK_LOST || g->once) {
            kind_comm_lost(&s->def, si, res->ts_ms, &r);
            if (g->bus_err != NULL)
                g->bus_err[rq->bus] = res->err;
        } else {
            continue; /* a failure or two: keep the last reading until the sensor is lost */
        }
        take_reading(g, si, &r);
    }
}

/* A poller stuck in a driver sends no results, so nothing would say its
 * sensors are silent: a request without a result for three of its intervals
 * plus its bus's stall limit makes its sensors comm_lost from here. */
static void stuck_timer(struct gw *g)
{
    int64_t now = mono_ms();

    /* Every request, so not on every wake-up: the limits are seconds. */
    if (now < g->next_stuck_ms)
        return;
    g->next_stuck_ms = now + STUCK_CHECK_MS;

    for (int i = 0; i < g->plan->nrequests; i++) {
        const struct plan_request *rq = &g->plan->requests[i];
        if (g->stuck[i] || g->pollers[rq->bus] == NULL)
            continue;
        int64_t limit = 3LL * rq->interval_ms + poller_stall_limit_ms(g->pollers[rq->bus]);
        if (now - g->last_result_ms[i] <= limit)
            continue;
        g->stuck[i] = 1;
        log_err("bus %s unit %d: no poll result for %lld s (the poller is stuck): its sensors "
                "are comm lost",
                g->cfg->buses[rq->bus].name, rq->unit,
                (long long)(now - g->last_result_ms[i]) / 1000);
        for (int m = 0; m < rq->nmembers; m++) {
            int si = g->plan->members[rq->first_member + m];
            struct reading r;
            kind_comm_lost(&g->cfg->sensors[si].def, si, wall_ms(), &r);
            take_reading(g, si, &r);
        }
    }
}

static int drain_queue(struct gw *g)
{
    int n = 0;

    while (rqueue_pop(g->q, g->result)) {
        handle_result(g, g->result);
        n++;
    }
    return n;
}

static int start_buses(struct gw *g)
{
    free(g->last_result_ms);
    free(g->stuck);
    g->last_result_ms = calloc((size_t)g->plan->nrequests + 1, sizeof(*g->last_result_ms));
    g->stuck = calloc((size_t)g->plan->nrequests + 1, sizeof(*g->stuck));
    g->pollers = calloc((size_t)g->cfg->nbuses + 1, sizeof(*g->pollers));
    if (g->pollers == NULL || g->last_result_ms == NULL || g->stuck == NULL)
        return -1;
    for (int i = 0; i < g->plan->nrequests; i++)
        g->last_result_ms[i] = mono_ms();
    g->stalled_bus = -1;
    for (int b = 0; b < g->cfg->nbuses; b++) {
        struct relay *relay = g->once ? NULL : linkage_relay(g->outputs, b);
        if (plan_bus_requests(g->plan, b) == 0 && relay == NULL)
            continue; /* a bus with no sensors and no outputs is not opened */
        g->pollers[b] = poller_new(g->cfg, b, g->plan, g->q, g->once);
        if (g->pollers[b] == NULL) {
            log_warn("bus %s", g->cfg->buses[b].name);
            return -1;
        }
        poller_set_relay(g->pollers[b], relay);
        if (poller_start(g->pollers[b]) == -1) {
            log_warn("bus %s: thread", g->cfg->buses[b].name);
            return -1;
        }
    }
    linkage_set_pollers(g->outputs, g->pollers);
    return 0;
}

static void stop_buses(struct gw *g)
{
    if (g->pollers == NULL)
        return;
    linkage_set_pollers(g->outputs, NULL); /* the coils stay as they are */
    for (int b = 0; b < g->cfg->nbuses; b++)
        poller_request_stop(g->pollers[b]); /* all at once: they stop in parallel */
    for (int b = 0; b < g->cfg->nbuses; b++)
        poller_free(g->pollers[b]);
    free(g->pollers);
    g->pollers = NULL;
}

static int all_reported(const struct gw *g)
{
    for (int i = 0; i < g->cfg->nsensors; i++)
        if (!g->have[i])
            return 0;
    return 1;
}

static int find_sensor(const struct gw *g, const char *name)
{
    for (int i = 0; i < g->cfg->nsensors; i++)
        if (strcmp(g->cfg->sensors[i].name, name) == 0)
            return i;
    return -1;
}

/* Carry out one valid command through the engine and answer it. */
static void handle_command(struct gw *g, const struct command *cmd)
{
    char why[160] = "";
    int64_t now = mono_ms(), wall = wall_ms();
    int si = -1, rc = 0;
    enum alarm_id id = ALARM_COMM_LOST;

    if (cmd->sensor[0] != '\0' && (si = find_sensor(g, cmd->sensor)) == -1) {
        snprintf(why, sizeof(why), "no sensor \"%s\"", cmd->sensor);
        goto answer;
    }
    if (cmd->alarm[0] != '\0' && si == -1) {
        snprintf(why, sizeof(why), "an alarm needs its sensor");
        goto answer;
    }
    if (cmd->alarm[0] != '\0' &&
        alarm_from_name(g->cfg->sensors[si].def.kind, cmd->alarm, &id) == -1) {
        snprintf(why, sizeof(why), "sensor \"%s\" has no alarm \"%s\"", cmd->sensor, cmd->alarm);
        goto answer;
    }
    switch (cmd->verb) {
    case CMD_ACK:
        rc = alarm_ack(g->alarms, si, id, cmd->by, now, wall, &g->events);
        if (rc == -1 && errno == ENOENT)
            snprintf(why, sizeof(why), "alarm %s of %s is not active", cmd->alarm, cmd->sensor);
        break;
    case CMD_INHIBIT:
        rc = alarm_inhibit(g->alarms, si, cmd->duration_ms, cmd->by, now, wall, &g->events);
        if (rc == -1 && errno == ENOENT)
            snprintf(why, sizeof(why), "no inhibit running on %s", cmd->sensor);
        break;
    case CMD_MODE:
        rc = alarm_set_mode(g->alarms, cmd->mode, now, wall, &g->events);
        if (rc == 0) {
            log_warnx("mode %s by %s", mode_name(cmd->mode), cmd->by);
            delivery_set_mode(g->delivery, cmd->mode);
        }
        break;
    case CMD_TEST:
        /* The yearly alarm-publishing test: a test event per sensor; with
         * outputs, every output pulsed too (the sirens sound). */
        for (int i = 0; i < g->cfg->nsensors && rc == 0; i++)
            if (si == -1 || i == si) {
                rc = alarm_test(g->alarms, i, id, cmd->by, wall, &g->events);
                evaluate(g, rc);
            }
        if (rc == 0 && cmd->outputs) {
            if (g->cfg->noutputs == 0) {
                snprintf(why, sizeof(why), "no outputs configured");
                break;
            }
            log_warnx("outputs: test pulse of %d s by %s", OUTPUT_TEST_MS / 1000, cmd->by);
            linkage_test(g->outputs, g->alarms, now);
        }
        break;
    case CMD_SILENCE:
        rc = linkage_silence(g->outputs, cmd->output, cmd->by, g->alarms, now, why, sizeof(why));
        break;
    }
    if (rc == -1 && why[0] == '\0')
        snprintf(why, sizeof(why), "%s", errno == EINVAL ? "invalid request" : gw_strerror(errno));
    evaluate(g, rc);
answer:
    log_info("command %s (id %s) by %s: %s", command_verb_name(cmd->verb), cmd->id, cmd->by,
             why[0] ? why : "ok");
    delivery_reply(g->delivery, cmd, why[0] == '\0', why);
}

/* systemd's watchdog is pinged only while the main loop (we are in it) and
 * every bus thread make progress: a stuck poller must get us restarted. */
static void watchdog_timer(struct gw *g)
{
    int64_t now = mono_ms();
    int stalled = -1;

    if (g->watchdog_ms == 0 || now < g->next_watchdog_ms)
        return;
    g->next_watchdog_ms = now + g->watchdog_ms;
    for (int b = 0; b < g->cfg->nbuses && stalled == -1; b++)
        if (g->pollers[b] != NULL &&
            now - poller_heartbeat_ms(g->pollers[b]) > poller_stall_limit_ms(g->pollers[b]))
            stalled = b;
    if (stalled != -1 && g->stalled_bus == -1)
        log_err("bus %s: no progress for %lld s: stopping watchdog pings so systemd restarts us",
                g->cfg->buses[stalled].name,
                (long long)(now - poller_heartbeat_ms(g->pollers[stalled])) / 1000);
    else if (stalled == -1 && g->stalled_bus != -1)
        log_warnx("bus %s: progressing again: watchdog pings resumed",
                  g->cfg->buses[g->stalled_bus].name);
    g->stalled_bus = stalled;
    if (stalled == -1)
        sd_notify(0, "WATCHDOG=1");
}

/* The gateway's health point, once a minute. */
static void health_timer(struct gw *g)
{
    int64_t now = mono_ms();

    if (g->delivery == NULL || now < g->next_health_ms)
        return;
    g->next_health_ms = now + HEALTH_EVERY_MS;
    struct health h = {.ts_ms = wall_ms(),
                       .uptime_s = (now - g->started_ms) / 1000,
                       .queue_depth = rqueue_depth(g->q),
                       .active_alarms = alarm_active_count(g->alarms)};
    for (int b = 0; b < g->cfg->nbuses; b++)
        if (g->pollers[b] != NULL) {
            h.polls += poller_polls(g->pollers[b]);
            h.poll_failures += poller_poll_failures(g->pollers[b]);
        }
    if (delivery_queue_health(g->delivery, &h) == -1)
        log_warn("health point");
}

/* Commit what this pass produced (with the engine state when due) and publish. */
static void run_delivery(struct gw *g, bool force)
{
    const void *state = NULL;
    if (g->delivery == NULL)
        return;
    if (g->alarms_changed && g->alarms != NULL) { /* for the status */
        int counts[4];
        alarm_active_by_severity(g->alarms, counts);
        delivery_set_alarm_counts(g->delivery, counts);
        g->alarms_changed = false;
    }
    if (force || delivery_wants_state(g->delivery)) {
        int n = alarm_state_save(g->alarms, mono_ms(), wall_ms(), g->state, g->state_len);
        if (n > 0)
            state = g->state;
        else
            log_warn("alarm state image");
    }
    delivery_run(g->delivery, state, state != NULL ? g->state_len : 0, force);
}

/* SIGHUP: read the configuration again.  An invalid file changes nothing
 * (the running configuration stays, with a clear log line).  A valid one
 * replaces buses, sensors and alarm parameters; the alarm state of every
 * sensor that keeps its name and kind carries over, so nothing is raised
 * again or lost; the runtime mode stays. */
static void reload(struct gw *g)
{
    char models[4096], why[256];
    int nerrors = 0, restored;

    sd_notify(0, "RELOADING=1");
    log_info("SIGHUP: reloading %s", g->path);
    struct cfg *nc = cfg_load_flags(g->path, paths_models_dir_default(models, sizeof(models)),
                                    CFG_UPLINK_LENIENT, stderr, &nerrors);
    struct plan *np = nc != NULL ? plan_from_cfg(nc) : NULL;
    if (nc == NULL || np == NULL) {
        log_err("reload: %s: %d error%s (above): keeping the running configuration", g->path,
                nerrors, nerrors == 1 ? "" : "s");
        goto keep;
    }
    /* Finish the old configuration's cycle: buses stopped, results taken,
     * transitions committed with the engine state. */
    stop_buses(g);
    drain_queue(g);
    run_delivery(g, true);
    if (delivery_reconfigure(g->delivery, nc, why, sizeof(why)) == -1) {
        log_err("reload: %s: keeping the running configuration", why);
        if (start_buses(g) == -1)
            fatalx("reload: cannot restart the buses");
        goto keep;
    }
    int n = alarm_state_save(g->alarms, mono_ms(), wall_ms(), g->state, g->state_len);
    struct alarm_engine *eng =
        new_engine(nc, alarm_mode(g->alarms), g->started_ms, n > 0 ? g->state : NULL,
                   n > 0 ? (size_t)n : 0, &restored);
    struct reading *last = calloc((size_t)nc->nsensors + 1, sizeof(*last));
    int *have = calloc((size_t)nc->nsensors + 1, sizeof(*have));
    struct linkage *outputs = linkage_new(nc, g->delivery);
    if (eng == NULL || last == NULL || have == NULL || outputs == NULL)
        fatal("reload"); /* the old configuration is already detached from delivery */
    /* A reload never silences a warning: every output keeps its state. */
    linkage_carry(outputs, g->outputs);
    linkage_free(g->outputs);
    g->outputs = outputs;
    alarm_engine_free(g->alarms);
    free(g->last);
    free(g->have);
    plan_free(g->plan);
    cfg_free(g->cfg);
    g->alarms = eng;
    g->alarms_changed = true;
    g->last = last;
    g->have = have;
    g->cfg = nc;
    g->plan = np;
    if (withdraw_orphans(g, n > 0 ? g->state : NULL, n > 0 ? (size_t)n : 0) == -1)
        fatalx("reload: alarms of removed sensors could not be withdrawn (the next start "
               "tries again)");
    linkage_eval(g->outputs, g->alarms, mono_ms());
    if (size_engine_buffers(g) == -1 || start_buses(g) == -1)
        fatalx("reload: cannot start the new configuration");
    log_info("reloaded %s: %d sensors on %d buses, %d requests per cycle; alarm state kept "
             "for %d sensor%s (%d active)",
             g->path, nc->nsensors, nc->nbuses, np->nrequests, restored, restored == 1 ? "" : "s",
             alarm_active_count(g->alarms));
    sd_notifyf(0, "READY=1\nSTATUS=polling %d sensors on %d buses", nc->nsensors, nc->nbuses);
    return;
keep:
    plan_free(np);
    cfg_free(nc);
    sd_notify(0, "READY=1");
}

/* --once: a bus on which no unit answered gets its likely causes on stderr
 * (busdiag.c), not only a comm_lost per sensor.  A bus with one unit
 * answering is not explained: its silent units are the suspects. */
static void explain_silent_buses(const struct gw *g)
{
    for (int b = 0; b < g->cfg->nbuses; b++) {
        int sensors = 0, silent = 0;
        for (int i = 0; i < g->cfg->nsensors; i++) {
            if (g->cfg->sensors[i].bus != b)
                continue;
            sensors++;
            silent += g->last[i].quality == Q_COMM_LOST;
        }
        if (sensors == 0 || silent < sensors)
            continue;
        char text[2048];
        busdiag_silent(g->cfg, b, g->bus_err[b], text, sizeof(text));
        fputs(text, stderr);
    }
}

/* The main loop.  Returns the exit code. */
static int run(struct gw *g)
{
    struct pollfd pfd[5] = {{.fd = g->sigfd, .events = POLLIN},
                            {.fd = rqueue_fd(g->q), .events = POLLIN},
                            {.fd = -1, .events = POLLIN},
                            {.fd = -1, .events = POLLIN},
                            {.fd = -1, .events = POLLIN}};
    struct command cmd;
    int dfd[2];

    g->next_health_ms = mono_ms() + 5000; /* a first point soon after start */

    if (!g->once)
        log_info("shelter-gateway %s: %s (%s), %d sensors on %d buses, %d requests per cycle",
                 GW_VERSION, g->cfg->id, g->cfg->name, g->cfg->nsensors, g->cfg->nbuses,
                 g->plan->nrequests);
    for (;;) {
        if (g->once && all_reported(g))
            return 0;
        int timeout = 1000;
        if (g->alarms != NULL) {
            int64_t left = g->next_tick_ms - mono_ms();
            timeout = left < 0 ? 0 : left > 1000 ? 1000 : (int)left;
        }
        if (g->delivery != NULL) {
            /* The clients' fds change when one is set up afresh (delivery.h). */
            int nd = delivery_fds(g->delivery, dfd);
            for (int i = 0; i < 2; i++)
                pfd[2 + i].fd = i < nd ? dfd[i] : -1;
            timeout = delivery_timeout_ms(g->delivery, timeout);
        }
        if (g->watchdog_ms > 0) {
            int64_t left = g->next_watchdog_ms - mono_ms();
            if (left < timeout)
                timeout = left < 0 ? 0 : (int)left;
        }
        timeout = (int)linkage_next_ms(g->outputs, mono_ms(), timeout);
        pfd[4].fd = linkage_fd(g->outputs); /* changes with a reload */
        if (poll(pfd, 5, timeout) == -1) {
            if (errno == EINTR)
                continue;
            log_warn("poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(g->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    if (!g->once)
                        log_info("signal %d: stopping", (int)si.ssi_signo);
                    return g->once ? 1 : 0;
                }
                if (si.ssi_signo == SIGHUP && !g->once)
                    reload(g);
            }
        }
        if (pfd[1].revents & POLLIN)
            drain_queue(g);
        if (pfd[4].revents & POLLIN)
            linkage_take(g->outputs);
        alarm_timer(g);
        if (!g->once)
            stuck_timer(g);
        health_timer(g);
        watchdog_timer(g);
        while (g->delivery != NULL && delivery_next_command(g->delivery, &cmd) == 1)
            handle_command(g, &cmd);
        run_delivery(g, false);
    }
}

/* libmodbus waits with select(): a descriptor of 1024 or more would be
 * written past the fd_set (it calls FD_SET while connecting, before we can
 * check).  Keep every descriptor below FD_SETSIZE, as the systemd unit's
 * LimitNOFILE does, also when run by hand. */
static void limit_descriptors(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > FD_SETSIZE) {
        rl.rlim_cur = FD_SETSIZE;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warn("setrlimit RLIMIT_NOFILE %d", FD_SETSIZE);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'k'},   {"once", no_argument, NULL, 'o'},
        {"version", no_argument, NULL, 'V'}, {"help", no_argument, NULL, 'h'},
        {"verbose", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
    const char *path = "/etc/shelter-gateway/gateway.conf";
    int check = 0, verbose = 0, ch, nerrors = 0, rc = 1;
    struct gw g = {.sigfd = -1, .stalled_bus = -1};
    char models[4096];

    /* clang-format off */
    while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'k': check = 1; break;
        case 'o': g.once = 1; break;
        case 'v': verbose = 1; break;
        case 'V': printf("shelter-gateway %s\n", GW_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    /* clang-format on */
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init(verbose);
    g.path = path;
    limit_descriptors();
    g.started_ms = mono_ms();

    /* Lenient: an [mqtt] or [influx] problem leaves that output down, never
     * the gateway (it is reported below, and by the delivery). */
    check_path = path;
    g.cfg = cfg_load_lang(path, paths_models_dir_default(models, sizeof(models)),
                          CFG_UPLINK_LENIENT, stderr, &nerrors, &check_lang);
    if (g.cfg == NULL) {
        if (check_lang == LANG_ZH)
            fprintf(stderr, "%s：共 %d 个错误，改正后再运行 --check\n", path, nerrors);
        else
            fprintf(stderr, "%s: %d error%s\n", path, nerrors, nerrors == 1 ? "" : "s");
        return EX_CONFIG;
    }
    g.plan = plan_from_cfg(g.cfg);
    if (g.plan == NULL) {
        fprintf(stderr, "%s: cannot plan poll requests: %s\n", path, strerror(errno));
        cfg_free(g.cfg);
        return EX_CONFIG;
    }
    if (check) {
        /* Run as root (an installer), also ask whether the service user
         * can use the files; under systemd we are that user. */
        int nwarn =
            report_warnings(g.cfg, geteuid() == 0 ? SERVICE_USER : NULL, false, print_warning);
        check_busload(g.cfg, g.plan); /* slower readings, not the uplink: not counted below */
        print_summary(g.cfg, g.plan);
        if (nwarn > 0 && check_lang == LANG_ZH)
            printf(
                "%d 个警告（见 stderr）：不影响本地采集和报警，但改好之前上传或数据保存会受影响，"
                "离开现场前请改好\n",
                nwarn);
        else if (nwarn > 0)
            printf("%d warning%s (on stderr): they do not stop local polling and alarms, "
                   "but the uplink or durability suffers until they are fixed\n",
                   nwarn, nwarn == 1 ? "" : "s");
        plan_free(g.plan);
        cfg_free(g.cfg);
        return 0;
    }
    if (!g.once)
        report_warnings(g.cfg, NULL, true, log_warning);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    /* Blocked before any thread starts, so every thread inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
        (g.sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
        log_warn("signalfd");
        goto out;
    }
    g.q = rqueue_new(QUEUE_CAPACITY);
    g.result = malloc(sizeof(*g.result));
    g.last = calloc((size_t)g.cfg->nsensors, sizeof(*g.last));
    g.have = calloc((size_t)g.cfg->nsensors, sizeof(*g.have));
    if (g.once)
        g.bus_err = calloc((size_t)g.cfg->nbuses, sizeof(*g.bus_err));
    if (g.q == NULL || g.result == NULL || g.last == NULL || g.have == NULL ||
        (g.once && g.bus_err == NULL)) {
        log_warn("start");
        goto out;
    }
    /* --once reports readings only: alarms need time and history. */
    if (!g.once) {
        char why[512];
        g.delivery = delivery_open(g.cfg, why, sizeof(why));
        if (g.delivery == NULL) {
            log_err("%s", why);
            goto out;
        }
        if (start_alarms(&g) == -1) {
            log_warn("alarm engine");
            goto out;
        }
        /* The outputs from the restored alarm state, before any bus starts:
         * a restart never silences a warning. */
        if ((g.outputs = linkage_new(g.cfg, g.delivery)) == NULL) {
            log_warn("outputs");
            goto out;
        }
        linkage_eval(g.outputs, g.alarms, mono_ms());
        if (delivery_start(g.delivery) == -1)
            goto out;
    }
    if (start_buses(&g) == -1)
        goto out;
    if (!g.once) {
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) > 0)
            g.watchdog_ms = (int64_t)(usec / 2000); /* ping at half the timeout */
        sd_notifyf(0, "READY=1\nSTATUS=polling %d sensors on %d buses", g.cfg->nsensors,
                   g.cfg->nbuses);
    }
    rc = run(&g);
    if (!g.once)
        sd_notify(0, "STOPPING=1");
    stop_buses(&g);
    drain_queue(&g);
    if (g.delivery != NULL)
        run_delivery(&g, true); /* the outbox is flushed before we go */
    if (g.once) {
        for (int i = 0; i < g.cfg->nsensors; i++) {
            char json[512];
            if (!g.have[i]) {
                kind_comm_lost(&g.cfg->sensors[i].def, i, wall_ms(), &g.last[i]);
                rc = 1;
            }
            if (g.last[i].quality == Q_COMM_LOST)
                rc = 1;
            if (reading_json(&g.last[i], g.cfg->sensors[i].name, json, sizeof(json)) > 0)
                printf("%s\n", json);
        }
        explain_silent_buses(&g);
    } else {
        log_info("stopped");
    }
out:
    stop_buses(&g);
    if (g.sigfd != -1)
        close(g.sigfd);
    rqueue_free(g.q);
    free(g.result);
    free(g.last);
    free(g.have);
    free(g.last_result_ms);
    free(g.stuck);
    linkage_free(g.outputs); /* after the buses: the coils are left as they are */
    free(g.bus_err);
    delivery_close(g.delivery);
    alarm_engine_free(g.alarms);
    free(g.events.ev);
    free(g.state);
    plan_free(g.plan);
    cfg_free(g.cfg);
    return rc;
}
