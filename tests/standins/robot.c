/*
 * robot-standin: local stand-ins of the WeCom (企业微信) and DingTalk (钉钉)
 * group robots and of a generic webhook, on 127.0.0.1, for shelter-notify's
 * tests, demo and bench.  It implements the robots' documented API as
 * shelter-notify must meet it:
 *
 *   POST /cgi-bin/webhook/send?key=KEY          WeCom
 *        {"msgtype":"markdown","markdown":{"content":...}} (or "text")
 *        errcode 0 ok; 93000 unknown key; 45009 more than RATE requests in
 *        its window; 40058 content over 4096 bytes; 40008 bad msgtype;
 *        44004 empty content; 40035 not JSON
 *   POST /robot/send?access_token=T&timestamp=MS&sign=S   DingTalk
 *        {"msgtype":"markdown","markdown":{"title","text"},"at":{...}}
 *        errcode 0 ok; 300001 unknown token; 310000 signature wrong or
 *        timestamp more than an hour off; 130101 too fast; 460101 text over
 *        20000 bytes; 40035 not JSON or no title/text
 *   POST /hook/NAME                             webhook: 200 {"ok":true}
 *
 * The signature is checked here with OpenSSL directly (base64 of
 * HMAC-SHA256(secret, "{ms}\n{secret}")), independently of shelter-notify's
 * own code.  Each request is one JSON line in --log:
 *   {"t_ms","robot","key","status","errcode","body":{the request}}
 * and with --print the accepted ones are shown as a phone would show them.
 *
 * Control (tests): POST /_ctl/outage?seconds=N[&mode=503|close] answers
 * every robot request with HTTP 503 (or closes the connection) for N
 * seconds; GET /_ctl/stats gives counts.
 *
 *   robot-standin --port P --log FILE [--rate N/SECONDS] [--wecom KEY[=NAME]]...
 *                 [--dingtalk TOKEN=SECRET]... [--name KEY=NAME]... [--print]
 */
#include <errno.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_ROBOTS 16
#define BODY_MAX (1 << 20)
#define RATE_MAX 1000

struct robot {
    const char *kind; /* "wecom", "dingtalk" */
    char key[600], secret[600], name[600];
    int64_t sent[RATE_MAX]; /* accepted request times, ring */
    int nsent, head;
};

static struct robot robots[MAX_ROBOTS];
static int nrobots;
static int rate_count = 20;
static int64_t rate_window_ms = 60000;
static FILE *log_file;
static bool print_mode;
static int64_t outage_until;
static bool outage_close;
static long stats_requests, stats_accepted, stats_refused;
static volatile sig_atomic_t stop;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct req {
    char *body;
    size_t len;
    bool too_big;
};

static struct robot *find(const char *kind, const char *key)
{
    for (int i = 0; key != NULL && i < nrobots; i++)
        if (strcmp(robots[i].kind, kind) == 0 && strcmp(robots[i].key, key) == 0)
            return &robots[i];
    return NULL;
}

/* Requests accepted in the window ending now. */
static int in_window(struct robot *r, int64_t now)
{
    int c = 0;
    for (int i = 0; i < r->nsent; i++)
        if (r->sent[(r->head - 1 - i + RATE_MAX) % RATE_MAX] > now - rate_window_ms)
            c++;
    return c;
}

static void note_sent(struct robot *r, int64_t now)
{
    r->sent[r->head] = now;
    r->head = (r->head + 1) % RATE_MAX;
    if (r->nsent < RATE_MAX)
        r->nsent++;
}

static bool dingtalk_sign_ok(const struct robot *r, const char *ts, const char *sign, int64_t now)
{
    char to_sign[700], b64[128];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *end;
    long long t;

    if (ts == NULL || sign == NULL)
        return false;
    errno = 0;
    t = strtoll(ts, &end, 10);
    if (errno != 0 || *end != '\0' || llabs(now - t) > 3600 * 1000LL)
        return false;
    snprintf(to_sign, sizeof(to_sign), "%s\n%s", ts, r->secret);
    if (HMAC(EVP_sha256(), r->secret, (int)strlen(r->secret), (unsigned char *)to_sign,
             strlen(to_sign), mac, &maclen) == NULL)
        return false;
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
    return strcmp(b64, sign) == 0;
}

