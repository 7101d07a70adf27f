/*
 * sync: see sync.h.
 *
 * Invariants:
 * - Between sync_start() and the end of the sync nothing of the outbox is
 *   handed out (sync_over() is false), so what is pending can still be
 *   numbered anew when the broker shows that seqs of this run were used.
 * - The republished state is a topic's last committed transition as it was
 *   (same seq, same bytes).  A topic with a pending record is left to the
 *   outbox (it sends a newer one); where the broker holds a newer seq than
 *   the outbox remembers, the state is asserted again under a new seq; a
 *   raised alarm the outbox knows nothing of is withdrawn (state_lost).
 */
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "payload.h"
#include "selfalarm.h"
#include "sink.h"
#include "topic.h"

/* A retained alarm message of ours, as the broker sent it back. */
struct retained {
    char *topic;
    char *sensor; /* the current state's: its ordering key; NULL from the broker */
    uint64_t seq;
    char *payload;
    size_t len;
};

/* ENDED: the broker's end marker came; finished by the next sync_over(), after
 * the cycle applied the sink's confirmations (a record the broker confirmed
 * just before is then no longer pending, and is compared like any). */
enum sync_phase { SYNC_IDLE, SYNC_RUNNING, SYNC_ENDED, SYNC_OVER };

struct sync {
    const struct cfg *cfg;
    struct outbox *ob;
    struct selfalarm *sa;
    char base[TOPIC_BASE_SIZE];
    char alarm_filter[TOPIC_SIZE], status_topic[TOPIC_SIZE]; /* for the log line */
    enum sync_phase phase;
    int64_t deadline_ms;
    struct retained *bro; /* the broker's retained alarms, during the sync */
    int nbro, capbro;
    uint64_t bro_max_seq;
    struct retained *repub; /* the current state to publish again, before the outbox */
    int nrepub, caprepub, repub_next;
    struct outbox_rec rec; /* sync_repub_next()'s */
    uint64_t first_seq;    /* this run's first seq (after every jump at open) */
    uint64_t max_sent_seq; /* the highest seq this run handed to the broker */
    bool renumbered;
};

static void retained_clear(struct retained *v, int *n)
{
    for (int i = 0; i < *n; i++) {
        free(v[i].topic);
        free(v[i].sensor);
        free(v[i].payload);
    }
    *n = 0;
}

static int retained_add(struct retained **v, int *n, int *cap, const char *topic,
                        const char *sensor, uint64_t seq, const void *payload, size_t len)
{
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 32;
        struct retained *p = realloc(*v, sizeof(*p) * (size_t)ncap);
        if (p == NULL)
            return -1;
        *v = p;
        *cap = ncap;
    }
    struct retained *r = &(*v)[*n];
    r->topic = strdup(topic);
    r->sensor = sensor != NULL ? strdup(sensor) : NULL;
    r->payload = malloc(len + 1);
    if (r->topic == NULL || r->payload == NULL || (sensor != NULL && r->sensor == NULL)) {
        free(r->topic);
        free(r->sensor);
        free(r->payload);
        return -1;
    }
    memcpy(r->payload, payload, len);
    r->payload[len] = '\0';
    r->len = len;
    r->seq = seq;
    (*n)++;
    return 0;
}

/* The seq of one of our alarm payloads; 0 when it has none. */
static uint64_t payload_seq(const char *p, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(p, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "seq");
    uint64_t seq = cJSON_IsNumber(s) && s->valuedouble >= 1 ? (uint64_t)s->valuedouble : 0;

    cJSON_Delete(o);
    return seq;
}

/* A copy of an alarm record with its seq replaced: "seq":N in the JSON
 * payload, seq=Ni in the line-protocol one.  malloc'd; NULL: out of memory. */
