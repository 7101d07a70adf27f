/* Unit tests: the InfluxDB writer against a scripted HTTP peer on 127.0.0.1
 * (one request per connection, answers given by each test): request shape
 * for 1.x and 2.x, outcome per status, backoff and Retry-After, timeouts,
 * and that no writer call ever waits.  The real influxd is exercised by
 * tests/integration/test_influx_write.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_run.h"
#include "clock.h"
#include "influx.h"

#define MAX_ANSWERS 16
#define HANG NULL /* accept the request, never answer */

/* ---- the scripted peer ---- */

struct peer {
    int listen_fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    int stop;
    char *answers[MAX_ANSWERS]; /* raw HTTP responses, in request order; last repeats */
    int nanswers;
    int requests;
    char request[16384]; /* the last request, head and body */
    size_t request_len;
};

static struct peer peer;
static int64_t longest_call_ms;

static void peer_answer(int status, const char *headers, const char *body)
{
    char *a = malloc(4096);
    ck_assert_ptr_nonnull(a);
    snprintf(a, 4096, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
             status, strlen(body), headers, body);
    peer.answers[peer.nanswers++] = a;
}

static void peer_hang(void)
{
    peer.answers[peer.nanswers++] = HANG;
}

/* Read one request: the head, then Content-Length bytes of body. */
static void read_request(int fd)
{
    char buf[16384];
    size_t len = 0, want = 0;
    char *head_end = NULL;

    while (len < sizeof(buf) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!head_end && (head_end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(head_end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (head_end && len >= want)
            break;
    }
    pthread_mutex_lock(&peer.lock);
    memcpy(peer.request, buf, len);
    peer.request[len] = '\0';
    peer.request_len = len;
    pthread_mutex_unlock(&peer.lock);
}

static void *peer_main(void *unused)
{
    (void)unused;
    for (;;) {
        struct pollfd p = {.fd = peer.listen_fd, .events = POLLIN};
        pthread_mutex_lock(&peer.lock);
        int stop = peer.stop;
        pthread_mutex_unlock(&peer.lock);
        if (stop)
            return NULL;
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(peer.listen_fd, NULL, NULL);
        if (fd == -1)
            continue;
        read_request(fd);
        pthread_mutex_lock(&peer.lock);
        int i = peer.requests < peer.nanswers ? peer.requests : peer.nanswers - 1;
        const char *answer = peer.answers[i];
        peer.requests++;
        pthread_mutex_unlock(&peer.lock);
        if (answer != HANG) {
            ssize_t w = write(fd, answer, strlen(answer));
            (void)w;
        } else {
            /* Silent until the client gives up (or the test ends). */
            char sink[256];
            for (;;) {
                struct pollfd c = {.fd = fd, .events = POLLIN};
                pthread_mutex_lock(&peer.lock);
                stop = peer.stop;
                pthread_mutex_unlock(&peer.lock);
                if (stop || (poll(&c, 1, 20) == 1 && read(fd, sink, sizeof(sink)) <= 0))
                    break;
            }
        }
        close(fd);
    }
}

static void peer_start(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t salen = sizeof(sa);
    int one = 1;

    memset(&peer, 0, sizeof(peer));
    pthread_mutex_init(&peer.lock, NULL);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(peer.listen_fd, 0);
    setsockopt(peer.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(peer.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(peer.listen_fd, 8), 0);
    ck_assert_int_eq(getsockname(peer.listen_fd, (struct sockaddr *)&sa, &salen), 0);
    peer.port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&peer.thread, NULL, peer_main, NULL), 0);
    longest_call_ms = 0;
}

static void peer_stop(void)
{
    pthread_mutex_lock(&peer.lock);
    peer.stop = 1;
    pthread_mutex_unlock(&peer.lock);
    pthread_join(peer.thread, NULL);
    close(peer.listen_fd);
    for (int i = 0; i < peer.nanswers; i++)
        free(peer.answers[i]);
    pthread_mutex_destroy(&peer.lock);
}

static const char *last_request(void)
{
    static char copy[sizeof(peer.request)];
    pthread_mutex_lock(&peer.lock);
    memcpy(copy, peer.request, peer.request_len + 1);
    pthread_mutex_unlock(&peer.lock);
    return copy;
}

/* ---- helpers ---- */

static char url[64];

static struct influx *writer_v1(int backoff_min_ms, int backoff_max_ms, int total_timeout_ms)
{
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", peer.port);
    struct influx_config c = {.url = url,
                              .database = "shelter db",
                              .backoff_min_ms = backoff_min_ms,
                              .backoff_max_ms = backoff_max_ms,
                              .total_timeout_ms = total_timeout_ms};
    struct influx *ix = influx_new(&c);
    ck_assert_msg(ix != NULL, "influx_new: %s", strerror(errno));
    return ix;
}

static void note_call(int64_t t0)
{
    int64_t d = mono_ms() - t0;
    if (d > longest_call_ms)
        longest_call_ms = d;
}

/* The main loop in miniature: poll the writer's fd until a result or timeout. */
static int drive(struct influx *ix, struct influx_result *res, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct pollfd p = {.fd = influx_fd(ix), .events = POLLIN};

    while (mono_ms() < deadline) {
        if (poll(&p, 1, (int)(deadline - mono_ms())) <= 0)
            continue;
        int64_t t0 = mono_ms();
        int rc = influx_perform(ix, res);
        note_call(t0);
        ck_assert_int_ge(rc, 0);
        if (rc == 1)
            return 0;
    }
    return -1;
}

static void submit_ok(struct influx *ix, uint64_t id, const char *lines)
{
    int64_t t0 = mono_ms();
    int rc = influx_submit(ix, id, lines, strlen(lines));
    note_call(t0);
    ck_assert_msg(rc == 0, "submit: %s", strerror(errno));
}

static struct influx_result send_one(struct influx *ix, uint64_t id, const char *lines)
{
    struct influx_result res;
    submit_ok(ix, id, lines);
    ck_assert_int_eq(drive(ix, &res, 5000), 0);
    ck_assert_uint_eq(res.batch_id, id);
    return res;
}

/* Wait through the fd (as the main loop would) until the writer is ready. */
static int64_t wait_ready(struct influx *ix)
{
    int64_t t0 = mono_ms();
    struct influx_result unused;
    struct pollfd p = {.fd = influx_fd(ix), .events = POLLIN};
    while (!influx_ready(ix)) {
        ck_assert_int_lt(mono_ms() - t0, 10000);
        if (poll(&p, 1, 10000) > 0)
            ck_assert_int_eq(influx_perform(ix, &unused), 0);
    }
    return mono_ms() - t0;
}

static int fd_quiet_for(struct influx *ix, int ms)
{
    struct pollfd p = {.fd = influx_fd(ix), .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

/* ---- tests ---- */

START_TEST(test_v1_request_shape_and_delivery)
{
    peer_start();
    peer_answer(204, "", "");
    struct influx *ix = writer_v1(0, 0, 0);
    const char *lines = "co2,shelter=sh-001 co2_ppm=812i 1732520000123\nwater_leak wet=true 1\n";

    struct influx_result res = send_one(ix, 42, lines);
    ck_assert_int_eq(res.outcome, INFLUX_DELIVERED);
    ck_assert_int_eq(res.http_status, 204);
    ck_assert_str_eq(res.message, "");
    const char *req = last_request();
    ck_assert_msg(strncmp(req, "POST /write?db=shelter%20db&precision=ms HTTP/1.1\r\n", 51) == 0,
                  "request: %s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    ck_assert_ptr_null(strcasestr(req, "\r\nAuthorization:"));
    ck_assert_ptr_null(strcasestr(req, "\r\nExpect:"));
    ck_assert_str_eq(strstr(req, "\r\n\r\n") + 4, lines);
    ck_assert(influx_ready(ix));
    ck_assert(fd_quiet_for(ix, 100)); /* idle: nothing to do, no busy loop */
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_v2_url_and_token_header)
{
    char token_file[] = "/tmp/test_influx_token.XXXXXX";
    int fd = mkstemp(token_file);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "s3cr3t-Token==\n", 15), 15);
    close(fd);
    peer_start();
    peer_answer(204, "", "");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", peer.port);
    struct influx_config c = {
        .url = url, .org = "市人防办", .bucket = "telemetry", .token_file = token_file};
    struct influx *ix = influx_new(&c);
    ck_assert_ptr_nonnull(ix);

    struct influx_result res = send_one(ix, 1, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_DELIVERED);
    const char *req = last_request();
    const char *want = "POST /api/v2/write?org=%E5%B8%82%E4%BA%BA%E9%98%B2%E5%8A%9E"
                       "&bucket=telemetry&precision=ms HTTP/1.1\r\n";
    ck_assert_msg(strncmp(req, want, strlen(want)) == 0, "request: %s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\nAuthorization: Token s3cr3t-Token==\r\n"));
    influx_free(ix);
    peer_stop();
    unlink(token_file);
}
END_TEST

START_TEST(test_5xx_is_retry_and_submit_refused_during_backoff)
{
    peer_start();
    peer_answer(503, "Content-Type: application/json\r\n", "{\"error\":\"overloaded\"}");
    struct influx *ix = writer_v1(400, 10000, 0);

    struct influx_result res = send_one(ix, 7, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    ck_assert_int_eq(res.http_status, 503);
    ck_assert_str_eq(res.message, "overloaded");
    ck_assert_int_ge(res.retry_in_ms, 300); /* 400 minus up to 25% jitter */
    ck_assert_int_le(res.retry_in_ms, 400);
    ck_assert(!influx_ready(ix));
    errno = 0;
    ck_assert_int_eq(influx_submit(ix, 8, "m f=1i 1\n", 9), -1);
    ck_assert_int_eq(errno, EAGAIN);
    /* The fd wakes the loop when the backoff ends. */
    int64_t waited = wait_ready(ix);
    ck_assert_int_ge(waited, res.retry_in_ms - 20);
    ck_assert(fd_quiet_for(ix, 100));

    res = send_one(ix, 8, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    ck_assert_int_ge(res.retry_in_ms, 600); /* doubled */
    ck_assert_int_le(res.retry_in_ms, 800);
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_429_honours_retry_after)
{
    peer_start();
    peer_answer(429, "Retry-After: 2\r\n",
                "{\"code\":\"too many requests\",\"message\":\"slow down\"}");
    struct influx *ix = writer_v1(100, 60000, 0);

    struct influx_result res = send_one(ix, 1, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    ck_assert_int_eq(res.http_status, 429);
    ck_assert_int_eq(res.retry_in_ms, 2000);
    ck_assert_str_eq(res.message, "slow down"); /* 2.x puts it in "message" */
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_retry_after_is_capped)
{
    peer_start();
    peer_answer(503, "Retry-After: 86400\r\n", "");
    struct influx *ix = writer_v1(100, 1500, 0);

    struct influx_result res = send_one(ix, 1, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    ck_assert_int_eq(res.retry_in_ms, 1500);
    ck_assert_str_eq(res.message, "no error message in the response");
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_4xx_is_rejected_once_with_server_message)
{
    const char *msg = "partial write: field type conflict: input field \\\"level_m\\\" on "
                      "measurement \\\"water_level\\\" is type string, already exists as type "
                      "float dropped=1";
    char body[512];
    snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
    peer_start();
    peer_answer(503, "", "");
    peer_answer(400, "Content-Type: application/json\r\n", body);
    peer_answer(204, "", "");
    struct influx *ix = writer_v1(100, 1000, 0);

    struct influx_result res = send_one(ix, 1, "m f=1i 1\n"); /* a failure first */
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    wait_ready(ix);
    res = send_one(ix, 1, "water_level level_m=\"x\" 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_REJECTED);
    ck_assert_int_eq(res.http_status, 400);
    ck_assert_str_eq(res.message, "partial write: field type conflict: input field \"level_m\" on "
                                  "measurement \"water_level\" is type string, already exists "
                                  "as type float dropped=1");
    ck_assert_int_eq(res.retry_in_ms, 0);
    ck_assert(influx_ready(ix)); /* the server is up: no backoff */
    res = send_one(ix, 2, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_DELIVERED);
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_status_table)
{
    static const struct {
        int status;
        enum influx_outcome outcome;
    } cases[] = {
        {200, INFLUX_DELIVERED}, {204, INFLUX_DELIVERED}, {301, INFLUX_REJECTED},
        {400, INFLUX_REJECTED},  {401, INFLUX_REJECTED},  {404, INFLUX_REJECTED},
        {408, INFLUX_RETRY},     {413, INFLUX_REJECTED},  {429, INFLUX_RETRY},
        {500, INFLUX_RETRY},     {502, INFLUX_RETRY},     {504, INFLUX_RETRY},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    peer_start();
    for (size_t i = 0; i < n; i++)
        peer_answer(cases[i].status, "", "x");
    struct influx *ix = writer_v1(1, 1, 0);
    ck_assert_uint_le(n, MAX_ANSWERS);
    for (size_t i = 0; i < n; i++) {
        wait_ready(ix);
        struct influx_result res = send_one(ix, i, "m f=1i 1\n");
        ck_assert_msg(res.outcome == cases[i].outcome, "status %d: outcome %d", cases[i].status,
                      res.outcome);
        ck_assert_int_eq(res.http_status, cases[i].status);
    }
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_connection_refused_is_retry_and_backoff_is_capped)
{
    /* A port nobody listens on: bind, note it, close. */
    peer_start();
    int port = peer.port;
    peer_stop();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    struct influx_config c = {
        .url = url, .database = "db", .backoff_min_ms = 40, .backoff_max_ms = 150};
    struct influx *ix = influx_new(&c);
    ck_assert_ptr_nonnull(ix);
    int last = 0;

    for (int i = 0; i < 5; i++) {
        wait_ready(ix);
        struct influx_result res = send_one(ix, (uint64_t)i, "m f=1i 1\n");
        ck_assert_int_eq(res.outcome, INFLUX_RETRY);
        ck_assert_int_eq(res.http_status, 0);
        ck_assert_msg(strstr(res.message, "onnect") != NULL, "message: %s", res.message);
        ck_assert_int_le(res.retry_in_ms, 150);
        last = res.retry_in_ms;
    }
    ck_assert_int_ge(last, 112); /* 150 minus up to 25% */
    influx_free(ix);
}
END_TEST

START_TEST(test_silent_server_times_out_and_no_call_blocks)
{
    peer_start();
    peer_hang();
    struct influx *ix = writer_v1(100, 1000, 300);

    submit_ok(ix, 9, "m f=1i 1\n");
    errno = 0;
    ck_assert_int_eq(influx_submit(ix, 10, "m f=1i 1\n", 9), -1);
    ck_assert_int_eq(errno, EBUSY);
    ck_assert(!influx_ready(ix));
    struct influx_result res;
    int64_t t0 = mono_ms();
    ck_assert_int_eq(drive(ix, &res, 5000), 0);
    int64_t took = mono_ms() - t0;
    ck_assert_int_eq(res.outcome, INFLUX_RETRY);
    ck_assert_uint_eq(res.batch_id, 9);
    ck_assert_int_eq(res.http_status, 0);
    ck_assert_msg(strstr(res.message, "timed out") != NULL, "message: %s", res.message);
    ck_assert_int_ge(took, 250);
    ck_assert_int_lt(took, 2000);
    ck_assert_int_lt(longest_call_ms, 50);
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_free_with_batch_in_flight)
{
    peer_start();
    peer_hang();
    struct influx *ix = writer_v1(0, 0, 0);
    struct influx_result res;

    submit_ok(ix, 1, "m f=1i 1\n");
    ck_assert_int_eq(drive(ix, &res, 200), -1); /* still in flight */
    influx_free(ix);
    influx_free(NULL);
    peer_stop();
}
END_TEST

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : 3;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

START_TEST(test_message_is_one_safe_line)
{
    char body[2048] = "{\"error\":\"bad\\nline\\ttab ";
    while (strlen(body) < 1500)
        strcat(body, "人防");
    strcat(body, "\"}");
    peer_start();
    peer_answer(400, "", body);
    struct influx *ix = writer_v1(0, 0, 0);

    struct influx_result res = send_one(ix, 1, "m f=1i 1\n");
    ck_assert_int_eq(res.outcome, INFLUX_REJECTED);
    ck_assert(strncmp(res.message, "bad line tab 人防", strlen("bad line tab 人防")) == 0);
    ck_assert_uint_lt(strlen(res.message), sizeof(res.message));
    ck_assert_uint_gt(strlen(res.message), sizeof(res.message) - 4);
    ck_assert(valid_utf8(res.message));
    influx_free(ix);
    peer_stop();
}
END_TEST

START_TEST(test_new_rejects_bad_config)
{
    char empty_file[] = "/tmp/test_influx_empty.XXXXXX", nl_file[] = "/tmp/test_influx_nl.XXXXXX";
    int fd = mkstemp(empty_file);
    close(fd);
    fd = mkstemp(nl_file);
    ck_assert_int_eq(write(fd, "abc\ndef\n", 8), 8);
    close(fd);
    static const char *const none = NULL;
    const struct {
        struct influx_config c;
        int err;
    } cases[] = {
        {{.url = none, .database = "db"}, EINVAL},
        {{.url = "", .database = "db"}, EINVAL},
        {{.url = "http://127.0.0.1:1"}, EINVAL},
        {{.url = "http://127.0.0.1:1", .org = "o"}, EINVAL},
        {{.url = "http://127.0.0.1:1", .bucket = "b"}, EINVAL},
        {{.url = "ftp://127.0.0.1:1", .database = "db"}, EINVAL},
        {{.url = "not a url", .database = "db"}, EINVAL},
        {{.url = "http://127.0.0.1:1", .database = "db", .token_file = "/nonexistent/t"}, ENOENT},
        {{.url = "http://127.0.0.1:1", .database = "db", .token_file = empty_file}, EINVAL},
        {{.url = "http://127.0.0.1:1", .database = "db", .token_file = nl_file}, EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errno = 0;
        struct influx *ix = influx_new(&cases[i].c);
        ck_assert_msg(ix == NULL && errno == cases[i].err, "case %zu: %p errno %d", i, (void *)ix,
                      errno);
    }
    unlink(empty_file);
    unlink(nl_file);
}
END_TEST

START_TEST(test_submit_rejects_empty_batch)
{
    struct influx_config c = {.url = "http://127.0.0.1:1", .database = "db"};
    struct influx *ix = influx_new(&c);
    ck_assert_ptr_nonnull(ix);
    errno = 0;
    ck_assert_int_eq(influx_submit(ix, 1, "", 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert(influx_ready(ix));
    influx_free(ix);
}
END_TEST

static Suite *influx_suite(void)
{
    Suite *s = suite_create("influx");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_v1_request_shape_and_delivery);
    tcase_add_test(tc, test_v2_url_and_token_header);
    tcase_add_test(tc, test_5xx_is_retry_and_submit_refused_during_backoff);
    tcase_add_test(tc, test_429_honours_retry_after);
    tcase_add_test(tc, test_retry_after_is_capped);
    tcase_add_test(tc, test_4xx_is_rejected_once_with_server_message);
    tcase_add_test(tc, test_status_table);
    tcase_add_test(tc, test_connection_refused_is_retry_and_backoff_is_capped);
    tcase_add_test(tc, test_silent_server_times_out_and_no_call_blocks);
    tcase_add_test(tc, test_free_with_batch_in_flight);
    tcase_add_test(tc, test_message_is_one_safe_line);
    tcase_add_test(tc, test_new_rejects_bad_config);
    tcase_add_test(tc, test_submit_rejects_empty_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(influx_suite());
}
