/*
 * poller: the poller thread of one bus.  See poller.h.
 *
 * Scheduling: every request on the bus has its own next_due_ms; the thread
 * serves the due request of an urgent kind (smoke, leak, door) first, else
 * the earliest due, then sleeps until the next one (waking at once on stop).
 * So on a saturated line the urgent kinds keep their intervals and the
 * others stretch.  First polls are staggered over the interval so a bus
 * does not burst at start.  A request whose sensors are lost is tried every
 * POLLER_LOST_RETRY_MS without retries, so a dead unit costs the others one
 * response timeout per 7 s (under 10 % of the line) and its return is still
 * seen within 10 s.
 *
 * Cost per poll (issue 11): a request due within BURST_SLACK_MS (at most a
 * tenth of its interval) is served with the one due now, so the thread
 * wakes once per burst, not once per poll; on TCP the burst's results wake
 * the main thread once at its end (or every BURST_HELD_MAX).  A request
 * served early keeps its schedule: the next is due an interval after the
 * last due time, not after the poll.
 *
 * The line (docs/design.md section 8.1): before each request the thread
 * keeps the request's gap (default t3.5 of the line, lib/rtutime.h)
 * counted from the end of the last transaction, not from when it is done
 * with the result, so the gap costs the line nothing beyond the silence it
 * needs.  After a timeout on RTU it drains a late answer for as long as the
 * line needs to carry one (the answer's frame and t3.5), not a fixed time;
 * on TCP mbtcp.c drops a late answer by its transaction id.
 *
 * Errors: a timeout or a garbled frame (bad CRC, bad data, an answer from
 * another unit) is that unit's failure: flush and go on, the bus stays up.
 * A Modbus exception is the unit's failure too (the device answered, but
 * not with data).  A request that cannot even be made (libmodbus refuses
 * its unit id) is that request's failure alone: nothing went on the wire,
 * so it says nothing about the link.  Anything else (connection reset,
 * device gone) closes the link; it is reopened with capped exponential
 * backoff.  MODBUS_ERROR_RECOVERY_LINK is never used: it can loop forever
 * on a dead device.
 *
 * Transports: RTU reads go through libmodbus, which checks that the answer
 * comes from the unit asked.  Modbus TCP reads go through mbtcp.c on
 * libmodbus's connection, because libmodbus 3.1.6 does not check the unit
 * id of a TCP answer (behind a TCP/RTU converter another unit's answer
 * passed as good data).
 */
#include "poller.h"

#include <errno.h>
#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/select.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "gwerr.h"
#include "log.h"
#include "mbtcp.h"
#include "plan.h"
#include "relay.h"
#include "rtutime.h"
#include "busload.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define LATE_REPLY_MS 150       /* the longest drain of a late answer after a timeout */
#define OVERBOOK_SETTLE_MS 2000 /* measuring an overbooked line: after the staggered start */
#define OVERBOOK_WINDOW_MS 5000 /* ... for at least this long */
#define OVERBOOK_WINDOW_MAX_MS 60000
#define BURST_SLACK_MS 50 /* a request due this soon is served now, with the others due */
#define BURST_HELD_MAX 16 /* results held back from the main thread in a burst, at most */

struct sched {
    int request; /* index into plan->requests */
    int64_t next_due_ms;
    int failures; /* consecutive failed polls */
    enum link_state link;
    int done;              /* once mode: polled */
    bool urgent;           /* an urgent kind among its members: served first */
    int64_t gap_ns;        /* silence before its request (busload_gap_us) */
    int64_t drain_ns;      /* RTU: how long the line needs to carry its late answer */
    uint32_t window_polls; /* polls in the overbooked measurement window */
    char names[128];       /* member sensor names, for log lines */
};

struct poller {
    const struct cfg *cfg;
    const struct cfg_bus *conf;
    const struct plan *plan;
    struct rqueue *q;
    int once;

    pthread_t thread;
    int started;
    atomic_int stop;
    pthread_mutex_t lock; /* only for the stop-aware sleep */
    pthread_cond_t wake;