static void *seq_rewrite(void *ctx, uint64_t old_seq, uint64_t new_seq, const void *payload,
                         size_t len, size_t *newlen)
{
    char from[48], to[48];
    const char *p = payload, *at = NULL;
    size_t flen = 0, tlen = 0;

    (void)ctx;
    for (size_t f = 0; f < 2 && at == NULL; f++) {
        if (f == 0) {
            flen =
                (size_t)snprintf(from, sizeof(from), "\"seq\":%llu", (unsigned long long)old_seq);
            tlen = (size_t)snprintf(to, sizeof(to), "\"seq\":%llu", (unsigned long long)new_seq);
        } else {
            flen = (size_t)snprintf(from, sizeof(from), "seq=%llui", (unsigned long long)old_seq);
            tlen = (size_t)snprintf(to, sizeof(to), "seq=%llui", (unsigned long long)new_seq);
        }
        for (const char *q = p; q != NULL && q + flen <= p + len;
             q = memchr(q + 1, from[0], (size_t)(p + len - q - 1))) {
            size_t end = (size_t)(q - p) + flen;
            if (memcmp(q, from, flen) == 0 &&
                (f == 1 || end == len || p[end] < '0' || p[end] > '9')) {
                at = q;
                break;
            }
        }
    }
    char *out = malloc(len + 48);
    if (out == NULL)
        return NULL;
    if (at == NULL) { /* no seq in it: unchanged */
        memcpy(out, p, len);
        *newlen = len;
        return out;
    }
    size_t head = (size_t)(at - p);
    memcpy(out, p, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, len - head - flen);
    *newlen = len - flen + tlen;
    return out;
}

void sync_start(struct sync *sy, int64_t now_ms)
{
    sy->phase = SYNC_RUNNING;
    sy->deadline_ms = now_ms + SYNC_TIMEOUT_MS;
    retained_clear(sy->bro, &sy->nbro);
    sy->bro_max_seq = 0;
    retained_clear(sy->repub, &sy->nrepub);
    sy->repub_next = 0;
}

void sync_stop(struct sync *sy)
{
    sy->phase = SYNC_IDLE;
    retained_clear(sy->repub, &sy->nrepub);
    sy->repub_next = 0;
}

void sync_take(struct sync *sy, const char *topic, const void *payload, size_t len)
{
    if (sy->phase != SYNC_RUNNING)
        return; /* our own publishes coming back */
    uint64_t seq = payload_seq(payload, len);
    if (seq == 0)
        return;
    if (seq > sy->bro_max_seq)
        sy->bro_max_seq = seq;
    if (retained_add(&sy->bro, &sy->nbro, &sy->capbro, topic, NULL, seq, payload, len) == -1)
        log_warnx("mqtt: sync: out of memory (the state is republished in full)");
}

/* The current state as the outbox has it, collected for comparison. */
struct cur_list {
    struct retained *v;
    int n, cap;
    bool nomem;
};

static void cur_take(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                     const void *payload, size_t len)
{
    struct cur_list *c = ctx;

    if (c->nomem || retained_add(&c->v, &c->n, &c->cap, topic, sensor, seq, payload, len) == -1)
        c->nomem = true;
}

static const struct retained *broker_has(const struct sync *sy, const char *topic)
{
    for (int i = 0; i < sy->nbro; i++)
        if (strcmp(sy->bro[i].topic, topic) == 0)
            return &sy->bro[i];
    return NULL;
}

/* The broker holds a newer transition on this topic than the outbox
 * remembers (the outbox lost it): assert the gateway's state again, the
 * same message under a new seq, so the centre's view and the gateway's
 * agree and no seq gets a second meaning. */
