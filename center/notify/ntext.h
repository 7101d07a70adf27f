/*
 * ntext: the texts shelter-notify sends to people (docs/design.md section
 * 22.6): one alarm transition, its escalation, a gateway going offline or
 * coming back, and summaries of many (a flood, a rate limit's overflow, the
 * alarms already active at the first start).  In Chinese or English, as
 * WeCom markdown, DingTalk markdown (a title and a text) or plain text (the
 * webhook's "text").
 *
 * Every text says, in this order: the severity, the shelter's name, the
 * location, what happened and how much, and the time (local time,
 * tz_offset_s east of UTC); water alarms add that nobody may enter the
 * garage (请勿进入车库), an offline gateway when it was last seen.  Strings
 * from outside are cut to a few hundred bytes each at a UTF-8 boundary, so
 * a single notice always fits a robot's limit (WeCom: 4096 bytes).
 *
 * Pure: no I/O, no clock, no locale.  Any thread.
 */
#ifndef NOTIFY_NTEXT_H
#define NOTIFY_NTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mode.h"

#define NTEXT_WECOM_MAX 4096     /* bytes of a WeCom markdown content */
#define NTEXT_DINGTALK_MAX 16000 /* bytes of a DingTalk markdown text (ours: well inside 20000) */
#define NTEXT_TITLE_MAX 256      /* bytes of a DingTalk title */

enum ntext_format { NTEXT_WECOM, NTEXT_DINGTALK, NTEXT_PLAIN };

enum ntext_kind {
    NTEXT_ALARM,   /* an alarm transition: event raised | cleared | acknowledged | test */
    NTEXT_OFFLINE, /* a gateway offline for offline_after */
    NTEXT_ONLINE,  /* ... and back */
    NTEXT_TEST,    /* --send-test */
};

/* What a text is about.  NULL strings are "absent"; value and threshold are
 * NAN when absent. */
struct ntext_notice {
    enum ntext_kind kind;
    const char *event;                           /* alarm: raised, cleared, acknowledged, test */
    const char *severity;                        /* critical, major, minor, info */
    const char *site_name, *gateway, *site_path; /* display name, id, "city/.../property" */
    const char *sensor, *location, *alarm;       /* alarm: the alarm's slug ("leak") */
    const char *what;   /* the alarm in words ("漏水"); else the slug is shown */
    const char *detail; /* the whole sentence with values ("…：漏水"), or NULL */
    double value, threshold;
    const char *unit;
    const char *by;  /* acknowledged: who */
    bool water;      /* a water alarm (water_level, water_leak): 请勿进入车库 */
    int64_t ts_ms;   /* when it happened (detection; offline: since) */
    int64_t seen_ms; /* offline: last seen; online: how long it was away is ts - seen */
    /* escalation (escalated > 0): nobody on from_route answered for unacked_ms */
    int escalated;
    const char *from_route, *to_route; /* display names */
    int64_t unacked_ms;
    const char *ack_link; /* raised alarms with ack pages: the link */
    const char *mention;  /* dingtalk: "@138..." line for critical alarms, or NULL */
};

/* Why a summary is a summary. */
enum ntext_summary {
    NTEXT_SUM_FLOOD,   /* a route's alarm flood (ISA-18.2) */
    NTEXT_SUM_RATE,    /* more than the robot's rate: merged */
    NTEXT_SUM_ACTIVE,  /* alarms already active at the first start */
    NTEXT_SUM_BACKLOG, /* delivered late after the channel was down */
};

/* detail without the place the location line already gives: the
 * catalogue's sentence starts with it ("B1 坡道：漏水" -> "漏水"; in English
 * "leak-ramp (B1 ramp): Water leak" -> "Water leak").  detail itself when it
 * does not start so, when nothing would be left, or without a location. */
const char *ntext_detail(const char *detail, const char *location, const char *sensor);

/* One notice.  For NTEXT_DINGTALK the title goes to title (NTEXT_TITLE_MAX
 * is enough; NULL allowed for the other formats).  Returns the text's length
 * (snprintf style: more than len - 1 means it was cut), or -1. */
int ntext_notice(const struct ntext_notice *n, enum ntext_format f, enum gw_lang lang,
                 int tz_offset_s, char *title, size_t titlelen, char *buf, size_t len);

/* A summary of count notices (the caller orders them: critical first), as
 * many as fit in len; the first line says why and how many, the last how
 * many more follow in the next message (left = count - fitted + later, the
 * ones not given here).  *fitted receives how many were listed (at least 1
 * when count > 0: a single entry is cut to fit).  Returns the length, or -1. */
int ntext_summary(enum ntext_summary why, const struct ntext_notice *items, int count, int later,
                  enum ntext_format f, enum gw_lang lang, int tz_offset_s, char *title,
                  size_t titlelen, char *buf, size_t len, int *fitted);

/* The word for a severity ("严重", "CRITICAL"); "" for an unknown one. */
const char *ntext_severity_word(const char *severity, enum gw_lang lang);

/* Severity rank: critical 0, major 1, minor 2, info 3, unknown 4. */
int ntext_severity_rank(const char *severity);

/* "2026-07-20 18:03:04" in local time. */
int ntext_time(int64_t ts_ms, int tz_offset_s, char *buf, size_t len);

/* "5 分钟" / "5 min", "2 小时 5 分钟" / "2 h 5 min" for a duration. */
int ntext_duration(int64_t ms, enum gw_lang lang, char *buf, size_t len);

#endif
