/*
 * lineproto: see lineproto.h for the rules.  Owns nothing.
 *
 * Design: one pass over the point through a small output cursor that keeps
 * counting once the buffer is full, so the same code measures (buf NULL),
 * detects ENOSPC and writes; validation happens in the same pass, and an
 * invalid point returns EINVAL even when it would not have fitted, so the
 * caller never grows a buffer for a point that can never be sent.  Tags are
 * emitted in key order by repeated minimum selection: O(n^2) over a handful of
 * tags, and it neither sorts the caller's array nor needs scratch memory.
 */
#include "lineproto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters escaped with a backslash, per element (InfluxDB line protocol). */
static const char MEASUREMENT_ESC[] = ", ";
static const char KEY_ESC[] = ",= "; /* tag keys, tag values, field keys */
static const char STRING_ESC[] = "\"\\";

/* A backslash followed by one of these (or last) reads differently in
 * InfluxDB 1.x and 2.x, so it cannot be sent in names and tag values. */
static const char AMBIGUOUS_AFTER_BACKSLASH[] = "\\,= \"";

struct out {
    char *buf; /* NULL: measure only */
    size_t cap;
    size_t len; /* bytes the line needs so far, may exceed cap */
};

static void put_mem(struct out *o, const char *s, size_t n)
{
    if (o->buf && o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_char(struct out *o, char c)
{
    put_mem(o, &c, 1);
}

static int is_in(const char *set, char c)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* Write s with the characters of esc backslash-escaped.  Runs of plain
 * bytes (including all UTF-8 multibyte sequences) are copied unchanged. */
static void put_escaped(struct out *o, const char *s, const char *esc)
{
    const char *run = s;
    for (; *s; s++) {
        if (is_in(esc, *s)) {
            put_mem(o, run, (size_t)(s - run));
            put_char(o, '\\');
            run = s;
        }
    }
    put_mem(o, run, (size_t)(s - run));
}

/* Measurement, tag key, tag value or field key: non-empty, no newline, no
 * backslash whose meaning differs between InfluxDB versions. */
static int valid_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s == '\n')
            return 0;
        if (*s == '\\' && (s[1] == '\0' || is_in(AMBIGUOUS_AFTER_BACKSLASH, s[1])))
            return 0;
    }
    return 1;
}

static int tag_present(const struct lp_tag *t)
{
    return t->value != NULL && t->value[0] != '\0';
}

static int valid_tags(const struct lp_tag *tags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(tags[i].key))
            return 0;
        if (tag_present(&tags[i]) && !valid_name(tags[i].value))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i].key, tags[j].key) == 0)
                return 0;
    }
    return 1;
}

static int valid_fields(const struct lp_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(fields[i].key))
            return 0;
        if (fields[i].type == LP_STR && fields[i].v.s && strchr(fields[i].v.s, '\n'))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(fields[i].key, fields[j].key) == 0)
                return 0;
    }
    return 1;
}

/* The present tags in strcmp order (keys are unique, checked before). */
static void put_tags(struct out *o, const struct lp_tag *tags, size_t n)
{
    const struct lp_tag *prev = NULL;
    for (;;) {
        const struct lp_tag *next = NULL;
        for (size_t i = 0; i < n; i++) {
            const struct lp_tag *t = &tags[i];
            if (!tag_present(t) || (prev && strcmp(t->key, prev->key) <= 0))
                continue;
            if (next == NULL || strcmp(t->key, next->key) < 0)
                next = t;
        }
        if (next == NULL)
            return;
        put_char(o, ',');
        put_escaped(o, next->key, KEY_ESC);
        put_char(o, '=');
        put_escaped(o, next->value, KEY_ESC);
        prev = next;
    }
}

/* Shortest of %.15g..%.17g that reads back as v: every double with at most
 * 15 significant digits prints exactly so, and 17 always round-trips. */
static int format_float(char *s, size_t size, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(s, size, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    return n;
}

static void put_value(struct out *o, const struct lp_field *f)
{
    char num[40];
    int n;

    switch (f->type) {
    case LP_INT:
        n = snprintf(num, sizeof(num), "%" PRId64 "i", f->v.i);
        put_mem(o, num, (size_t)n);
        break;
    case LP_FLOAT:
        n = format_float(num, sizeof(num), f->v.f);
        put_mem(o, num, (size_t)n);
        break;
    case LP_BOOL:
        put_mem(o, f->v.b ? "true" : "false", f->v.b ? 4 : 5);
        break;
    case LP_STR:
        put_char(o, '"');
        put_escaped(o, f->v.s ? f->v.s : "", STRING_ESC);
        put_char(o, '"');
        break;
    }
}

ssize_t lp_encode(char *buf, size_t cap, const struct lp_point *pt)
{
    struct out o = {.buf = buf, .cap = buf ? cap : 0, .len = 0};
    size_t written_fields = 0;
    char ts[24];

    if (!valid_name(pt->measurement) || pt->measurement[0] == '#' ||
        !valid_tags(pt->tags, pt->ntags) || !valid_fields(pt->fields, pt->nfields)) {
        errno = EINVAL;
        return -1;
    }

    put_escaped(&o, pt->measurement, MEASUREMENT_ESC);
    put_tags(&o, pt->tags, pt->ntags);
    for (size_t i = 0; i < pt->nfields; i++) {
        const struct lp_field *f = &pt->fields[i];
        if (f->type == LP_FLOAT && !isfinite(f->v.f))
            continue; /* no representation; see lineproto.h */
        put_char(&o, written_fields++ ? ',' : ' ');
        put_escaped(&o, f->key, KEY_ESC);
        put_char(&o, '=');
        put_value(&o, f);
    }
    if (written_fields == 0) {
        errno = EINVAL;
        return -1;
    }
    int n = snprintf(ts, sizeof(ts), " %" PRId64 "\n", pt->ts_ms);
    put_mem(&o, ts, (size_t)n);

    if (buf == NULL)
        return (ssize_t)o.len;
    if (o.len >= cap) {
        errno = ENOSPC;
        return -1;
    }
    buf[o.len] = '\0';
    return (ssize_t)o.len;
}
