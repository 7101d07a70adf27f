/*
 * dispatch: see dispatch.h.  Each message is one transaction on the store
 * (store.c N1): its dedup flags, its state, its notices and its timers.
 * Each channel has a sender (sender.c) that decides, from the channel's
 * pending notices, whether to wait, send one alone or send a summary; the
 * request is rendered here (ntext.c, channel.c) at the moment it is sent,
 * so a notice queued before a restart is rendered by the running build.
 *
 * Routes keep their alarm-flood windows in memory: after a restart a flood
 * is recognised again after its first `flood` alarms.  Channels keep their
 * rate windows in the store (N6).
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarmdef.h"
#include "channel.h"
#include "gwmsg.h"
#include "log.h"
#include "ntext.h"
#include "rate.h"
#include "sender.h"
#include "textbuf.h"
#include "topic.h"

#define PENDING_MAX 64          /* notices looked at per decision of a channel */
#define SUMMARY_WEBHOOK_MAX 200 /* notices in one webhook summary */
#define GATHER_MS 5000          /* a summary-only notice waits this long for company */
#define BACKLOG_MS 120000       /* notices this old go as summaries */
#define SEEN_KEEP_MS (30LL * 86400 * 1000)
#define SENT_KEEP_MS (86400LL * 1000)
#define HOUSEKEEPING_MS (3600LL * 1000)
#define TIMERS_PER_TICK 64
#define ESCALATION_STEPS_MAX 10 /* a chain is checked for circles; this is a second fence */
#define TEXT_MAX 65536          /* a rendered webhook summary */
#define RETRY_STORE_MS 1000
#define FLIP_WINDOW_MS 30000 /* the two copies of one status message arrive within this */

struct chan {
    const struct ncfg_channel *cfg;
    struct sender *sender;
    bool busy;       /* a request in flight */
    int64_t wake_ms; /* look again at (0: at once; INT64_MAX: when a notice comes) */
    int failures;    /* answers in a row that were not a delivery */
};

struct dispatch {
    const struct ncfg *cfg;
    struct store *st;
    bool first_start; /* until the first retained burst is over */
    struct chan *ch;
    struct rate **flood; /* per route; NULL: flood detection off */
    bool *flooding;
    uint64_t next_id;
    int rr; /* the channel looked at first next time */
    int64_t next_housekeeping;
    struct dispatch_stats stats;
    struct topic_parts tp; /* scratch */
    /* dispatch_ack_view's strings */
    struct gwmsg_alarm view;
    char view_time[40], view_detail[1024];
    /* refusals already logged (one line per gateway base, first few only) */
    int refusals_logged;
};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- set up ---- */

static struct sender *channel_sender(const struct ncfg_channel *c)
{
    struct sender_policy p = {
        .rate_limit = (int)c->rate.count,
        .rate_window_ms = c->rate.per_ms,
        .reserve = c->rate.count >= 4 ? (int)c->rate.count / 4 : 0,
        .gather_ms = GATHER_MS,
        .backlog_ms = BACKLOG_MS,
    };
    return sender_new(&p);
}

/* Notices queued for a channel the configuration no longer has wait for
 * ever: say so at every start (they go again if the channel comes back). */
static void orphan_channel(const char *channel, int64_t n, void *ctx)
{
    const struct ncfg *cfg = ctx;
    if (channel != NULL && ncfg_channel_index(cfg, channel) < 0)
        log_warnx("%" PRId64 " notices are queued for channel %s, which is not configured: they "
                  "wait until it is",
                  n, channel);
}

struct dispatch *dispatch_new(const struct ncfg *cfg, struct store *st, bool fresh, int64_t now,
                              char *err, size_t errlen)
{
    struct dispatch *d = calloc(1, sizeof(*d));
    int64_t first_done = 0;

    if (d == NULL)
        goto nomem;
    d->cfg = cfg;
    d->st = st;
    d->next_id = 1;
    d->ch = calloc((size_t)cfg->nchannels + 1, sizeof(*d->ch));
    d->flood = calloc((size_t)cfg->nroutes + 1, sizeof(*d->flood));
    d->flooding = calloc((size_t)cfg->nroutes + 1, sizeof(*d->flooding));
    if (d->ch == NULL || d->flood == NULL || d->flooding == NULL)
        goto nomem;
    for (int i = 0; i < cfg->nchannels; i++) {
        const struct ncfg_channel *c = &cfg->channels[i];
        int64_t at[1000];
        int n;
        d->ch[i].cfg = c;
        if ((d->ch[i].sender = channel_sender(c)) == NULL)
            goto nomem;
        /* N6: the requests the robot still counts. */
        if (c->rate.count > 0) {
            n = store_sent_since(st, c->name, now - c->rate.per_ms - SENDER_MARGIN_MS, at,
                                 (int)(sizeof(at) / sizeof(at[0])));
            if (n < 0) {
                snprintf(err, errlen, "%s", store_errmsg(st));
                dispatch_free(d);
                return NULL;
            }
            for (int k = 0; k < n; k++)
                sender_started(d->ch[i].sender, at[k]);
        }
    }
    for (int i = 0; i < cfg->nroutes; i++)
        if (cfg->routes[i].flood.count > 0 &&
            (d->flood[i] =
                 rate_new((int)cfg->routes[i].flood.count, cfg->routes[i].flood.per_ms)) == NULL)
            goto nomem;
    if (store_meta_get(st, "first_start_done", &first_done) < 0) {
        snprintf(err, errlen, "%s", store_errmsg(st));
        dispatch_free(d);
        return NULL;
    }
    d->first_start = fresh || first_done == 0;
    if (store_out_channels(st, orphan_channel, (void *)cfg) < 0)
        log_warnx("state store: %s", store_errmsg(st));
    d->next_housekeeping = now;
    return d;
nomem:
    snprintf(err, errlen, "%s", strerror(ENOMEM));
    dispatch_free(d);
    return NULL;
}

