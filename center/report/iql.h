/*
 * iql: InfluxQL text and InfluxDB /query results for shelter-report
 * (docs/design.md section 19).  Query text is appended to a stdio stream
 * (open_memstream), so a request of many statements grows as needed; every
 * identifier and string literal goes through the quoting here.  Results are
 * cJSON trees of the 1.x /query JSON ({"results":[{"series":[...]}]}), which
 * InfluxDB 2.x's v1-compatibility endpoint answers too.  Pure; any thread.
 */
#ifndef GW_IQL_H
#define GW_IQL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "topic.h"

#define IQL_LEVELS TOPIC_LEVELS       /* city district street community property shelter */
#define IQL_SLUG_MAX TOPIC_LEVEL_SIZE /* bytes with the NUL, as the gateway's slugs */

/* The tag keys are sensors/points.h's topic_site_keys: the five levels,
 * the shelter, the sensor. */

/* Subtrees are lib/topic's (struct topic_subtree, topic_subtree_parse):
 * "zhengzhou/jinshui" is city AND district, never a district called
 * jinshui in another city; nlevels 0 is everything. */

/* "a/b/c", or "/" for everything.  buf >= IQL_LEVELS * IQL_SLUG_MAX. */
void iql_subtree_text(const struct topic_subtree *st, char *buf, size_t len);

/* The tag key of the level below the subtree ("sensor" under a shelter). */
const char *iql_child_key(const struct topic_subtree *st);

/* 'string' and "identifier" with InfluxQL's backslash escapes. */
void iql_str(FILE *f, const char *s);
void iql_ident(FILE *f, const char *s);

/* ` WHERE "city" = 'a' AND ... AND time >= Xms AND time < Yms`; a bound of
 * INT64_MIN (from) or INT64_MAX (to) is left out. */
void iql_where(FILE *f, const struct topic_subtree *st, int64_t from_ms, int64_t to_ms);

/* Parse a /query answer.  NULL with a reason when it is not JSON, carries
 * a top-level "error", or has no "results". */
cJSON *iql_parse(const char *body, char *err, size_t errlen);

/* The series array of statement i (an empty statement gives an empty
 * array); NULL with the statement's error or "no statement i". */
const cJSON *iql_series(const cJSON *root, int i, char *err, size_t errlen);

/* A series' tag value ("" when absent), column index (-1 when absent). */
const char *iql_tag(const cJSON *series, const char *key);
int iql_column(const cJSON *series, const char *name);

/* Row values: a number as int64 ms/double, or NULL as the fallback. */
int64_t iql_int(const cJSON *row, int col, int64_t fallback);
double iql_num(const cJSON *row, int col, double fallback);
const char *iql_text(const cJSON *row, int col); /* "" when null or not a string */

#endif
