/*
 * dispatch: shelter-notify's core (docs/design.md section 22): from the
 * gateways' messages to the notices each channel must deliver, and from the
 * queue to the channels' requests.  It owns the rules; the store (store.h)
 * owns what must survive a crash.
 *
 * Intake.  A message comes on one of three paths:
 *   LIVE      a live message this instance notifies for (the only
 *             subscription, or its share of the shared one);
 *   TRACK     a live message of the tracking subscription (with
 *             share_group): it updates the state (an ack or a clear stops
 *             an escalation this instance runs), and notifies nothing;
 *   RETAINED  a retained message sent when (re)subscribing: the state; on
 *             the first start an active alarm goes into the summary of
 *             alarms already active, later a transition not seen before
 *             (missed while away) is notified like a live one.
 * For each alarm transition: the routes whose subtree holds its gateway,
 * whose events hold its event and whose min_severity it meets, get one
 * notice per channel; a route in an alarm flood (more than `flood` raised
 * alarms in its window) gets them as summary-only notices; a raise on a
 * route with escalate_to starts an escalation timer.  A gateway whose
 * status says offline gets an offline check after offline_after, and an
 * online notice when it comes back after one.  All of a message's effects
 * are one transaction (store.c N1).
 *
 * Sending.  dispatch_next_request() gives the next request of a channel
 * that may send now (sender.h decides alone or summary); the caller posts
 * it and hands the answer to dispatch_answer().
 *
 * Main thread only.  Logs (it knows the channel and route names); never
 * logs a URL or a secret.
 */
#ifndef NOTIFY_DISPATCH_H
#define NOTIFY_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ackweb.h"
#include "ncfg.h"
#include "store.h"
#include "token.h"

enum dispatch_via { DISPATCH_LIVE, DISPATCH_TRACK, DISPATCH_RETAINED };

struct dispatch;

struct dispatch_stats {
    uint64_t messages, duplicates, refused, notices, requests, delivered, failed, escalations,
        offline, online;
};

/* A request to post.  url and body are malloc'd; url holds secrets. */
struct dispatch_request {
    uint64_t id;
    int channel;
    char *url;
    char *body;
    size_t len;
    int64_t *ids; /* the notices it carries */
    int nids;
    bool summary;
    long timeout_ms;
};

/* fresh: the store was made new (its first start: what is active goes into
 * a summary).  NULL with err. */
struct dispatch *dispatch_new(const struct ncfg *cfg, struct store *st, bool fresh, int64_t now,
                              char *err, size_t errlen);
void dispatch_free(struct dispatch *d); /* NULL is a no-op */

/* A message as received; published_ms: when the broker published it, if
 * the message says (a gateway's will, by its expiry interval:
 * gwmsg_status_published_ms()), else 0.  0: done (committed, a duplicate,
 * or not ours): release it to the broker; -1: the store failed: keep it,
 * try again later (it is logged). */
int dispatch_message(struct dispatch *d, const char *topic, const void *payload, size_t len,
                     enum dispatch_via via, int64_t published_ms, int64_t now);

/* The retained messages after a subscribe have all come: the first start
 * is over. */
int dispatch_retained_done(struct dispatch *d, int64_t now);

/* Timers that are due: escalations, offline checks, housekeeping.  0 or -1
 * (the store failed: retried on the next tick). */
int dispatch_tick(struct dispatch *d, int64_t now);

/* The next request of a channel that may send at now: 1 and *r (free it
 * with dispatch_request_free after dispatch_answer), 0 when none may. */
int dispatch_next_request(struct dispatch *d, int64_t now, struct dispatch_request *r);

/* The answer to r (status 0: none; error: why).  The notices it carried are
 * done when the channel delivered them, else they stay queued. */
void dispatch_answer(struct dispatch *d, const struct dispatch_request *r, long status,
                     const char *body, size_t len, const char *error, int64_t now);
void dispatch_request_free(struct dispatch_request *r);

/* When something is due next (a timer, a channel): wall-clock ms, or
 * INT64_MAX. */
int64_t dispatch_next_due(struct dispatch *d, int64_t now);

/* Notices waiting, over all channels (-1 on error). */
int64_t dispatch_pending(struct dispatch *d);

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *st);

/* ---- the ack pages ---- */

/* What the page shows for claim: fills v; its strings live in d until the
 * next call. */
void dispatch_ack_view(struct dispatch *d, const struct token_claim *claim, struct ackweb_view *v);

/* The cmd/ack for claim: *topic and *payload malloc'd (caller frees).  0, or
 * -1 with a printable reason. */
int dispatch_ack_command(struct dispatch *d, const struct token_claim *claim, int64_t now,
                         char **topic, char **payload, char *why, size_t whylen);

/* --send-test: a request with a test message for channel (index), built
 * from the configuration alone (nothing is stored).  0, or -1 (ENOMEM). */
int dispatch_test_request(const struct ncfg *cfg, int channel, int64_t now,
                          struct dispatch_request *r);

#endif