void dispatch_free(struct dispatch *d)
{
    if (d == NULL)
        return;
    for (int i = 0; d->ch != NULL && i < d->cfg->nchannels; i++)
        sender_free(d->ch[i].sender);
    for (int i = 0; d->flood != NULL && i < d->cfg->nroutes; i++)
        rate_free(d->flood[i]);
    gwmsg_alarm_release(&d->view);
    free(d->ch);
    free(d->flood);
    free(d->flooding);
    free(d);
}

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *st)
{
    *st = d->stats;
}

/* ---- intake ---- */

static void refused(struct dispatch *d, const char *topic, const char *why)
{
    d->stats.refused++;
    /* Outside input: a few lines, then a count (journald would be flooded
     * by a misconfigured gateway otherwise). */
    if (d->refusals_logged < 20) {
        char t[200];
        snprintf(t, sizeof(t), "%s", topic);
        tb_make_printable(t);
        log_warnx("refused a message on %s: %s%s", t, why,
                  ++d->refusals_logged == 20 ? " (further refusals are only counted)" : "");
    }
}

static bool route_takes(const struct ncfg_route *r, const struct topic_parts *tp, unsigned evbit,
                        int sev)
{
    return (r->events & evbit) != 0 && sev <= r->min_severity &&
           topic_subtree_contains(&r->subtree, tp);
}

static bool in_flood(struct dispatch *d, int ri, int64_t now)
{
    return d->flood[ri] != NULL && rate_count(d->flood[ri], now) > d->cfg->routes[ri].flood.count;
}

/* One notice per channel of route ri.  A raised alarm counts toward the
 * route's flood window; during a flood every notice of the route goes into
 * summaries. */
static int enqueue(struct dispatch *d, int ri, const struct store_out *spec, bool raise,
                   int64_t now)
{
    const struct ncfg_route *r = &d->cfg->routes[ri];
    struct store_out o = *spec;

    if (!o.summary && d->flood[ri] != NULL) {
        if (raise)
            rate_add(d->flood[ri], now);
        if (in_flood(d, ri, now)) {
            o.summary = true;
            o.why = NTEXT_SUM_FLOOD;
            if (!d->flooding[ri])
                log_warnx("route %s: alarm flood, more than %ld alarms in %" PRId64
                          " s: its notices go in summaries",
                          r->name, r->flood.count, r->flood.per_ms / 1000);
            d->flooding[ri] = true;
        } else if (d->flooding[ri]) {
            log_info("route %s: the alarm flood is over", r->name);
            d->flooding[ri] = false;
        }
    }
    o.route = (char *)r->name;
    o.created_ms = now;
    if (o.from_route == NULL)
        o.from_route = "";
    for (int i = 0; i < r->nchannels; i++) {
        struct chan *c = &d->ch[r->channel[i]];
        o.channel = (char *)c->cfg->name;
        if (store_out_add(d->st, &o) < 0)
            return -1;
        c->wake_ms = 0;
        d->stats.notices++;
    }
    return 0;
}

/* The notices and the escalation timer of an alarm transition.  current:
 * it is the alarm's newest state.  active_summary: the first start's
 * summary of what is active. */
static int notify_alarm(struct dispatch *d, const struct gwmsg_alarm *a, const char *topic,
                        const void *payload, size_t len, bool current, bool active_summary,
                        int64_t now)
{
    unsigned evbit = active_summary ? NCFG_EV_RAISED : ncfg_event_bit(a->event);
    int sev = gwmsg_severity_rank(a->severity);
    bool real = strcmp(a->alarm, "inhibit") != 0;

    if (evbit == 0)
        return 0;
    for (int ri = 0; ri < d->cfg->nroutes; ri++) {
        const struct ncfg_route *r = &d->cfg->routes[ri];
        struct store_out o = {
            .kind = STORE_OUT_ALARM,
            .sev = sev,
            .summary = active_summary,
            .why = NTEXT_SUM_ACTIVE,
            .topic = (char *)topic,
            .seq = a->seq,
            .ts_ms = a->ts_ms,
            .body = (char *)payload,
            .len = len,
        };
        if (!route_takes(r, &d->tp, evbit, sev))
            continue;
        if (enqueue(d, ri, &o, evbit == NCFG_EV_RAISED && !active_summary, now) < 0)
            return -1;
        if (evbit == NCFG_EV_RAISED && a->active && !a->acked && current && real &&
            r->escalate_to >= 0 && r->escalate_after_ms > 0) {
            /* From the detection, but never earlier than now and never
             * later than escalate_after from now (a gateway clock off). */
            int64_t since = a->ts_ms > 0 ? a->ts_ms : now;
            int64_t base = clamp64(since, now - r->escalate_after_ms, now);
            struct store_timer t = {
                .kind = STORE_TIMER_ESCALATE,
                .due_ms = base + r->escalate_after_ms,
                .key = (char *)topic,
                .seq = a->seq,
                .route = (char *)r->name,
                .step = 1,
                .since_ms = since,
            };
            if (store_timer_add(d->st, &t) < 0)
                return -1;
        }
    }
    return 0;
}

static int take_alarm(struct dispatch *d, const char *topic, const void *payload, size_t len,
                      enum dispatch_via via, int64_t now)
{
    struct gwmsg_alarm a;
    struct store_alarm cur, put;
    char err[256];
    int flags, have, newer;
    bool known, current;

