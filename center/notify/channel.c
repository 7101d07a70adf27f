/*
 * channel: see channel.h.  Bodies are built with cJSON, so every string is
 * escaped by one encoder; answers are read with cJSON and only errcode and
 * errmsg are looked at.
 */
#include "channel.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sign.h"
#include "textbuf.h"

const struct channel_type_name channel_types[3] = {
    {"wecom", CHANNEL_WECOM},
    {"dingtalk", CHANNEL_DINGTALK},
    {"webhook", CHANNEL_WEBHOOK},
};

const char *channel_type_name(enum channel_type t)
{
    for (size_t i = 0; i < sizeof(channel_types) / sizeof(channel_types[0]); i++)
        if (channel_types[i].type == t)
            return channel_types[i].name;
    return "?";
}

static char *print_and_free(cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s == NULL)
        errno = ENOMEM;
    return s;
}

char *channel_wecom_body(const char *markdown)
{
    cJSON *o = cJSON_CreateObject(), *md;

    if (o == NULL || cJSON_AddStringToObject(o, "msgtype", "markdown") == NULL ||
        (md = cJSON_AddObjectToObject(o, "markdown")) == NULL ||
        cJSON_AddStringToObject(md, "content", markdown) == NULL) {
        cJSON_Delete(o);
        errno = ENOMEM;
        return NULL;
    }
    return print_and_free(o);
}

char *channel_dingtalk_body(const char *title, const char *markdown, const char *const *mobiles,
                            int nmobiles)
{
    cJSON *o = cJSON_CreateObject(), *md, *at, *list;

    if (o == NULL || cJSON_AddStringToObject(o, "msgtype", "markdown") == NULL ||
        (md = cJSON_AddObjectToObject(o, "markdown")) == NULL ||
        cJSON_AddStringToObject(md, "title", title) == NULL ||
        cJSON_AddStringToObject(md, "text", markdown) == NULL ||
        (at = cJSON_AddObjectToObject(o, "at")) == NULL ||
        (list = cJSON_AddArrayToObject(at, "atMobiles")) == NULL ||
        cJSON_AddBoolToObject(at, "isAtAll", 0) == NULL)
        goto nomem;
    for (int i = 0; i < nmobiles; i++) {
        cJSON *m = cJSON_CreateString(mobiles[i]);
        if (m == NULL)
            goto nomem;
        cJSON_AddItemToArray(list, m);
    }
    return print_and_free(o);
nomem:
    cJSON_Delete(o);
    errno = ENOMEM;
    return NULL;
}

int channel_dingtalk_url(const char *url, const char *secret, int64_t now_ms, char *out,
                         size_t outlen)
{
    char to_sign[1200], b64[64], enc[128];
    unsigned char mac[SIGN_MAC_LEN];
    int n;

    n = snprintf(to_sign, sizeof(to_sign), "%" PRId64 "\n%s", now_ms, secret);
    if (n < 0 || (size_t)n >= sizeof(to_sign) || secret[0] == '\0' ||
        sign_hmac(secret, strlen(secret), to_sign, (size_t)n, mac) < 0 ||
        sign_base64(mac, sizeof(mac), false, b64, sizeof(b64)) < 0 ||
        sign_urlencode(b64, enc, sizeof(enc)) < 0) {
        errno = EINVAL;
        return -1;
    }
    n = snprintf(out, outlen, "%s%ctimestamp=%" PRId64 "&sign=%s", url,
                 strchr(url, '?') != NULL ? '&' : '?', now_ms, enc);
    if (n < 0 || (size_t)n >= outlen) {
        errno = ENOSPC;
        return -1;
    }
    return n;
}

void *channel_webhook_notice(const char *event, const char *topic, const char *route,
                             int escalation, const char *text, const char *alarm_json,
                             const char *gateway)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "topic", topic);
    cJSON_AddStringToObject(o, "route", route);
    cJSON_AddNumberToObject(o, "escalation", escalation);
    cJSON_AddStringToObject(o, "text", text);
    if (alarm_json != NULL) {
        cJSON *a = cJSON_Parse(alarm_json);
        cJSON_AddItemToObject(o, "alarm", a != NULL ? a : cJSON_CreateNull());
    }
    if (gateway != NULL)
        cJSON_AddStringToObject(o, "gateway", gateway);
    return o;
}

