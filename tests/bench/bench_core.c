/*
 * bench_core: throughput of the pure cores on this machine: the alarm
 * engine evaluating readings, and the line-protocol encoder.  Prints
 * figures; asserts nothing (make bench).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alarm.h"
#include "lineproto.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    enum { NS = 64, N = 2000000 };
    struct alarm_cfg cfg[NS];
    struct alarm_sensor sensors[NS];
    char names[NS][16];
    for (int i = 0; i < NS; i++) {
        enum kind k = i % 2 ? KIND_WATER_LEVEL : KIND_CO2;
        alarm_cfg_defaults(k, &cfg[i]);
        snprintf(names[i], sizeof(names[i]), "s-%d", i);
        sensors[i] =
            (struct alarm_sensor){.name = names[i], .kind = k, .pit_depth_m = 1.2, .cfg = &cfg[i]};
    }
    struct alarm_engine *eng = alarm_engine_new(sensors, NS, MODE_PEACETIME, 0);
    struct alarm_event ev[64];
    struct alarm_events out = {.ev = ev, .cap = 64};
    int transitions = 0;
    double t0 = now_s();
    for (int n = 0; n < N; n++) {
        int i = n % NS;
        int64_t t = 200000 + (int64_t)(n / NS) * 1000; /* one reading per sensor per second */
        struct reading r = {.sensor = i, .kind = sensors[i].kind, .quality = Q_GOOD, .ts_ms = t};
        double wave = (double)((n / NS) % 600) / 600.0; /* a 10-minute rise and fall */
        if (r.kind == KIND_WATER_LEVEL) {
            r.v.water_level.level_m = 1.2 * wave;
            r.v.water_level.level_pct = 100 * wave;
        } else {
            r.v.co2.co2_ppm = 400 + 3000 * wave;
        }
        out.n = 0;
        alarm_on_reading(eng, &r, t, &out);
        transitions += out.n;
    }
    double dt = now_s() - t0;
    printf("alarm engine: %d readings of %d sensors in %.2f s: %.0f readings/s, %.2f us each "
           "(%d transitions)\n",
           N, NS, dt, N / dt, dt / N * 1e6, transitions);
    alarm_engine_free(eng);

    struct lp_tag tags[] = {{"city", "zhengzhou"},      {"district", "jinshui"},
                            {"street", "fengchan"},     {"community", "dongfeng"},
                            {"property", "wanke-wuye"}, {"shelter", "demo-dongfeng-b1"},
                            {"sensor", "sump-east"}};
    char buf[1024];
    size_t bytes = 0;
    t0 = now_s();
    for (int n = 0; n < N; n++) {
        struct lp_field f[] = {lp_str("quality", "good"), lp_float("level_m", 0.001 * n),
                               lp_float("level_pct", 0.1 * (n % 1000))};
        struct lp_point pt = {"water_level", tags, 7, f, 3, 1784570584123LL + n};
        bytes += (size_t)lp_encode(buf, sizeof(buf), &pt);
    }
    dt = now_s() - t0;
    printf("line protocol: %d points in %.2f s: %.0f points/s, %.0f bytes each\n", N, dt, N / dt,
           (double)bytes / N);
    return 0;
}
