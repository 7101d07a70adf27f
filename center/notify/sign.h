/*
 * sign: HMAC-SHA256 and base64 (standard and URL-safe) for shelter-notify:
 * DingTalk's per-request URL signature and the ack pages' tokens.  On
 * OpenSSL's libcrypto.  Pure; any thread.
 */
#ifndef NOTIFY_SIGN_H
#define NOTIFY_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#define SIGN_MAC_LEN 32 /* HMAC-SHA256 */

/* mac = HMAC-SHA256(key, data).  0, or -1 (EINVAL). */
int sign_hmac(const void *key, size_t keylen, const void *data, size_t len,
              unsigned char mac[SIGN_MAC_LEN]);

/* Base64 of len bytes into out (NUL-terminated): standard alphabet with
 * padding, or URL-safe ('-', '_') without.  Returns the length, or -1 when
 * out is too small (outlen needs 4 * ((len + 2) / 3) + 1). */
int sign_base64(const void *in, size_t len, bool url, char *out, size_t outlen);

/* Decode base64 (either alphabet, padding optional, no whitespace) into out.
 * Returns the number of bytes, or -1 when in is not base64 or out too small. */
int sign_unbase64(const char *in, size_t inlen, void *out, size_t outlen);

/* Equal in constant time (for MACs). */
bool sign_equal(const void *a, const void *b, size_t len);

/* Percent-encode s for a URL query value (RFC 3986 unreserved kept).
 * Returns the length, or -1 when out is too small. */
int sign_urlencode(const char *s, char *out, size_t outlen);

#endif