    if (gwmsg_alarm_parse(topic, payload, len, &a, err, sizeof(err)) < 0) {
        refused(d, topic, err);
        return 0;
    }
    topic_parse(topic, &d->tp);
    memset(&cur, 0, sizeof(cur));
    if (store_begin(d->st) < 0)
        goto failed;
    if ((flags = store_seen_get(d->st, a.base, a.seq)) < 0 ||
        (have = store_alarm_get(d->st, topic, &cur)) < 0)
        goto failed;
    if (via == DISPATCH_TRACK)
        known = (flags & STORE_SEEN_TRACKED) != 0;
    else if (via == DISPATCH_LIVE)
        known = (flags & STORE_SEEN_HANDLED) != 0;
    else /* a retained copy: anything this instance knows of */
        known = flags != 0 || (have && cur.seq >= a.seq);
    if (known) {
        store_rollback(d->st);
        store_alarm_release(&cur);
        gwmsg_alarm_release(&a);
        d->stats.duplicates++;
        return 0;
    }
    put = (struct store_alarm){
        .topic = (char *)topic,
        .base = (char *)a.base,
        .event = (char *)a.event,
        .seq = a.seq,
        .active = a.active,
        .acked = a.acked,
        .sev = gwmsg_severity_rank(a.severity),
        .ts_ms = a.ts_ms,
        .payload = (char *)payload,
        .len = len,
    };
    if ((newer = store_alarm_put(d->st, &put)) < 0)
        goto failed;
    current = newer == 1 || (have && cur.seq == a.seq);
    /* N5: an ack or a clear stops the escalation, on whichever path it came. */
    if (newer == 1 && (!a.active || a.acked) &&
        store_timer_del_key(d->st, STORE_TIMER_ESCALATE, topic) < 0)
        goto failed;
    if (via == DISPATCH_LIVE || (via == DISPATCH_RETAINED && !d->first_start)) {
        if (notify_alarm(d, &a, topic, payload, len, current, false, now) < 0)
            goto failed;
    } else if (via == DISPATCH_RETAINED && a.active && current) {
        if (notify_alarm(d, &a, topic, payload, len, current, true, now) < 0)
            goto failed;
    }
    if (store_seen_add(d->st, a.base, a.seq,
                       STORE_SEEN_TRACKED | (via != DISPATCH_TRACK ? STORE_SEEN_HANDLED : 0),
                       now) < 0 ||
        store_commit(d->st) < 0)
        goto failed;
    store_alarm_release(&cur);
    gwmsg_alarm_release(&a);
    return 0;
failed:
    log_warnx("state store: %s (the message is kept and taken again)", store_errmsg(d->st));
    store_rollback(d->st);
    store_alarm_release(&cur);
    gwmsg_alarm_release(&a);
    return -1;
}

/* Offline and online notices of a gateway for the routes that want them. */
static int notify_status(struct dispatch *d, const char *base, enum store_out_kind kind,
                         bool summary, int64_t ts_ms, int64_t seen_ms, const void *payload,
                         size_t len, int64_t now)
{
    unsigned evbit = kind == STORE_OUT_OFFLINE ? NCFG_EV_OFFLINE : NCFG_EV_ONLINE;

    for (int ri = 0; ri < d->cfg->nroutes; ri++) {
        struct store_out o = {
            .kind = kind,
            .sev = kind == STORE_OUT_OFFLINE ? 1 : 3, /* as a major alarm, its end as info */
            .summary = summary,
            .why = NTEXT_SUM_ACTIVE,
            .topic = (char *)base,
            .ts_ms = ts_ms,
            .seen_ms = seen_ms,
            .body = (char *)payload,
            .len = len,
        };
        if ((d->cfg->routes[ri].events & evbit) == 0 ||
            !topic_subtree_contains(&d->cfg->routes[ri].subtree, &d->tp))
            continue;
        if (enqueue(d, ri, &o, false, now) < 0)
            return -1;
    }
    if (kind == STORE_OUT_OFFLINE)
        d->stats.offline++;
    else
        d->stats.online++;
    return 0;
}

static int take_status(struct dispatch *d, const char *topic, const void *payload, size_t len,
                       enum dispatch_via via, int64_t published_ms, int64_t now)
{
    struct gwmsg_status s;
    struct store_gateway g, put;
    char err[256];
    int have;
    bool duty = via == DISPATCH_LIVE || (via == DISPATCH_RETAINED && !d->first_start);

    if (gwmsg_status_parse(topic, payload, len, &s, err, sizeof(err)) < 0) {
        refused(d, topic, err);
        return 0;
    }
    topic_parse(topic, &d->tp);
    memset(&g, 0, sizeof(g));
    if (store_begin(d->st) < 0 || (have = store_gateway_get(d->st, s.base, &g)) < 0)
        goto failed;
    put = have ? g : (struct store_gateway){.base = (char *)s.base};
    put.base = (char *)s.base;
    put.name = s.name[0] != '\0' ? (char *)s.name : NULL;
    if (s.online) {
        if (!have || !g.online) {
            put.online = true;
            put.outage_ms = have ? now - g.since_ms : 0;
            put.since_ms = now;
            put.on_noticed = false;
        }
        put.seen_ms = now;
        if (store_timer_del_key(d->st, STORE_TIMER_OFFLINE, s.base) < 0)
            goto failed;
        /* Back after an outage someone was told of, or one that lasted
         * offline_after (the rule every instance of a group computes alike);
         * told by the copy that brought it back, or by the notifying copy
         * of the same message when the tracking copy came first. */
        bool back_now = !have || !g.online || now - g.since_ms < FLIP_WINDOW_MS;
        if (duty && back_now && put.outage_ms > 0 && !put.on_noticed &&
            (put.off_noticed || put.outage_ms >= d->cfg->offline_after_ms)) {
            if (notify_status(d, s.base, STORE_OUT_ONLINE, false, now, now - put.outage_ms, payload,
                              len, now) < 0)
                goto failed;
            put.on_noticed = true;
        }
    } else {
        if (!have || g.online) {
            put.online = false;
            put.since_ms = now;
            if (via == DISPATCH_RETAINED && s.ts_ms > 0 && s.ts_ms <= now)
                put.since_ms = s.ts_ms;
            /* A will is published when the broker gives the gateway up:
             * the last time it was seen, to a keepalive.  When it was
             * published comes with it (its expiry interval, lib/gwmsg.h),
             * also for one that waited in our session or was retained
             * while we were away; without that, a live one is about now
             * and a retained one says nothing of when (0: unknown). */
            if (published_ms > 0 && published_ms <= now)
                put.since_ms = put.seen_ms = published_ms;
            else
                put.seen_ms = via == DISPATCH_RETAINED ? (have ? g.seen_ms : 0) : now;
            put.off_noticed = false;
            put.on_noticed = false;
            put.outage_ms = 0;
        }
        if (via == DISPATCH_RETAINED && d->first_start && !put.off_noticed) {
            if (notify_status(d, s.base, STORE_OUT_OFFLINE, true, put.since_ms, put.seen_ms,
                              payload, len, now) < 0)
                goto failed;
            put.off_noticed = true;
        } else if (duty && !put.off_noticed) {
            struct store_timer t = {
                .kind = STORE_TIMER_OFFLINE,
                .due_ms = put.since_ms + d->cfg->offline_after_ms,
                .key = (char *)s.base,
                .route = "",
                .since_ms = put.since_ms,
            };
            if (store_timer_del_key(d->st, STORE_TIMER_OFFLINE, s.base) < 0 ||
                store_timer_add(d->st, &t) < 0)
                goto failed;
        }
    }
    if (store_gateway_put(d->st, &put) < 0 || store_commit(d->st) < 0)
        goto failed;
    store_gateway_release(&g);
    gwmsg_status_release(&s);
    return 0;
failed:
    log_warnx("state store: %s (the message is kept and taken again)", store_errmsg(d->st));
    store_rollback(d->st);
    store_gateway_release(&g);
    gwmsg_status_release(&s);
    return -1;
}

