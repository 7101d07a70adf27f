/*
 * fuzz_watch: shelter-watch's message path on any topic and payload, as
 * center/watch/main.c's on_event() takes them: the topic is classified and
 * taken apart (lib/topic.c: topic_parse); an alarm message is parsed with
 * its topic (lib/gwmsg.c: gwmsg_alarm_parse, the topic is the identity; the
 * entry point shelter-notify shares), checked against the seen (gateway,
 * seq) pairs and formatted as the live and the listed line in both
 * languages (center/watch/watch.c); a status message is parsed
 * (gwmsg_status_parse), updates the gateways' table and is formatted,
 * and goes into the fleet of `shelter-watch gateways` (center/watch/fleet.c:
 * its table, its JSON and a command's outcome line); a
 * cmd_result is matched (gwmsg_cmd_result).  The payload alone also goes
 * through gwmsg_alarm_parse_payload, and the topic through
 * `shelter-watch ack`'s topic splitter.
 *
 * Input: the topic up to the first NUL, then the payload (any bytes).
 *
 * Checked: the base of a gateway topic is a proper prefix of it; an alarm
 * taken from a message has the topic's identity (base, gateway, sensor,
 * alarm), whatever its payload claims; a (gateway, seq) pair is new once,
 * and another gateway's same seq is not its duplicate; a status can only
 * be its topic's gateway's; every line shelter-watch prints or logs (lines,
 * refusal reasons) is UTF-8 without control characters (a payload must not
 * be able to drive the operator's terminal or forge a log line) and fits
 * its buffer as snprintf promises.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gwmsg.h"
#include "mode.h"
#include "textbuf.h"
#include "topic.h"
#include "watch/fleet.h"
#include "watch/watch.h"

#include <cjson/cJSON.h>
#define NOW_MS 1784541784123LL

/* UTF-8 (shortest forms, no surrogates) without C0, DEL or C1 controls. */
static bool clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7F)
            return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xC2) || *p > 0xF4)
            return false;
        unsigned cp = *p & (0x3F >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
            return false;
        p += n + 1;
    }
    return true;
}

/* A formatted line: snprintf's contract, and printable. */
static void check_line(int n, const char *buf, size_t len)
{
    FUZZ_ASSERT(n >= 0);
    FUZZ_ASSERT(strnlen(buf, len) < len);
    FUZZ_ASSERT((size_t)n >= strlen(buf));
    FUZZ_ASSERT(clean_text(buf));
}

static void check_alarm(const struct gwmsg_alarm *a)
{
    char line[2048], small[40];

    FUZZ_ASSERT(a->json != NULL && a->gateway[0] && a->sensor[0] && a->alarm[0] && a->event[0]);

    /* Duplicates: per gateway, so another gateway's same seq is news. */
    const char *who = a->base[0] ? a->base : a->gateway;
    struct watch_seen *seen = watch_seen_new(64);
    FUZZ_ASSERT(seen != NULL);
    FUZZ_ASSERT(watch_seen_add(seen, who, a->seq) == 1);
    FUZZ_ASSERT(watch_seen_add(seen, who, a->seq) == 0);
    size_t glen = strlen(who);
    char *other = malloc(glen + 2);
    FUZZ_ASSERT(other != NULL);
    memcpy(other, who, glen);
    memcpy(other + glen, "~", 2);
    FUZZ_ASSERT(watch_seen_add(seen, other, a->seq) == 1);
    FUZZ_ASSERT(watch_seen_count(seen) == 2);
    free(other);
    watch_seen_free(seen);

    for (int lang = 0; lang < 2; lang++)
        for (int how = 0; how < 2; how++) {
            enum gw_lang l = lang ? LANG_EN : LANG_ZH;
            enum watch_line h = how ? WATCH_LINE_ACTIVE : WATCH_LINE_LIVE;
            check_line(watch_format_alarm(a, h, l, NOW_MS, 8 * 3600, line, sizeof(line)), line,
                       sizeof(line));
            /* Truncated: cut at a character boundary, never mid-character. */
            check_line(watch_format_alarm(a, h, l, NOW_MS, 0, small, sizeof(small)), small,
                       sizeof(small));
        }
    (void)gwmsg_alarm_is_new(a);
    (void)gwmsg_severity_rank(a->severity);
}

/* The last level of base (the gateway id). */
static const char *last_level(const char *base)
{
    const char *slash = strrchr(base, '/');
    return slash != NULL ? slash + 1 : base;
}

