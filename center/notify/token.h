/*
 * token: the signed claim an ack link carries (docs/design.md section 22):
 * which alarm (its topic and the seq of the raise), which route's people may
 * acknowledge it (the ack's `by` is the route's name), and until when.
 *
 *   token = base64url(claim) "." base64url(HMAC-SHA256(key, claim))
 *   claim = "1" LF expires_s LF seq LF route LF topic
 *
 * Nothing in the token is secret; it cannot be forged or altered without the
 * key (token_key_file), and it expires.  Pure: the caller passes the time.
 * Any thread.
 */
#ifndef NOTIFY_TOKEN_H
#define NOTIFY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_TOPIC_MAX 512 /* bytes of the alarm topic, NUL included */
#define TOKEN_ROUTE_MAX 64  /* bytes of the route name, NUL included */
#define TOKEN_MAX 1200      /* bytes of a token, NUL included */
#define TOKEN_KEY_MIN 16    /* bytes of key at least */

struct token_claim {
    char topic[TOKEN_TOPIC_MAX];
    char route[TOKEN_ROUTE_MAX];
    uint64_t seq;
    int64_t expires_ms; /* wall clock; kept to the second */
};

/* The token of c into out.  Returns its length, or -1 (EINVAL: a field
 * holds a line feed, is empty or too long; ENOSPC: out too small). */
int token_make(const void *key, size_t keylen, const struct token_claim *c, char *out,
               size_t outlen);

/* Check a token from a link: 0 and *c when it is genuine and not expired at
 * now_ms; -1 when it is malformed or its signature is wrong; -2 when it is
 * genuine but expired (*c filled, so the page can say what it was for). */
int token_check(const void *key, size_t keylen, const char *token, int64_t now_ms,
                struct token_claim *c);

#endif
