/*
 * influxq: InfluxQL over HTTP for shelter-report (docs/design.md section 19),
 * with libcurl's easy interface: the report is a batch program, one request
 * at a time, so blocking is what it wants.
 *
 * InfluxDB 1.x: GET {url}/query?db=DATABASE.  InfluxDB 2.x: the same
 * v1-compatibility endpoint with "Authorization: Token ..." and db (and rp)
 * from the bucket's DBRP mapping: a bucket "B" is db B with its default
 * retention policy, "DB/RP" is db DB, rp RP (2.x makes these "virtual"
 * mappings for every bucket).  So one query layer, one answer format and one
 * parser serve both versions; Flux would double them.  Times come back as
 * integer ms (epoch=ms).  Main thread only; an object belongs to one thread.
 */
#ifndef GW_INFLUXQ_H
#define GW_INFLUXQ_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct influxq_conf {
    const char *url;        /* http(s)://host:port, no path */
    const char *database;   /* 1.x; NULL or "" for 2.x */
    const char *org;        /* 2.x: named in messages only (the token scopes the org) */
    const char *bucket;     /* 2.x: "B" or "DB/RP" */
    const char *token_file; /* 2.x, or a 1.x with a token: NULL or "" for none */
    long timeout_s;         /* whole request; 0: 60 s */
};

struct influxq;

/* Reads the token (never logged).  NULL with a reason in err. */
struct influxq *influxq_new(const struct influxq_conf *conf, char *err, size_t errlen);
void influxq_free(struct influxq *q);

/* Run one or more ';'-separated statements; the parsed answer (caller
 * cJSON_Delete()s it), or NULL with a reason that names the server:
 * unreachable, refused credentials, an unknown database or bucket, or the
 * server's own message. */
cJSON *influxq_run(struct influxq *q, const char *statements, char *err, size_t errlen);

/* Requests made and bytes received so far (for -v and the bench). */
void influxq_stats(const struct influxq *q, long *requests, size_t *bytes);

#endif