    modbus_t *ctx;
    int64_t line_quiet_ns; /* when the last transaction ended (0: none yet) */
    int64_t last_gap_ns;   /* the gap of that transaction's request */
    struct busload load;   /* what the plan asks of the line */
    int held;              /* results pushed without waking the main thread (a burst) */
    int64_t stall_limit_ms;
    int64_t window_start_ms, window_end_ms; /* overbooked: the measurement (0: not yet) */
    bool overbook_logged;
    int connected;
    int link_failures; /* failed connects and link errors since the link last worked */
    int silent_polls;  /* polls in a row that timed out, any unit (TCP half-open) */
    int outage_logged; /* the link outage's one warning has been written */
    int64_t reconnect_at_ms;
    int backoff_ms;
    int last_connect_err;
    uint16_t tcp_tid; /* TCP: the last transaction id sent (mbtcp) */

    struct sched *sched;
    int nsched;
    struct poll_result *result; /* the poll in progress (copied into the queue) */

    atomic_llong heartbeat_ms;
    atomic_ullong polls, poll_failures;

    struct relay *relay;    /* the bus's output modules (relay.h), NULL: none */
    atomic_int kicked;      /* the main thread wants an output switched: stop idling */
    struct sched out_sched; /* the outputs' transactions: the bus's gap and drain */
};

static int64_t stall_limit(const struct poller *b);

static const char *ordinal(int n)
{
    return n == 1 ? "st" : n == 2 ? "nd" : n == 3 ? "rd" : "th";
}

