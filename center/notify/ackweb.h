/*
 * ackweb: the ack pages (docs/design.md section 22.7).  A raised alarm's
 * message carries a link {ack_url}?t=TOKEN (token.h); this small HTTP
 * server, on libmicrohttpd driven from shelter-notify's poll() loop, shows
 * the alarm on a phone (Chinese by default) with one button that
 * acknowledges it through the gateway's cmd/ack, `by` the route's name.
 *
 *   GET  {path}?t=TOKEN   the alarm, its state now, the button
 *   POST {path}  t=TOKEN  acknowledge; answered 303 to the GET, which then
 *                         follows the gateway's answer (refreshing itself)
 *
 * A token that is forged, altered or expired gets a page that says so and
 * no button.  Pages hold no script and load nothing from elsewhere; they
 * are never cached and never leak the token as a referrer.
 *
 * Main thread only: ackweb_run() calls the hooks from it.
 */
#ifndef NOTIFY_ACKWEB_H
#define NOTIFY_ACKWEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mode.h"
#include "token.h"

/* What the page shows of an alarm; strings belong to the hook's caller and
 * stay valid until ackweb_run() returns.  NULL strings are absent. */
struct ackweb_view {
    bool found; /* the alarm topic is known */
    bool active, acked;
    bool newer; /* the alarm was cleared and raised again since the link was sent */
    const char *severity, *what, *site_name, *location, *detail, *time_text, *by;
    bool water;
    const char *route_display; /* who acknowledges: the route's display name */
};

struct ackweb_hooks {
    /* The alarm's state now, for the claim. */
    void (*lookup)(void *ctx, const struct token_claim *c, struct ackweb_view *v);
    /* Send cmd/ack for the claim: 0 when handed to the broker, -1 with a
     * printable reason in why. */
    int (*ack)(void *ctx, const struct token_claim *c, char *why, size_t whylen);
    void *ctx;
};

struct ackweb;

/* Listen on listen ("127.0.0.1:8088", "[::1]:8088") and serve path ("/ack").
 * key: the token key (the struct keeps a copy).  NULL with err. */
struct ackweb *ackweb_new(const char *listen, const char *path, const void *key, size_t keylen,
                          enum gw_lang lang, const struct ackweb_hooks *hooks, char *err,
                          size_t errlen);
void ackweb_free(struct ackweb *w); /* NULL is a no-op */

/* The descriptor to poll for POLLIN, and how long poll() may wait (ms, -1:
 * no limit from us). */
int ackweb_fd(const struct ackweb *w);
int ackweb_timeout_ms(const struct ackweb *w);

/* Serve what is ready; now_ms is the wall clock (token expiry). */
void ackweb_run(struct ackweb *w, int64_t now_ms);

/* The page for a token's state, for tests and ackweb itself: how = 0 the
 * alarm, 1 a bad token, 2 an expired one, 3 the ack was just sent.  Returns
 * the length (snprintf style), or -1. */
enum ackweb_page { ACKWEB_ALARM, ACKWEB_BAD_TOKEN, ACKWEB_EXPIRED, ACKWEB_SENT };
int ackweb_render(enum ackweb_page how, const struct ackweb_view *v, const char *token,
                  const char *note, enum gw_lang lang, char *buf, size_t len);

#endif