/* A markdown text as a phone shows it: no tags, no markup. */
static void print_message(const char *robot_name, const char *kind, const char *text)
{
    char t[32];
    time_t now = time(NULL) + 8 * 3600; /* the groups are in China: UTC+8 */
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t, sizeof(t), "%H:%M:%S", &tm);
    printf("\n  ┌─ %s「%s」 %s\n", strcmp(kind, "wecom") == 0 ? "企业微信群" : "钉钉群", robot_name,
           t);
    printf("  │ ");
    for (const char *p = text; *p; p++) {
        if (*p == '<') { /* <font ...> and </font> */
            const char *q = strchr(p, '>');
            if (q != NULL && (strncmp(p, "<font", 5) == 0 || strncmp(p, "</font", 6) == 0)) {
                p = q;
                continue;
            }
        }
        if (strncmp(p, "**", 2) == 0) {
            p++;
            continue;
        }
        if ((p == text || p[-1] == '\n') && strncmp(p, "### ", 4) == 0) {
            p += 3;
            continue;
        }
        if ((p == text || p[-1] == '\n') && strncmp(p, "> ", 2) == 0) {
            p += 1;
            continue;
        }
        if (*p == '\n') {
            if (p[1] == '\n')
                continue;
            printf("\n  │ ");
            continue;
        }
        putchar(*p);
    }
    printf("\n  └────────────────────────────────────────────\n");
    fflush(stdout);
}

static void log_line(const char *robot, const char *key, int status, long errcode, const char *body,
                     size_t len)
{
    cJSON *o = cJSON_CreateObject(), *b = cJSON_ParseWithLength(body, len);
    char *s;

    cJSON_AddNumberToObject(o, "t_ms", (double)now_ms());
    cJSON_AddStringToObject(o, "robot", robot);
    cJSON_AddStringToObject(o, "key", key != NULL ? key : "");
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "errcode", (double)errcode);
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    if (b != NULL)
        cJSON_AddItemToObject(o, "body", b);
    else
        cJSON_AddStringToObject(o, "body_raw", len < 2000 ? body : "(too long)");
    s = cJSON_PrintUnformatted(o);
    fprintf(log_file, "%s\n", s);
    fflush(log_file);
    free(s);
    cJSON_Delete(o);
}

static enum MHD_Result answer(struct MHD_Connection *c, int status, const char *json)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result robot_answer(struct MHD_Connection *c, const char *robot, const char *key,
                                    long errcode, const char *errmsg, const char *body, size_t len)
{
    char json[300];
    snprintf(json, sizeof(json), "{\"errcode\":%ld,\"errmsg\":\"%s\"}", errcode, errmsg);
    log_line(robot, key, 200, errcode, body, len);
    if (errcode == 0)
        stats_accepted++;
    else
        stats_refused++;
    return answer(c, 200, json);
}

