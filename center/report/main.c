/*
 * shelter-report: a review of InfluxDB history for any level of the
 * maintenance network (docs/design.md section 19): door faults,
 * door exercise, door wear, floods, CO2 and smoke, availability, as HTML,
 * CSV or JSON.
 *
 * The work: options and the period here; the configuration in conf.c; the
 * statements and what their answers mean in review.c (pure), run round by
 * round through influxq.c; the output by rhtml.c, rcsv.c or rjson.c into a
 * temporary file renamed over -o FILE only when complete, so a failed run
 * never leaves a half report that looks whole.
 *
 * Exit: 0 a review was written; 1 nothing to review (no shelter under the
 * subtree, or none wrote in the period: never an empty report that reads
 * "all fine"); 64 usage; 69 InfluxDB unreachable, refusing, or failing a
 * statement; 73 the output cannot be written; 78 configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "conf.h"
#include "influxq.h"
#include "rcsv.h"
#include "review.h"
#include "rhtml.h"
#include "rjson.h"

#define EX_NODATA 1
#define EX_USAGE 64
#define EX_UNAVAILABLE 69
#define EX_CANTCREAT 73
#define EX_CONFIG 78
#define DEFAULT_CONF "/etc/shelter-report/report.conf"

#ifndef GW_VERSION
#define GW_VERSION "dev"
#endif

enum format { FMT_HTML, FMT_CSV, FMT_JSON };

struct opts {
    const char *conf, *subtree, *from, *to, *out;
    enum format format;
    bool utc, verbose;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: shelter-report [-c FILE] [--subtree LEVELS] [--from DATE] [--to DATE]\n"
               "                      [--utc] [--format html|csv|json] [-o FILE] [-v]\n"
               "  -c FILE           the [influx] section to read (default " DEFAULT_CONF ")\n"
               "  --subtree LEVELS  city[/district[/street[/community[/property[/shelter]]]]]\n"
               "                    (default: everything)\n"
               "  --from DATE       first day, YYYY-MM-DD (inclusive)\n"
               "  --to DATE         day after the last, YYYY-MM-DD (exclusive);\n"
               "                    default period: the last calendar month\n"
               "  --utc             dates and times in UTC (default China Standard Time)\n"
               "  --format F        html (default), csv or json\n"
               "  -o FILE           write to FILE (default standard output)\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"subtree", required_argument, NULL, 's'},
                                          {"from", required_argument, NULL, 'f'},
                                          {"to", required_argument, NULL, 't'},
                                          {"format", required_argument, NULL, 'F'},
                                          {"utc", no_argument, NULL, 'u'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"version", no_argument, NULL, 'V'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {NULL, 0, NULL, 0}};
    int c;
    *o = (struct opts){.conf = DEFAULT_CONF, .subtree = "", .format = FMT_HTML};
    while ((c = getopt_long(argc, argv, "c:o:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->conf = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 's':
            o->subtree = optarg;
            break;
        case 'f':
            o->from = optarg;
            break;
        case 't':
            o->to = optarg;
            break;
        case 'u':
            o->utc = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'F':
            if (strcmp(optarg, "html") == 0)
                o->format = FMT_HTML;
            else if (strcmp(optarg, "csv") == 0)
                o->format = FMT_CSV;
            else if (strcmp(optarg, "json") == 0)
                o->format = FMT_JSON;
            else {
                fprintf(stderr, "shelter-report: --format %s: html, csv or json\n", optarg);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("shelter-report %s\n", GW_VERSION);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shelter-report: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Run the review's rounds against InfluxDB.  0, or -1 after printing why.
 * A lone statement first: influxd 1.6 answers a request of several
 * statements on an unknown database with "not executed", one statement
 * with "database not found". */
static int run(struct review *rv, struct influxq *q, bool verbose)
{
    char why[512];
    cJSON *probe = influxq_run(q, "SHOW RETENTION POLICIES", why, sizeof(why));
    if (probe == NULL || iql_series(probe, 0, why, sizeof(why)) == NULL) {
        fprintf(stderr, "shelter-report: %s%s\n", probe != NULL ? "InfluxDB: " : "", why);
        cJSON_Delete(probe);
        return -1;
    }
    cJSON_Delete(probe);
    for (;;) {
        char *stmts = NULL, err[1024];
        size_t len = 0;
        FILE *f = open_memstream(&stmts, &len);
        if (f == NULL) {
            fprintf(stderr, "shelter-report: out of memory\n");
            return -1;
        }
        int n = review_next(rv, f);
        if (fclose(f) != 0 || n < 0) {
            free(stmts);
            fprintf(stderr, "shelter-report: out of memory\n");
            return -1;
        }
        if (n == 0) {
            free(stmts);
            return 0;
        }
        int64_t t0 = mono_ms();
        cJSON *answer = influxq_run(q, stmts, err, sizeof(err));
        if (verbose)
            fprintf(stderr, "shelter-report: %d statement(s), %zu bytes, %lld ms%s\n", n, len,
                    (long long)(mono_ms() - t0), answer == NULL ? ", failed" : "");
        free(stmts);
        if (answer == NULL) {
            fprintf(stderr, "shelter-report: %s\n", err);
            return -1;
        }
        int rc = review_take(rv, answer, err, sizeof(err));
        cJSON_Delete(answer);
        if (rc == -1) {
            fprintf(stderr, "shelter-report: InfluxDB: %s\n", err);
            return -1;
        }
    }
}

