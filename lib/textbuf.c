/* textbuf: see textbuf.h. */
#include "textbuf.h"

#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

void tb_put(struct textbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k =
        vsnprintf(b->n < b->len ? b->p + b->n : NULL, b->n < b->len ? b->len - b->n : 0, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n += (size_t)k;
}

int tb_finish(struct textbuf *b)
{
    if (b->len > 0 && b->n >= b->len) {
        /* Truncated to len - 1 bytes: find the last lead byte and drop its
         * character if it does not end within the buffer. */
        size_t end = b->len - 1, lead = end;
        while (lead > 0 && ((unsigned char)b->p[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0) {
            unsigned char c = (unsigned char)b->p[lead - 1];
            size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (lead - 1 + need > end)
                b->p[lead - 1] = '\0';
        }
    }
    return b->n > (size_t)INT_MAX ? -1 : (int)b->n;
}

/* Length of the well-formed UTF-8 character at s (at most avail bytes:
 * shortest form, no surrogate, at most U+10FFFF) and its code point, or 0
 * when s does not start one. */
static size_t utf8_char(const unsigned char *s, size_t avail, uint32_t *cp_out)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp, min;

    if (c < 0x80) {
        *cp_out = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1Fu, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0Fu, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at a NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    *cp_out = cp;
    return n;
}

/* Length of the printable UTF-8 character at s, or 0 when s does not start
 * one (a control character, a stray or overlong byte sequence). */
static size_t printable_char(const unsigned char *s)
{
    uint32_t cp;
    size_t n = utf8_char(s, 4, &cp);

    if (n == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
        return 0;
    return n;
}

bool tb_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    while (len > 0) {
        size_t n = utf8_char(p, len, &cp);
        if (n == 0)
            return false;
        p += n;
        len -= n;
    }
    return true;
}

bool tb_is_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t n = printable_char(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

char *tb_make_printable(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p != '\0') {
        size_t n = printable_char(p);
        if (n == 0) {
            *p++ = '?';
        } else {
            p += n;
        }
    }
    return s;
}