/* Sleep until the monotonic deadline (ns) or a stop request, whichever first. */
static void sleep_until_ns(struct poller *b, int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
                          .tv_nsec = (long)(deadline_ns % 1000000000)};
    pthread_mutex_lock(&b->lock);
    while (!atomic_load(&b->stop) && mono_ns() < deadline_ns) {
        if (pthread_cond_timedwait(&b->wake, &b->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&b->lock);
}

static void sleep_until(struct poller *b, int64_t deadline_ms)
{
    sleep_until_ns(b, deadline_ms * 1000000);
}

/* Keep the line silent for the gap before a request to s: counted from the
 * end of the last transaction, the longer of its gap and s's (a slow unit
 * needs its silence before and after its own frames). */
static void keep_gap(struct poller *b, const struct sched *s)
{
    int64_t gap = s->gap_ns > b->last_gap_ns ? s->gap_ns : b->last_gap_ns;
    if (gap > 0 && b->line_quiet_ns > 0)
        sleep_until_ns(b, b->line_quiet_ns + gap);
}

static void transaction_ended(struct poller *b, const struct sched *s)
{
    b->line_quiet_ns = mono_ns();
    b->last_gap_ns = s->gap_ns;
}

static void bus_describe(const struct cfg_bus *c, char *buf, size_t len)
{
    if (c->type == BUS_TCP)
        snprintf(buf, len, "%s:%d", c->host, c->port);
    else
        snprintf(buf, len, "%s %d %c%d%d", c->device, c->baud, c->parity, c->data_bits,
                 c->stop_bits);
}

static void schedule_reconnect(struct poller *b)
{
    b->reconnect_at_ms = mono_ms() + b->backoff_ms;
    b->backoff_ms = b->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->backoff_ms * 2;
}

/* The link: one warning when an outage starts (a failed connect or a link
 * error) and one line when a poll succeeds again.  The backoff resets only
 * on a successful read, so a peer that accepts and closes at once (a Modbus
 * gateway still holding a stale session) is retried ever more slowly, not
 * every second with two log lines each time. */
static int link_connect(struct poller *b)
{
    char where[CFG_TEXT_MAX + 32];

    bus_describe(b->conf, where, sizeof(where));
    if (modbus_connect(b->ctx) == -1)
        goto failed;
    if (modbus_get_socket(b->ctx) >= FD_SETSIZE) {
        /* libmodbus waits with select(): a descriptor past FD_SETSIZE would corrupt memory. */
        modbus_close(b->ctx);
        errno = EMFILE;
        goto failed;
    }
    if (!b->outage_logged)
        log_info("bus %s: connected to %s", b->conf->name, where);
    else
        log_debug("bus %s: reconnected to %s", b->conf->name, where);
    b->connected = 1;
    b->last_connect_err = 0;
    return 0;
failed:
    b->last_connect_err = errno;
    b->link_failures++;
    if (!b->outage_logged) {
        b->outage_logged = 1;
        log_warnx("bus %s: connect %s: %s (retrying with backoff, logged again when it works)",
                  b->conf->name, where, gw_strerror(b->last_connect_err));
    } else {
        log_debug("bus %s: connect %s: %s (attempt %d)", b->conf->name, where,
                  gw_strerror(b->last_connect_err), b->link_failures);
    }
    schedule_reconnect(b);
    return -1;
}

static void link_drop(struct poller *b, int err)
{
    b->link_failures++;
    if (!b->outage_logged) {
        b->outage_logged = 1;
        log_warnx("bus %s: link error: %s (reconnecting with backoff, logged again when it works)",
                  b->conf->name, gw_strerror(err));
    } else {
        log_debug("bus %s: link error: %s (attempt %d)", b->conf->name, gw_strerror(err),
                  b->link_failures);
    }
    modbus_close(b->ctx);
    b->connected = 0;
    schedule_reconnect(b);
}

/* A read succeeded: the link works. */
static void link_working(struct poller *b)
{
    if (b->outage_logged) {
        char where[CFG_TEXT_MAX + 32];
        bus_describe(b->conf, where, sizeof(where));
        log_info("bus %s: connected to %s after %d failed attempt%s", b->conf->name, where,
                 b->link_failures, b->link_failures == 1 ? "" : "s");
        b->outage_logged = 0;
    }
    b->link_failures = 0;
    b->backoff_ms = BACKOFF_MIN_MS;
    b->silent_polls = 0;
}

/* After a timeout or a garbled frame on RTU a late or partial answer may
 * still be on its way; left alone it would be read as the NEXT unit's
 * answer and fail a healthy neighbour (or a retry would take it for its
 * own, one answer behind).  modbus_flush() only drops what has already
 * arrived, so first keep reading and discarding.  How long: a unit not (yet)
 * lost may be a slow one whose answer is on its way, so up to LATE_REPLY_MS;
 * a lost unit has been silent three polls in a row, so only as long as the
 * line needs to carry its answer (s->drain_ns: its frame and t3.5), which
 * is all it costs its neighbours beyond the timeout.  Bytes that come end
 * the drain once the line needs no more for them (t3.5 of silence after a
 * frame's time).  On TCP mbtcp.c reads whole frames and drops a late one by
 * its transaction id: nothing to wait for. */
static void drain_late_reply(struct poller *b, const struct sched *s)
{
    int fd = modbus_get_socket(b->ctx);
    int64_t now = mono_ns();
    int64_t cap =
        now + (int64_t)(b->conf->timeout_ms < LATE_REPLY_MS ? b->conf->timeout_ms : LATE_REPLY_MS) *
                  1000000;
    int64_t end = s->link == LINK_LOST ? now + s->drain_ns : cap;
    char junk[256];

    if (b->conf->type != BUS_RTU)
        return;
    for (int64_t left; fd >= 0 && (left = (end < cap ? end : cap) - mono_ns()) > 0;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = (long)(left % 1000000000)};
        if (ppoll(&pfd, 1, &ts, NULL) <= 0 || read(fd, junk, sizeof(junk)) <= 0)
            break;
        /* bytes: the frame goes on until the line falls silent */
        end = mono_ns() + s->drain_ns;
    }
}

/* Errors that concern one unit's answer, not the link. */
static int unit_error(int e)
{
    return e == ETIMEDOUT || e == EMBBADCRC || e == EMBBADDATA || e == EMBMDATA ||
           e == EMBBADSLAVE || e == EMBBADEXC || e == EMBUNKEXC || e == EGW_SHORT ||
           (e >= MODBUS_ENOBASE && e <= EMBXGTAR); /* exceptions, code 0 included */
}

/* One read of rq into res.  0; -1 with errno when the transaction failed
 * (unit_error() tells whose failure); -2 with errno when the request could
 * not be made at all (libmodbus refuses its unit id): nothing was sent, it
 * is that request's failure and says nothing of the link. */
