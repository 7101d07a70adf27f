/*
 * textbuf: append formatted text to a fixed buffer with snprintf semantics
 * (the would-be length keeps counting past the end), and cut a truncated
 * result at a UTF-8 character boundary, never in the middle of a Chinese
 * character.  Pure; any thread.
 */
#ifndef GW_TEXTBUF_H
#define GW_TEXTBUF_H

#include <stddef.h>

struct textbuf {
    char *p;
    size_t len;
    size_t n;   /* would-be length */
};

/* Append like snprintf; a full buffer keeps counting in n. */
void tb_put(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finish: if truncated, drop a partial UTF-8 character at the end.  Returns
 * the would-be length (as snprintf), or -1 when it does not fit an int. */
int tb_finish(struct textbuf *b);

#endif
