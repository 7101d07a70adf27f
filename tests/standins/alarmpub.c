/*
 * alarmpub: a fleet of simulated gateways publishing alarm transitions, for
 * shelter-notify's storm tests and its bench.  The payloads are the
 * gateway's (docs/design.md section 10): retained, QoS 1, a per-gateway seq
 * counting up from --seq-start, the site in the topic and the payload.
 *
 *   alarmpub --broker URI [--prefix P] [--site C/D/S/C/P] [--gateways N]
 *            [--transitions K] [--rate N/s] [--severity S] [--kind KIND]
 *            [--seq-start N] [--log FILE] [--name NAME]
 *
 * Each of N gateways (gw-0001 ...) publishes K transitions of its alarm
 * leak-1/leak: raised, cleared, raised, ... so every odd seq is a raise.
 * Transitions go round the gateways at --rate per second in all.  With
 * --log, one line per publish the broker acknowledged:
 *   PUBLISH_MS BASE SEQ EVENT
 * Exit 0 when every publish was acknowledged.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kind.h"
#include "log.h"
#include "mqtt.h"

#define GW_MAX 5000
#define INFLIGHT 16

struct opts {
    const char *broker, *prefix, *site, *severity, *kind, *log, *name;
    int gateways, transitions;
    double rate;
    uint64_t seq_start;
};

struct pending {
    uint64_t id;
    int64_t at_ms;
    char base[256];
    uint64_t seq;
    const char *event;
};

static int usage(void)
{
    fprintf(stderr, "usage: alarmpub --broker URI [--prefix P] [--site C/D/S/C/P] [--gateways N]\n"
                    "                [--transitions K] [--rate N] [--severity S] [--kind KIND]\n"
                    "                [--seq-start N] [--log FILE] [--name NAME]\n");
    return 64;
}

static char *payload(const struct opts *o, const char *levels[5], const char *gw, uint64_t seq,
                     bool raise, int64_t now)
{
    char ts[40], *p = NULL;
    bool water = strncmp(o->kind, "water", 5) == 0;
    int n;

    format_rfc3339_ms(now, ts, sizeof(ts));
    n = asprintf(
        &p,
        "{\"seq\":%" PRIu64 ",\"ts\":\"%s\",\"gateway\":\"%s\",\"site\":{\"city\":\"%s\","
        "\"district\":\"%s\",\"street\":\"%s\",\"community\":\"%s\",\"property\":\"%s\","
        "\"shelter\":\"%s\",\"name\":\"%s %s\"},\"sensor\":\"leak-1\",\"kind\":\"%s\","
        "\"location\":\"B1 入口坡道底部\",\"alarm\":\"leak\",\"event\":\"%s\",\"active\":%s,"
        "\"acked\":false,\"severity\":\"%s\",\"value\":null,\"unit\":\"\",\"threshold\":null,"
        "\"mode\":\"peacetime\",\"message\":\"leak-1（B1 入口坡道底部）：%s%s\"}",
        seq, ts, gw, levels[0], levels[1], levels[2], levels[3], levels[4], gw, o->name, gw,
        o->kind, raise ? "raised" : "cleared", raise ? "true" : "false", o->severity,
        water ? "漏水" : "报警", raise ? "" : "已恢复");
    return n < 0 ? NULL : p;
}

int main(int argc, char **argv)
{
    struct opts o = {.prefix = "shelter",
                     .site = "zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye",
                     .severity = "critical",
                     .kind = "water_leak",
                     .name = "模拟人防工程",
                     .gateways = 1,
                     .transitions = 1,
                     .rate = 50,
                     .seq_start = 1};
    struct pending pend[INFLIGHT];
    char site[512], *levels[5], err[256], will_topic[512], client[64];
    FILE *logf = NULL;
    struct mqtt *m;
    struct mqtt_opts mo = {0};
    int total, sent = 0, acked = 0, failed = 0, npend = 0;
    uint64_t next_id = 1;
    int64_t start;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
        if (v == NULL)
            return usage();
        if (strcmp(a, "--broker") == 0)
            o.broker = v;
        else if (strcmp(a, "--prefix") == 0)
            o.prefix = v;
        else if (strcmp(a, "--site") == 0)
            o.site = v;
        else if (strcmp(a, "--gateways") == 0)
            o.gateways = atoi(v);
        else if (strcmp(a, "--transitions") == 0)
            o.transitions = atoi(v);
        else if (strcmp(a, "--rate") == 0)
            o.rate = atof(v);
        else if (strcmp(a, "--severity") == 0)
            o.severity = v;
        else if (strcmp(a, "--kind") == 0)
            o.kind = v;
        else if (strcmp(a, "--seq-start") == 0)
            o.seq_start = strtoull(v, NULL, 10);
        else if (strcmp(a, "--log") == 0)
            o.log = v;
        else if (strcmp(a, "--name") == 0)
            o.name = v;
        else
            return usage();
    }
    if (o.broker == NULL || o.gateways < 1 || o.gateways > GW_MAX || o.transitions < 1 ||
        o.rate <= 0)
        return usage();
    log_init(0);
    snprintf(site, sizeof(site), "%s", o.site);
    levels[0] = strtok(site, "/");
    for (int i = 1; i < 5; i++)
        levels[i] = strtok(NULL, "/");
    if (levels[4] == NULL)
        return usage();
    if (o.log != NULL && (logf = fopen(o.log, "a")) == NULL) {
        perror(o.log);
        return 1;
    }
    snprintf(client, sizeof(client), "alarmpub-%d", (int)getpid());
    snprintf(will_topic, sizeof(will_topic), "%s/alarmpub/%d", o.prefix, (int)getpid());
    mo.uris[0] = o.broker;
    mo.nuris = 1;
    mo.client_id = client;
    mo.will_topic = will_topic;
    mo.max_inflight = INFLIGHT;
    if ((m = mqtt_new(&mo, err, sizeof(err))) == NULL || mqtt_start(m, err, sizeof(err)) < 0) {
        fprintf(stderr, "alarmpub: %s\n", err);
        return 1;
    }
    total = o.gateways * o.transitions;
    start = mono_ms() + 1000000; /* set when connected */
    while (acked + failed < total) {
        struct pollfd pfd = {.fd = mqtt_fd(m), .events = POLLIN};
        struct mqtt_event ev;
        int64_t now = mono_ms(), due;

        /* The next transition is due at start + sent / rate. */
        due = start + (int64_t)(sent * 1000.0 / o.rate);
        poll(&pfd, 1, sent < total && due > now ? (int)(due - now < 50 ? due - now : 50) : 50);
        while (mqtt_next_event(m, &ev) == 1) {
            if (ev.type == MQTT_EV_CONNECTED && start > mono_ms())
                start = mono_ms();
            if (ev.type == MQTT_EV_PUBLISHED) {
                for (int i = 0; i < npend; i++) {
                    if (pend[i].id != ev.id)
                        continue;
                    if (ev.ok) {
                        acked++;
                        if (logf != NULL)
                            fprintf(logf, "%" PRId64 " %s %" PRIu64 " %s\n", pend[i].at_ms,
                                    pend[i].base, pend[i].seq, pend[i].event);
                    } else {
                        failed++;
                        fprintf(stderr, "alarmpub: publish failed: %s\n", ev.detail);
                    }
                    pend[i] = pend[--npend];
                    break;
                }
            }
            mqtt_event_clear(&ev);
        }
        while (sent < total && npend < INFLIGHT &&
               mono_ms() >= start + (int64_t)(sent * 1000.0 / o.rate)) {
            int g = sent % o.gateways, k = sent / o.gateways;
            char gw[32], topic[600];
            uint64_t seq = o.seq_start + (uint64_t)k;
            bool raise = k % 2 == 0;
            int64_t at = wall_ms();
            char *p;
            snprintf(gw, sizeof(gw), "gw-%04d", g + 1);
            snprintf(topic, sizeof(topic), "%s/%s/%s/%s/%s/%s/%s/alarm/leak-1/leak", o.prefix,
                     levels[0], levels[1], levels[2], levels[3], levels[4], gw);
            if ((p = payload(&o, (const char **)levels, gw, seq, raise, at)) == NULL)
                return 1;
            if (mqtt_publish(m, topic, p, strlen(p), 1, 1, next_id) < 0) {
                free(p);
                break; /* not connected, or full: later */
            }
            free(p);
            pend[npend].id = next_id++;
            pend[npend].at_ms = at;
            pend[npend].seq = seq;
            pend[npend].event = raise ? "raised" : "cleared";
            snprintf(pend[npend].base, sizeof(pend[npend].base), "%s/%s/%s/%s/%s/%s/%s", o.prefix,
                     levels[0], levels[1], levels[2], levels[3], levels[4], gw);
            npend++;
            sent++;
        }
    }
    if (logf != NULL)
        fclose(logf);
    mqtt_free(m);
    fprintf(stderr, "alarmpub: %d published, %d failed\n", acked, failed);
    return failed == 0 ? 0 : 1;
}
