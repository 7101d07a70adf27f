/*
 * influx: see influx.h.  Owns a curl multi handle with one reusable easy
 * handle (its connection stays alive between batches), an epoll set and a
 * timerfd.  Holds at most one batch (a copy) in flight.
 *
 * Design: libcurl's multi_socket interface driven from the main thread.
 * curl tells us which sockets to watch (on_socket) and when it wants a
 * timeout call (on_timer); we keep the sockets in our own epoll set and the
 * earliest deadline (curl's timer or the end of a backoff) in a timerfd in
 * that same set.  The main loop therefore polls one constant descriptor and
 * needs no timeout arithmetic, and no thread or lock is involved: every
 * libcurl call returns without waiting (DNS runs in curl's resolver thread).
 * Retry policy stays with the caller (the outbox owns the backlog); this
 * module only classifies each answer and enforces the backoff it reports.
 */
#include "influx.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "secret.h"

#ifndef GW_VERSION
#define GW_VERSION "dev"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TOTAL_TIMEOUT_MS 30000
#define DEFAULT_BACKOFF_MIN_MS 1000
#define DEFAULT_BACKOFF_MAX_MS 300000
#define TOKEN_MAX 1024
#define REPLY_MAX 2048 /* enough for InfluxDB's error JSON; the rest is dropped */

struct influx {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    int epfd;              /* curl's sockets + timerfd; what influx_fd() returns */
    int timerfd;           /* armed at the earliest of curl_timer_at and backoff_until */
    int64_t curl_timer_at; /* mono ms when curl wants a timeout call; -1 none */
    int64_t backoff_until; /* mono ms before which submit is refused; 0 none */
    int backoff_min_ms, backoff_max_ms;
    int failures; /* consecutive retry-later outcomes */
    uint32_t rng; /* jitter */
    int busy;
    uint64_t batch_id;
    char reply[REPLY_MAX];
    size_t reply_len;
    char errbuf[CURL_ERROR_SIZE];
};

/* HTTP status -> outcome; first matching range wins, anything else rejected. */
static const struct {
    int lo, hi;
    enum influx_outcome outcome;
} status_table[] = {
    {200, 299, INFLUX_DELIVERED},
    {408, 408, INFLUX_RETRY}, /* the server timed out reading: transient */
    {429, 429, INFLUX_RETRY}, /* rate limited (2.x, proxies): honour Retry-After */
    {500, 599, INFLUX_RETRY}, /* server or proxy trouble, e.g. 1.x "timeout" 500, 503 */
};

