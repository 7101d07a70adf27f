/*
 * token: see token.h.  The claim is plain text so a token can be read
 * (base64url-decoded) in a support call; the MAC covers every byte of it.
 */
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

#define CLAIM_MAX (TOKEN_TOPIC_MAX + TOKEN_ROUTE_MAX + 64)

static int field_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n < max && strchr(s, '\n') == NULL;
}

int token_make(const void *key, size_t keylen, const struct token_claim *c, char *out,
               size_t outlen)
{
    char claim[CLAIM_MAX];
    unsigned char mac[SIGN_MAC_LEN];
    int n, a, b;

    if (keylen < TOKEN_KEY_MIN || !field_ok(c->topic, TOKEN_TOPIC_MAX) ||
        !field_ok(c->route, TOKEN_ROUTE_MAX) || c->expires_ms < 0) {
        errno = EINVAL;
        return -1;
    }
    n = snprintf(claim, sizeof(claim), "1\n%" PRId64 "\n%" PRIu64 "\n%s\n%s", c->expires_ms / 1000,
                 c->seq, c->route, c->topic);
    if (n < 0 || (size_t)n >= sizeof(claim) || sign_hmac(key, keylen, claim, (size_t)n, mac) < 0) {
        errno = EINVAL;
        return -1;
    }
    a = sign_base64(claim, (size_t)n, true, out, outlen);
    if (a < 0 || (size_t)a + 2 > outlen)
        goto nospace;
    out[a] = '.';
    b = sign_base64(mac, sizeof(mac), true, out + a + 1, outlen - (size_t)a - 1);
    if (b < 0)
        goto nospace;
    return a + 1 + b;
nospace:
    errno = ENOSPC;
    return -1;
}

/* Split the next LF-terminated field off *p (the last one runs to the end). */
static char *next_field(char **p, int last)
{
    char *s = *p, *lf;

    if (s == NULL)
        return NULL;
    lf = strchr(s, '\n');
    if (last) {
        if (lf != NULL)
            return NULL;
        *p = NULL;
        return s;
    }
    if (lf == NULL)
        return NULL;
    *lf = '\0';
    *p = lf + 1;
    return s;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

int token_check(const void *key, size_t keylen, const char *token, int64_t now_ms,
                struct token_claim *c)
{
    char claim[CLAIM_MAX + 1];
    unsigned char mac[SIGN_MAC_LEN], want[SIGN_MAC_LEN];
    const char *dot;
    char *p, *ver, *exp, *seq, *route, *topic;
    int n;
    uint64_t exp_s;

    memset(c, 0, sizeof(*c));
    if (token == NULL || strlen(token) >= TOKEN_MAX || (dot = strchr(token, '.')) == NULL)
        return -1;
    n = sign_unbase64(token, (size_t)(dot - token), claim, sizeof(claim) - 1);
    if (n <= 0 || sign_unbase64(dot + 1, strlen(dot + 1), mac, sizeof(mac)) != SIGN_MAC_LEN)
        return -1;
    if (sign_hmac(key, keylen, claim, (size_t)n, want) < 0 || !sign_equal(mac, want, sizeof(mac)))
        return -1;
    claim[n] = '\0';
    if (memchr(claim, '\0', (size_t)n) != NULL)
        return -1;
    p = claim;
    ver = next_field(&p, 0);
    exp = next_field(&p, 0);
    seq = next_field(&p, 0);
    route = next_field(&p, 0);
    topic = next_field(&p, 1);
    if (ver == NULL || exp == NULL || seq == NULL || route == NULL || topic == NULL ||
        strcmp(ver, "1") != 0 || parse_u64(exp, &exp_s) < 0 || exp_s > INT64_MAX / 1000 ||
        parse_u64(seq, &c->seq) < 0 || !field_ok(route, TOKEN_ROUTE_MAX) ||
        !field_ok(topic, TOKEN_TOPIC_MAX)) {
        memset(c, 0, sizeof(*c));
        return -1;
    }
    snprintf(c->route, sizeof(c->route), "%s", route);
    snprintf(c->topic, sizeof(c->topic), "%s", topic);
    c->expires_ms = (int64_t)exp_s * 1000;
    return now_ms < c->expires_ms ? 0 : -2;
}