void *channel_webhook_summary(const char *route, const char *text, void **notices, int n)
{
    cJSON *o = cJSON_CreateObject(), *list;

    if (o == NULL) {
        for (int i = 0; i < n; i++)
            cJSON_Delete(notices[i]);
        return NULL;
    }
    cJSON_AddStringToObject(o, "event", "summary");
    cJSON_AddStringToObject(o, "route", route);
    cJSON_AddNumberToObject(o, "escalation", 0);
    cJSON_AddStringToObject(o, "text", text);
    list = cJSON_AddArrayToObject(o, "notices");
    for (int i = 0; i < n; i++) {
        if (list != NULL && notices[i] != NULL)
            cJSON_AddItemToArray(list, notices[i]);
        else
            cJSON_Delete(notices[i]);
    }
    return o;
}

char *channel_webhook_print(void *obj)
{
    return print_and_free(obj);
}

void channel_webhook_free(void *obj)
{
    cJSON_Delete(obj);
}

/* errcode and errmsg of a robot's answer; -1 when there is none. */
static int robot_errcode(const char *body, size_t len, long *code, char *msg, size_t msglen)
{
    cJSON *o = body != NULL ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "errcode");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "errmsg");
    int rc = -1;

    msg[0] = '\0';
    if (cJSON_IsNumber(c)) {
        /* Any number: one out of long's range is no code we know (and
         * converting it would be undefined). */
        *code = c->valuedouble >= -1e9 && c->valuedouble <= 1e9 ? (long)c->valuedouble : -1;
        if (cJSON_IsString(m))
            snprintf(msg, msglen, "%s", m->valuestring);
        tb_make_printable(msg);
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

/* clang-format off */
static const struct {
    enum channel_type type;
    long errcode;
    enum sender_answer answer;
} robot_codes[] = {
    {CHANNEL_WECOM,    0,      SENDER_OK},
    {CHANNEL_WECOM,    45009,  SENDER_RATE},     /* api freq out of limit */
    {CHANNEL_WECOM,    93000,  SENDER_REJECTED}, /* invalid webhook url (the key) */
    {CHANNEL_WECOM,    93004,  SENDER_REJECTED}, /* robot removed from the group */
    {CHANNEL_DINGTALK, 0,      SENDER_OK},
    {CHANNEL_DINGTALK, 130101, SENDER_RATE},     /* send too fast */
    {CHANNEL_DINGTALK, 310000, SENDER_REJECTED}, /* sign, keyword or IP not accepted */
    {CHANNEL_DINGTALK, 300001, SENDER_REJECTED}, /* token does not exist */
    {CHANNEL_DINGTALK, 400013, SENDER_REJECTED}, /* robot disabled */
};
/* clang-format on */

enum sender_answer channel_classify(enum channel_type t, long http_status, const char *body,
                                    size_t len, char *why, size_t whylen)
{
    char msg[160];
    long code;

    if (http_status == 0) {
        snprintf(why, whylen, "no answer");
        return SENDER_RETRY;
    }
    if (http_status == 429) {
        snprintf(why, whylen, "HTTP 429 too many requests");
        return SENDER_RATE;
    }
    if (http_status >= 500) {
        snprintf(why, whylen, "HTTP %ld", http_status);
        return SENDER_RETRY;
    }
    if (t == CHANNEL_WEBHOOK) {
        if (http_status >= 200 && http_status < 300) {
            snprintf(why, whylen, "HTTP %ld", http_status);
            return SENDER_OK;
        }
        snprintf(why, whylen, "HTTP %ld", http_status);
        return http_status == 401 || http_status == 403 || http_status == 404 ? SENDER_REJECTED
                                                                              : SENDER_REFUSED;
    }
    if (http_status != 200) {
        snprintf(why, whylen, "HTTP %ld", http_status);
        return http_status >= 400 && http_status < 500 ? SENDER_REJECTED : SENDER_RETRY;
    }
    if (robot_errcode(body, len, &code, msg, sizeof(msg)) < 0) {
        snprintf(why, whylen, "HTTP 200 without an errcode");
        return SENDER_RETRY;
    }
    snprintf(why, whylen, "errcode %ld%s%s", code, msg[0] ? ": " : "", msg);
    for (size_t i = 0; i < sizeof(robot_codes) / sizeof(robot_codes[0]); i++)
        if (robot_codes[i].type == t && robot_codes[i].errcode == code)
            return robot_codes[i].answer;
    return SENDER_REFUSED;
}