static enum influx_outcome classify(long status)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
        if (status >= status_table[i].lo && status <= status_table[i].hi)
            return status_table[i].outcome;
    return INFLUX_REJECTED; /* 4xx, and 1xx/3xx which only a wrong url produces */
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct influx *ix = userp;
    struct epoll_event ev = {.events = 0, .data.fd = fd};
    (void)easy;
    (void)socketp;

    if (what == CURL_POLL_REMOVE) {
        /* Failure means curl closed it already: epoll forgot it then. */
        (void)epoll_ctl(ix->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(ix->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    if (errno == ENOENT && epoll_ctl(ix->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    return -1; /* curl fails the transfer: reported as retry-later */
}

/* curl's timer: never call curl from here (libcurl rule), just remember it. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct influx *ix = userp;
    (void)multi;
    ix->curl_timer_at = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    return 0;
}

static size_t on_reply(char *data, size_t size, size_t nmemb, void *userp)
{
    struct influx *ix = userp;
    size_t n = size * nmemb;
    size_t room = sizeof(ix->reply) - 1 - ix->reply_len;
    size_t take = n < room ? n : room;

    memcpy(ix->reply + ix->reply_len, data, take);
    ix->reply_len += take;
    ix->reply[ix->reply_len] = '\0';
    return n;
}

/* Arm the timerfd at the earliest deadline.  Expired deadlines must have
 * been cleared by the caller, or the descriptor would stay readable. */
static int rearm(struct influx *ix)
{
    int64_t at = ix->curl_timer_at;
    struct itimerspec its = {{0, 0}, {0, 0}};

    if (ix->backoff_until > 0 && (at < 0 || ix->backoff_until < at))
        at = ix->backoff_until;
    if (at >= 0) {
        its.it_value.tv_sec = (time_t)(at / 1000);
        its.it_value.tv_nsec = (long)(at % 1000) * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* all-zero would disarm */
    }
    return timerfd_settime(ix->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Copy src into dst as one log-safe line: control characters become spaces,
 * and truncation never splits a UTF-8 sequence (messages may quote our
 * Chinese tag values back). */
static void copy_line(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    while (n > 0 && (unsigned char)src[n - 1] <= ' ')
        n--;
    if (n > size - 1) {
        n = size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < ' ' || c == 0x7F) ? ' ' : (char)c;
    }
    dst[n] = '\0';
}

/* The server's own words: "error" (1.x) or "message" (2.x) of its JSON
 * reply, else the raw body. */
static void server_message(struct influx *ix, char *dst, size_t size)
{
    static const char *const keys[] = {"error", "message"};
    cJSON *json = cJSON_ParseWithLength(ix->reply, ix->reply_len);

    for (size_t i = 0; json && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, keys[i]);
        if (cJSON_IsString(item) && item->valuestring[0]) {
            copy_line(dst, size, item->valuestring);
            cJSON_Delete(json);
            return;
        }
    }
    cJSON_Delete(json);
    copy_line(dst, size, ix->reply_len ? ix->reply : "no error message in the response");
}

static uint32_t next_random(struct influx *ix)
{
    uint32_t x = ix->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return ix->rng = x;
}

/* Exponential from backoff_min, capped, with up to 25% jitter off so that
 * many gateways coming back from one outage do not retry in step; a server's
 * Retry-After is a floor (capped too: telemetry waits in the outbox). */
static int start_backoff(struct influx *ix, int64_t retry_after_s)
{
    int64_t delay = ix->backoff_min_ms;

    for (int i = 0; i < ix->failures && delay < ix->backoff_max_ms; i++)
        delay *= 2;
    if (delay > ix->backoff_max_ms)
        delay = ix->backoff_max_ms;
    delay -= (int64_t)(next_random(ix) % (uint32_t)(delay / 4 + 1));
    if (retry_after_s > 0) {
        int64_t floor_ms =
            retry_after_s > ix->backoff_max_ms / 1000 ? ix->backoff_max_ms : retry_after_s * 1000;
        if (delay < floor_ms)
            delay = floor_ms;
    }
    if (delay < 1)
        delay = 1;
    ix->failures++;
    ix->backoff_until = mono_ms() + delay;
    return (int)delay;
}

static void finish(struct influx *ix, CURLcode rc, struct influx_result *res)
{
    long status = 0;
    curl_off_t retry_after = 0;

    memset(res, 0, sizeof(*res));
    res->batch_id = ix->batch_id;
    if (rc == CURLE_OK && curl_easy_getinfo(ix->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    res->http_status = (int)status;
    if (rc != CURLE_OK) {
        res->outcome = INFLUX_RETRY;
        copy_line(res->message, sizeof(res->message),
                  ix->errbuf[0] ? ix->errbuf : curl_easy_strerror(rc));
    } else {
        res->outcome = classify(status);
        if (res->outcome != INFLUX_DELIVERED)
            server_message(ix, res->message, sizeof(res->message));
    }
    if (res->outcome == INFLUX_RETRY) {
        if (curl_easy_getinfo(ix->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
            retry_after = 0;
        res->retry_in_ms = start_backoff(ix, (int64_t)retry_after);
    } else {
        ix->failures = 0; /* the server answered: it is up */
    }
    /* Removing a finished handle cannot fail in a way we could act on. */
    (void)curl_multi_remove_handle(ix->multi, ix->easy);
    ix->busy = 0;
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int influx_token_check(const char *path, char *why, size_t len)
{
    char token[TOKEN_MAX];
    int rc = secret_read_token(path, token, sizeof(token));
    int saved = errno;

    explicit_bzero(token, sizeof(token));
    if (rc == 0)
        return 0;
    if (saved == EINVAL)
        snprintf(why, len, "%s: not a token (empty, longer than %d bytes, or control characters)",
                 path, TOKEN_MAX - 1);
    else
        snprintf(why, len, "%s: %s", path, strerror(saved));
    errno = saved;
    return -1;
}

/* {url}/write?db=D&precision=ms or {url}/api/v2/write?org=O&bucket=B&precision=ms */
static int build_url(const struct influx_config *conf, char *url, size_t size)
{
    const char *names[2], *values[2];
    size_t base = strlen(conf->url);
    int nparams, n;

    while (base > 0 && conf->url[base - 1] == '/')
        base--;
    if (nonempty(conf->database)) {
        names[0] = "db", values[0] = conf->database, nparams = 1;
        n = snprintf(url, size, "%.*s/write?", (int)base, conf->url);
    } else {
        names[0] = "org", values[0] = conf->org, names[1] = "bucket", values[1] = conf->bucket;
        nparams = 2;
        n = snprintf(url, size, "%.*s/api/v2/write?", (int)base, conf->url);
    }
    for (int i = 0; i < nparams && n > 0 && (size_t)n < size; i++) {
        char *esc = curl_easy_escape(NULL, values[i], 0);
        if (esc == NULL) {
            errno = ENOMEM;
            return -1;
        }
        n += snprintf(url + n, size - (size_t)n, "%s=%s&", names[i], esc);
        curl_free(esc);
    }
    if (n > 0 && (size_t)n < size)
        n += snprintf(url + n, size - (size_t)n, "precision=ms");
    if (n <= 0 || (size_t)n >= size) {
        errno = EINVAL;
        return -1;
    }
    /* Reject a malformed or non-HTTP url now rather than as endless retries. */
    CURLU *u = curl_url();
    char *scheme = NULL;
    int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    if (!ok) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static int build_headers(struct influx *ix, const char *token_file)
{
    static const char *const fixed[] = {
        "Content-Type: text/plain; charset=utf-8",
        "Expect:", /* no 100-continue round trip for bigger batches */
    };
    char token[TOKEN_MAX], auth[TOKEN_MAX + 32];
    struct curl_slist *l;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if ((l = curl_slist_append(ix->headers, fixed[i])) == NULL)
            goto nomem;
        ix->headers = l;
    }
    if (!nonempty(token_file))
        return 0;
    if (secret_read_token(token_file, token, sizeof(token)) == -1)
        return -1;
    snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
    l = curl_slist_append(ix->headers, auth);
    explicit_bzero(token, sizeof(token));
    explicit_bzero(auth, sizeof(auth));
    if (l == NULL)
        goto nomem;
    ix->headers = l;
    return 0;
nomem:
    errno = ENOMEM;
    return -1;
}

static int setup_curl(struct influx *ix, const struct influx_config *conf, const char *url)
{
    CURL *e = ix->easy;
    long connect_ms =
        conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    long total_ms = conf->total_timeout_ms > 0 ? conf->total_timeout_ms : DEFAULT_TOTAL_TIMEOUT_MS;
    int rc = 0;

    rc |= (int)curl_easy_setopt(e, CURLOPT_URL, url);
    rc |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= (int)curl_easy_setopt(e, CURLOPT_POST, 1L);
    rc |= (int)curl_easy_setopt(e, CURLOPT_HTTPHEADER, ix->headers);
    rc |= (int)curl_easy_setopt(e, CURLOPT_USERAGENT, "shelter-gateway/" GW_VERSION);
    rc |= (int)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    rc |= (int)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    rc |= (int)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* signals belong to the main loop */
    rc |= (int)curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= (int)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    rc |= (int)curl_easy_setopt(e, CURLOPT_WRITEDATA, ix);
    rc |= (int)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ix->errbuf);
    rc |= (int)curl_multi_setopt(ix->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    rc |= (int)curl_multi_setopt(ix->multi, CURLMOPT_SOCKETDATA, ix);
    rc |= (int)curl_multi_setopt(ix->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    rc |= (int)curl_multi_setopt(ix->multi, CURLMOPT_TIMERDATA, ix);
    if (rc != 0) {
        errno = ENOTSUP; /* a libcurl without these options */
        return -1;
    }
    return 0;
}

struct influx *influx_new(const struct influx_config *conf)
{
    struct influx *ix;
    char url[1024];
    struct epoll_event ev = {.events = EPOLLIN};
    int saved;

    if (!nonempty(conf->url) ||
        !(nonempty(conf->database) || (nonempty(conf->org) && nonempty(conf->bucket)))) {
        errno = EINVAL;
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        errno = ENOMEM;
        return NULL;
    }
    if ((ix = calloc(1, sizeof(*ix))) == NULL) {
        curl_global_cleanup();
        return NULL;
    }
    ix->epfd = ix->timerfd = -1;
    ix->curl_timer_at = -1;
    ix->backoff_min_ms = conf->backoff_min_ms > 0 ? conf->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
    ix->backoff_max_ms = conf->backoff_max_ms > 0 ? conf->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (ix->backoff_max_ms < ix->backoff_min_ms)
        ix->backoff_max_ms = ix->backoff_min_ms;
    ix->rng = (((uint32_t)getpid() * 2654435761u) ^ (uint32_t)wall_ms()) | 1u; /* never 0 */

    if (build_url(conf, url, sizeof(url)) == -1 || build_headers(ix, conf->token_file) == -1)
        goto fail;
    if ((ix->multi = curl_multi_init()) == NULL || (ix->easy = curl_easy_init()) == NULL) {
        errno = ENOMEM;
        goto fail;
    }
    if (setup_curl(ix, conf, url) == -1)
        goto fail;
    if ((ix->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
        (ix->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
        goto fail;
    ev.data.fd = ix->timerfd;
    if (epoll_ctl(ix->epfd, EPOLL_CTL_ADD, ix->timerfd, &ev) == -1)
        goto fail;
    return ix;

fail:
    saved = errno;
    influx_free(ix);
    errno = saved;
    return NULL;
}

void influx_free(struct influx *ix)
{
    if (ix == NULL)
        return;
    if (ix->busy)
        (void)curl_multi_remove_handle(ix->multi, ix->easy);
    curl_easy_cleanup(ix->easy);
    curl_multi_cleanup(ix->multi); /* may still call on_socket: epfd stays open until here */
    curl_slist_free_all(ix->headers);
    if (ix->timerfd != -1)
        close(ix->timerfd);
    if (ix->epfd != -1)
        close(ix->epfd);
    free(ix);
    curl_global_cleanup();
}

int influx_fd(const struct influx *ix)
{
    return ix->epfd;
}

int influx_ready(const struct influx *ix)
{
    return !ix->busy && (ix->backoff_until == 0 || mono_ms() >= ix->backoff_until);
}

int influx_submit(struct influx *ix, uint64_t batch_id, const char *lines, size_t len)
{
    if (lines == NULL || len == 0) {
        errno = EINVAL;
        return -1;
    }
    if (ix->busy) {
        errno = EBUSY;
        return -1;
    }
    if (!influx_ready(ix)) {
        errno = EAGAIN;
        return -1;
    }
    ix->backoff_until = 0;
    ix->reply_len = 0;
    ix->reply[0] = '\0';
    ix->errbuf[0] = '\0';
    /* The size first: COPYPOSTFIELDS copies that many bytes. */
    if (curl_easy_setopt(ix->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
        curl_easy_setopt(ix->easy, CURLOPT_COPYPOSTFIELDS, lines) != CURLE_OK) {
        errno = ENOMEM;
        return -1;
    }
    if (curl_multi_add_handle(ix->multi, ix->easy) != CURLM_OK) {
        errno = ENOMEM;
        return -1;
    }
    ix->busy = 1;
    ix->batch_id = batch_id;
    if (rearm(ix) == -1) { /* adding set curl's timer: start at once */
        int saved = errno;
        (void)curl_multi_remove_handle(ix->multi, ix->easy);
        ix->busy = 0;
        errno = saved;
        return -1;
    }
    return 0;
}

int influx_perform(struct influx *ix, struct influx_result *res)
{
    struct epoll_event ev[8];
    int running, done = 0, n;
    CURLMsg *msg;

    n = epoll_wait(ix->epfd, ev, 8, 0);
    if (n == -1 && errno != EINTR)
        return -1;
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd, mask = 0;
        if (fd == ix->timerfd) {
            uint64_t expirations;
            /* EAGAIN: already drained; the deadlines are checked below anyway. */
            ssize_t r = read(fd, &expirations, sizeof(expirations));
            (void)r;
            continue;
        }
        if (ev[i].events & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (ev[i].events & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        /* Errors surface per transfer through curl_multi_info_read(). */
        (void)curl_multi_socket_action(ix->multi, fd, mask, &running);
    }
    int64_t now = mono_ms();
    if (ix->curl_timer_at >= 0 && now >= ix->curl_timer_at) {
        ix->curl_timer_at = -1; /* curl sets a new one if it needs it */
        (void)curl_multi_socket_action(ix->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    if (ix->backoff_until > 0 && now >= ix->backoff_until)
        ix->backoff_until = 0;
    while ((msg = curl_multi_info_read(ix->multi, &running)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == ix->easy && ix->busy) {
            finish(ix, msg->data.result, res);
            done = 1;
        }
    }
    if (rearm(ix) == -1)
        return -1;
    return done;
}
