/*
 * uplink: see uplink.h.  One small state per output; the caller commits the
 * alarm transitions uplink_due() returns and stores the raised flag with
 * them, so a restart continues where it stopped.
 */
#include "uplink.h"

#include <stdio.h>
#include <string.h>

static void set_why(struct uplink_watch *w, const char *why)
{
    snprintf(w->why, sizeof(w->why), "%s", why != NULL ? why : "");
}

void uplink_init(struct uplink_watch *w, bool raised, int64_t now_ms, const char *why)
{
    memset(w, 0, sizeof(*w));
    w->raised = raised;
    w->state = UPLINK_DOWN;
    w->since_ms = now_ms;
    set_why(w, why);
}

void uplink_working(struct uplink_watch *w)
{
    w->state = UPLINK_WORKING;
    w->why[0] = '\0';
}

void uplink_down(struct uplink_watch *w, int64_t now_ms, const char *why)
{
    if (w->state == UPLINK_WORKING) {
        w->since_ms = now_ms;
        w->state = UPLINK_DOWN;
    }
    /* A failure that needs fixing stays one until the output works. */
    if (w->state == UPLINK_DOWN)
        set_why(w, why);
}

void uplink_failing(struct uplink_watch *w, int64_t now_ms, const char *why)
{
    if (w->state == UPLINK_WORKING)
        w->since_ms = now_ms;
    w->state = UPLINK_FAILING;
    set_why(w, why);
}

int uplink_due(struct uplink_watch *w, int64_t now_ms, int64_t grace_ms, char *buf, size_t len)
{
    if (w->state == UPLINK_WORKING) {
        if (!w->raised)
            return -1;
        w->raised = false;
        return 0;
    }
    if (w->raised || (w->state == UPLINK_DOWN && now_ms - w->since_ms < grace_ms))
        return -1;
    w->raised = true;
    if (w->state == UPLINK_DOWN)
        snprintf(buf, len, "not working for %lld s: %s", (long long)(now_ms - w->since_ms) / 1000,
                 w->why);
    else
        snprintf(buf, len, "%s", w->why);
    return 1;
}

int64_t uplink_next_ms(const struct uplink_watch *w, int64_t now_ms, int64_t grace_ms,
                       int64_t cap_ms)
{
    int64_t left = cap_ms;

    if (w->state == UPLINK_WORKING)
        left = w->raised ? 0 : cap_ms;
    else if (!w->raised)
        left = w->state == UPLINK_FAILING ? 0 : w->since_ms + grace_ms - now_ms;
    if (left < 0)
        left = 0;
    return left < cap_ms ? left : cap_ms;
}