static const char *str_at(const cJSON *o, const char *obj, const char *field)
{
    const cJSON *x =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, obj), field);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static enum MHD_Result wecom(struct MHD_Connection *c, const char *body, size_t len)
{
    const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    struct robot *r = find("wecom", key);
    cJSON *o;
    const cJSON *mt;
    const char *content;
    int64_t now = now_ms();
    enum MHD_Result ret;

    if (r == NULL)
        return robot_answer(c, "wecom", key, 93000, "invalid webhook url", body, len);
    if ((o = cJSON_ParseWithLength(body, len)) == NULL)
        return robot_answer(c, "wecom", key, 40035, "invalid json", body, len);
    mt = cJSON_GetObjectItemCaseSensitive(o, "msgtype");
    if (!cJSON_IsString(mt) ||
        (strcmp(mt->valuestring, "markdown") != 0 && strcmp(mt->valuestring, "text") != 0)) {
        ret = robot_answer(c, "wecom", key, 40008, "invalid message type", body, len);
    } else if ((content = str_at(o, mt->valuestring, "content")) == NULL || content[0] == '\0') {
        ret = robot_answer(c, "wecom", key, 44004, "empty content", body, len);
    } else if (strlen(content) > 4096) {
        ret = robot_answer(c, "wecom", key, 40058, "markdown.content exceed max length 4096", body,
                           len);
    } else if (in_window(r, now) >= rate_count) {
        ret = robot_answer(c, "wecom", key, 45009, "api freq out of limit", body, len);
    } else {
        note_sent(r, now);
        if (print_mode)
            print_message(r->name, "wecom", content);
        ret = robot_answer(c, "wecom", key, 0, "ok", body, len);
    }
    cJSON_Delete(o);
    return ret;
}

static enum MHD_Result dingtalk(struct MHD_Connection *c, const char *body, size_t len)
{
    const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
    const char *ts = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timestamp");
    const char *sign = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sign");
    struct robot *r = find("dingtalk", token);
    int64_t now = now_ms();
    const char *title, *text;
    cJSON *o;
    enum MHD_Result ret;

    if (r == NULL)
        return robot_answer(c, "dingtalk", token, 300001, "token is not exist", body, len);
    if (!dingtalk_sign_ok(r, ts, sign, now))
        return robot_answer(c, "dingtalk", token, 310000, "sign not match", body, len);
    if ((o = cJSON_ParseWithLength(body, len)) == NULL)
        return robot_answer(c, "dingtalk", token, 40035, "invalid json", body, len);
    title = str_at(o, "markdown", "title");
    text = str_at(o, "markdown", "text");
    if (title == NULL || text == NULL || title[0] == '\0' || text[0] == '\0') {
        ret = robot_answer(c, "dingtalk", token, 40035, "markdown needs title and text", body, len);
    } else if (strlen(text) > 20000) {
        ret = robot_answer(c, "dingtalk", token, 460101, "message too long", body, len);
    } else if (in_window(r, now) >= rate_count) {
        ret = robot_answer(c, "dingtalk", token, 130101, "send too fast", body, len);
    } else {
        note_sent(r, now);
        if (print_mode)
            print_message(r->name, "dingtalk", text);
        ret = robot_answer(c, "dingtalk", token, 0, "ok", body, len);
    }
    cJSON_Delete(o);
    return ret;
}

static enum MHD_Result control(struct MHD_Connection *c, const char *url)
{
    char json[300];
    if (strcmp(url, "/_ctl/outage") == 0) {
        const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
        const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
        outage_until = now_ms() + (s != NULL ? atol(s) : 10) * 1000;
        outage_close = mode != NULL && strcmp(mode, "close") == 0;
        return answer(c, 200, "{\"ok\":true}");
    }
    if (strcmp(url, "/_ctl/stats") == 0) {
        snprintf(json, sizeof(json), "{\"requests\":%ld,\"accepted\":%ld,\"refused\":%ld}",
                 stats_requests, stats_accepted, stats_refused);
        return answer(c, 200, json);
    }
    return answer(c, 404, "{\"error\":\"no such control\"}");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct req *rq = *con_cls;