static int do_read(struct poller *b, const struct plan_request *rq, struct poll_result *res)
{
    int n;

    if (rq->fn < MB_FN_COILS || rq->fn > MB_FN_INPUT || rq->unit < 0 || rq->unit > 255) {
        errno = EINVAL;
        return -2;
    }
    if (b->conf->type == BUS_TCP)
        return mbtcp_read(modbus_get_socket(b->ctx), &b->tcp_tid, (uint8_t)rq->unit, (int)rq->fn,
                          (uint16_t)rq->start, (uint16_t)rq->count, b->conf->timeout_ms,
                          res->data.regs, res->data.bits);
    if (modbus_set_slave(b->ctx, rq->unit) == -1)
        return -2;
    switch (rq->fn) {
    case MB_FN_COILS:
        n = modbus_read_bits(b->ctx, rq->start, rq->count, res->data.bits);
        break;
    case MB_FN_DISCRETE:
        n = modbus_read_input_bits(b->ctx, rq->start, rq->count, res->data.bits);
        break;
    case MB_FN_HOLDING:
        n = modbus_read_registers(b->ctx, rq->start, rq->count, res->data.regs);
        break;
    case MB_FN_INPUT:
        n = modbus_read_input_registers(b->ctx, rq->start, rq->count, res->data.regs);
        break;
    default:
        errno = EINVAL;
        return -2;
    }
    if (n == -1)
        return -1;
    if (n != rq->count) {
        errno = EGW_SHORT;
        return -1;
    }
    return 0;
}

/* Log a request's link-state change: an outage (the sensor lost) is one
 * warning when it starts and one when it ends.  A failure or two that heals
 * before the sensor is lost is debug detail; the failed-poll counter shows it. */
static void log_link_change(struct poller *b, const struct sched *s, const struct plan_request *rq,
                            enum link_state before, int err)
{
    if (s->link == LINK_LOST && before != LINK_LOST)
        log_warnx("bus %s unit %d (%s): read %s 0x%04x+%u: %s (%d%s failed poll: comm lost)",
                  b->conf->name, rq->unit, s->names, mb_fn_name(rq->fn), rq->start, rq->count,
                  gw_strerror(err), s->failures, ordinal(s->failures));
    else if (s->link == LINK_OK && before == LINK_LOST)
        log_warnx("bus %s unit %d (%s): answering again, comm restored", b->conf->name, rq->unit,
                  s->names);
    else if (s->link == LINK_FAILING && before == LINK_OK)
        log_debug("bus %s unit %d (%s): read %s 0x%04x+%u: %s (1st failed poll)", b->conf->name,
                  rq->unit, s->names, mb_fn_name(rq->fn), rq->start, rq->count, gw_strerror(err));
    else if (s->link == LINK_OK && before == LINK_FAILING)
        log_debug("bus %s unit %d (%s): answering again", b->conf->name, rq->unit, s->names);
}

static void poll_one(struct poller *b, struct sched *s)
{
    const struct plan_request *rq = &b->plan->requests[s->request];
    struct poll_result *res = b->result; /* allocated once: no allocation per poll */
    enum link_state before = s->link;
    int err = 0, ok = 0;

    memset(res, 0, offsetof(struct poll_result, data));
    if (!b->connected && mono_ms() >= b->reconnect_at_ms)
        link_connect(b);
    if (!b->connected) {
        err = b->last_connect_err ? b->last_connect_err : ENOTCONN;
    } else {
        /* A lost unit gets one attempt per cycle: its silence must not cost the others more. */
        int attempts = s->link == LINK_LOST ? 1 : 1 + b->conf->retries;
        for (int a = 0; a < attempts && !atomic_load(&b->stop); a++) {
            keep_gap(b, s);
            int rc = do_read(b, rq, res);
            transaction_ended(b, s);
            if (rc == 0) {
                ok = 1;
                break;
            }
            err = errno;
            log_debug("bus %s unit %d (%s): attempt %d: %s", b->conf->name, rq->unit, s->names,
                      a + 1, gw_strerror(err));
            if (rc == -2)
                break; /* not sent: a retry would be refused the same way */
            if (!unit_error(err)) {
                link_drop(b, err);
                break;
            }
            /* An exception is a complete answer; anything else may leave bytes behind. */
            if (!(err >= EMBXILFUN && err <= EMBXGTAR)) {
                drain_late_reply(b, s);
                if (modbus_flush(b->ctx) == -1) {
                    link_drop(b, errno);
                    break;
                }
                transaction_ended(b, s);
            }
        }
        if (ok) {
            link_working(b);
        } else if (b->connected && err == ETIMEDOUT && b->conf->type == BUS_TCP &&
                   ++b->silent_polls >= POLLER_LOST_AFTER * b->nsched) {
            /* Every request on this connection has timed out three times in a
             * row: the peer or the path is gone without a word (half-open
             * TCP); a new connection finds out. */
            link_drop(b, ETIMEDOUT);
        }
    }

    if (!ok && atomic_load(&b->stop)) {
        /* Cut short by a stop (shutdown, reload): not the unit's failure. */
        return;
    }
    atomic_fetch_add(&b->polls, 1);
    if (ok) {
        s->failures = 0;
        s->link = LINK_OK;
    } else {
        atomic_fetch_add(&b->poll_failures, 1);
        s->failures++;
        s->link = s->failures >= POLLER_LOST_AFTER ? LINK_LOST : LINK_FAILING;
    }
    if (!b->once)
        log_link_change(b, s, rq, before, err);

    res->request = s->request;
    res->ok = ok;
    res->err = ok ? 0 : err;
    res->link = s->link;
    res->failures = s->failures;
    res->ts_ms = wall_ms();
    if (rqueue_push_held(b->q, res, &b->stop) == 0)
        b->held++;
    atomic_store(&b->heartbeat_ms, mono_ms());
}