int dispatch_message(struct dispatch *d, const char *topic, const void *payload, size_t len,
                     enum dispatch_via via, int64_t published_ms, int64_t now)
{
    d->stats.messages++;
    switch (topic_type_of(topic)) {
    case TOPIC_ALARM:
        return take_alarm(d, topic, payload, len, via, now);
    case TOPIC_STATUS:
        return take_status(d, topic, payload, len, via, published_ms, now);
    default:
        return 0; /* not ours */
    }
}

int dispatch_retained_done(struct dispatch *d, int64_t now)
{
    (void)now;
    if (!d->first_start)
        return 0;
    if (store_begin(d->st) < 0 || store_meta_set(d->st, "first_start_done", 1) < 0 ||
        store_commit(d->st) < 0) {
        log_warnx("state store: %s", store_errmsg(d->st));
        store_rollback(d->st);
        return -1;
    }
    d->first_start = false;
    return 0;
}

/* ---- timers ---- */

static int fire_escalation(struct dispatch *d, const struct store_timer *t, int64_t now)
{
    struct store_alarm cur;
    int have = store_alarm_get(d->st, t->key, &cur), ri, to;
    int rc = 0;

    if (have < 0)
        return -1;
    ri = ncfg_route_index(d->cfg, t->route);
    if (have && cur.seq == t->seq && cur.active && !cur.acked && ri >= 0 &&
        (to = d->cfg->routes[ri].escalate_to) >= 0) {
        const struct ncfg_route *next = &d->cfg->routes[to];
        struct store_out o = {
            .kind = STORE_OUT_ALARM,
            .sev = cur.sev,
            .why = NTEXT_SUM_FLOOD,
            .topic = cur.topic,
            .seq = cur.seq,
            .step = t->step,
            .from_route = (char *)d->cfg->routes[ri].name,
            .unacked_ms = now - t->since_ms,
            .ts_ms = cur.ts_ms,
            .body = cur.payload,
            .len = cur.len,
        };
        topic_parse(cur.topic, &d->tp);
        if (enqueue(d, to, &o, true, now) < 0) {
            rc = -1;
        } else {
            d->stats.escalations++;
            log_info("%s (seq %" PRIu64 "): not acknowledged on route %s for %" PRId64
                     " s: escalated to route %s",
                     cur.topic, cur.seq, t->route, (now - t->since_ms) / 1000, next->name);
            if (next->escalate_to >= 0 && next->escalate_after_ms > 0 &&
                t->step < ESCALATION_STEPS_MAX) {
                struct store_timer n = *t;
                n.step = t->step + 1;
                n.route = (char *)next->name;
                n.due_ms = now + next->escalate_after_ms;
                if (store_timer_add(d->st, &n) < 0)
                    rc = -1;
            }
        }
    } else if (ri < 0 && have) {
        log_warnx("%s: an escalation of route %s, which is no longer configured, is dropped",
                  t->key, t->route);
    }
    store_alarm_release(&cur);
    return rc;
}

static int fire_offline(struct dispatch *d, const struct store_timer *t, int64_t now)
{
    struct store_gateway g;
    int have = store_gateway_get(d->st, t->key, &g), rc = 0;
    char status_topic[TOPIC_SIZE];

    if (have < 0)
        return -1;
    if (have && !g.online && g.since_ms == t->since_ms && !g.off_noticed) {
        snprintf(status_topic, sizeof(status_topic), "%s/status", t->key);
        topic_parse(status_topic, &d->tp);
        if (notify_status(d, t->key, STORE_OUT_OFFLINE, false, now, g.seen_ms, "{}", 2, now) < 0)
            rc = -1;
        g.off_noticed = true;
        if (rc == 0 && store_gateway_put(d->st, &g) < 0)
            rc = -1;
        if (rc == 0)
            log_info("gateway %s offline since %" PRId64 " s: notified", t->key,
                     (now - g.since_ms) / 1000);
    }
    store_gateway_release(&g);
    return rc;
}

static void housekeeping(struct dispatch *d, int64_t now)
{
    int64_t n;

    if (now < d->next_housekeeping)
        return;
    d->next_housekeeping = now + HOUSEKEEPING_MS;
    if (store_begin(d->st) < 0)
        goto failed;
    n = store_seen_prune(d->st, now - SEEN_KEEP_MS);
    if (n < 0 || store_sent_prune(d->st, now - SENT_KEEP_MS) < 0 || store_commit(d->st) < 0)
        goto failed;
    if (n > 0)
        log_debug("forgot %" PRId64 " (gateway, seq) pairs older than 30 days", n);
    return;
failed:
    log_warnx("state store: housekeeping: %s", store_errmsg(d->st));
    store_rollback(d->st);
}

