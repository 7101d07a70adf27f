/*
 * http: HTTP POSTs of JSON from shelter-notify's poll() loop, on libcurl's
 * multi-socket interface (docs/design.md section 22.2): nothing here waits.
 * The caller adds curl's sockets to its poll set (http_pollfds), hands the
 * results back (http_run) and takes the finished requests (http_next_done).
 *
 * URLs carry keys and signatures: they are never in an error text, a log
 * line or a completion.  Main thread only (curl's resolver thread inside).
 */
#ifndef NOTIFY_HTTP_H
#define NOTIFY_HTTP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_SOCKETS_MAX 64
#define HTTP_ANSWER_MAX 16384 /* bytes of an answer body kept */

struct http;

struct http_done {
    uint64_t id;
    long status; /* HTTP status; 0 when there was no answer */
    char *body;  /* the answer (at most HTTP_ANSWER_MAX bytes, NUL-terminated) */
    size_t len;
    char error[256]; /* no answer: curl's reason (host and port at most, never the URL) */
    int64_t took_ms;
};

struct http *http_new(char *err, size_t errlen);
void http_free(struct http *h); /* requests in flight are dropped; NULL is a no-op */

/* POST body (JSON) to url, answered within timeout_ms; the completion
 * carries id.  0, or -1 with errno (ENOMEM, EIO). */
int http_post(struct http *h, uint64_t id, const char *url, const char *body, size_t len,
              long timeout_ms);

/* Requests in flight. */
int http_active(const struct http *h);

/* curl's sockets into pfds (at most max); returns how many. */
int http_pollfds(const struct http *h, struct pollfd *pfds, int max);

/* Milliseconds until curl wants http_run() called anyway; -1: no timer. */
long http_timeout_ms(const struct http *h);

/* Let curl work: on the sockets that poll() reported in pfds (as
 * http_pollfds filled them), and on its timer when due. */
void http_run(struct http *h, const struct pollfd *pfds, int n);

/* The next finished request into d: 1, or 0 when none.  Free d->body with
 * http_done_clear(). */
int http_next_done(struct http *h, struct http_done *d);
void http_done_clear(struct http_done *d);

#endif