/* Fault injection for the watchdog test (SQLite-style I/O seam): with
 * SHELTER_GATEWAY_TEST_STALL_BUS=NAME the thread of bus NAME stops making
 * progress after its first poll, as if stuck in a driver, while still
 * honouring a stop request.  Never set in production. */
static void test_stall(struct poller *b)
{
    const char *name = getenv("SHELTER_GATEWAY_TEST_STALL_BUS");
    if (name == NULL || strcmp(name, b->conf->name) != 0)
        return;
    log_warnx("bus %s: stalling on purpose (SHELTER_GATEWAY_TEST_STALL_BUS)", b->conf->name);
    while (!atomic_load(&b->stop))
        sleep_until(b, mono_ms() + 100);
}

/* The request to serve next: a due one of an urgent kind first, else the
 * earliest due (NULL: once mode, every request polled). */
static struct sched *pick(struct poller *b, int64_t now)
{
    struct sched *next = NULL, *urgent = NULL;

    for (int i = 0; i < b->nsched; i++) {
        struct sched *s = &b->sched[i];
        if (b->once && s->done)
            continue;
        if (next == NULL || s->next_due_ms < next->next_due_ms)
            next = s;
        if (s->urgent && s->next_due_ms <= now &&
            (urgent == NULL || s->next_due_ms < urgent->next_due_ms))
            urgent = s;
    }
    return urgent != NULL ? urgent : next;
}

/* An overbooked line (busload.h) is logged once, with the cycle it
 * achieves: measured over a window after the staggered start, long enough
 * for every request to be polled twice. */
static void overbook_measure(struct poller *b, struct sched *polled, int64_t now)
{
    if (!b->load.overbooked || b->overbook_logged || b->once)
        return;
    if (b->window_start_ms == 0) {
        b->window_start_ms = now + OVERBOOK_SETTLE_MS;
        return;
    }
    if (now < b->window_start_ms)
        return;
    polled->window_polls++;
    if (now - b->window_start_ms < OVERBOOK_WINDOW_MS)
        return;
    double urgent_s = 0, others_s = 0, urgent_asked = 0, others_asked = 0;
    int nurgent = 0, nothers = 0;
    for (int i = 0; i < b->nsched; i++) {
        const struct sched *s = &b->sched[i];
        if (s->window_polls < 2 && now - b->window_start_ms < OVERBOOK_WINDOW_MAX_MS)
            return; /* not every request seen twice yet */
        double got = s->window_polls ? (now - b->window_start_ms) / 1000.0 / s->window_polls
                                     : (now - b->window_start_ms) / 1000.0;
        double asked = b->plan->requests[s->request].interval_ms / 1000.0;
        if (s->urgent) {
            urgent_s += got, urgent_asked += asked, nurgent++;
        } else {
            others_s += got, others_asked += asked, nothers++;
        }
    }
    char what[256];
    busload_describe(&b->load, what, sizeof(what));
    log_warnx("bus %s: %s; achieved: %d smoke/leak/door request%s every %.2f s (asked %.2f s), "
              "%d other%s every %.2f s (asked %.2f s)",
              b->conf->name, what, nurgent, nurgent == 1 ? "" : "s",
              nurgent ? urgent_s / nurgent : 0, nurgent ? urgent_asked / nurgent : 0, nothers,
              nothers == 1 ? "" : "s", nothers ? others_s / nothers : 0,
              nothers ? others_asked / nothers : 0);
    b->overbook_logged = true;
}

