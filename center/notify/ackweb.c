/*
 * ackweb: see ackweb.h.  libmicrohttpd in its external-epoll mode: one
 * descriptor in our poll() set, MHD_run() on the main thread, so the hooks
 * touch the store and the MQTT client without any lock.  Request bodies are
 * tiny (one token); anything over 4 KiB is refused.
 */
#include "ackweb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ntext.h"
#include "textbuf.h"

#define BODY_MAX 4096
#define PAGE_MAX 16384

struct ackweb {
    struct MHD_Daemon *d;
    char *path;
    unsigned char *key;
    size_t keylen;
    enum gw_lang lang;
    struct ackweb_hooks hooks;
    int64_t now_ms;
};

struct req {
    char body[BODY_MAX + 1];
    size_t len;
    bool too_big;
};

struct text {
    const char *zh, *en;
};

/* clang-format off */
static const struct text
    t_title     = {"确认报警", "Acknowledge alarm"},
    t_location  = {"位置", "Location"},
    t_detail    = {"情况", "Details"},
    t_time      = {"时间", "Time"},
    t_state     = {"状态", "State"},
    t_unacked   = {"报警中，未确认", "Active, not acknowledged"},
    t_acked     = {"已确认", "Acknowledged"},
    t_cleared   = {"已恢复", "Cleared"},
    t_newer     = {"此链接对应的报警已恢复，之后又有新的报警：请看新的消息",
                   "This link's alarm cleared and a new one was raised since: see the new message"},
    t_unknown   = {"暂未收到此报警的状态", "This alarm's state is not known yet"},
    t_button    = {"确认收到", "Acknowledge"},
    t_as        = {"确认人", "Acknowledged as"},
    t_stops     = {"确认后将停止向上级升级通知。", "Acknowledging stops the escalation."},
    t_water     = {"请勿进入车库", "Do not enter the garage"},
    t_bad       = {"链接无效：请使用通知消息中的链接。",
                   "This link is not valid: use the link in the notification."},
    t_expired   = {"链接已过期：请联系值班人员，或在新的通知中确认。",
                   "This link has expired: call the people on duty, or use a newer notification."},
    t_sent      = {"已发送确认，正在等待现场网关回复……", "Acknowledgement sent, waiting for the gateway…"},
    t_failed    = {"确认未能发送", "The acknowledgement could not be sent"};
/* clang-format on */

static const char *pick(const struct text *t, enum gw_lang lang)
{
    return lang == LANG_EN ? t->en : t->zh;
}

/* HTML-escaped text. */
static void put_html(struct textbuf *b, const char *s)
{
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '<':
            tb_put(b, "&lt;");
            break;
        case '>':
            tb_put(b, "&gt;");
            break;
        case '&':
            tb_put(b, "&amp;");
            break;
        case '"':
            tb_put(b, "&quot;");
            break;
        case '\'':
            tb_put(b, "&#39;");
            break;
        default:
            if ((unsigned char)*s >= 0x20 && *s != 0x7f)
                tb_put(b, "%c", *s);
        }
    }
}

static void put_row(struct textbuf *b, const struct text *label, const char *value,
                    enum gw_lang lang, const char *id)
{
    if (value == NULL || value[0] == '\0')
        return;
    tb_put(b, "<dt>%s</dt><dd%s%s%s>", pick(label, lang), id ? " id=\"" : "", id ? id : "",
           id ? "\"" : "");
    put_html(b, value);
    tb_put(b, "</dd>\n");
}

static const char style[] =
    "body{font-family:sans-serif;margin:0;background:#f4f4f4;color:#222}"
    "main{max-width:32em;margin:0 auto;padding:1em}"
    "h1{font-size:1.4em;margin:.2em 0}.crit{color:#c00}"
    ".site{font-weight:bold;font-size:1.1em}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.3em .8em;background:#fff;padding:.8em;"
    "border-radius:.4em}dt{color:#666}dd{margin:0}"
    ".warn{background:#fde2e2;color:#900;font-weight:bold;padding:.6em;border-radius:.4em}"
    "button{width:100%;font-size:1.3em;padding:.8em;border:0;border-radius:.4em;background:#07c160;"
    "color:#fff;margin-top:1em}.note{color:#666;font-size:.9em}";