static int write_out(const struct review *rv, const struct opts *o, int64_t now)
{
    char tmp[4096];
    FILE *f = stdout;
    if (o->out != NULL) {
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", o->out);
        int fd = n > 0 && (size_t)n < sizeof(tmp) ? mkstemp(tmp) : -1;
        /* mkstemp makes it 0600; a review is for reading (by the office's
         * web server too), as a file made by shell redirection would be. */
        if (fd == -1 || fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
            fprintf(stderr, "shelter-report: %s: %s\n", o->out, strerror(errno));
            if (fd != -1)
                close(fd), unlink(tmp);
            return -1;
        }
    }
    int rc = o->format == FMT_HTML  ? rhtml_write(rv, now, f)
             : o->format == FMT_CSV ? rcsv_write(rv, f)
                                    : rjson_write(rv, now, f);
    if (o->out == NULL) {
        if (rc == -1 || fflush(f) == EOF) {
            fprintf(stderr, "shelter-report: standard output: %s\n", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (rc == -1 || fflush(f) == EOF || fsync(fileno(f)) == -1) {
        fprintf(stderr, "shelter-report: %s: %s\n", o->out, strerror(errno));
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) == EOF || rename(tmp, o->out) == -1) {
        fprintf(stderr, "shelter-report: %s: %s\n", o->out, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct review_opts ro = {0};
    struct influxcfg c;
    char err[1024];
    int64_t now = wall_ms();

    if (parse_opts(argc, argv, &o) == -1)
        return EX_USAGE;
    if ((o.subtree[0] != '\0' && strcmp(o.subtree, "/") != 0 &&
         topic_subtree_parse(o.subtree, &ro.subtree, err, sizeof(err)) == -1) ||
        period_make(&ro.period, o.from, o.to, o.utc, now, err, sizeof(err)) == -1) {
        fprintf(stderr, "shelter-report: %s\n", err);
        return EX_USAGE;
    }
    ro.now_ms = now;
    if (conf_load(o.conf, &c, stderr) == -1)
        return EX_CONFIG;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "shelter-report: libcurl did not initialise\n");
        return EX_UNAVAILABLE;
    }
    struct influxq_conf qc = {.url = c.url,
                              .database = c.database,
                              .org = c.org,
                              .bucket = c.bucket,
                              .token_file = c.token_file};
    struct influxq *q = influxq_new(&qc, err, sizeof(err));
    if (q == NULL) {
        fprintf(stderr, "shelter-report: %s: %s\n", o.conf, err);
        curl_global_cleanup();
        return EX_CONFIG;
    }
    struct review *rv = review_new(&ro);
    int status = 0;
    int64_t t0 = mono_ms();
    if (rv == NULL) {
        fprintf(stderr, "shelter-report: out of memory\n");
        status = EX_UNAVAILABLE;
    } else if (run(rv, q, o.verbose) == -1) {
        status = EX_UNAVAILABLE;
    } else if (review_has_data(rv, err, sizeof(err)) == -1) {
        fprintf(stderr, "shelter-report: %s\n", err);
        status = EX_NODATA;
    } else if (write_out(rv, &o, now) == -1) {
        status = EX_CANTCREAT;
    }
    if (o.verbose && status == 0) {
        long requests;
        size_t bytes;
        influxq_stats(q, &requests, &bytes);
        fprintf(stderr,
                "shelter-report: %d shelters, %d doors, %d door faults, %d floods: %ld "
                "requests, %zu bytes from InfluxDB, %lld ms\n",
                rv->navail, rv->doors, rv->ndoor_faults, rv->nfloods, requests, bytes,
                (long long)(mono_ms() - t0));
    }
    review_free(rv);
    influxq_free(q);
    curl_global_cleanup();
    return status;
}
