/*
 * textbuf: append formatted text to a fixed buffer with snprintf semantics
 * (the would-be length keeps counting past the end), and cut a truncated
 * result at a UTF-8 character boundary, never in the middle of a Chinese
 * character.  Also the one test of "printable text" for what comes from
 * outside (payloads, topics) and goes to a log, a terminal or a reply.
 * Pure; any thread.
 */
#ifndef GW_TEXTBUF_H
#define GW_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
    char *p;
    size_t len;
    size_t n; /* would-be length */
};

/* Append like snprintf; a full buffer keeps counting in n. */
void tb_put(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finish: if truncated, drop a partial UTF-8 character at the end.  Returns
 * the would-be length (as snprintf), or -1 when it does not fit an int. */
int tb_finish(struct textbuf *b);

/* True when s is printable UTF-8: well-formed (shortest form, no surrogate,
 * at most U+10FFFF) and free of control characters (C0, DEL and C1, whose
 * ESC and CSI drive terminals, and whose newline forges log lines). */
bool tb_is_printable(const char *s);

/* True when the len bytes at s are well-formed UTF-8 (control characters
 * and NUL allowed): what a configuration line must be. */
bool tb_is_utf8(const char *s, size_t len);

/* Make s printable in place: every byte that does not start a printable
 * UTF-8 character becomes '?'.  The length is unchanged.  Returns s. */
char *tb_make_printable(char *s);

#endif
