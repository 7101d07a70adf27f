/* textbuf: see textbuf.h. */
#include "textbuf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

void tb_put(struct textbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->n < b->len ? b->p + b->n : NULL, b->n < b->len ? b->len - b->n : 0, fmt,
                      ap);
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