    (void)cls;
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
            char *p = realloc(rq->body, rq->len + *upload_size + 1);
            if (p == NULL)
                return MHD_NO;
            rq->body = p;
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/_ctl/", 6) == 0)
        return control(c, url);
    stats_requests++;
    if (strcmp(method, "POST") != 0)
        return answer(c, 405, "{\"error\":\"POST only\"}");
    if (rq->too_big)
        return answer(c, 413, "{\"error\":\"too large\"}");
    if (now_ms() < outage_until) {
        log_line(url[1] == 'h'          ? "webhook"
                 : strstr(url, "robot") ? "dingtalk"
                                        : "wecom",
                 "", outage_close ? 0 : 503, -1, rq->body != NULL ? rq->body : "", rq->len);
        if (outage_close)
            return MHD_NO;
        return answer(c, 503, "{\"error\":\"outage\"}");
    }
    if (strcmp(url, "/cgi-bin/webhook/send") == 0)
        return wecom(c, rq->body != NULL ? rq->body : "", rq->len);
    if (strcmp(url, "/robot/send") == 0)
        return dingtalk(c, rq->body != NULL ? rq->body : "", rq->len);
    if (strncmp(url, "/hook/", 6) == 0) {
        log_line("webhook", url + 6, 200, 0, rq->body != NULL ? rq->body : "", rq->len);
        stats_accepted++;
        return answer(c, 200, "{\"ok\":true}");
    }
    return answer(c, 404, "{\"error\":\"not found\"}");
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int add_robot(const char *kind, const char *spec)
{
    struct robot *r;
    const char *eq = strchr(spec, '=');

    if (nrobots == MAX_ROBOTS || strlen(spec) >= sizeof(r->key))
        return -1;
    r = &robots[nrobots++];
    r->kind = kind;
    snprintf(r->key, sizeof(r->key), "%.*s", eq != NULL ? (int)(eq - spec) : (int)strlen(spec),
             spec);
    memcpy(r->name, r->key, sizeof(r->name));
    if (strcmp(kind, "dingtalk") == 0) {
        if (eq == NULL || eq[1] == '\0')
            return -1;
        snprintf(r->secret, sizeof(r->secret), "%s", eq + 1); /* the rest: may hold '=' */
    } else if (eq != NULL) {
        snprintf(r->name, sizeof(r->name), "%s", eq + 1);
    }
    return 0;
}

/* --name KEY=NAME: how --print calls the robot's group. */
static int name_robot(const char *spec)
{
    const char *eq = strchr(spec, '=');
    for (int i = 0; eq != NULL && i < nrobots; i++)
        if (strncmp(robots[i].key, spec, (size_t)(eq - spec)) == 0 &&
            robots[i].key[eq - spec] == '\0') {
            snprintf(robots[i].name, sizeof(robots[i].name), "%s", eq + 1);
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    const char *log_path = NULL;
    int port = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--print") == 0) {
            print_mode = true;
            continue;
        }
        if (v == NULL)
            goto usage;
        i++;
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--log") == 0)
            log_path = v;
        else if (strcmp(a, "--rate") == 0) {
            int n;
            long s;
            if (sscanf(v, "%d/%ld", &n, &s) != 2 || n < 1 || n > RATE_MAX || s < 1)
                goto usage;
            rate_count = n;
            rate_window_ms = s * 1000;
        } else if (strcmp(a, "--wecom") == 0) {
            if (add_robot("wecom", v) < 0)
                goto usage;
        } else if (strcmp(a, "--dingtalk") == 0) {
            if (add_robot("dingtalk", v) < 0)
                goto usage;
        } else if (strcmp(a, "--name") == 0) {
            if (name_robot(v) < 0)
                goto usage;
        } else
            goto usage;
    }
    if (port <= 0 || log_path == NULL)
        goto usage;
    if ((log_file = fopen(log_path, "a")) == NULL) {
        perror(log_path);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                         NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                         done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "robot-standin: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    if (!print_mode)
        fprintf(stderr, "robot-standin: listening on 127.0.0.1:%d\n", port);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    fclose(log_file);
    return 0;
usage:
    fprintf(stderr,
            "usage: robot-standin --port P --log FILE [--rate N/SECONDS] [--print]\n"
            "       [--wecom KEY[=NAME]]... [--dingtalk TOKEN=SECRET]... [--name KEY=NAME]...\n");
    return 64;
}
