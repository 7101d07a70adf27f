/*
 * channel: what the robots and webhooks take and what their answers mean
 * (docs/design.md section 22.5): the request bodies of WeCom and DingTalk
 * group robots and of a generic webhook, DingTalk's per-request URL
 * signature, and the classification of an answer.  The HTTP itself is
 * http.c's.
 *
 *   wecom     POST {"msgtype":"markdown","markdown":{"content":...}}
 *             errcode 0 ok, 45009 too fast, 93000 bad key
 *   dingtalk  POST {"msgtype":"markdown","markdown":{"title","text"},
 *             "at":{"atMobiles":[...],"isAtAll":false}} to
 *             URL&timestamp={ms}&sign=urlencode(base64(HMAC-SHA256(secret,
 *             "{ms}\n{secret}"))); errcode 0 ok, 130101 too fast,
 *             310000 bad signature (or keyword, or IP)
 *   webhook   POST {"event","topic","route","escalation","text",
 *             "alarm":{the alarm payload as received}} ("gateway" instead
 *             of "alarm" for offline and online); a summary is
 *             {"event":"summary","route","text","notices":[...]} of those;
 *             any 2xx is delivered
 *
 * Pure; any thread.  Bodies are malloc'd (caller frees), NULL on ENOMEM.
 * URLs and secrets are never put into a reason (they hold the key).
 */
#ifndef NOTIFY_CHANNEL_H
#define NOTIFY_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "sender.h"

enum channel_type { CHANNEL_WECOM, CHANNEL_DINGTALK, CHANNEL_WEBHOOK };

#define CHANNEL_URL_MAX 2048

extern const struct channel_type_name {
    const char *name;
    enum channel_type type;
} channel_types[3];

const char *channel_type_name(enum channel_type t);

char *channel_wecom_body(const char *markdown);
char *channel_dingtalk_body(const char *title, const char *markdown, const char *const *mobiles,
                            int nmobiles);

/* The DingTalk URL for a request at now_ms: url + "&timestamp=...&sign=..."
 * ("?" when url has no query).  Returns the length, or -1 (ENOSPC, EINVAL). */
int channel_dingtalk_url(const char *url, const char *secret, int64_t now_ms, char *out,
                         size_t outlen);

/* One webhook notice.  alarm_json: the alarm payload as received (parsed
 * and embedded), or NULL; gateway: the gateway's id for offline and online.
 * The object, not yet printed: channel_webhook_print() or add it to a
 * summary. */
void *channel_webhook_notice(const char *event, const char *topic, const char *route,
                             int escalation, const char *text, const char *alarm_json,
                             const char *gateway);
/* A summary of notices (channel_webhook_notice() objects, taken over). */
void *channel_webhook_summary(const char *route, const char *text, void **notices, int n);
char *channel_webhook_print(void *obj); /* prints and frees obj */
void channel_webhook_free(void *obj);

/* What an answer means.  http_status 0: no answer (the transport failed).
 * why: a printable reason for the log ("errcode 45009: ..."), never the URL. */
enum sender_answer channel_classify(enum channel_type t, long http_status, const char *body,
                                    size_t len, char *why, size_t whylen);

#endif
