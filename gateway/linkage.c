/*
 * linkage: see linkage.h.  Owns the output set (output.h), one relay per
 * bus with outputs (relay.h), the eventfd the relays wake the main loop
 * with, and per output what was last published and whether output_fault
 * is raised.
 *
 * Invariants:
 * - A relay is told what its coil should be after every evaluation that
 *   changed an output, and the bus's poller is kicked, so the write goes
 *   out ahead of that bus's queued polls.
 * - output_fault follows the relay's report: raised once when a report says
 *   fault, cleared once when a later one says not; one at the last stop is
 *   known from the outbox's current state, so a fault mended while the
 *   gateway was down is cleared by the first good read-back.
 * - The published state changes only with what it says (on, quality, the
 *   alarms holding it, silenced, test): no message per evaluation.
 */
#include "linkage.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "kind.h"
#include "clock.h"
#include "delivery.h"
#include "log.h"
#include "output.h"
#include "payload.h"
#include "points.h"
#include "poller.h"
#include "relay.h"

#define LINE_MAX 1024
#define TOPIC_MAX 640

struct lout {
    struct relay_report rep; /* the bus's last report */
    bool fault_raised;       /* output_fault raised (published) */
    char last_pub[1024];     /* what was last published, "" none: on, quality, reason... */
};

struct linkage {
    const struct cfg *cfg;
    struct delivery *d;
    struct output_set *set;
    struct relay **relays; /* by bus index */
    struct poller **pollers;
    struct lout *outs;
    struct relay_report *reports; /* relay_take's buffer */
    bool *changed;
    int fd;
};

static enum alarm_status status_of(void *ctx, int sensor, enum alarm_id alarm)
{
    return alarm_status(ctx, sensor, alarm);
}

struct linkage *linkage_new(const struct cfg *c, struct delivery *d)
{
    struct linkage *lk = calloc(1, sizeof(*lk));
    struct output_spec *specs = NULL;

