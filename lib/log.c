/*
 * log: see log.h.  The whole line is formatted into a stack buffer and
 * written once, which keeps lines from different threads whole.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int max_level = LOG_LVL_INFO;
static int journal;

void log_init(int verbose)
{
    max_level = verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO;
    journal = getenv("JOURNAL_STREAM") != NULL;
}

int log_debug_enabled(void)
{
    return max_level >= LOG_LVL_DEBUG;
}

static void vlog(enum log_level lvl, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vlog(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
    static const char *names[8] = {"emerg",   "alert",  "crit", "error",
                                   "warning", "notice", "info", "debug"};
    char line[1024];
    int n;

    if ((int)lvl > max_level)
        return;
    if (journal)
        n = snprintf(line, sizeof(line), "<%d>", (int)lvl);
    else
        n = snprintf(line, sizeof(line), "%s: ", names[lvl]);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (n >= (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    if (errnum)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* A failed write to stderr has nowhere to be reported. */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

#define DEFINE_LOG(fn, lvl, with_errno)                                                            \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        int saved = errno;                                                                         \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(lvl, with_errno ? saved : 0, fmt, ap);                                                \
        va_end(ap);                                                                                \
        errno = saved;                                                                             \
    }

DEFINE_LOG(log_warn, LOG_LVL_WARN, 1)
DEFINE_LOG(log_warnx, LOG_LVL_WARN, 0)
DEFINE_LOG(log_err, LOG_LVL_ERR, 0)
DEFINE_LOG(log_info, LOG_LVL_INFO, 0)
DEFINE_LOG(log_debug, LOG_LVL_DEBUG, 0)

void log_at(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, 0, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_ERR, saved, fmt, ap);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_ERR, 0, fmt, ap);
    va_end(ap);
    exit(1);
}