static void on_alarm(const char *topic, const char *base, const char *payload, size_t len)
{
    struct gwmsg_alarm a;
    char err[160];

    /* As received: the topic is the identity. */
    err[0] = '\0';
    int rc = gwmsg_alarm_parse(topic, payload, len, &a, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -1 || rc == -2);
    if (rc < 0) {
        /* The reason is logged ("ignoring TOPIC: REASON"). */
        FUZZ_ASSERT(err[0] != '\0' && a.json == NULL && a.ident == NULL);
        FUZZ_ASSERT(clean_text(err));
    } else {
        FUZZ_ASSERT(strcmp(a.base, base) == 0);
        FUZZ_ASSERT(strcmp(a.gateway, last_level(base)) == 0);
        char ab[TOPIC_SIZE], sensor[GWMSG_TEXT_MAX + 1], alarm[GWMSG_TEXT_MAX + 1], why[512];
        if (watch_ack_target(topic, ab, sizeof(ab), sensor, alarm, why, sizeof(why)) == 0)
            FUZZ_ASSERT(strcmp(a.sensor, sensor) == 0 && strcmp(a.alarm, alarm) == 0);
        check_alarm(&a);
        gwmsg_alarm_release(&a);
    }

    /* The payload alone, its identity as it claims. */
    err[0] = '\0';
    if (gwmsg_alarm_parse_payload(payload, len, &a, err, sizeof(err)) == -1) {
        FUZZ_ASSERT(err[0] != '\0' && a.json == NULL);
        return;
    }
    check_alarm(&a);
    gwmsg_alarm_release(&a);
}

/* The fleet: one gateway, its table (every line printable), its JSON (one
 * object, the topic's identity), its outcome line. */
static void on_fleet(const struct gwmsg_status *st)
{
    struct fleet *f = fleet_new();
    char line[1024];

    FUZZ_ASSERT(f != NULL);
    FUZZ_ASSERT(fleet_update(f, st, NOW_MS - 1000, NOW_MS) == 1);
    FUZZ_ASSERT(fleet_update(f, st, NOW_MS - 1000, NOW_MS) == 0);
    fleet_sort(f, FLEET_BY_ALARMS);
    for (int lang = 0; lang < 2; lang++) {
        char *t = fleet_table(f, lang ? LANG_EN : LANG_ZH, NOW_MS, 8 * 3600);
        FUZZ_ASSERT(t != NULL);
        for (char *save = NULL, *l = strtok_r(t, "\n", &save); l != NULL;
             l = strtok_r(NULL, "\n", &save))
            FUZZ_ASSERT(clean_text(l));
        free(t);
        check_line(fleet_format_outcome(fleet_at(f, 0), lang ? LANG_EN : LANG_ZH, NOW_MS, 8 * 3600,
                                        line, sizeof(line)),
                   line, sizeof(line));
    }
    char *j = fleet_json(f);
    cJSON *arr = cJSON_Parse(j);
    FUZZ_ASSERT(cJSON_GetArraySize(arr) == 1);
    char *id = strdup(st->gateway); /* shown printable, as every id from a topic */
    FUZZ_ASSERT(id != NULL);
    FUZZ_ASSERT(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "gateway")->valuestring,
                       tb_make_printable(id)) == 0);
    free(id);
    cJSON_Delete(arr);
    free(j);
    fleet_free(f);
}

static void on_status(const char *topic, const char *base, const char *payload, size_t len)
{
    struct watch_gateways *g = watch_gateways_new();
    struct gwmsg_status st;
    bool online = false;
    const char *gateway = NULL, *name = NULL;
    char line[1024], err[256];
    int on = 0, off = 0, rc;

    FUZZ_ASSERT(g != NULL);
    err[0] = '\0';
    rc = gwmsg_status_parse(topic, payload, len, &st, err, sizeof(err));
    FUZZ_ASSERT(rc == -2 || rc == -1 || rc == 0);
    if (rc == 0) {
        FUZZ_ASSERT(strcmp(st.base, base) == 0);
        FUZZ_ASSERT(strcmp(st.gateway, last_level(base)) == 0); /* the topic's, not a claim */
        rc = watch_gateways_update(g, &st, &online, &gateway, &name);
        FUZZ_ASSERT(rc == 1); /* first sight of this gateway */
        watch_gateways_count(g, &on, &off);
        FUZZ_ASSERT(gateway != NULL && name != NULL && on + off == 1 && on == online);
        FUZZ_ASSERT(strcmp(gateway, last_level(base)) == 0);
        for (int lang = 0; lang < 2; lang++)
            check_line(watch_format_status(gateway, name, online, lang ? LANG_EN : LANG_ZH, NOW_MS,
                                           NOW_MS, 8 * 3600, line, sizeof(line)),
                       line, sizeof(line));
        /* The same status again changes nothing. */
        FUZZ_ASSERT(watch_gateways_update(g, &st, &online, &gateway, &name) == 0);
        on_fleet(&st);
        gwmsg_status_release(&st);
    } else {
        FUZZ_ASSERT(st.json == NULL && st.ident == NULL);
        /* The reason is logged ("ignoring TOPIC: REASON"). */
        FUZZ_ASSERT(err[0] != '\0' && clean_text(err));
    }
    watch_gateways_free(g);
}

