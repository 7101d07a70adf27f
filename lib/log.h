/*
 * log: one line per event on stderr, in the OpenBSD daemon style.
 *
 * Under systemd (JOURNAL_STREAM set) each line carries a "<N>" syslog
 * priority prefix so journald files it at the right level; otherwise a
 * plain "level: " prefix.  Each line is written with a single write(2), so
 * any thread may log without interleaving.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Set the most verbose level printed (default info) and detect journald. */
void log_init(int verbose);
int log_debug_enabled(void);

void log_warn(const char *fmt, ...)
    __attribute__((format(printf, 1, 2))); /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2))); /* error level, no errno */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_at(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
