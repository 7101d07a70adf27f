/*
 * rcsv: see rcsv.h.
 */
#include "rcsv.h"

#include <math.h>
#include <string.h>

static void field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', f);
        for (; *s != '\0'; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputs(last ? "\r\n" : ",", f);
}

/* Free text from the field (an acknowledger's name as the ack command gave
 * it, a location from a gateway's configuration): a spreadsheet would run
 * one that starts like a formula (=, +, -, @, tab, CR) when the reviewer
 * opens the file, so it is kept text with a leading apostrophe (OWASP). */
static void text_field(FILE *f, const char *s, int last)
{
    if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL) {
        char buf[REVIEW_TEXT_MAX + 2];
        snprintf(buf, sizeof(buf), "'%s", s);
        field(f, buf, last);
    } else {
        field(f, s, last);
    }
}

static void time_field(FILE *f, const struct period *p, int64_t ms, int last)
{
    char buf[40] = "";
    if (ms != 0)
        period_rfc3339(p, ms, buf, sizeof(buf));
    field(f, buf, last);
}

static void num_field(FILE *f, double v, int digits, int last)
{
    char buf[40] = "";
    if (isfinite(v))
        snprintf(buf, sizeof(buf), "%.*f", digits, review_round(v, digits));
    field(f, buf, last);
}

static void secs_field(FILE *f, int64_t from, int64_t to, int last)
{
    char buf[24] = "";
    if (from != 0 && to != 0)
        snprintf(buf, sizeof(buf), "%lld", (long long)llround((double)(to - from) / 1000.0));
    field(f, buf, last);
}

static void int_field(FILE *f, long long v, int last)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", v);
    field(f, buf, last);
}

static void header(FILE *f, const char *section, const char *cols)
{
    fprintf(f, "# %s\r\n%s\r\n", section, cols);
}

static void episodes(FILE *f, const struct review *rv, const char *section,
                     const struct review_episode *e, int n, const char *peak, int digits)
{
    const struct period *p = &rv->opts.period;
    char cols[256];
    snprintf(cols, sizeof(cols),
             "shelter,sensor,child,location,alarm,raised,acked,cleared,by,ack_s,duration_s%s%s",
             peak != NULL ? "," : "", peak != NULL ? peak : "");
    header(f, section, cols);
    for (int i = 0; i < n; i++) {
        field(f, e[i].site.level[IQL_LEVELS - 1], 0);
        field(f, e[i].site.sensor, 0);
        field(f, review_child_of(rv, &e[i].site), 0);
        text_field(f, e[i].location, 0);
        field(f, e[i].alarm, 0);
        time_field(f, p, e[i].raised, 0);
        time_field(f, p, e[i].acked, 0);
        time_field(f, p, e[i].cleared, 0);
        text_field(f, e[i].acked ? e[i].by : "", 0);
        secs_field(f, e[i].raised, e[i].acked, 0);
        secs_field(f, e[i].raised, e[i].cleared, peak == NULL);
        if (peak != NULL)
            num_field(f, e[i].peak, digits, 1);
    }
    fputs("\r\n", f);
}

int rcsv_write(const struct review *rv, FILE *f)
{
    const struct period *p = &rv->opts.period;
    char cols[128];

    episodes(f, rv, "door_faults", rv->door_faults, rv->ndoor_faults, NULL, 0);

    snprintf(cols, sizeof(cols), "%s,door_faults,floods", review_child_key(rv));
    header(f, "door_faults_by_child", cols);
    for (int i = 0; i < rv->nchildren; i++) {
        field(f, rv->children[i].slug, 0);
        int_field(f, rv->children[i].door_faults, 0);
        int_field(f, rv->children[i].floods, 1);
    }
    fputs("\r\n", f);

    header(f, "door_fault_times",
           "faults,acked,cleared,ack_median_s,ack_worst_s,clear_median_s,clear_worst_s");
    int_field(f, rv->door_times.faults, 0);
    int_field(f, rv->door_times.acked, 0);
    int_field(f, rv->door_times.cleared, 0);
    num_field(f, rv->door_times.ack_median_s, 0, 0);
    num_field(f, rv->door_times.ack_worst_s, 0, 0);
    num_field(f, rv->door_times.clear_median_s, 0, 0);
    num_field(f, rv->door_times.clear_worst_s, 0, 1);
    fputs("\r\n", f);

    header(f, "exercise_overdue", "shelter,sensor,child,location,last_exercise");
    for (int i = 0; i < rv->noverdue; i++) {
        const struct review_overdue *o = &rv->overdue[i];
        field(f, o->site.level[IQL_LEVELS - 1], 0);
        field(f, o->site.sensor, 0);
        field(f, review_child_of(rv, &o->site), 0);
        text_field(f, o->location, 0);
        time_field(f, p, o->last_exercise, 1);
    }
    fputs("\r\n", f);

    header(f, "door_travel",
           "shelter,sensor,child,location,movement,first_s,last_s,creeping,"
           "movements");
    for (int i = 0; i < rv->ntravel; i++) {
        const struct review_travel *t = &rv->travel[i];
        field(f, t->site.level[IQL_LEVELS - 1], 0);
        field(f, t->site.sensor, 0);
        field(f, review_child_of(rv, &t->site), 0);
        text_field(f, t->location, 0);
        field(f, t->movement, 0);
        num_field(f, t->first_s, REVIEW_DIGITS_S, 0);
        num_field(f, t->last_s, REVIEW_DIGITS_S, 0);
        field(f, t->creeping ? "true" : "false", 0);
        int_field(f, t->count, 1);
    }
    fputs("\r\n", f);

    episodes(f, rv, "floods", rv->floods, rv->nfloods, "peak_m", REVIEW_DIGITS_M);
    episodes(f, rv, "co2_events", rv->co2, rv->nco2, "peak_ppm", REVIEW_DIGITS_PPM);
    episodes(f, rv, "smoke_events", rv->smoke, rv->nsmoke, NULL, 0);

    header(f, "availability", "shelter,child,online_pct,comm_lost_s,offline_s");
    for (int i = 0; i < rv->navail; i++) {
        const struct review_avail *a = &rv->avail[i];
        field(f, a->site.level[IQL_LEVELS - 1], 0);
        field(f, review_child_of(rv, &a->site), 0);
        num_field(f, a->online_pct, REVIEW_DIGITS_PCT, 0);
        int_field(f, a->comm_lost_s, 0);
        int_field(f, a->offline_s, 1);
    }
    return ferror(f) ? -1 : 0;
}
