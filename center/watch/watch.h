/*
 * watch: the pure part of shelter-watch, the tool of the people who receive
 * alarms (docs/design.md sections 5.2, 10).  The readable zh/en lines,
 * duplicate detection by (gateway, seq), the gateways' online states, the
 * refusals already logged, and the target of `shelter-watch ack`.  Messages
 * are parsed by lib/gwmsg (identity from the topic), topics by lib/topic.
 * No I/O, no clock reads: the caller passes the time.
 * Any thread, but an object (watch_seen, watch_gateways) belongs to one.
 */
#ifndef GW_WATCH_H
#define GW_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"
#include "mode.h"

/* ---- ack ---- */

/* For `shelter-watch ack`: split an alarm topic {base}/alarm/{sensor}/{alarm}
 * (no wildcards) into base, sensor and alarm (each buffer at least
 * GWMSG_TEXT_MAX + 1 for sensor and alarm).  0, or -1 with a reason in err. */
int watch_ack_target(const char *alarm_topic, char *base, size_t baselen, char *sensor, char *alarm,
                     char *err, size_t errlen);

/* For `shelter-watch silence`: split an output topic {base}/output/{output}
 * into base (baselen bytes) and output (GWMSG_TEXT_MAX + 1 bytes).  0, or -1
 * with a reason in err. */
int watch_silence_target(const char *output_topic, char *base, size_t baselen, char *output,
                         char *err, size_t errlen);

/* ---- lines ---- */

enum watch_line {
    WATCH_LINE_LIVE,   /* a transition as it happens */
    WATCH_LINE_ACTIVE, /* an entry of the list of active alarms (from a retained topic) */
};

/* The one readable line of an alarm, in lang, without a newline:
 *   time severity event site · sensor (location): what value/threshold · age
 * time is the detection time in local time (tz_offset_s east of UTC): HH:MM:SS
 * on the day of now_ms, else MM-DD HH:MM; the text comes from the gateway's
 * own zh/en table when the kind and alarm are known, else from the payload's
 * message.  Returns the length (snprintf style), or -1. */
int watch_format_alarm(const struct gwmsg_alarm *a, enum watch_line how, enum gw_lang lang,
                       int64_t now_ms, int tz_offset_s, char *buf, size_t len);

/* An entry of the list of active alarms with the sensor's value now
 * (watch_format_now: from its retained reading) beside the value at the
 * raise, which the alarm's own text gives:
 *   ... · B1 东侧集水坑：集水坑水位超高 1.13 m ≥ 1.08 m · 现在 1.05 m · 3 分钟前
 * now_value NULL or "": as watch_format_alarm(WATCH_LINE_ACTIVE). */
int watch_format_active(const struct gwmsg_alarm *a, const char *now_value, enum gw_lang lang,
                        int64_t now_ms, int tz_offset_s, char *buf, size_t len);

/* The value of a reading payload ({base}/reading/{sensor}, docs/design.md
 * section 6) as a person reads it: "0.95 m", "820 ppm", zh "有水", "关闭锁紧",
 * "火警", or its quality when not good ("通信中断"); en "wet", "closed and
 * locked", "no answer (comm_lost)".  Returns the length, or -1 (buf "")
 * when it is not a reading of a kind this build knows. */
int watch_format_now(const void *reading, size_t len, enum gw_lang lang, char *buf, size_t buflen);

/* "just now", "3 min ago", "5 h ago", "2 d ago" (zh "刚刚", "3 分钟前", ...)
 * for an age in ms (negative: clock skew, taken as 0).  Returns the length. */
int watch_format_age(int64_t age_ms, enum gw_lang lang, char *buf, size_t len);

/* A gateway status line: time, site name, gateway id, online or OFFLINE. */
int watch_format_status(const char *gateway, const char *name, bool online, enum gw_lang lang,
                        int64_t ts_ms, int64_t now_ms, int tz_offset_s, char *buf, size_t len);

/* ---- duplicates ---- */

/* The (gateway, seq) pairs seen, to drop the duplicates of at-least-once
 * delivery.  The gateway is its topic base (gwmsg_alarm.base), never a
 * payload's claim.  Bounded: two generations of `capacity`/2 entries each; when the
 * newer is full the older is forgotten, so a duplicate is recognised while
 * fewer than capacity/2 newer messages have arrived. */
struct watch_seen;

struct watch_seen *watch_seen_new(size_t capacity); /* NULL on ENOMEM; capacity >= 2 */
void watch_seen_free(struct watch_seen *s);         /* NULL is a no-op */
/* Remember (gateway, seq): 1 when new, 0 when seen before (a duplicate),
 * -1 on ENOMEM (not remembered). */
int watch_seen_add(struct watch_seen *s, const char *gateway, uint64_t seq);
size_t watch_seen_count(const struct watch_seen *s); /* pairs remembered now */

/* ---- refusals ---- */

/* The topic bases whose refused messages were already logged: a forging or
 * misconfigured gateway gets one warning, not one per message.  Grows with
 * the number of such gateways (bounded by the gateways under the filters). */
struct watch_once;

struct watch_once *watch_once_new(void);    /* NULL on ENOMEM */
void watch_once_free(struct watch_once *o); /* NULL is a no-op */
/* 1 the first time key is given (log it), 0 after; -1 on ENOMEM. */
int watch_once_first(struct watch_once *o, const char *key);

/* ---- gateway status ---- */

/* Online state and display name per gateway topic base.  Grows with the
 * number of gateways under the filters (a city has thousands, not millions). */
struct watch_gateways;

struct watch_gateways *watch_gateways_new(void); /* NULL on ENOMEM */
void watch_gateways_free(struct watch_gateways *g);

/* A gateway's status, parsed (gwmsg_status_parse: the topic is its
 * identity).  Sets *online, *gateway (its id) and *name (the last display
 * name this gateway published, else its id); both valid until the next
 * call.  Returns 1 when the state is new or changed, 0 when unchanged, -1 on
 * ENOMEM (state unchanged). */
int watch_gateways_update(struct watch_gateways *g, const struct gwmsg_status *st, bool *online,
                          const char **gateway, const char **name);
/* Counts of gateways known online and offline. */
void watch_gateways_count(const struct watch_gateways *g, int *online, int *offline);

#endif
