/*
 * influxq: see influxq.h.  The answer is read into memory whole (a review's
 * answers are aggregates: kilobytes to a few megabytes; capped at
 * ANSWER_MAX, past which the request fails rather than eat the machine).
 */
#include "influxq.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iql.h"
#include "secret.h"

#define TOKEN_MAX 512
#define ANSWER_MAX (256u << 20)

#ifndef GW_VERSION
#define GW_VERSION "dev"
#endif

struct influxq {
    CURL *easy;
    struct curl_slist *headers;
    char *base; /* {url}/query?db=..[&rp=..]&epoch=ms&q= */
    char url_shown[256];
    char *buf;
    size_t len, cap;
    long requests;
    size_t bytes;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *userp)
{
    struct influxq *q = userp;
    size_t add = size * n;
    if (q->len + add + 1 > ANSWER_MAX)
        return 0;
    if (q->len + add + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 65536;
        while (cap < q->len + add + 1)
            cap *= 2;
        char *nb = realloc(q->buf, cap);
        if (nb == NULL)
            return 0;
        q->buf = nb;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, ptr, add);
    q->len += add;
    q->buf[q->len] = '\0';
    return add;
}

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* &name=value, value URL-encoded. */
static int add_param(CURL *easy, FILE *f, const char *name, const char *value, size_t len)
{
    char *e = curl_easy_escape(easy, value, (int)len);
    if (e == NULL)
        return -1;
    fprintf(f, "&%s=%s", name, e);
    curl_free(e);
    return 0;
}

struct influxq *influxq_new(const struct influxq_conf *conf, char *err, size_t errlen)
{
    struct influxq *q = calloc(1, sizeof(*q));
    char token[TOKEN_MAX], auth[TOKEN_MAX + 32];
    FILE *f = NULL;
    size_t baselen;

    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!nonempty(conf->url) || (!nonempty(conf->database) && !nonempty(conf->bucket))) {
        snprintf(err, errlen, "[influx] needs url and database (1.x) or bucket (2.x)");
        goto fail;
    }
    snprintf(q->url_shown, sizeof(q->url_shown), "%s", conf->url);
    if ((q->easy = curl_easy_init()) == NULL) {
        snprintf(err, errlen, "libcurl: cannot make a handle");
        goto fail;
    }
    if (nonempty(conf->token_file)) {
        if (secret_read_token(conf->token_file, token, sizeof(token)) == -1) {
            snprintf(err, errlen, "%s: %s", conf->token_file,
                     errno == EINVAL ? "not a token (empty, too long or control characters)"
                                     : strerror(errno));
            goto fail;
        }
        snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
        explicit_bzero(token, sizeof(token));
        q->headers = curl_slist_append(NULL, auth);
        explicit_bzero(auth, sizeof(auth));
        if (q->headers == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if ((f = open_memstream(&q->base, &baselen)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t ulen = strlen(conf->url);
    while (ulen > 0 && conf->url[ulen - 1] == '/')
        ulen--;
    fprintf(f, "%.*s/query?epoch=ms", (int)ulen, conf->url);
    int rc;
    if (nonempty(conf->database)) {
        rc = add_param(q->easy, f, "db", conf->database, strlen(conf->database));
    } else {
        const char *slash = strchr(conf->bucket, '/');
        size_t dblen = slash != NULL ? (size_t)(slash - conf->bucket) : strlen(conf->bucket);
        rc = add_param(q->easy, f, "db", conf->bucket, dblen);
        if (rc == 0 && slash != NULL)
            rc = add_param(q->easy, f, "rp", slash + 1, strlen(slash + 1));
    }
    fputs("&q=", f);
    if (fclose(f) != 0 || rc == -1) {
        f = NULL;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    long timeout = conf->timeout_s > 0 ? conf->timeout_s : 60;
    if (curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q) != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_TIMEOUT, timeout) != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
        curl_easy_setopt(q->easy, CURLOPT_USERAGENT, "shelter-report/" GW_VERSION) != CURLE_OK ||
        (q->headers != NULL &&
         curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers) != CURLE_OK)) {
        snprintf(err, errlen, "libcurl: cannot set up the request");
        goto fail;
    }
    return q;
fail:
    influxq_free(q);
    return NULL;
}

void influxq_free(struct influxq *q)
{
    if (q == NULL)
        return;
    if (q->easy != NULL)
        curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->headers); /* holds the token: curl frees, we cannot wipe */
    free(q->base);
    free(q->buf);
    free(q);
}

/* A short form of the server's complaint in an error body. */
static void server_message(const struct influxq *q, char *dst, size_t size)
{
    char why[256];
    cJSON *root = q->len > 0 ? iql_parse(q->buf, why, sizeof(why)) : NULL;
    if (root != NULL) {
        cJSON_Delete(root);
        snprintf(dst, size, "no message");
    } else if (q->len > 0 && q->buf[0] == '{') {
        snprintf(dst, size, "%s", why);
    } else {
        snprintf(dst, size, "%.200s", q->len > 0 ? q->buf : "no message");
        for (char *p = dst; *p != '\0'; p++)
            if ((unsigned char)*p < ' ')
                *p = ' ';
    }
}

cJSON *influxq_run(struct influxq *q, const char *statements, char *err, size_t errlen)
{
    char *esc = curl_easy_escape(q->easy, statements, 0), *url = NULL;
    if (esc == NULL || asprintf(&url, "%s%s", q->base, esc) < 0) {
        curl_free(esc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    curl_free(esc);
    q->len = 0;
    q->requests++;
    CURLcode rc = curl_easy_setopt(q->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(q->easy);
    free(url);
    q->bytes += q->len;
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "InfluxDB at %s: %s", q->url_shown,
                 rc == CURLE_WRITE_ERROR ? "answer too large or out of memory"
                                         : curl_easy_strerror(rc));
        return NULL;
    }
    long status = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 || status == 403) {
        char msg[256];
        server_message(q, msg, sizeof(msg));
        snprintf(err, errlen, "InfluxDB at %s refused the credentials (HTTP %ld: %s)", q->url_shown,
                 status, msg);
        return NULL;
    }
    if (status < 200 || status > 299) {
        char msg[256];
        server_message(q, msg, sizeof(msg));
        snprintf(err, errlen, "InfluxDB at %s: HTTP %ld: %s", q->url_shown, status, msg);
        return NULL;
    }
    char why[256];
    cJSON *root = iql_parse(q->len > 0 ? q->buf : "", why, sizeof(why));
    if (root == NULL)
        snprintf(err, errlen, "InfluxDB at %s: %s", q->url_shown, why);
    return root;
}

void influxq_stats(const struct influxq *q, long *requests, size_t *bytes)
{
    *requests = q->requests;
    *bytes = q->bytes;
}
