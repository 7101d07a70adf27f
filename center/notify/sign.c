/*
 * sign: see sign.h.  HMAC from libcrypto's one-shot HMAC(); base64 and URL
 * encoding are a few lines each and need no allocation.
 */
#include "sign.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int sign_hmac(const void *key, size_t keylen, const void *data, size_t len,
              unsigned char mac[SIGN_MAC_LEN])
{
    unsigned int maclen = 0;

    if (keylen > 1 << 20 || HMAC(EVP_sha256(), key, (int)keylen, data, len, mac, &maclen) == NULL ||
        maclen != SIGN_MAC_LEN) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sign_base64(const void *in, size_t len, bool url, char *out, size_t outlen)
{
    const unsigned char *p = in;
    const char *abc = url ? b64_url : b64_std;
    size_t o = 0;

    if (outlen < 4 * ((len + 2) / 3) + 1)
        return -1;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        size_t n = len - i < 3 ? len - i : 3;
        if (n > 1)
            v |= (unsigned)p[i + 1] << 8;
        if (n > 2)
            v |= p[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (n > 1)
            out[o++] = abc[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (n > 2)
            out[o++] = abc[v & 63];
        else if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int sign_unbase64(const char *in, size_t inlen, void *out, size_t outlen)
{
    unsigned char *q = out;
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;

    while (inlen > 0 && in[inlen - 1] == '=')
        inlen--;
    if (inlen % 4 == 1)
        return -1;
    for (size_t i = 0; i < inlen; i++) {
        int d = b64_value(in[i]);
        if (d < 0)
            return -1;
        v = (v << 6 | (unsigned)d) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outlen)
                return -1;
            q[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    /* The bits left over must be zero (one encoding per byte string). */
    if (bits > 0 && (v & ((1u << bits) - 1)) != 0)
        return -1;
    return (int)o;
}

bool sign_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int sign_urlencode(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        if (o + (keep ? 1 : 3) >= outlen)
            return -1;
        if (keep) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return (int)o;
}