int dispatch_tick(struct dispatch *d, int64_t now)
{
    struct store_timer t[TIMERS_PER_TICK];
    int n, rc = 0;

    housekeeping(d, now);
    if (store_begin(d->st) < 0)
        goto failed;
    if ((n = store_timer_due(d->st, now, t, TIMERS_PER_TICK)) < 0)
        goto failed;
    for (int i = 0; i < n && rc == 0; i++) {
        if (t[i].kind == STORE_TIMER_ESCALATE)
            rc = fire_escalation(d, &t[i], now);
        else if (t[i].kind == STORE_TIMER_OFFLINE)
            rc = fire_offline(d, &t[i], now);
        if (rc == 0)
            rc = store_timer_del(d->st, t[i].id);
    }
    for (int i = 0; i < n; i++)
        store_timer_release(&t[i]);
    if (rc < 0 || store_commit(d->st) < 0)
        goto failed;
    return 0;
failed:
    log_warnx("state store: timers: %s (retried)", store_errmsg(d->st));
    store_rollback(d->st);
    return -1;
}

/* ---- rendering ---- */

/* A notice ready for ntext, with what it points into. */
struct rendered {
    struct gwmsg_alarm a;
    char detail[1024];
    struct store_gateway g;
    struct topic_parts tp;
    char path[TOPIC_SIZE];
    char link[TOKEN_MAX + CHANNEL_URL_MAX + 8];
    char mention[NCFG_MENTIONS * 26];
    struct ntext_notice n;
};

static const char *route_display(const struct dispatch *d, const char *name)
{
    int ri = ncfg_route_index(d->cfg, name);
    return ri >= 0 ? d->cfg->routes[ri].display : name;
}

static bool water_kind(const char *kind)
{
    return strcmp(kind, "water_level") == 0 || strcmp(kind, "water_leak") == 0;
}

static void site_path(const struct topic_parts *tp, char *buf, size_t len)
{
    if (!tp->site) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, len, "%s/%s/%s/%s/%s", tp->level[TOPIC_CITY], tp->level[TOPIC_DISTRICT],
             tp->level[TOPIC_STREET], tp->level[TOPIC_COMMUNITY], tp->level[TOPIC_PROPERTY]);
}

/* The ack link of a raised alarm's notice to route, or "". */
static void ack_link(const struct dispatch *d, const struct store_out *o, int64_t now, char *buf,
                     size_t len)
{
    struct token_claim c = {.seq = o->seq, .expires_ms = now + d->cfg->ack_ttl_ms};
    char token[TOKEN_MAX];

    buf[0] = '\0';
    if (d->cfg->ack_url[0] == '\0' || d->cfg->token_key_len == 0)
        return;
    snprintf(c.topic, sizeof(c.topic), "%s", o->topic);
    snprintf(c.route, sizeof(c.route), "%s", o->route);
    if (token_make(d->cfg->token_key, d->cfg->token_key_len, &c, token, sizeof(token)) < 0)
        return;
    snprintf(buf, len, "%s?t=%s", d->cfg->ack_url, token);
}

/* 0 and r filled, or -1 when the stored notice cannot be read (refused
 * then: it is a bug or a damaged row, and must not block the channel). */
/* What the alarm is and the sentence with its values, in the notifier's
 * language from the catalogue (sensors/alarmdef.h), as the gateway would say
 * it; the payload's own message (in the gateway's language) when this build
 * does not know the alarm. */
static void alarm_words(const struct gwmsg_alarm *a, enum gw_lang lang, char *detail, size_t len,
                        const char **what, const char **text)
{
    enum alarm_event_type type;

    *what = NULL;
    *text = a->message;
    if (alarm_event_type_of(a, &type) == 0 && alarm_msg_text(a, type, lang, detail, len, what) >= 0)
        *text = detail;
}

static int render(struct dispatch *d, const struct chan *c, const struct store_out *o, int64_t now,
                  struct rendered *r)
{
    const char *what, *detail;
    char err[256];

    memset(r, 0, sizeof(*r));
    r->n.value = r->n.threshold = NAN;
    if (o->kind == STORE_OUT_ALARM) {
        if (gwmsg_alarm_parse(o->topic, o->body, o->len, &r->a, err, sizeof(err)) < 0)
            return -1;
        topic_parse(o->topic, &r->tp);
        site_path(&r->tp, r->path, sizeof(r->path));
        alarm_words(&r->a, (enum gw_lang)d->cfg->language, r->detail, sizeof(r->detail), &what,
                    &detail);
        r->n = (struct ntext_notice){
            .kind = NTEXT_ALARM,
            .event = r->a.event,
            .severity = r->a.severity,
            .site_name = r->a.site_name[0] ? r->a.site_name : r->a.gateway,
            .gateway = r->a.gateway,
            .site_path = r->path,
            .sensor = r->a.sensor,
            .location = r->a.location,
            .alarm = r->a.alarm,
            .what = what,
            .detail = detail,
            .value = r->a.value,
            .threshold = r->a.threshold,
            .unit = r->a.unit,
            .by = r->a.by,
            .water = water_kind(r->a.kind),
            .ts_ms = r->a.ts_ms,
            .escalated = o->step,
            .from_route = o->step > 0 ? route_display(d, o->from_route) : NULL,
            .to_route = route_display(d, o->route),
            .unacked_ms = o->unacked_ms,
        };
        if (strcmp(r->a.event, "raised") == 0 && r->a.active && !r->a.acked &&
            strcmp(r->a.alarm, "inhibit") != 0) {
            ack_link(d, o, now, r->link, sizeof(r->link));
            r->n.ack_link = r->link[0] ? r->link : NULL;
            if (c->cfg->nmobiles > 0 && strcmp(r->a.severity, "critical") == 0) {
                struct textbuf b = {r->mention, sizeof(r->mention), 0};
                for (int i = 0; i < c->cfg->nmobiles; i++)
                    tb_put(&b, "%s@%s", i ? " " : "", c->cfg->mobile[i]);
                tb_finish(&b);
                r->n.mention = r->mention;
            }
        }
        return 0;
    }
    /* offline, online: the gateway from the topic base, its name from the state */
    snprintf(r->link, sizeof(r->link), "%s/status", o->topic);
    if (topic_parse(r->link, &r->tp) != TOPIC_STATUS || !r->tp.site)
        return -1;
    r->link[0] = '\0';
    if (store_gateway_get(d->st, o->topic, &r->g) < 0)
        return -1;
    site_path(&r->tp, r->path, sizeof(r->path));
    r->n = (struct ntext_notice){
        .kind = o->kind == STORE_OUT_OFFLINE ? NTEXT_OFFLINE : NTEXT_ONLINE,
        .severity = o->kind == STORE_OUT_OFFLINE ? "major" : "info",
        .site_name = r->g.name != NULL ? r->g.name : r->tp.level[TOPIC_ID],
        .gateway = r->tp.level[TOPIC_ID],
        .site_path = r->path,
        .value = NAN,
        .threshold = NAN,
        .ts_ms = o->ts_ms,
        .seen_ms = o->seen_ms,
        .to_route = route_display(d, o->route),
    };
    return 0;
}