static void reassert(struct sync *sy, const struct retained *cur, uint64_t broker_seq)
{
    uint64_t seq = outbox_next_seq(sy->ob);
    size_t len;
    char *p = seq_rewrite(NULL, cur->seq, seq, cur->payload, cur->len, &len);

    if (p == NULL)
        return;
    struct outbox_rec rec = {.sensor = cur->sensor,
                             .topic = cur->topic,
                             .payload = p,
                             .payload_len = len,
                             .qos = 1,
                             .retained = 1,
                             .seq = seq,
                             .created_ms = wall_ms(),
                             .sinks = 1u << SINK_MQTT};
    struct outbox_cycle cy = {.alarms = &rec, .nalarms = 1};
    log_warnx("ALARM state %s asserted again as seq %llu (was seq %llu; the broker held seq "
              "%llu, which the outbox had lost)",
              cur->topic + strlen(sy->base) + 1, (unsigned long long)seq,
              (unsigned long long)cur->seq, (unsigned long long)broker_seq);
    if (outbox_commit(sy->ob, &cy) == -1)
        log_warn("outbox commit");
    free(p);
}

/* A retained alarm of ours that the outbox does not know: adopted as the
 * current state when inactive (0), else withdrawn with a new seq (1). */
static int adopt_or_withdraw(struct sync *sy, const struct retained *b)
{
    cJSON *o = cJSON_ParseWithLength(b->payload, b->len);
    const cJSON *sensor = cJSON_GetObjectItemCaseSensitive(o, "sensor");
    int rc = 0;

    if (!cJSON_IsString(sensor)) {
        cJSON_Delete(o);
        return 0;
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "active"))) {
        if (outbox_current_adopt(sy->ob, b->topic, sensor->valuestring, b->seq, b->payload,
                                 b->len) == -1)
            log_warnx("outbox: current state: out of memory");
        cJSON_Delete(o);
        return 0;
    }
    /* The same message, cleared: new seq, now, why. */
    const bool zh = sy->cfg->language == LANG_ZH;
    uint64_t seq = outbox_next_seq(sy->ob);
    char ts[40];
    int64_t now = wall_ms();
    format_rfc3339_ms(now, ts, sizeof(ts));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "seq", cJSON_CreateNumber((double)seq));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "ts", cJSON_CreateString(ts));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "event", cJSON_CreateString("cleared"));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "active", cJSON_CreateFalse());
    cJSON_ReplaceItemInObjectCaseSensitive(o, "acked", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(o, "reason");
    cJSON_AddStringToObject(o, "reason", "state_lost");
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "message",
        cJSON_CreateString(zh ? "网关存储丢失了此告警的状态：撤销（如条件仍在将重新报警）"
                              : "the gateway's storage lost this alarm's state: withdrawn "
                                "(raised again if its condition still holds)"));
    char *p = cJSON_PrintUnformatted(o);
    if (p != NULL) {
        struct outbox_rec rec = {.sensor = sensor->valuestring,
                                 .topic = b->topic,
                                 .payload = p,
                                 .payload_len = strlen(p),
                                 .qos = 1,
                                 .retained = 1,
                                 .seq = seq,
                                 .created_ms = now,
                                 .sinks = 1u << SINK_MQTT};
        struct outbox_cycle cy = {.alarms = &rec, .nalarms = 1};
        log_warnx("ALARM withdrawn %s as seq %llu: raised at the centre (seq %llu) but unknown "
                  "to the gateway's storage",
                  b->topic + strlen(sy->base) + 1, (unsigned long long)seq,
                  (unsigned long long)b->seq);
        if (outbox_commit(sy->ob, &cy) == -1)
            log_warn("outbox commit");
        else
            rc = 1;
        free(p);
    }
    cJSON_Delete(o);
    return rc;
}

/* A seq of this very run's range that this run never sent: the reservation
 * went back with the database (a storage that lost less is caught at open).
 * Jump past it and number anew what is pending (not published yet: the sync
 * held it back). */
