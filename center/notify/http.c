/*
 * http: see http.h.  libcurl's multi-socket API: its socket callback keeps
 * the table of sockets and the events it wants, its timer callback the next
 * deadline; http_run() feeds curl_multi_socket_action() what poll() saw.
 * Each request has its own easy handle with a copy of the body; answers are
 * kept up to HTTP_ANSWER_MAX bytes.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct req {
    struct req *next;
    CURL *easy;
    struct curl_slist *headers;
    uint64_t id;
    char *body;
    char *answer;
    size_t answer_len;
    char errbuf[CURL_ERROR_SIZE];
    int64_t started_ms;
};

struct sock {
    curl_socket_t fd;
    short events;
};

struct http {
    CURLM *multi;
    struct sock socks[HTTP_SOCKETS_MAX];
    int nsocks;
    long timeout_ms; /* -1: none */
    int64_t timer_set_at;
    struct req *active;
    int nactive;
};

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http *h = userp;
    int i;

    (void)easy;
    (void)socketp;
    for (i = 0; i < h->nsocks && h->socks[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < h->nsocks)
            h->socks[i] = h->socks[--h->nsocks];
        return 0;
    }
    if (i == h->nsocks) {
        if (h->nsocks == HTTP_SOCKETS_MAX)
            return -1; /* curl fails that transfer */
        h->nsocks++;
    }
    h->socks[i].fd = fd;
    h->socks[i].events =
        (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http *h = userp;
    (void)multi;
    h->timeout_ms = timeout_ms;
    h->timer_set_at = mono_ms();
    return 0;
}

static size_t on_answer(char *data, size_t size, size_t nmemb, void *userp)
{
    struct req *r = userp;
    size_t n = size * nmemb, room = HTTP_ANSWER_MAX - r->answer_len;
    char *p;

    if (n > room)
        n = room;
    if (n > 0) {
        if ((p = realloc(r->answer, r->answer_len + n + 1)) == NULL)
            return 0; /* curl fails the transfer: retried later */
        r->answer = p;
        memcpy(r->answer + r->answer_len, data, n);
        r->answer_len += n;
        r->answer[r->answer_len] = '\0';
    }
    return size * nmemb; /* the rest is read and ignored */
}

struct http *http_new(char *err, size_t errlen)
{
    static bool global_done;
    struct http *h;

    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "curl_global_init failed");
            return NULL;
        }
        global_done = true;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL || (h->multi = curl_multi_init()) == NULL) {
        snprintf(err, errlen, "%s", strerror(ENOMEM));
        free(h);
        return NULL;
    }
    h->timeout_ms = -1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

static void req_free(struct http *h, struct req *r)
{
    if (r->easy != NULL) {
        curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r->answer);
    free(r);
}

void http_free(struct http *h)
{
    if (h == NULL)
        return;
    while (h->active != NULL) {
        struct req *r = h->active;
        h->active = r->next;
        req_free(h, r);
    }
    curl_multi_cleanup(h->multi);
    free(h);
}

int http_post(struct http *h, uint64_t id, const char *url, const char *body, size_t len,
              long timeout_ms)
{
    struct req *r = calloc(1, sizeof(*r));
    struct curl_slist *hd;

    if (r == NULL || (r->body = malloc(len + 1)) == NULL || (r->easy = curl_easy_init()) == NULL)
        goto nomem;
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->id = id;
    if ((hd = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8")) == NULL)
        goto nomem;
    r->headers = hd;
    if ((hd = curl_slist_append(r->headers, "Expect:")) == NULL)
        goto nomem;
    r->headers = hd;
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "shelter-notify/" GW_VERSION);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    r->started_ms = mono_ms();
    if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
        req_free(h, r);
        errno = EIO;
        return -1;
    }
    r->next = h->active;
    h->active = r;
    h->nactive++;
    return 0;
nomem:
    if (r != NULL)
        req_free(h, r);
    errno = ENOMEM;
    return -1;
}

int http_active(const struct http *h)
{
    return h->nactive;
}

int http_pollfds(const struct http *h, struct pollfd *pfds, int max)
{
    int n = 0;
    for (int i = 0; i < h->nsocks && n < max; i++, n++) {
        pfds[n].fd = h->socks[i].fd;
        pfds[n].events = h->socks[i].events;
        pfds[n].revents = 0;
    }
    return n;
}

long http_timeout_ms(const struct http *h)
{
    if (h->timeout_ms < 0)
        return -1;
    int64_t left = h->timer_set_at + h->timeout_ms - mono_ms();
    return left > 0 ? (long)left : 0;
}

void http_run(struct http *h, const struct pollfd *pfds, int n)
{
    int running;

    for (int i = 0; i < n; i++) {
        int ev = 0;
        if (pfds[i].revents == 0)
            continue;
        if (pfds[i].revents & POLLIN)
            ev |= CURL_CSELECT_IN;
        if (pfds[i].revents & POLLOUT)
            ev |= CURL_CSELECT_OUT;
        if (pfds[i].revents & (POLLERR | POLLHUP | POLLNVAL))
            ev |= CURL_CSELECT_ERR;
        curl_multi_socket_action(h->multi, pfds[i].fd, ev, &running);
    }
    if (h->timeout_ms >= 0 && http_timeout_ms(h) == 0) {
        h->timeout_ms = -1;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

int http_next_done(struct http *h, struct http_done *d)
{
    CURLMsg *m;
    int left;

    memset(d, 0, sizeof(*d));
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct req *r = NULL, **pp;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        for (pp = &h->active; *pp != NULL && *pp != r; pp = &(*pp)->next)
            ;
        if (*pp == NULL)
            continue;
        *pp = r->next;
        h->nactive--;
        d->id = r->id;
        d->took_ms = mono_ms() - r->started_ms;
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &d->status);
        } else {
            d->status = 0;
            snprintf(d->error, sizeof(d->error), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(m->data.result));
        }
        d->body = r->answer;
        d->len = r->answer_len;
        r->answer = NULL;
        req_free(h, r);
        return 1;
    }
    return 0;
}

void http_done_clear(struct http_done *d)
{
    free(d->body);
    memset(d, 0, sizeof(*d));
}
