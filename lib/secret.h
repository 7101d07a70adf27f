/*
 * secret: reading a token from its file (an InfluxDB API token today), for
 * every program that sends one: the gateway's InfluxDB writer and
 * shelter-report.  One set of rules, so a token file that one program takes
 * another does not refuse.  Pure apart from the read; any thread.
 */
#ifndef GW_SECRET_H
#define GW_SECRET_H

#include <stddef.h>

/* Read the token in path into token (size bytes, NUL included): trailing
 * blanks and newlines are dropped; the rest must be non-empty, shorter than
 * size and free of control characters (it goes into an HTTP header).  0, or
 * -1 with errno: EINVAL (not a token) or the error of open/read.  The caller
 * wipes token (explicit_bzero) when done and never logs it. */
int secret_read_token(const char *path, char *token, size_t size);

#endif