static void went_back(struct sync *sy)
{
    char why[256];
    uint64_t floor = sy->bro_max_seq + 1;

    if ((uint64_t)wall_ms() > floor)
        floor = (uint64_t)wall_ms();
    snprintf(why, sizeof(why),
             "the broker holds seq %llu, at or above this run's first "
             "seq %llu: the state directory went back in time; seq jumps to %llu",
             (unsigned long long)sy->bro_max_seq, (unsigned long long)sy->first_seq,
             (unsigned long long)floor);
    log_err("outbox: %s", why);
    uint64_t lo = sy->max_sent_seq + 1 > sy->first_seq ? sy->max_sent_seq + 1 : sy->first_seq;
    log_warnx("outbox: seqs %llu..%llu are skipped", (unsigned long long)lo,
              (unsigned long long)floor - 1);
    outbox_raise_seq(sy->ob, floor);
    int n = outbox_renumber(sy->ob, sy->first_seq, seq_rewrite, sy);
    if (n == -1)
        log_warn("outbox: renumbering pending alarms");
    else if (n > 0)
        log_warnx("outbox: %d pending alarm transition%s numbered anew", n, n == 1 ? "" : "s");
    sy->renumbered = true;
    selfalarm_disk(sy->sa, true, why); /* cleared by the next good commit */
}

/* The sync is over: complete (the broker sent back our retained alarms) or
 * not (timed out: nothing known, so the whole current state is republished). */
static void finish(struct sync *sy, bool complete)
{
    struct outbox_stats os;
    struct cur_list cur = {0};
    int republished = 0, asserted = 0;

    outbox_stats(sy->ob, &os);
    if (!complete)
        log_warnx("mqtt: the broker sent no retained state back within %d s (no read access "
                  "to %s and %s?): republishing the whole current alarm state",
                  SYNC_TIMEOUT_MS / 1000, sy->alarm_filter, sy->status_topic);
    if (complete && sy->bro_max_seq >= sy->first_seq && sy->bro_max_seq > sy->max_sent_seq &&
        !sy->renumbered)
        went_back(sy);
    if (outbox_current(sy->ob, cur_take, &cur) == -1)
        log_warnx("outbox: cannot read the current alarm state: %s", outbox_errmsg(sy->ob));
    if (cur.nomem)
        log_warnx("mqtt: sync: out of memory: part of the current state is not republished");
    for (int i = 0; i < cur.n; i++) {
        const struct retained *c = &cur.v[i], *b = complete ? broker_has(sy, c->topic) : NULL;
        if (outbox_topic_pending(sy->ob, SINK_MQTT, c->topic) != 0)
            continue; /* the outbox sends a newer one (or cannot tell): never overwrite it */
        if (b != NULL && b->len == c->len && memcmp(b->payload, c->payload, c->len) == 0)
            continue; /* the broker has it as it is */
        if (b != NULL && b->seq > c->seq) {
            reassert(sy, c, b->seq);
            asserted++;
            continue;
        }
        if (retained_add(&sy->repub, &sy->nrepub, &sy->caprepub, c->topic, NULL, c->seq, c->payload,
                         c->len) == 0)
            republished++;
    }
    /* Retained alarms of ours the outbox knows nothing of (it lost them, or
     * was replaced): an inactive one becomes the current state as it is; an
     * active one is withdrawn, since the engine does not know it (if its
     * condition still holds, the engine raises it again). */
    int withdrawn = 0;
    for (int i = 0; complete && i < sy->nbro; i++) {
        const struct retained *b = &sy->bro[i];
        bool known = false;
        for (int j = 0; j < cur.n && !known; j++)
            known = strcmp(cur.v[j].topic, b->topic) == 0;
        if (known || outbox_topic_pending(sy->ob, SINK_MQTT, b->topic) != 0)
            continue;
        if (os.current_partial) { /* upgraded: the broker's is the current state */
            cJSON *o = cJSON_ParseWithLength(b->payload, b->len);
            const cJSON *sn = cJSON_GetObjectItemCaseSensitive(o, "sensor");
            if (cJSON_IsString(sn) && outbox_current_adopt(sy->ob, b->topic, sn->valuestring,
                                                           b->seq, b->payload, b->len) == -1)
                log_warnx("outbox: current state: out of memory");
            cJSON_Delete(o);
            continue;
        }
        withdrawn += adopt_or_withdraw(sy, b);
    }
    if (complete && os.current_partial) {
        log_info("outbox: current alarm state seeded from the broker's %d retained alarms "
                 "(first connect after an upgrade)",
                 sy->nbro);
        outbox_current_seeded(sy->ob);
    }
    retained_clear(cur.v, &cur.n);
    free(cur.v);
    log_info("mqtt: sync: %d retained alarm%s read back (highest seq %llu), %d republished, %d "
             "asserted anew, %d withdrawn",
             sy->nbro, sy->nbro == 1 ? "" : "s", (unsigned long long)sy->bro_max_seq, republished,
             asserted, withdrawn);
    retained_clear(sy->bro, &sy->nbro);
    sy->phase = SYNC_OVER;
}