/* ---- outputs (relay.h): coil writes ahead of the queued polls ---------- */

/* One attempt of an output transaction, as a poll's: the line's gap kept
 * before it, a unit's failure leaves the bus up (late bytes drained),
 * anything else drops the link. */
static int output_transaction_end(struct poller *b, int rc)
{
    int err = errno;
    transaction_ended(b, &b->out_sched);
    if (rc == -1 && !unit_error(err)) {
        link_drop(b, err);
    } else if (rc == -1 && !(err >= EMBXILFUN && err <= EMBXGTAR)) {
        drain_late_reply(b, &b->out_sched);
        if (modbus_flush(b->ctx) == -1)
            link_drop(b, errno);
        transaction_ended(b, &b->out_sched);
    } else if (rc == 0) {
        link_working(b);
    }
    errno = err;
    return rc == 0 ? 0 : -1;
}

static bool output_connected(struct poller *b)
{
    if (!b->connected && mono_ms() >= b->reconnect_at_ms)
        link_connect(b);
    if (!b->connected)
        errno = b->last_connect_err ? b->last_connect_err : ENOTCONN;
    return b->connected;
}

static int output_write(void *ctx, int unit, int fc, uint16_t addr, bool on)
{
    struct poller *b = ctx;
    uint8_t bit = on ? 1 : 0;
    int n;

    if (!output_connected(b) || modbus_set_slave(b->ctx, unit) == -1)
        return -1;
    keep_gap(b, &b->out_sched);
    if (fc == 15)
        n = modbus_write_bits(b->ctx, addr, 1, &bit);
    else
        n = modbus_write_bit(b->ctx, addr, bit);
    return output_transaction_end(b, n == -1 ? -1 : 0);
}

static int output_read(void *ctx, int unit, uint16_t start, uint16_t count, uint8_t *bits)
{
    struct poller *b = ctx;
    struct plan_request rq = {.unit = unit, .fn = MB_FN_COILS, .start = start, .count = count};

    if (!output_connected(b))
        return -1;
    keep_gap(b, &b->out_sched);
    int rc = do_read(b, &rq, b->result);
    if (rc == -2)
        return -1; /* not sent */
    if (rc == 0)
        memcpy(bits, b->result->data.bits, count);
    return output_transaction_end(b, rc == 0 ? 0 : -1);
}

/* The poller's one hook for outputs: serve what is due.  1 when it did. */
static int serve_outputs(struct poller *b, int64_t now)
{
    if (b->relay == NULL || b->once)
        return 0;
    atomic_store(&b->kicked, 0);
    if (relay_due_ms(b->relay, now) > 0)
        return 0;
    struct relay_io io = {.ctx = b,
                          .attempts = 1 + b->conf->retries,
                          .write_coil = output_write,
                          .read_coils = output_read};
    relay_serve(b->relay, now, &io);
    atomic_store(&b->heartbeat_ms, mono_ms());
    return 1;
}