int ackweb_render(enum ackweb_page how, const struct ackweb_view *v, const char *token,
                  const char *note, enum gw_lang lang, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;
    const char *state;

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    tb_put(&b,
           "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
           zh ? "zh-CN" : "en");
    /* While the gateway has not answered, the page follows its state. */
    if (how == ACKWEB_SENT || (how == ACKWEB_ALARM && note != NULL && v->active && !v->acked))
        tb_put(&b, "<meta http-equiv=\"refresh\" content=\"2\">");
    tb_put(&b, "<title>%s</title><style>%s</style></head>\n<body><main>\n", pick(&t_title, lang),
           style);
    if (how == ACKWEB_BAD_TOKEN || how == ACKWEB_EXPIRED) {
        tb_put(&b, "<h1>%s</h1>\n<p id=\"state\">%s</p>\n", pick(&t_title, lang),
               pick(how == ACKWEB_BAD_TOKEN ? &t_bad : &t_expired, lang));
        tb_put(&b, "</main></body></html>\n");
        return tb_finish(&b);
    }
    tb_put(&b, "<h1 class=\"%s\">",
           v->severity && strcmp(v->severity, "critical") == 0 ? "crit" : "");
    tb_put(&b, zh ? "【%s】" : "[%s] ", ntext_severity_word(v->severity, lang));
    put_html(&b, v->what != NULL ? v->what : "?");
    tb_put(&b, "</h1>\n<p class=\"site\">");
    put_html(&b, v->site_name);
    tb_put(&b, "</p>\n");
    if (!v->found)
        state = pick(&t_unknown, lang);
    else if (v->newer)
        state = pick(&t_newer, lang);
    else if (!v->active)
        state = pick(&t_cleared, lang);
    else if (v->acked)
        state = pick(&t_acked, lang);
    else if (how == ACKWEB_SENT || note != NULL)
        state = pick(&t_sent, lang);
    else
        state = pick(&t_unacked, lang);
    tb_put(&b, "<dl>\n");
    put_row(&b, &t_location, v->location, lang, NULL);
    put_row(&b, &t_detail, v->detail, lang, NULL);
    put_row(&b, &t_time, v->time_text, lang, NULL);
    put_row(&b, &t_state, state, lang, "state");
    if (v->acked && v->by != NULL)
        put_row(&b, &t_as, v->by, lang, "by");
    tb_put(&b, "</dl>\n");
    if (v->water && v->active)
        tb_put(&b, "<p class=\"warn\">%s</p>\n", pick(&t_water, lang));
    if (how == ACKWEB_ALARM && note == NULL && v->found && v->active && !v->acked && !v->newer) {
        tb_put(&b, "<form method=\"post\"><input type=\"hidden\" name=\"t\" value=\"");
        put_html(&b, token);
        tb_put(&b, "\"><button id=\"ack\" type=\"submit\">%s", pick(&t_button, lang));
        if (v->route_display != NULL) {
            tb_put(&b, zh ? "（" : " (");
            put_html(&b, v->route_display);
            tb_put(&b, zh ? "）" : ")");
        }
        tb_put(&b, "</button></form>\n<p class=\"note\">%s</p>\n", pick(&t_stops, lang));
    }
    if (how == ACKWEB_SENT && note != NULL && note[0] != '\0') {
        tb_put(&b, "<p class=\"warn\" id=\"error\">%s: ", pick(&t_failed, lang));
        put_html(&b, note);
        tb_put(&b, "</p>\n");
    }
    tb_put(&b, "</main></body></html>\n");
    return tb_finish(&b);
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *page,
                               const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(page), (void *)page, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    if (location != NULL)
        MHD_add_response_header(r, "Location", location);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* t=VALUE from a form body. */
static void form_token(char *body, char *out, size_t outlen)
{
    out[0] = '\0';
    for (char *p = strtok(body, "&"); p != NULL; p = strtok(NULL, "&")) {
        if (strncmp(p, "t=", 2) == 0) {
            MHD_http_unescape(p + 2);
            snprintf(out, outlen, "%s", p + 2);
            return;
        }
    }
}

static enum MHD_Result serve(struct ackweb *w, struct MHD_Connection *c, const char *method,
                             struct req *rq)
{
    static char page[PAGE_MAX];
    char token[TOKEN_MAX], why[256] = "", loc[TOKEN_MAX + 600];
    struct token_claim claim;
    struct ackweb_view v;
    bool post = strcmp(method, "POST") == 0;
    const char *t, *sent;
    int rc;

    if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "", NULL);
    if (post) {
        if (rq->too_big)
            return respond(c, MHD_HTTP_CONTENT_TOO_LARGE, "", NULL);
        form_token(rq->body, token, sizeof(token));
    } else {
        t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
        snprintf(token, sizeof(token), "%s", t != NULL ? t : "");
    }
    rc = token_check(w->key, w->keylen, token, w->now_ms, &claim);
    memset(&v, 0, sizeof(v));
    if (rc == -1) {
        ackweb_render(ACKWEB_BAD_TOKEN, &v, NULL, NULL, w->lang, page, sizeof(page));
        return respond(c, MHD_HTTP_FORBIDDEN, page, NULL);
    }
    if (rc == -2) {
        ackweb_render(ACKWEB_EXPIRED, &v, NULL, NULL, w->lang, page, sizeof(page));
        return respond(c, MHD_HTTP_GONE, page, NULL);
    }
    w->hooks.lookup(w->hooks.ctx, &claim, &v);
    if (post) {
        if (v.found && v.active && !v.acked && !v.newer &&
            w->hooks.ack(w->hooks.ctx, &claim, why, sizeof(why)) < 0) {
            ackweb_render(ACKWEB_SENT, &v, token, why[0] ? why : "?", w->lang, page, sizeof(page));
            return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, page, NULL);
        }
        /* Post, redirect, get: a reload never acknowledges twice. */
        snprintf(loc, sizeof(loc), "%s?t=%s&sent=1", w->path, token);
        return respond(c, MHD_HTTP_SEE_OTHER, "", loc);
    }
    sent = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sent");
    ackweb_render(ACKWEB_ALARM, &v, token, sent != NULL ? "" : NULL, w->lang, page, sizeof(page));
    return respond(c, MHD_HTTP_OK, page, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct ackweb *w = cls;
    struct req *rq = *con_cls;

    (void)version;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > BODY_MAX) {
            rq->too_big = true;
        } else {
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, w->path) != 0)
        return respond(c, MHD_HTTP_NOT_FOUND, "", NULL);
    return serve(w, c, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':'), *port;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM},
                    *ai;
    size_t hl;

    if (colon == NULL || colon == listen || colon[1] == '\0') {
        snprintf(err, errlen, "listen %s: not HOST:PORT", listen);
        return -1;
    }
    port = colon + 1;
    hl = (size_t)(colon - listen);
    if (listen[0] == '[' && colon[-1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        snprintf(err, errlen, "listen: host too long");
        return -1;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        snprintf(err, errlen, "listen %s: not a numeric address and port", host);
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

struct ackweb *ackweb_new(const char *listen, const char *path, const void *key, size_t keylen,
                          enum gw_lang lang, const struct ackweb_hooks *hooks, char *err,
                          size_t errlen)
{
    struct sockaddr_storage ss;
    struct ackweb *w;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

    if (parse_listen(listen, &ss, err, errlen) < 0)
        return NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->path = strdup(path)) == NULL ||
        (w->key = malloc(keylen)) == NULL) {
        snprintf(err, errlen, "%s", strerror(ENOMEM));
        ackweb_free(w);
        return NULL;
    }
    memcpy(w->key, key, keylen);
    w->keylen = keylen;
    w->lang = lang;
    w->hooks = *hooks;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    w->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, w, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, w,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
    if (w->d == NULL) {
        snprintf(err, errlen, "listen %s: cannot serve there (address in use, or not ours)",
                 listen);
        ackweb_free(w);
        return NULL;
    }
    return w;
}

void ackweb_free(struct ackweb *w)
{
    if (w == NULL)
        return;
    if (w->d != NULL)
        MHD_stop_daemon(w->d);
    free(w->path);
    if (w->key != NULL)
        memset(w->key, 0, w->keylen);
    free(w->key);
    free(w);
}

int ackweb_fd(const struct ackweb *w)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i != NULL ? i->epoll_fd : -1;
}

int ackweb_timeout_ms(const struct ackweb *w)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(w->d, &t) != MHD_YES)
        return -1;
    return t > 60000 ? 60000 : (int)t;
}

void ackweb_run(struct ackweb *w, int64_t now_ms)
{
    w->now_ms = now_ms;
    MHD_run(w->d);
}