void sync_end(struct sync *sy)
{
    if (sy->phase == SYNC_RUNNING)
        sy->phase = SYNC_ENDED;
}

bool sync_over(struct sync *sy, int64_t now_ms)
{
    if (sy->phase == SYNC_ENDED)
        finish(sy, true);
    else if (sy->phase == SYNC_RUNNING && now_ms >= sy->deadline_ms)
        finish(sy, false);
    return sy->phase == SYNC_OVER;
}

int64_t sync_next_ms(const struct sync *sy, int64_t now_ms, int64_t cap_ms)
{
    if (sy->phase == SYNC_ENDED)
        return 0;
    if (sy->phase == SYNC_RUNNING && sy->deadline_ms - now_ms < cap_ms)
        return sy->deadline_ms - now_ms;
    return cap_ms;
}

const struct outbox_rec *sync_repub_next(struct sync *sy)
{
    if (sy->phase != SYNC_OVER || sy->repub_next >= sy->nrepub)
        return NULL;
    const struct retained *r = &sy->repub[sy->repub_next];
    sy->rec = (struct outbox_rec){.id = SINK_REPUB_ID,
                                  .sensor = "",
                                  .topic = r->topic,
                                  .payload = r->payload,
                                  .payload_len = r->len,
                                  .qos = 1,
                                  .retained = 1,
                                  .seq = r->seq,
                                  .sinks = 1u << SINK_MQTT};
    return &sy->rec;
}

void sync_repub_taken(struct sync *sy)
{
    if (sy->repub_next < sy->nrepub)
        sy->repub_next++;
}

void sync_sent(struct sync *sy, uint64_t seq)
{
    if (seq > sy->max_sent_seq)
        sy->max_sent_seq = seq;
}

struct sync *sync_new(const struct cfg *c, struct outbox *ob, struct selfalarm *sa,
                      uint64_t first_seq)
{
    struct sync *sy = calloc(1, sizeof(*sy));

    if (sy == NULL)
        return NULL;
    if (payload_topic_base(c, sy->base, sizeof(sy->base)) == -1 ||
        topic_join(sy->alarm_filter, sizeof(sy->alarm_filter), sy->base, "alarm", "#", NULL) ==
            -1 ||
        topic_join(sy->status_topic, sizeof(sy->status_topic), sy->base, "status", NULL) == -1) {
        free(sy);
        errno = ENOSPC;
        return NULL;
    }
    sy->cfg = c;
    sy->ob = ob;
    sy->sa = sa;
    sy->first_seq = first_seq;
    return sy;
}

void sync_free(struct sync *sy)
{
    if (sy == NULL)
        return;
    retained_clear(sy->bro, &sy->nbro);
    free(sy->bro);
    retained_clear(sy->repub, &sy->nrepub);
    free(sy->repub);
    free(sy);
}

void sync_set_cfg(struct sync *sy, const struct cfg *c)
{
    sy->cfg = c;
}