static void rendered_release(struct rendered *r)
{
    gwmsg_alarm_release(&r->a);
    store_gateway_release(&r->g);
}

static const char *webhook_event(const struct store_out *o, const struct rendered *r)
{
    if (o->kind == STORE_OUT_OFFLINE)
        return "offline";
    if (o->kind == STORE_OUT_ONLINE)
        return "online";
    return r->a.event;
}

/* The URL of a request now (DingTalk's is signed per request). */
static char *request_url(const struct ncfg_channel *c, int64_t now)
{
    char *url = malloc(CHANNEL_URL_MAX + 128);

    if (url == NULL)
        return NULL;
    if (c->type == CHANNEL_DINGTALK) {
        if (channel_dingtalk_url(c->url, c->secret, now, url, CHANNEL_URL_MAX + 128) < 0) {
            free(url);
            return NULL;
        }
    } else {
        snprintf(url, CHANNEL_URL_MAX + 128, "%s", c->url);
    }
    return url;
}

/* The body of one notice. */
static char *single_body(const struct dispatch *d, const struct ncfg_channel *c,
                         const struct store_out *o, const struct rendered *r, size_t *len)
{
    static char text[TEXT_MAX];
    char title[NTEXT_TITLE_MAX];
    const char *mobiles[NCFG_MENTIONS];
    enum gw_lang lang = (enum gw_lang)d->cfg->language;
    char *body = NULL;

    switch ((enum channel_type)c->type) {
    case CHANNEL_WECOM:
        ntext_notice(&r->n, NTEXT_WECOM, lang, d->cfg->utc_offset_s, NULL, 0, text,
                     NTEXT_WECOM_MAX);
        body = channel_wecom_body(text);
        break;
    case CHANNEL_DINGTALK:
        ntext_notice(&r->n, NTEXT_DINGTALK, lang, d->cfg->utc_offset_s, title, sizeof(title), text,
                     NTEXT_DINGTALK_MAX);
        for (int i = 0; i < c->nmobiles; i++)
            mobiles[i] = c->mobile[i];
        body = channel_dingtalk_body(title, text, mobiles, r->n.mention != NULL ? c->nmobiles : 0);
        break;
    case CHANNEL_WEBHOOK:
        ntext_notice(&r->n, NTEXT_PLAIN, lang, d->cfg->utc_offset_s, NULL, 0, text, sizeof(text));
        body = channel_webhook_print(
            channel_webhook_notice(webhook_event(o, r), o->topic, o->route, o->step, text,
                                   o->kind == STORE_OUT_ALARM ? o->body : NULL,
                                   o->kind == STORE_OUT_ALARM ? NULL : r->n.gateway));
        break;
    }
    *len = body != NULL ? strlen(body) : 0;
    return body;
}

/* The body of a summary of items (rendered) o; *fitted says how many went in. */
static char *summary_body(const struct dispatch *d, const struct ncfg_channel *c,
                          enum ntext_summary why, struct store_out *const *o,
                          struct rendered *const *r, int n, int later, int *fitted, size_t *len)
{
    static char text[TEXT_MAX];
    static struct ntext_notice items[PENDING_MAX];
    char title[NTEXT_TITLE_MAX];
    enum gw_lang lang = (enum gw_lang)d->cfg->language;
    char *body = NULL;

    for (int i = 0; i < n; i++) {
        items[i] = r[i]->n;
        items[i].ack_link = NULL;
    }
    switch ((enum channel_type)c->type) {
    case CHANNEL_WECOM:
        ntext_summary(why, items, n, later, NTEXT_WECOM, lang, d->cfg->utc_offset_s, NULL, 0, text,
                      NTEXT_WECOM_MAX, fitted);
        body = channel_wecom_body(text);
        break;
    case CHANNEL_DINGTALK:
        ntext_summary(why, items, n, later, NTEXT_DINGTALK, lang, d->cfg->utc_offset_s, title,
                      sizeof(title), text, NTEXT_DINGTALK_MAX, fitted);
        body = channel_dingtalk_body(title, text, NULL, 0);
        break;
    case CHANNEL_WEBHOOK: {
        void *notices[PENDING_MAX];
        ntext_summary(why, items, n, later, NTEXT_PLAIN, lang, d->cfg->utc_offset_s, NULL, 0, text,
                      sizeof(text), fitted);
        for (int i = 0; i < *fitted; i++)
            notices[i] = channel_webhook_notice(
                webhook_event(o[i], r[i]), o[i]->topic, o[i]->route, o[i]->step, "",
                o[i]->kind == STORE_OUT_ALARM ? o[i]->body : NULL,
                o[i]->kind == STORE_OUT_ALARM ? NULL : r[i]->n.gateway);
        body = channel_webhook_print(channel_webhook_summary(o[0]->route, text, notices, *fitted));
        break;
    }
    }
    *len = body != NULL ? strlen(body) : 0;
    return body;
}

/* ---- sending ---- */

/* Record the request's start (N6) before it goes. */
static int note_started(struct dispatch *d, struct chan *c, int64_t now)
{
    if (c->cfg->rate.count > 0) {
        if (store_begin(d->st) < 0 || store_sent_add(d->st, c->cfg->name, now) < 0 ||
            store_commit(d->st) < 0) {
            log_warnx("state store: %s (channel %s waits)", store_errmsg(d->st), c->cfg->name);
            store_rollback(d->st);
            return -1;
        }
    }
    sender_started(c->sender, now);
    return 0;
}

/* A notice that cannot be rendered is counted as refused, so it goes last
 * and alone, and is logged. */