    if (lk == NULL)
        return NULL;
    lk->cfg = c;
    lk->d = d;
    lk->fd = -1;
    specs = calloc((size_t)c->noutputs + 1, sizeof(*specs));
    lk->relays = calloc((size_t)c->nbuses + 1, sizeof(*lk->relays));
    lk->outs = calloc((size_t)c->noutputs + 1, sizeof(*lk->outs));
    lk->reports = calloc((size_t)c->noutputs + 1, sizeof(*lk->reports));
    lk->changed = calloc((size_t)c->noutputs + 1, sizeof(*lk->changed));
    if (specs == NULL || lk->relays == NULL || lk->outs == NULL || lk->reports == NULL ||
        lk->changed == NULL)
        goto fail;
    for (int i = 0; i < c->noutputs; i++) {
        const struct cfg_output *o = &c->outputs[i];
        specs[i] = (struct output_spec){.name = o->name,
                                        .until = o->until,
                                        .min_on_ms = o->min_on_ms,
                                        .src = o->src,
                                        .nsrc = o->nsrc};
        lk->outs[i].rep.actual = -1;
        if (d != NULL)
            lk->outs[i].fault_raised = delivery_alarm_active(d, o->name, "output_fault");
    }
    if ((lk->set = output_set_new(specs, c->noutputs)) == NULL)
        goto fail;
    if (c->noutputs > 0 && (lk->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
        goto fail;
    for (int b = 0; b < c->nbuses; b++) {
        lk->relays[b] = relay_new(c, b, lk->fd);
        if (lk->relays[b] == NULL && errno != ENOENT)
            goto fail;
    }
    free(specs);
    return lk;
fail:
    free(specs);
    linkage_free(lk);
    return NULL;
}

void linkage_free(struct linkage *lk)
{
    if (lk == NULL)
        return;
    int saved = errno;
    for (int b = 0; lk->relays != NULL && b < lk->cfg->nbuses; b++)
        relay_free(lk->relays[b]);
    free(lk->relays);
    output_set_free(lk->set);
    if (lk->fd != -1)
        close(lk->fd);
    free(lk->outs);
    free(lk->reports);
    free(lk->changed);
    free(lk);
    errno = saved;
}

int linkage_fd(const struct linkage *lk)
{
    return lk != NULL ? lk->fd : -1;
}

struct relay *linkage_relay(struct linkage *lk, int bus)
{
    return lk != NULL && bus >= 0 && bus < lk->cfg->nbuses ? lk->relays[bus] : NULL;
}

void linkage_set_pollers(struct linkage *lk, struct poller **pollers)
{
    if (lk != NULL)
        lk->pollers = pollers;
}

void linkage_carry(struct linkage *to, const struct linkage *from)
{
    if (to == NULL || from == NULL)
        return;
    output_set_carry(to->set, from->set);
    for (int i = 0; i < to->cfg->noutputs; i++)
        for (int k = 0; k < from->cfg->noutputs; k++)
            if (strcmp(to->cfg->outputs[i].name, from->cfg->outputs[k].name) == 0) {
                to->outs[i] = from->outs[k];
                to->outs[i].last_pub[0] = '\0'; /* published again: the config may differ */
            }
}

static const char *quality_of(const struct lout *o)
{
    return o->rep.fault ? "fault" : o->rep.actual < 0 ? "unknown" : "good";
}

/* Publish output i's state when what it says changed. */
static void publish(struct linkage *lk, int i)
{
    const struct cfg_output *co = &lk->cfg->outputs[i];
    const struct output_state *st = output_state(lk->set, i);
    struct lout *o = &lk->outs[i];
    char topic[TOPIC_MAX + 2 * CFG_NAME_MAX + 16], base[TOPIC_MAX], ts[40], line[LINE_MAX];
    struct points_site site;
    int nreasons = 0;

    if (lk->d == NULL)
        return;
    cJSON *j = cJSON_CreateObject();
    cJSON *reason = cJSON_CreateArray();
    if (j == NULL || reason == NULL) {
        cJSON_Delete(j);
        cJSON_Delete(reason);
        log_warnx("output %s: state not published: out of memory", co->name);
        return;
    }
    payload_topic_base(lk->cfg, base, sizeof(base));
    for (int k = 0; k < co->nsrc; k++)
        if (output_src_holds(lk->set, i, k)) {
            snprintf(topic, sizeof(topic), "%s/alarm/%s/%s", base,
                     lk->cfg->sensors[co->src[k].sensor].name, alarm_name(co->src[k].alarm));
            cJSON_AddItemToArray(reason, cJSON_CreateString(topic));
            nreasons++;
        }
    /* The comparison key: everything but the time. */
    char *key_reason = cJSON_PrintUnformatted(reason);
    char key[sizeof(o->last_pub)];
    snprintf(key, sizeof(key), "%d %s %d %d %s", st->on, quality_of(o), st->silenced, st->test,
             key_reason != NULL ? key_reason : "");
    free(key_reason);
    if (strcmp(key, o->last_pub) == 0) {
        cJSON_Delete(j);
        cJSON_Delete(reason);
        return;
    }
    int64_t now = wall_ms();
    format_rfc3339_ms(now, ts, sizeof(ts));
    cJSON_AddStringToObject(j, "ts", ts);
    cJSON_AddStringToObject(j, "output", co->name);
    cJSON_AddBoolToObject(j, "on", st->on);
    cJSON_AddItemToObject(j, "reason", reason);
    cJSON_AddStringToObject(j, "quality", quality_of(o));
    cJSON_AddBoolToObject(j, "silenced", st->silenced);
    if (st->silenced && st->silenced_by[0] != '\0')
        cJSON_AddStringToObject(j, "by", st->silenced_by);
    cJSON_AddBoolToObject(j, "test", st->test);
    if (o->rep.actual >= 0)
        cJSON_AddBoolToObject(j, "relay", o->rep.actual == 1);
    cJSON_AddStringToObject(j, "location", co->location);
    char *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    site = payload_site(lk->cfg);
    int n =
        points_output(&site, co->name, st->on, quality_of(o), nreasons, now, line, sizeof(line));
    if (json == NULL ||
        delivery_queue_output(lk->d, co->name, json, n > 0 ? line : NULL, now) == -1)
        log_warnx("output %s: state not published: out of memory", co->name);
    else
        snprintf(o->last_pub, sizeof(o->last_pub), "%s", key);
    free(json);
}

void linkage_eval(struct linkage *lk, const struct alarm_engine *eng, int64_t now_ms)
{
    if (lk == NULL || lk->cfg->noutputs == 0 || eng == NULL)
        return;
    output_eval(lk->set, status_of, (void *)eng, now_ms);
    for (int i = 0; i < lk->cfg->noutputs; i++) {
        const struct cfg_output *co = &lk->cfg->outputs[i];
        const struct output_state *st = output_state(lk->set, i);
        if (relay_want(lk->relays[co->bus], i, st->on)) {
            log_info("output %s: %s%s%s", co->name, st->on ? "on" : "off",
                     st->test               ? " (test)"
                     : st->min_on && st->on ? " (min_on)"
                                            : "",
                     st->silenced ? " (silenced)" : "");
            if (lk->pollers != NULL)
                poller_kick(lk->pollers[co->bus]);
        }
        publish(lk, i);
    }
}

void linkage_take(struct linkage *lk)
{
    uint64_t count;

    if (lk == NULL || lk->fd == -1)
        return;
    if (read(lk->fd, &count, sizeof(count)) == -1 && errno != EAGAIN)
        log_warn("outputs: eventfd");
    memset(lk->changed, 0, sizeof(*lk->changed) * (size_t)lk->cfg->noutputs);
    for (int b = 0; b < lk->cfg->nbuses; b++)
        if (lk->relays[b] != NULL)
            relay_take(lk->relays[b], lk->reports, lk->changed);
    for (int i = 0; i < lk->cfg->noutputs; i++) {
        if (!lk->changed[i])
            continue;
        const struct cfg_output *co = &lk->cfg->outputs[i];
        struct lout *o = &lk->outs[i];
        o->rep = lk->reports[i];
        if (o->rep.fault != o->fault_raised && (o->rep.fault || o->rep.actual >= 0)) {
            if (lk->d != NULL && delivery_output_fault(lk->d, co->name, co->location, o->rep.fault,
                                                       o->rep.why) == -1)
                continue; /* not taken (out of memory): tried again with the next report */
            if (lk->d == NULL)
                log_warnx("output %s: %s", co->name, o->rep.fault ? o->rep.why : "working again");
            o->fault_raised = o->rep.fault;
        }
        publish(lk, i);
    }
}

int linkage_silence(struct linkage *lk, const char *name, const char *by,
                    const struct alarm_engine *eng, int64_t now_ms, char *why, size_t whylen)
{
    int i;

    for (i = 0; lk != NULL && i < lk->cfg->noutputs; i++)
        if (strcmp(lk->cfg->outputs[i].name, name) == 0)
            break;
    if (lk == NULL || i == lk->cfg->noutputs) {
        snprintf(why, whylen, "no output \"%s\"", name);
        return -1;
    }
    if (output_silence(lk->set, i, by, status_of, (void *)eng, now_ms) == -1) {
        snprintf(why, whylen, "output %s is off and no alarm holds it", name);
        return -1;
    }
    log_warnx("output %s: silenced by %s", name, by);
    linkage_eval(lk, eng, now_ms);
    return 0;
}

void linkage_test(struct linkage *lk, const struct alarm_engine *eng, int64_t now_ms)
{
    if (lk == NULL || lk->cfg->noutputs == 0)
        return;
    output_test(lk->set, status_of, (void *)eng, now_ms);
    linkage_eval(lk, eng, now_ms);
}

int64_t linkage_next_ms(const struct linkage *lk, int64_t now_ms, int64_t cap_ms)
{
    if (lk == NULL || lk->cfg->noutputs == 0)
        return cap_ms;
    return output_next_ms(lk->set, now_ms, cap_ms);
}