static void on_cmd_result(const char *payload, size_t len)
{
    bool ok = false;
    char error[256];

    int rc = gwmsg_cmd_result(payload, len, "fuzz-1", &ok, error, sizeof(error));
    FUZZ_ASSERT(rc >= -1 && rc <= 1);
    /* The reason is printed by `shelter-watch mode` and `test`. */
    if (rc == 1 && !ok)
        FUZZ_ASSERT(clean_text(error));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char topic[TOPIC_SIZE];
    struct topic_parts p;
    const uint8_t *nul = memchr(data, '\0', size);

    if (nul == NULL || (size_t)(nul - data) >= sizeof(topic))
        return 0;
    memcpy(topic, data, (size_t)(nul - data) + 1);
    size_t len = size - (size_t)(nul - data) - 1;
    /* Exactly len bytes, not NUL-terminated, as Paho hands them over. */
    char *payload = malloc(len ? len : 1);
    FUZZ_ASSERT(payload != NULL);
    memcpy(payload, nul + 1, len);

    enum topic_type type = topic_parse(topic, &p);
    const char *base = p.base;
    FUZZ_ASSERT(type == topic_type_of(topic));
    if (type == TOPIC_OTHER) {
        FUZZ_ASSERT(base[0] == '\0' && !p.site);
    } else {
        size_t blen = strlen(base);
        FUZZ_ASSERT(blen > 0 && blen < strlen(topic) && strncmp(base, topic, blen) == 0 &&
                    topic[blen] == '/');
    }
    if (p.site) {
        /* The split puts the base together again: prefix/levels. */
        char joined[TOPIC_SIZE];
        FUZZ_ASSERT(topic_base(joined, sizeof(joined), p.prefix, p.level) == (int)strlen(base));
        FUZZ_ASSERT(strcmp(joined, base) == 0);
    }
    switch (type) {
    case TOPIC_ALARM:
        if (len > 0) /* an empty payload removes a retained alarm */
            on_alarm(topic, base, payload, len);
        break;
    case TOPIC_STATUS:
        if (len > 0)
            on_status(topic, base, payload, len);
        break;
    case TOPIC_CMD_RESULT:
        on_cmd_result(payload, len);
        break;
    case TOPIC_READING: { /* the value now of the list of active alarms */
        char now[64], tiny[8];
        for (int lang = 0; lang < 2; lang++) {
            int n = watch_format_now(payload, len, lang ? LANG_EN : LANG_ZH, now, sizeof(now));
            if (n >= 0)
                check_line(n, now, sizeof(now));
            else
                FUZZ_ASSERT(now[0] == '\0');
            n = watch_format_now(payload, len, lang ? LANG_EN : LANG_ZH, tiny, sizeof(tiny));
            if (n >= 0)
                check_line(n, tiny, sizeof(tiny));
        }
        break;
    }
    default:
        break;
    }

    /* `shelter-watch ack TOPIC` */
    char abase[TOPIC_SIZE], sensor[GWMSG_TEXT_MAX + 1], alarm[GWMSG_TEXT_MAX + 1], err[512];
    if (watch_ack_target(topic, abase, sizeof(abase), sensor, alarm, err, sizeof(err)) == 0) {
        FUZZ_ASSERT(type == TOPIC_ALARM && strcmp(abase, base) == 0);
        FUZZ_ASSERT(sensor[0] != '\0' && alarm[0] != '\0');
        char *ack = gwmsg_ack_payload("fuzz-1", sensor, alarm, "fuzz");
        FUZZ_ASSERT(ack != NULL);
        free(ack);
    }
    free(payload);
    return 0;
}