static void unreadable(struct dispatch *d, struct chan *c, const struct store_out *o)
{
    log_warnx("channel %s: queued notice %" PRId64 " (%s) cannot be read: it goes last",
              c->cfg->name, o->id, o->topic);
    if (store_begin(d->st) == 0 && store_out_refused(d->st, &o->id, 1) == 0 &&
        store_commit(d->st) == 0)
        return;
    store_rollback(d->st);
}

static int channel_request(struct dispatch *d, int ci, int64_t now, struct dispatch_request *req)
{
    static struct store_out o[PENDING_MAX];
    static struct rendered rd[PENDING_MAX];
    struct chan *c = &d->ch[ci];
    struct sender_item items[PENDING_MAX];
    int pick[PENDING_MAX];
    struct sender_plan plan = {.pick = pick};
    int n, rc = 0;
    int64_t total;

    n = store_out_pending(d->st, c->cfg->name, o, PENDING_MAX);
    if (n < 0) {
        log_warnx("state store: %s", store_errmsg(d->st));
        c->wake_ms = now + RETRY_STORE_MS;
        return 0;
    }
    for (int i = 0; i < n; i++)
        items[i] = (struct sender_item){.summary_only = o[i].summary,
                                        .why = o[i].why,
                                        .created_ms = o[i].created_ms,
                                        .refusals = o[i].refusals};
    sender_next(c->sender, items, n, now, &plan);
    if (plan.action == SENDER_WAIT) {
        c->wake_ms = plan.wake_ms;
        goto out;
    }
    memset(req, 0, sizeof(*req));
    req->channel = ci;
    req->timeout_ms = (long)c->cfg->timeout_ms;
    if (plan.action == SENDER_SINGLE) {
        struct store_out *one = &o[plan.first];
        if (render(d, c, one, now, &rd[0]) < 0) {
            rendered_release(&rd[0]);
            unreadable(d, c, one);
            c->wake_ms = 0;
            goto out;
        }
        req->body = single_body(d, c->cfg, one, &rd[0], &req->len);
        rendered_release(&rd[0]);
        req->ids = malloc(sizeof(int64_t));
        if (req->ids != NULL) {
            req->ids[0] = one->id;
            req->nids = 1;
        }
    } else {
        struct store_out *po[PENDING_MAX];
        struct rendered *pr[PENDING_MAX];
        int m = 0, fitted = 0;
        for (int i = 0; i < plan.npick && m < SUMMARY_WEBHOOK_MAX; i++) {
            struct store_out *x = &o[plan.pick[i]];
            if (render(d, c, x, now, &rd[m]) < 0) {
                rendered_release(&rd[m]);
                unreadable(d, c, x);
                continue;
            }
            po[m] = x;
            pr[m] = &rd[m];
            m++;
        }
        if (m == 0) {
            c->wake_ms = 0;
            goto out;
        }
        total = store_out_count(d->st, c->cfg->name);
        req->body = summary_body(d, c->cfg, plan.why, po, pr, m, total > m ? (int)(total - m) : 0,
                                 &fitted, &req->len);
        for (int i = 0; i < m; i++)
            rendered_release(&rd[i]);
        req->summary = true;
        req->ids = malloc(sizeof(int64_t) * (size_t)(fitted > 0 ? fitted : 1));
        if (req->ids != NULL)
            for (int i = 0; i < fitted; i++)
                req->ids[req->nids++] = po[i]->id;
    }
    req->url = request_url(c->cfg, now);
    if (req->body == NULL || req->ids == NULL || req->url == NULL || req->nids == 0) {
        log_warnx("channel %s: cannot build a request (%s)", c->cfg->name,
                  req->nids == 0 ? "nothing fits" : strerror(ENOMEM));
        dispatch_request_free(req);
        c->wake_ms = now + RETRY_STORE_MS;
        goto out;
    }
    if (note_started(d, c, now) < 0) {
        dispatch_request_free(req);
        c->wake_ms = now + RETRY_STORE_MS;
        goto out;
    }
    req->id = d->next_id++;
    c->busy = true;
    d->stats.requests++;
    rc = 1;
out:
    for (int i = 0; i < n; i++)
        store_out_release(&o[i]);
    return rc;
}

int dispatch_next_request(struct dispatch *d, int64_t now, struct dispatch_request *r)
{
    int n = d->cfg->nchannels;

    for (int k = 0; k < n; k++) {
        int ci = (d->rr + k) % n;
        struct chan *c = &d->ch[ci];
        if (c->busy || c->wake_ms > now)
            continue;
        if (channel_request(d, ci, now, r) == 1) {
            d->rr = (ci + 1) % n;
            return 1;
        }
    }
    return 0;
}

void dispatch_answer(struct dispatch *d, const struct dispatch_request *r, long status,
                     const char *body, size_t len, const char *error, int64_t now)
{
    struct chan *c = &d->ch[r->channel];
    char why[300];
    enum sender_answer a =
        channel_classify((enum channel_type)c->cfg->type, status, body, len, why, sizeof(why));
    int64_t pending;

    if (status == 0 && error != NULL && error[0] != '\0')
        snprintf(why, sizeof(why), "%s", error);
    c->busy = false;
    c->wake_ms = 0;
    sender_answer(c->sender, a, now);
    if (a == SENDER_OK) {
        if (store_begin(d->st) < 0 || store_out_done(d->st, r->ids, r->nids) < 0 ||
            store_commit(d->st) < 0) {
            /* N2: they stay queued and go again: at least once. */
            log_warnx("state store: %s: %d delivered notices will be sent again",
                      store_errmsg(d->st), r->nids);
            store_rollback(d->st);
        }
        if (c->failures > 0)
            log_info("channel %s delivers again (after %d failed requests)", c->cfg->name,
                     c->failures);
        c->failures = 0;
        d->stats.delivered += (uint64_t)r->nids;
        return;
    }
    if (a == SENDER_REFUSED) {
        if (store_begin(d->st) < 0 || store_out_refused(d->st, r->ids, r->nids) < 0 ||
            store_commit(d->st) < 0)
            store_rollback(d->st);
    }
    d->stats.failed++;
    if (c->failures++ == 0 || a == SENDER_REJECTED || c->failures % 20 == 0) {
        pending = store_out_count(d->st, c->cfg->name);
        tb_make_printable(why);
        log_warnx("channel %s: %s%s; %" PRId64 " notices wait, next try in %" PRId64 " s",
                  c->cfg->name, why,
                  a == SENDER_RATE       ? " (too fast for the robot)"
                  : a == SENDER_REJECTED ? " (check the channel's url and secret)"
                  : a == SENDER_REFUSED  ? " (the robot refused the message)"
                                         : "",
                  pending, (sender_blocked_until(c->sender) - now + 999) / 1000);
    }
}

