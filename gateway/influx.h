/*
 * influx: sends line-protocol batches to InfluxDB over HTTP (libcurl) without
 * ever blocking the main loop (docs/design.md sections 4, 14, 15).  Main thread only.
 *
 * The caller (the outbox) decides what a batch is and keeps it until the
 * writer reports its fate; the writer sends one batch at a time and says per
 * batch: delivered, retry later (and when), or rejected (with the server's
 * message, once).  It never retries by itself and never logs: the caller
 * knows which batch it was and logs once.
 *
 * Main-loop integration is one descriptor and one call:
 *
 *     pfd[k] = (struct pollfd){.fd = influx_fd(ix), .events = POLLIN};
 *     poll(pfd, n, timeout);               // no extra timeout needed
 *     if (pfd[k].revents && influx_perform(ix, &res) == 1)
 *         outbox_influx_done(&res);
 *     if (influx_ready(ix) && outbox has telemetry)
 *         influx_submit(ix, id, lines, len);
 *
 * influx_fd() is readable whenever the writer has work: socket I/O, a libcurl
 * timer, or the end of a backoff (it is an epoll set holding curl's sockets
 * and a timerfd).
 */
#ifndef GW_INFLUX_H
#define GW_INFLUX_H

#include <stddef.h>
#include <stdint.h>

/* What cfg->influx says, plus tuning; strings are copied by influx_new(). */
struct influx_config {
    const char *url;        /* base URL, e.g. "http://10.0.0.5:8086" */
    const char *database;   /* InfluxDB 1.x: POST {url}/write?db=DB&precision=ms */
    const char *org;        /* InfluxDB 2.x (database NULL or ""): */
    const char *bucket;     /*   POST {url}/api/v2/write?org=O&bucket=B&precision=ms */
    const char *token_file; /* NULL/"": no auth; else "Authorization: Token <file content>" */
    int connect_timeout_ms; /* 0: 5 s */
    int total_timeout_ms;   /* per request, 0: 30 s */
    int backoff_min_ms;     /* first retry delay, 0: 1 s */
    int backoff_max_ms;     /* cap, also on Retry-After, 0: 5 min */
};

enum influx_outcome {
    INFLUX_DELIVERED, /* 2xx: the batch is stored; delete it */
    INFLUX_RETRY,     /* network error, timeout, 5xx, 408, 429: keep it, send again later */
    INFLUX_REJECTED,  /* any other status: the server will never take it; set it aside */
};

struct influx_result {
    uint64_t batch_id;
    enum influx_outcome outcome;
    int http_status;   /* 0 when no response arrived */
    int retry_in_ms;   /* INFLUX_RETRY: influx_submit() refuses until then */
    char message[512]; /* the server's error message or the transport error, one line;
                          "" on delivery */
};

struct influx;

/* Create a writer: reads the token file, prepares the request.  NULL with
 * errno: EINVAL (no url, neither database nor org+bucket, empty token file),
 * or the error of opening/reading token_file.  The token is never logged. */
struct influx *influx_new(const struct influx_config *conf);

/* Can path serve as token_file?  The same rules as influx_new().  0, or -1
 * with errno and "PATH: reason" in why (never the token).  Any thread. */
int influx_token_check(const char *path, char *why, size_t len);
void influx_free(struct influx *ix); /* abandons a batch in flight; NULL is a no-op */

/* The descriptor to poll for POLLIN; constant for the writer's lifetime. */
int influx_fd(const struct influx *ix);

/* 1 when influx_submit() would accept a batch: none in flight, no backoff. */
int influx_ready(const struct influx *ix);

/* Start sending lines[0..len) (complete lines, each ending in '\n') as batch
 * batch_id; the bytes are copied, the caller may reuse its buffer at once.
 * Returns 0, or -1 with errno EBUSY (a batch in flight), EAGAIN (backing
 * off after a failure), EINVAL (len 0), ENOMEM. */
int influx_submit(struct influx *ix, uint64_t batch_id, const char *lines, size_t len);

/* Do whatever I/O is ready, never waiting.  Returns 1 and fills *res when
 * the batch in flight finished, 0 otherwise, -1 with errno on an internal
 * error (the batch, if any, stays in flight). */
int influx_perform(struct influx *ix, struct influx_result *res);

#endif