/* Idle until deadline, a stop, or a kick (an output to switch). */
static void idle_until(struct poller *b, int64_t deadline_ms)
{
    if (b->relay != NULL) {
        int64_t due = mono_ms() + relay_due_ms(b->relay, mono_ms());
        if (due < deadline_ms)
            deadline_ms = due;
    }
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock(&b->lock);
    while (!atomic_load(&b->stop) && !atomic_load(&b->kicked) && mono_ms() < deadline_ms) {
        if (pthread_cond_timedwait(&b->wake, &b->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&b->lock);
}

void poller_set_relay(struct poller *b, struct relay *r)
{
    b->relay = r;
}

void poller_kick(struct poller *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    atomic_store(&b->kicked, 1);
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

static void *poller_thread(void *arg)
{
    struct poller *b = arg;
    int polled = 0;

    if (b->conf->type == BUS_TCP || b->conf->type == BUS_RTU)
        link_connect(b);
    while (!atomic_load(&b->stop)) {
        int64_t now = mono_ms();
        struct sched *next;

        atomic_store(&b->heartbeat_ms, now);
        if (serve_outputs(b, now))
            continue; /* outputs first: then the queued polls */
        next = pick(b, now);
        if (next == NULL && b->relay != NULL && !b->once) {
            idle_until(b, now + 1000); /* a bus with outputs only */
            continue;
        }
        if (next == NULL)
            break; /* once mode: every request polled */
        if (b->once) {
            poll_one(b, next);
            rqueue_wake(b->q);
            next->done = 1;
            continue;
        }
        int interval = b->plan->requests[next->request].interval_ms;
        int slack = interval / 10 < BURST_SLACK_MS ? interval / 10 : BURST_SLACK_MS;
        /* Going to sleep, or results held long enough: the main thread takes them now. */
        if (b->held > 0 && (next->next_due_ms > now + slack || b->held >= BURST_HELD_MAX)) {
            rqueue_wake(b->q);
            b->held = 0;
        }
        if (next->next_due_ms > now + slack) {
            /* Wake at least every second so the heartbeat shows the thread alive. */
            int64_t until = next->next_due_ms < now + 1000 ? next->next_due_ms : now + 1000;
            idle_until(b, until); /* a kick (an output to switch) ends it early */
            continue;
        }
        poll_one(b, next);
        if (b->conf->type != BUS_TCP && b->held > 0) {
            /* A transaction on a serial line takes milliseconds: no burst to wait for. */
            rqueue_wake(b->q);
            b->held = 0;
        }
        if (!polled++)
            test_stall(b);
        now = mono_ms();
        overbook_measure(b, next, now);
        if (next->link == LINK_LOST && interval < POLLER_LOST_RETRY_MS) {
            /* A lost unit: retried on the slower schedule (top of the file). */
            next->next_due_ms = now + POLLER_LOST_RETRY_MS;
            continue;
        }
        next->next_due_ms += interval;
        /* Late by more than a cycle (a slow bus): poll again now, don't burst to catch up. */
        if (next->next_due_ms < now - interval)
            next->next_due_ms = now;
    }
    rqueue_wake(b->q);
    if (b->connected)
        modbus_close(b->ctx);
    b->connected = 0;
    return NULL;
}

struct poller *poller_new(const struct cfg *c, int bus_index, const struct plan *plan,
                          struct rqueue *q, int once)
{
    struct poller *b = calloc(1, sizeof(*b));
    const struct cfg_bus *cb = &c->buses[bus_index];
    pthread_condattr_t ca;

    if (b == NULL)
        return NULL;
    b->cfg = c;
    b->conf = cb;
    b->plan = plan;
    b->q = q;
    b->once = once;
    b->backoff_ms = BACKOFF_MIN_MS;
    atomic_init(&b->stop, 0);
    atomic_init(&b->heartbeat_ms, mono_ms());
    atomic_init(&b->polls, 0);
    atomic_init(&b->poll_failures, 0);
    atomic_init(&b->kicked, 0);
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &ca);
    pthread_condattr_destroy(&ca);

    if (cb->type == BUS_TCP) {
        char port[16];
        snprintf(port, sizeof(port), "%d", cb->port);
        b->ctx = modbus_new_tcp_pi(cb->host, port);
    } else {
        b->ctx = modbus_new_rtu(cb->device, cb->baud, cb->parity, cb->data_bits, cb->stop_bits);
    }
    if (b->ctx == NULL)
        goto fail;
    if (modbus_set_error_recovery(b->ctx, MODBUS_ERROR_RECOVERY_NONE) == -1 ||
        modbus_set_response_timeout(b->ctx, (uint32_t)(cb->timeout_ms / 1000),
                                    (uint32_t)(cb->timeout_ms % 1000) * 1000) == -1 ||
        /* No per-byte timeout: the response timeout then bounds the whole
         * answer, and a device dribbling one byte at a time cannot hold the
         * poller for minutes (libmodbus 3.1.6 restarts a byte timeout on
         * every byte). */
        modbus_set_byte_timeout(b->ctx, 0, 0) == -1)
        goto fail;

    int n = plan_bus_requests(plan, bus_index);
    b->sched = calloc((size_t)n + 1, sizeof(*b->sched));
    b->result = malloc(sizeof(*b->result));
    if (b->sched == NULL || b->result == NULL)
        goto fail;
    busload_of(c, plan, bus_index, &b->load);
    int64_t start = mono_ms();
    for (int i = 0; i < plan->nrequests; i++) {
        const struct plan_request *rq = &plan->requests[i];
        if (rq->bus != bus_index)
            continue;
        struct sched *s = &b->sched[b->nsched];
        s->request = i;
        s->urgent = busload_urgent(c, plan, i);
        s->gap_ns = busload_gap_us(c, plan, i) * 1000;
        if (cb->type == BUS_RTU) {
            int bits = rtutime_char_bits(cb->data_bits, cb->parity, cb->stop_bits);
            s->drain_ns =
                rtutime_silence_ns(cb->baud, bits) +
                rtutime_bytes_ns(cb->baud, bits, rtutime_read_answer_bytes((int)rq->fn, rq->count));
        }
        /* Stagger first polls across the interval. */
        s->next_due_ms = start + (int64_t)rq->interval_ms * b->nsched / (n ? n : 1);
        size_t off = 0;
        for (int m = 0; m < rq->nmembers; m++) {
            const char *name = c->sensors[plan->members[rq->first_member + m]].name;
            int w = snprintf(s->names + off, sizeof(s->names) - off, "%s%s", m ? "," : "", name);
            if (w < 0 || (size_t)w >= sizeof(s->names) - off)
                break;
            off += (size_t)w;
        }
        b->nsched++;
    }
    b->stall_limit_ms = stall_limit(b);
    /* The outputs' transactions (relay.h) keep the bus's gap and drain an
     * FC01 read-back of a module's span at most. */
    b->out_sched.link = LINK_OK;
    b->out_sched.gap_ns = cb->gap_us * 1000;
    if (cb->type == BUS_RTU) {
        int bits = rtutime_char_bits(cb->data_bits, cb->parity, cb->stop_bits);
        b->out_sched.drain_ns = rtutime_silence_ns(cb->baud, bits) +
                                rtutime_bytes_ns(cb->baud, bits, rtutime_read_answer_bytes(1, 32));
    }
    return b;
fail:
    poller_free(b);
    return NULL;
}

int poller_start(struct poller *b)
{
    int rc = pthread_create(&b->thread, NULL, poller_thread, b);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    b->started = 1;
    return 0;
}

void poller_request_stop(struct poller *b)
{
    if (b == NULL || !b->started)
        return;
    pthread_mutex_lock(&b->lock);
    atomic_store(&b->stop, 1);
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

void poller_stop(struct poller *b)
{
    if (b == NULL || !b->started)
        return;
    poller_request_stop(b);
    pthread_join(b->thread, NULL);
    b->started = 0;
}

void poller_free(struct poller *b)
{
    if (b == NULL)
        return;
    poller_stop(b);
    if (b->ctx != NULL)
        modbus_free(b->ctx);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    free(b->sched);
    free(b->result);
    free(b);
}

static int64_t stall_limit(const struct poller *b)
{
    /* The longest a healthy thread goes without a heartbeat: one poll with
     * every retry and gap (it beats between polls and at least every second
     * while idle), twice over, plus slack for a loaded machine. */
    int64_t gap_ms = b->conf->gap_ms;
    for (int i = 0; i < b->nsched; i++)
        if (b->sched[i].gap_ns / 1000000 + 1 > gap_ms)
            gap_ms = b->sched[i].gap_ns / 1000000 + 1;
    int64_t one_poll = (int64_t)b->conf->timeout_ms * (1 + b->conf->retries) +
                       gap_ms * (2 + b->conf->retries) + LATE_REPLY_MS * (1 + b->conf->retries);
    int64_t limit = 2 * one_poll + 3000;
    return limit < 5000 ? 5000 : limit;
}

int64_t poller_stall_limit_ms(const struct poller *b)
{
    return b->stall_limit_ms;
}

int64_t poller_heartbeat_ms(const struct poller *b)
{
    return atomic_load(&b->heartbeat_ms);
}

uint64_t poller_polls(const struct poller *b)
{
    return atomic_load(&b->polls);
}

uint64_t poller_poll_failures(const struct poller *b)
{
    return atomic_load(&b->poll_failures);
}