void dispatch_request_free(struct dispatch_request *r)
{
    if (r == NULL)
        return;
    if (r->url != NULL)
        memset(r->url, 0, strlen(r->url)); /* it holds secrets */
    free(r->url);
    free(r->body);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}

int64_t dispatch_next_due(struct dispatch *d, int64_t now)
{
    int64_t due = d->next_housekeeping, t = INT64_MAX;

    if (store_timer_next(d->st, &t) < 0)
        t = now + RETRY_STORE_MS;
    if (t < due)
        due = t;
    for (int i = 0; i < d->cfg->nchannels; i++)
        if (!d->ch[i].busy && d->ch[i].wake_ms < due)
            due = d->ch[i].wake_ms;
    return due;
}

int64_t dispatch_pending(struct dispatch *d)
{
    int64_t sum = 0;
    for (int i = 0; i < d->cfg->nchannels; i++) {
        int64_t n = store_out_count(d->st, d->cfg->channels[i].name);
        if (n < 0)
            return -1;
        sum += n;
    }
    return sum;
}

/* ---- ack pages ---- */

void dispatch_ack_view(struct dispatch *d, const struct token_claim *claim, struct ackweb_view *v)
{
    struct store_alarm cur;
    char err[256];
    int have;

    gwmsg_alarm_release(&d->view);
    memset(v, 0, sizeof(*v));
    v->route_display = route_display(d, claim->route);
    have = store_alarm_get(d->st, claim->topic, &cur);
    if (have <= 0)
        return;
    if (gwmsg_alarm_parse(cur.topic, cur.payload, cur.len, &d->view, err, sizeof(err)) == 0) {
        v->found = true;
        v->active = cur.active;
        v->acked = cur.acked;
        v->newer = cur.seq != claim->seq && strcmp(cur.event, "raised") == 0;
        v->severity = d->view.severity;
        alarm_words(&d->view, (enum gw_lang)d->cfg->language, d->view_detail,
                    sizeof(d->view_detail), &v->what, &v->detail);
        if (v->what == NULL)
            v->what = d->view.alarm;
        v->site_name = d->view.site_name[0] ? d->view.site_name : d->view.gateway;
        v->location = d->view.location;
        v->detail = ntext_detail(v->detail, v->location, d->view.sensor);
        v->by = d->view.by;
        v->water = water_kind(d->view.kind);
        ntext_time(d->view.ts_ms, d->cfg->utc_offset_s, d->view_time, sizeof(d->view_time));
        v->time_text = d->view_time;
    }
    store_alarm_release(&cur);
}

int dispatch_ack_command(struct dispatch *d, const struct token_claim *claim, int64_t now,
                         char **topic, char **payload, char *why, size_t whylen)
{
    struct topic_parts *tp = &d->tp;
    char id[GWMSG_TEXT_MAX + 1];
    size_t n;

    *topic = *payload = NULL;
    if (topic_parse(claim->topic, tp) != TOPIC_ALARM || !tp->site) {
        snprintf(why, whylen, "not an alarm topic");
        return -1;
    }
    if (ncfg_route_index(d->cfg, claim->route) < 0) {
        snprintf(why, whylen, "route %s is no longer configured", claim->route);
        return -1;
    }
    snprintf(id, sizeof(id), "notify-%" PRIu64 "-%" PRId64, claim->seq, now);
    n = strlen(tp->base) + sizeof("/cmd/ack");
    if ((*topic = malloc(n)) == NULL ||
        (*payload = gwmsg_ack_payload(id, tp->name[0], tp->name[1], claim->route)) == NULL) {
        free(*topic);
        *topic = NULL;
        snprintf(why, whylen, "%s", strerror(ENOMEM));
        return -1;
    }
    snprintf(*topic, n, "%s/cmd/ack", tp->base);
    return 0;
}

int dispatch_test_request(const struct ncfg *cfg, int channel, int64_t now,
                          struct dispatch_request *r)
{
    const struct ncfg_channel *c = &cfg->channels[channel];
    struct ntext_notice n = {
        .kind = NTEXT_TEST, .to_route = c->name, .ts_ms = now, .value = NAN, .threshold = NAN};
    static char text[TEXT_MAX];
    char title[NTEXT_TITLE_MAX];
    enum gw_lang lang = (enum gw_lang)cfg->language;

    memset(r, 0, sizeof(*r));
    r->channel = channel;
    r->timeout_ms = (long)c->timeout_ms;
    switch ((enum channel_type)c->type) {
    case CHANNEL_WECOM:
        ntext_notice(&n, NTEXT_WECOM, lang, cfg->utc_offset_s, NULL, 0, text, NTEXT_WECOM_MAX);
        r->body = channel_wecom_body(text);
        break;
    case CHANNEL_DINGTALK:
        ntext_notice(&n, NTEXT_DINGTALK, lang, cfg->utc_offset_s, title, sizeof(title), text,
                     NTEXT_DINGTALK_MAX);
        r->body = channel_dingtalk_body(title, text, NULL, 0);
        break;
    case CHANNEL_WEBHOOK:
        ntext_notice(&n, NTEXT_PLAIN, lang, cfg->utc_offset_s, NULL, 0, text, sizeof(text));
        r->body =
            channel_webhook_print(channel_webhook_notice("test", "", "", 0, text, NULL, NULL));
        break;
    }
    r->url = request_url(c, now);
    if (r->body == NULL || r->url == NULL) {
        dispatch_request_free(r);
        errno = ENOMEM;
        return -1;
    }
    r->len = strlen(r->body);
    return 0;
}
