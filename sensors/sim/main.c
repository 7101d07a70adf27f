/*
 * shelter-sim: a Modbus slave simulator for the gateway's tests and demo
 * (docs/design.md section 5.3).  It reads the gateway's own config and serves every
 * configured sensor at its bus and unit: TCP buses on host:port, RTU buses
 * on a serial device or pty given with --serial.  A unix control socket and
 * scenario files change values and inject faults at run time.
 *
 * Main design choice: one thread, one poll() loop, every descriptor
 * non-blocking.  A late answer ("fault X slow MS") is an entry in a timed
 * queue, never a sleep, so one slow unit delays nobody else.  The protocol
 * lives in mbslave (pure) and the served data in simstate (pure); this file
 * only moves bytes, frames RTU by length and line silence, and applies the
 * byte-level faults (mute, slow, bad CRC, exception).
 *
 * Wire-timed mode (--wire-time): a pty delivers a frame at once, a real
 * RS-485 line does not.  With it, every RTU transaction holds the line for
 * its wire time at the bus's baud rate and character format (lib/rtutime.h):
 * a request occupies the line for its bytes, the answer starts after the
 * 3.5-character silence that ends the request and is delivered when its last
 * byte would have arrived.  A request written before the line has been
 * silent for 3.5 characters after the previous frame is held until it has
 * (as if the master's UART waited) and counted as early: a strict slave
 * would have merged the two frames.  So no master can beat the wire bound,
 * and one that skips the silence shows in the `wire` counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sensorcfg.h"
#include "clock.h"
#include "history.h"
#include "log.h"
#include "parse.h"
#include "paths.h"
#include "rtutime.h"
#include "mbslave.h"
#include "scenario.h"
#include "simstate.h"

#define EX_USAGE 64
#define EX_CONFIG 78

#define CONN_MAX 128      /* listeners, serial lines, clients */
#define IN_MAX 1024       /* > one MBAP frame (260) or control line (512) */
#define OUT_MAX 16384     /* a client that does not read this much is dropped */
#define PENDING_MAX 512   /* late answers waiting; when full, the answer is dropped */
#define RTU_SILENCE_MS 20 /* line silence that ends (or discards) an RTU frame */
#define SERIAL_MAX 16
#define CTL_REPLY_MAX 16384
#define CTL_TIMEOUT_MS 10000 /* client mode: give up waiting for a reply */

enum conn_type {
    CONN_FREE,
    CONN_SIGNAL,
    CONN_TCP_LISTEN,
    CONN_TCP,
    CONN_RTU,
    CONN_CTL_LISTEN,
    CONN_CTL
};

struct conn {
    enum conn_type type;
    int fd;
    int bus;      /* TCP listener/client and RTU: index into cfg->buses */
    unsigned gen; /* new for each use of the slot; late answers check it */
    uint8_t in[IN_MAX];
    size_t inlen;
    int64_t last_rx_ms; /* RTU: time of the last byte, for the silence rule */
    int64_t rx_ns;      /* RTU: when the bytes being framed were read (wire time) */
    /* RTU with --wire-time: the line (see the top of the file) */
    int64_t line_free_ns; /* the end of the last frame on the line */
    uint64_t wire_transactions, wire_early;
    int64_t wire_busy_ns; /* time the line carried frames */
    int rtu_discard;      /* RTU: bad frame seen, ignore bytes until silence */
    uint8_t out[OUT_MAX];
    size_t outlen;
    int closing; /* control: peer shut its side; close once out is sent */
};

struct pending {
    int64_t due_ns;
    int conn;
    unsigned gen;
    size_t len;
    uint8_t frame[MBS_TCP_MAX + 4];
};

struct serial_map {
    const char *bus;
    const char *path;
};

struct sim {
    struct sensorcfg *cfg;
    struct simstate *st;
    struct conn *conns;
    struct pending *pending;
    int npending;
    unsigned next_gen;
    struct scn *scn;
    int64_t scn_next_ms;
    double speed;
    int wire; /* --wire-time */
    const char *control_path;
    int control_bound;
    int sigpipe[2];
};

static volatile sig_atomic_t stop_signal;
static int signal_write_fd = -1;

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    ssize_t w = write(signal_write_fd, "x", 1);
    (void)w;
    errno = saved;
}

/* ---- connections ---------------------------------------------------------- */

static int conn_add(struct sim *sim, int fd, enum conn_type type, int bus)
{
    for (int i = 0; i < CONN_MAX; i++) {
        struct conn *c = &sim->conns[i];
        if (c->type != CONN_FREE)
            continue;
        c->type = type;
        c->fd = fd;
        c->bus = bus;
        c->gen = ++sim->next_gen;
        c->inlen = c->outlen = 0;
        c->rtu_discard = c->closing = 0;
        c->last_rx_ms = c->rx_ns = 0;
        c->line_free_ns = c->wire_busy_ns = 0;
        c->wire_transactions = c->wire_early = 0;
        return i;
    }
    errno = EMFILE;
    return -1;
}

static void conn_close(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    if (c->type == CONN_FREE)
        return;
    if (close(c->fd) < 0)
        log_warn("close");
    c->type = CONN_FREE;
    c->fd = -1;
}

static const char *bus_name(const struct sim *sim, int bus)
{
    return sim->cfg->buses[bus].name;
}

/* Write what is queued; returns -1 when the peer is gone. */
static int conn_flush(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    while (c->outlen > 0) {
        ssize_t n = c->type == CONN_RTU ? write(c->fd, c->out, c->outlen)
                                        : send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return -1;
        memmove(c->out, c->out + n, c->outlen - (size_t)n);
        c->outlen -= (size_t)n;
    }
    (void)sim;
    return 0;
}

static void conn_send(struct sim *sim, int ci, const void *data, size_t len)
{
    struct conn *c = &sim->conns[ci];
    if (c->outlen + len > sizeof(c->out)) {
        if (c->type == CONN_RTU) {
            log_warnx("bus %s: output backlog full, answer dropped", bus_name(sim, c->bus));
            return;
        }
        log_warnx("client does not read its answers, closing it");
        conn_close(sim, ci);
        return;
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
    if (conn_flush(sim, ci) < 0) {
        if (c->type == CONN_RTU)
            log_warn("bus %s: write", bus_name(sim, c->bus));
        else
            conn_close(sim, ci);
    }
}

/* ---- Modbus service --------------------------------------------------------- */

static void pending_add(struct sim *sim, int ci, int64_t due_ns, const uint8_t *frame, size_t len)
{
    if (sim->npending == PENDING_MAX) {
        log_warnx("too many late answers queued, one dropped");
        return;
    }
    struct pending *p = &sim->pending[sim->npending++];
    p->due_ns = due_ns;
    p->conn = ci;
    p->gen = sim->conns[ci].gen;
    p->len = len;
    memcpy(p->frame, frame, len);
}

/* Send late answers that are due (now in ns; in due order among equals: queue order). */
static void pending_run(struct sim *sim, int64_t now)
{
    int kept = 0;
    for (int i = 0; i < sim->npending; i++) {
        struct pending *p = &sim->pending[i];
        struct conn *c = &sim->conns[p->conn];
        if (p->due_ns > now) {
            sim->pending[kept++] = *p;
            continue;
        }
        if (c->type != CONN_FREE && c->gen == p->gen)
            conn_send(sim, p->conn, p->frame, p->len);
    }
    sim->npending = kept;
}

/* TCP has no CRC: corrupt a read answer by a byte count that contradicts
 * the data (two extra bytes, MBAP length kept consistent so the master reads
 * the whole frame and rejects it); anything else gets a wrong transaction id. */
static size_t tcp_corrupt(uint8_t *frame, size_t len)
{
    uint8_t *pdu = frame + MBS_MBAP_LEN;
    if (!mbs_pdu_is_exception(pdu) && len + 2 <= MBS_TCP_MAX) {
        pdu[1] = (uint8_t)(pdu[1] + 2);
        frame[len++] = 0;
        frame[len++] = 0;
        unsigned mbap_len = ((unsigned)frame[4] << 8 | frame[5]) + 2;
        frame[4] = (uint8_t)(mbap_len >> 8);
        frame[5] = (uint8_t)(mbap_len & 0xFF);
    } else {
        frame[0] ^= 0x55;
    }
    return len;
}

static const char *const fault_names[] = {
    [SIM_FAULT_NONE] = "answered",
    [SIM_FAULT_MUTE] = "muted, no answer",
    [SIM_FAULT_SLOW] = "answer delayed",
    [SIM_FAULT_BADCRC] = "answered corrupt",
    [SIM_FAULT_EXCEPTION] = "forced exception",
    [SIM_FAULT_UNIT] = "answered as another unit",
    [SIM_FAULT_REFUSE] = "writes refused",
    [SIM_FAULT_STUCK] = "writes acknowledged, coils stuck",
};

/* ---- wire time (--wire-time, RTU only) ---- */

static int char_bits(const struct cfg_bus *b)
{
    return rtutime_char_bits(b->data_bits, b->parity, b->stop_bits);
}

/* A request of frame_bytes read at c->rx_ns takes the line: held until the
 * line has been silent for t3.5 (counted as early when it had not).
 * Returns when its last byte is on the line. */
static int64_t wire_request(struct sim *sim, struct conn *c, size_t frame_bytes)
{
    const struct cfg_bus *b = &sim->cfg->buses[c->bus];
    int bits = char_bits(b);
    int64_t silence = rtutime_silence_ns(b->baud, bits);
    int64_t start = c->rx_ns;

    if (c->line_free_ns > 0 && start < c->line_free_ns + silence) {
        c->wire_early++;
        start = c->line_free_ns + silence;
    }
    int64_t end = start + rtutime_bytes_ns(b->baud, bits, (int)frame_bytes);
    c->wire_transactions++;
    c->wire_busy_ns += end - start;
    c->line_free_ns = end;
    return end;
}

/* The answer of frame_bytes to a request that ended at req_end, extra_ns
 * late: it starts after t3.5 and is delivered when its last byte arrives. */
static int64_t wire_answer(struct sim *sim, struct conn *c, int64_t req_end, int64_t extra_ns,
                           size_t frame_bytes)
{
    const struct cfg_bus *b = &sim->cfg->buses[c->bus];
    int bits = char_bits(b);
    int64_t start = req_end + rtutime_silence_ns(b->baud, bits) + extra_ns;
    int64_t end = start + rtutime_bytes_ns(b->baud, bits, (int)frame_bytes);
    c->wire_busy_ns += end - start;
    c->line_free_ns = end;
    return end;
}

/* One request PDU received on connection ci for unit; tid is the MBAP
 * transaction id (TCP only). */
static void serve(struct sim *sim, int ci, uint8_t unit, const uint8_t *pdu, size_t pdulen,
                  uint16_t tid)
{
    struct conn *c = &sim->conns[ci];
    struct mbs_tables *t = simstate_tables(sim->st, c->bus, unit);
    uint8_t resp[MBS_PDU_MAX];
    uint8_t frame[MBS_TCP_MAX + 4];
    size_t len;
    int n;
    int wired = sim->wire && c->type == CONN_RTU;
    int64_t req_end = 0;

    if (pdulen == 0)
        return;
    if (wired) /* unit, PDU, CRC: on the line whoever it is for */
        req_end = wire_request(sim, c, pdulen + 3);
    if (t == NULL) {
        log_debug("bus %s unit %u FC%02u: no sensor there, no answer", bus_name(sim, c->bus), unit,
                  pdu[0]);
        return;
    }
    simstate_count(sim->st, c->bus, unit, pdu[0]);
    struct sim_fault f = simstate_fault(sim->st, c->bus, unit);
    if (log_debug_enabled()) {
        unsigned addr = pdulen >= 5 ? (unsigned)pdu[1] << 8 | pdu[2] : 0;
        unsigned qty = pdulen >= 5 ? (unsigned)pdu[3] << 8 | pdu[4] : 0;
        log_debug("bus %s unit %u FC%02u addr 0x%04x qty %u: %s", bus_name(sim, c->bus), unit,
                  pdu[0], addr, qty, fault_names[f.mode]);
    }
    if (f.mode == SIM_FAULT_MUTE)
        return;
    if (f.mode == SIM_FAULT_UNIT) {
        /* What a TCP/RTU converter passes on when another device answers:
         * that unit's id, and its data when it is on this bus. */
        struct mbs_tables *other = simstate_tables(sim->st, c->bus, f.arg);
        if (other != NULL)
            t = other;
        unit = (uint8_t)f.arg;
    }
    if (pdu[0] == 0x05 || pdu[0] == 0x0F) /* coil writes: recorded with their time */
        n = simstate_write(sim->st, c->bus, unit, pdu, pdulen, wall_ms(), resp);
    else if (f.mode == SIM_FAULT_EXCEPTION)
        n = mbs_pdu_exception(pdu[0], (uint8_t)f.arg, resp);
    else
        n = mbs_pdu_answer(t, pdu, pdulen, resp);
    if (n <= 0)
        return;

    if (c->type == CONN_RTU) {
        len = mbs_rtu_wrap(unit, resp, (size_t)n, frame);
        if (f.mode == SIM_FAULT_BADCRC)
            frame[len - 1] ^= 0xFF;
    } else {
        len = mbs_mbap_wrap(tid, unit, resp, (size_t)n, frame);
        if (f.mode == SIM_FAULT_BADCRC)
            len = tcp_corrupt(frame, len);
    }
    int64_t late_ns = f.mode == SIM_FAULT_SLOW ? (int64_t)f.arg * 1000000 : 0;
    if (wired)
        pending_add(sim, ci, wire_answer(sim, c, req_end, late_ns, len), frame, len);
    else if (late_ns > 0)
        pending_add(sim, ci, mono_ns() + late_ns, frame, len);
    else
        conn_send(sim, ci, frame, len);
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
}

/* RTU framing: a request of a known layout is complete at its length; a bad
 * CRC discards everything until the line falls silent (like a real slave,
 * which cannot know where a damaged frame ends). */
static void rtu_frames(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    while (!c->rtu_discard && c->type == CONN_RTU) {
        int need = mbs_rtu_request_len(c->in, c->inlen);
        if (need <= 0 || (size_t)need > c->inlen)
            return; /* incomplete, or ends with the silence */
        if (!mbs_rtu_crc_ok(c->in, (size_t)need)) {
            log_debug("bus %s: frame with bad CRC ignored", bus_name(sim, c->bus));
            c->rtu_discard = 1;
            return;
        }
        serve(sim, ci, c->in[0], c->in + 1, (size_t)need - 3, 0);
        consume(c, (size_t)need);
    }
}

/* The line has been silent: a frame of unknown layout ends here; anything
 * else left over is a fragment and is dropped (resynchronisation). */
static void rtu_silence(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    if (!c->rtu_discard && mbs_rtu_request_len(c->in, c->inlen) < 0 && c->inlen >= 4 &&
        mbs_rtu_crc_ok(c->in, c->inlen))
        serve(sim, ci, c->in[0], c->in + 1, c->inlen - 3, 0);
    else
        log_debug("bus %s: %zu bytes dropped after silence", bus_name(sim, c->bus), c->inlen);
    c->inlen = 0;
    c->rtu_discard = 0;
}

static void tcp_frames(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    while (c->type == CONN_TCP) {
        struct mbs_mbap h;
        int n = mbs_mbap_parse(c->in, c->inlen, &h);
        if (n < 0) {
            log_warnx("bus %s: invalid MBAP header, closing the connection", bus_name(sim, c->bus));
            conn_close(sim, ci);
            return;
        }
        if (n == 0)
            return;
        serve(sim, ci, h.unit, c->in + MBS_MBAP_LEN, (size_t)h.length - 1, h.tid);
        if (c->type == CONN_TCP)
            consume(c, (size_t)n);
    }
}

/* ---- control ---------------------------------------------------------------- */

static void scenario_exec(const char *command, const char *where, int is_ramp_step, void *ctx)
{
    struct sim *sim = ctx;
    char reply[512];
    int rc = simstate_command(sim->st, command, reply, sizeof(reply));
    if (rc != 0)
        log_warnx("%s: %s: %s", where, command, rc > 0 ? "unknown command" : reply);
    else if (is_ramp_step)
        log_debug("scenario: %s", command);
    else
        log_info("scenario: %s", command);
}

static void scenario_stop(struct sim *sim)
{
    scn_free(sim->scn);
    sim->scn = NULL;
}

static int scenario_play(struct sim *sim, const char *path, char *reply, size_t len)
{
    char err[2048];
    struct scn *s = scn_load(path, sim->speed, err, sizeof(err));
    if (s == NULL) {
        for (char *nl = strchr(err, '\n'); nl != NULL; nl = strchr(nl, '\n'))
            *nl = ';';
        snprintf(reply, len, "error: %s", err);
        return -1;
    }
    if (sim->scn != NULL)
        log_info("scenario %s replaced", scn_path(sim->scn));
    scenario_stop(sim);
    sim->scn = s;
    scn_start(s, mono_ms());
    sim->scn_next_ms = mono_ms();
    log_info("scenario %s started: %d steps, %.1f s at speed %g", path, scn_nsteps(s),
             (double)scn_duration_ms(s) / 1000.0, sim->speed);
    snprintf(reply, len, "ok playing %s (%d steps, %.1f s)", path, scn_nsteps(s),
             (double)scn_duration_ms(s) / 1000.0);
    return 0;
}

/* `wire [reset]`: per RTU line, its timing and what it carried (--wire-time). */
static void wire_stats(struct sim *sim, const char *arg, char *reply, size_t len)
{
    size_t used;

    if (arg != NULL && strcmp(arg, "reset") != 0) {
        snprintf(reply, len, "error: wire takes only 'reset'");
        return;
    }
    if (!sim->wire) {
        snprintf(reply, len, "error: not started with --wire-time");
        return;
    }
    used = (size_t)snprintf(reply, len, "ok");
    for (int i = 0; i < CONN_MAX && used < len; i++) {
        struct conn *c = &sim->conns[i];
        if (c->type != CONN_RTU)
            continue;
        if (arg != NULL) {
            c->wire_transactions = c->wire_early = 0;
            c->wire_busy_ns = 0;
            continue;
        }
        const struct cfg_bus *b = &sim->cfg->buses[c->bus];
        int bits = char_bits(b);
        used += (size_t)snprintf(
            reply + used, len - used,
            "\n%s baud=%d char_bits=%d char_ns=%lld silence_ns=%lld transactions=%llu early=%llu "
            "busy_ns=%lld",
            b->name, b->baud, bits, (long long)rtutime_char_ns(b->baud, bits),
            (long long)rtutime_silence_ns(b->baud, bits), (unsigned long long)c->wire_transactions,
            (unsigned long long)c->wire_early, (long long)c->wire_busy_ns);
    }
    if (arg == NULL && used < len)
        snprintf(reply + used, len - used, "\n.");
}

static void ctl_line(struct sim *sim, int ci, char *line)
{
    static char reply[CTL_REPLY_MAX];
    char verb[16] = "", arg[PATH_MAX] = "", extra[2] = "";

    line[strcspn(line, "\r")] = '\0';
    int nwords = sscanf(line, "%15s %4095s %1s", verb, arg, extra);
    if (nwords <= 0)
        return;
    if (strcmp(verb, "play") == 0) {
        if (nwords != 2)
            snprintf(reply, sizeof(reply), "error: usage: play FILE");
        else
            scenario_play(sim, arg, reply, sizeof(reply));
    } else if (strcmp(verb, "stop") == 0) {
        if (sim->scn == NULL) {
            snprintf(reply, sizeof(reply), "ok no scenario running");
        } else {
            log_info("scenario %s stopped", scn_path(sim->scn));
            snprintf(reply, sizeof(reply), "ok stopped %s", scn_path(sim->scn));
            scenario_stop(sim);
        }
    } else if (strcmp(verb, "wire") == 0) {
        wire_stats(sim, nwords == 2 ? arg : NULL, reply, sizeof(reply));
    } else if (simstate_command(sim->st, line, reply, sizeof(reply)) > 0) {
        snprintf(reply, sizeof(reply),
                 "error: unknown command '%s' (set, raw, fault, get, stats, writes, wire, play, "
                 "stop)",
                 verb);
    }
    log_debug("control: %s -> %.*s", line, (int)strcspn(reply, "\n"), reply);
    size_t n = strlen(reply);
    reply[n++] = '\n';
    conn_send(sim, ci, reply, n);
}

static void ctl_input(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    for (;;) {
        uint8_t *nl = memchr(c->in, '\n', c->inlen);
        if (nl == NULL) {
            if (c->inlen == sizeof(c->in)) {
                static const char msg[] = "error: line too long\n";
                conn_send(sim, ci, msg, sizeof(msg) - 1);
                c->inlen = 0;
                c->closing = 1;
            }
            return;
        }
        *nl = '\0';
        ctl_line(sim, ci, (char *)c->in);
        if (c->type != CONN_CTL)
            return;
        consume(c, (size_t)(nl - c->in) + 1);
    }
}

/* ---- setup ------------------------------------------------------------------ */

static int tcp_listen(struct sim *sim, int bus)
{
    const struct cfg_bus *b = &sim->cfg->buses[bus];
    struct addrinfo hints = {0}, *res, *ai;
    char port[16];
    int fd = -1, rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", b->port);
    rc = getaddrinfo(b->host[0] ? b->host : NULL, port, &hints, &res);
    if (rc != 0) {
        log_err("bus %s: %s:%s: %s", b->name, b->host, port, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
            break;
        rc = errno;
        close(fd);
        errno = rc;
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        log_warn("bus %s: listen on %s:%d", b->name, b->host, b->port);
        return -1;
    }
    if (conn_add(sim, fd, CONN_TCP_LISTEN, bus) < 0) {
        close(fd);
        return -1;
    }
    log_info("bus %s: Modbus TCP on %s:%d", b->name, b->host, b->port);
    return 0;
}

static const struct baud_rate {
    int baud;
    speed_t speed;
} baud_rates[] = {
    {1200, B1200},   {2400, B2400},   {4800, B4800},   {9600, B9600},
    {19200, B19200}, {38400, B38400}, {57600, B57600}, {115200, B115200},
};

/* Raw 8N1-style line settings from the bus config; a pty ignores the speed. */
static int serial_setup(int fd, const struct cfg_bus *b)
{
    struct termios tio;
    speed_t speed = B9600;

    if (tcgetattr(fd, &tio) < 0)
        return -1;
    cfmakeraw(&tio);
    for (size_t i = 0; i < sizeof(baud_rates) / sizeof(baud_rates[0]); i++)
        if (baud_rates[i].baud == b->baud)
            speed = baud_rates[i].speed;
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB);
    tio.c_cflag |= b->data_bits == 7 ? CS7 : CS8;
    if (b->parity == 'E' || b->parity == 'O')
        tio.c_cflag |= PARENB;
    if (b->parity == 'O')
        tio.c_cflag |= PARODD;
    if (b->stop_bits == 2)
        tio.c_cflag |= CSTOPB;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &tio) < 0)
        return -1;
    return tcflush(fd, TCIOFLUSH);
}

static int rtu_open(struct sim *sim, int bus, const char *path)
{
    const struct cfg_bus *b = &sim->cfg->buses[bus];
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        log_warn("bus %s: open %s", b->name, path);
        return -1;
    }
    if (serial_setup(fd, b) < 0) {
        log_warn("bus %s: %s: serial settings", b->name, path);
        close(fd);
        return -1;
    }
    if (conn_add(sim, fd, CONN_RTU, bus) < 0) {
        close(fd);
        return -1;
    }
    log_info("bus %s: Modbus RTU on %s", b->name, path);
    return 0;
}

static int bus_has_sensors(const struct sensorcfg *c, int bus)
{
    for (int i = 0; i < c->nsensors; i++)
        if (c->sensors[i].bus == bus)
            return 1;
    for (int i = 0; i < c->noutputs; i++)
        if (c->outputs[i].bus == bus)
            return 1;
    return 0;
}

static int buses_open(struct sim *sim, const struct serial_map *maps, int nmaps)
{
    for (int m = 0; m < nmaps; m++) {
        int bus;
        for (bus = 0; bus < sim->cfg->nbuses; bus++)
            if (strcmp(sim->cfg->buses[bus].name, maps[m].bus) == 0)
                break;
        if (bus == sim->cfg->nbuses || sim->cfg->buses[bus].type != BUS_RTU) {
            log_err("--serial %s=%s: no rtu bus %s in %s", maps[m].bus, maps[m].path, maps[m].bus,
                    sim->cfg->path);
            return -1;
        }
    }
    for (int bus = 0; bus < sim->cfg->nbuses; bus++) {
        const struct cfg_bus *b = &sim->cfg->buses[bus];
        if (!bus_has_sensors(sim->cfg, bus)) {
            log_info("bus %s: no sensors, not served", b->name);
            continue;
        }
        if (b->type == BUS_TCP) {
            if (tcp_listen(sim, bus) < 0)
                return -1;
            continue;
        }
        const char *path = NULL;
        for (int m = 0; m < nmaps; m++)
            if (strcmp(maps[m].bus, b->name) == 0)
                path = maps[m].path;
        if (path == NULL) {
            log_err("bus %s: rtu bus has sensors but no --serial %s=PATH", b->name, b->name);
            return -1;
        }
        if (rtu_open(sim, bus, path) < 0)
            return -1;
    }
    return 0;
}

static int control_open(struct sim *sim, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_err("control socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* A socket file nobody listens on is left over from a crash: replace it. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        log_err("control socket %s: another simulator is listening", path);
        close(fd);
        return -1;
    }
    close(fd);
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) && unlink(path) < 0)
        log_warn("unlink %s", path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        log_warn("control socket %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sim->control_bound = 1;
    if (conn_add(sim, fd, CONN_CTL_LISTEN, -1) < 0) {
        close(fd);
        return -1;
    }
    log_info("control socket %s", path);
    return 0;
}

static int signals_setup(struct sim *sim)
{
    struct sigaction sa = {0};

    if (pipe2(sim->sigpipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    signal_write_fd = sim->sigpipe[1];
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    return conn_add(sim, sim->sigpipe[0], CONN_SIGNAL, -1) < 0 ? -1 : 0;
}

/* ---- the loop --------------------------------------------------------------- */

static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* How long poll() may wait (NULL: for ever): answers are due to the
 * nanosecond (wire time), the rest to the millisecond. */
static struct timespec *poll_timeout(const struct sim *sim, int64_t now_ns, struct timespec *ts)
{
    const int64_t ms = 1000000;
    int64_t due = -1;
    for (int i = 0; i < sim->npending; i++)
        due = earliest(due, sim->pending[i].due_ns);
    for (int i = 0; i < CONN_MAX; i++)
        if (sim->conns[i].type == CONN_RTU && sim->conns[i].inlen > 0)
            due = earliest(due, (sim->conns[i].last_rx_ms + RTU_SILENCE_MS) * ms);
    if (sim->scn != NULL)
        due = earliest(due, sim->scn_next_ms * ms);
    if (due < 0)
        return NULL;
    int64_t left = due <= now_ns ? 0 : due - now_ns > 60000 * ms ? 60000 * ms : due - now_ns;
    ts->tv_sec = (time_t)(left / 1000000000);
    ts->tv_nsec = (long)(left % 1000000000);
    return ts;
}

static void on_accept(struct sim *sim, int ci)
{
    struct conn *c = &sim->conns[ci];
    enum conn_type type = c->type == CONN_TCP_LISTEN ? CONN_TCP : CONN_CTL;
    int bus = c->bus;
    int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            log_warn("accept");
        return;
    }
    if (conn_add(sim, fd, type, bus) < 0) {
        log_warnx("too many connections, one refused");
        close(fd);
        return;
    }
    if (type == CONN_TCP)
        log_debug("bus %s: client connected", bus_name(sim, bus));
}

static void on_readable(struct sim *sim, int ci, int64_t now)
{
    struct conn *c = &sim->conns[ci];
    ssize_t n;

    if (c->inlen == sizeof(c->in)) /* RTU garbage without silence, or a bug */
        c->inlen = 0;
    n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->type == CONN_RTU) {
            if (n < 0)
                log_warn("bus %s: read", bus_name(sim, c->bus));
            else
                log_warnx("bus %s: serial line closed", bus_name(sim, c->bus));
            log_warnx("bus %s: no longer served", bus_name(sim, c->bus));
        } else if (c->type == CONN_CTL && n == 0) {
            c->closing = 1;
            if (c->outlen == 0)
                conn_close(sim, ci);
            return;
        }
        conn_close(sim, ci);
        return;
    }
    c->inlen += (size_t)n;
    c->last_rx_ms = now;
    c->rx_ns = mono_ns();
    switch (c->type) {
    case CONN_RTU:
        rtu_frames(sim, ci);
        break;
    case CONN_TCP:
        tcp_frames(sim, ci);
        break;
    case CONN_CTL:
        ctl_input(sim, ci);
        break;
    default:
        break;
    }
}

static void loop(struct sim *sim)
{
    struct pollfd pfd[CONN_MAX];
    int idx[CONN_MAX];

    while (!stop_signal) {
        int64_t now = mono_ms();
        struct timespec ts;
        int npfd = 0;
        for (int i = 0; i < CONN_MAX; i++) {
            struct conn *c = &sim->conns[i];
            if (c->type == CONN_FREE)
                continue;
            pfd[npfd].fd = c->fd;
            pfd[npfd].events = (short)((c->closing ? 0 : POLLIN) | (c->outlen ? POLLOUT : 0));
            pfd[npfd].revents = 0;
            idx[npfd++] = i;
        }
        if (ppoll(pfd, (nfds_t)npfd, poll_timeout(sim, mono_ns(), &ts), NULL) < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        now = mono_ms();
        for (int k = 0; k < npfd; k++) {
            int ci = idx[k];
            struct conn *c = &sim->conns[ci];
            if (pfd[k].revents == 0 || c->type == CONN_FREE || c->fd != pfd[k].fd)
                continue;
            if (c->type == CONN_SIGNAL) {
                char drain[16];
                while (read(c->fd, drain, sizeof(drain)) > 0)
                    ;
                continue;
            }
            if (c->type == CONN_TCP_LISTEN || c->type == CONN_CTL_LISTEN) {
                on_accept(sim, ci);
                continue;
            }
            if ((pfd[k].revents & POLLOUT) && conn_flush(sim, ci) < 0) {
                conn_close(sim, ci);
                continue;
            }
            if (c->closing && c->outlen == 0) {
                conn_close(sim, ci);
                continue;
            }
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
                on_readable(sim, ci, now);
        }
        for (int i = 0; i < CONN_MAX; i++) {
            struct conn *c = &sim->conns[i];
            if (c->type == CONN_RTU && c->inlen > 0 && now - c->last_rx_ms >= RTU_SILENCE_MS)
                rtu_silence(sim, i);
        }
        pending_run(sim, mono_ns());
        if (sim->scn != NULL && now >= sim->scn_next_ms) {
            sim->scn_next_ms = scn_run(sim->scn, now, scenario_exec, sim);
            if (sim->scn_next_ms < 0) {
                log_info("scenario %s finished", scn_path(sim->scn));
                scenario_stop(sim);
            }
        }
    }
    log_info("signal %d: stopping", (int)stop_signal);
}

/* ---- client mode ------------------------------------------------------------ */

/* shelter-sim --ctl SOCKET COMMAND [ARGS...]: send one line, print the reply
 * (until the simulator closes), exit 0 on "ok...", 1 otherwise. */
static int ctl_client(const char *path, int argc, char **argv)
{
    char line[4096], resolved[PATH_MAX];
    size_t n = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        /* the simulator may run in another directory */
        if (i == 1 && strcmp(argv[0], "play") == 0 && realpath(word, resolved) != NULL)
            word = resolved;
        int w = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", word);
        if (w < 0 || (size_t)w >= sizeof(line) - n - 1) {
            fprintf(stderr, "shelter-sim: command too long\n");
            return EX_USAGE;
        }
        n += (size_t)w;
    }
    line[n++] = '\n';
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "shelter-sim: socket path too long\n");
        return EX_USAGE;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "shelter-sim: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fprintf(stderr, "shelter-sim: send: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);

    char reply[CTL_REPLY_MAX + 1];
    size_t got = 0;
    int64_t deadline = mono_ms() + CTL_TIMEOUT_MS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            fprintf(stderr, "shelter-sim: no reply from %s\n", path);
            close(fd);
            return 1;
        }
        ssize_t r = read(fd, reply + got, sizeof(reply) - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof(reply) - 1)
            break;
    }
    close(fd);
    reply[got] = '\0';
    fputs(reply, stdout);
    return strncmp(reply, "ok", 2) == 0 ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: shelter-sim -c CONF [--serial BUS=PATH]... [--control SOCKET]\n"
               "                   [--scenario FILE] [--speed X] [--wire-time] [-v]\n"
               "       shelter-sim --ctl SOCKET COMMAND [ARGS...]\n"
               "       shelter-sim --history [OPTIONS]   (shelter-sim --history --help)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"serial", required_argument, NULL, 's'},
        {"control", required_argument, NULL, 'C'}, {"scenario", required_argument, NULL, 'S'},
        {"speed", required_argument, NULL, 'x'},   {"wire-time", no_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    struct serial_map maps[SERIAL_MAX];
    int nmaps = 0, verbose = 0, nerrors = 0, rc = 1, opt;
    const char *conf = NULL, *scenario = NULL;
    char models[PATH_MAX], err[512];
    struct sim sim = {.speed = 1.0, .sigpipe = {-1, -1}};

    if (argc >= 2 && strcmp(argv[1], "--history") == 0)
        return history_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "--ctl") == 0) {
        if (argc < 4) {
            usage(stderr);
            return EX_USAGE;
        }
        return ctl_client(argv[2], argc - 3, argv + 3);
    }
    while ((opt = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'C':
            sim.control_path = optarg;
            break;
        case 'S':
            scenario = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'w':
            sim.wire = 1;
            break;
        case 'V':
            printf("shelter-sim %s\n", GW_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'x':
            if (parse_double(optarg, 0.01, 1000, &sim.speed, err, sizeof(err)) < 0) {
                fprintf(stderr, "shelter-sim: --speed %s: %s\n", optarg, err);
                return EX_USAGE;
            }
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || eq[1] == '\0' || nmaps == SERIAL_MAX) {
                fprintf(stderr, "shelter-sim: --serial wants BUS=PATH\n");
                return EX_USAGE;
            }
            *eq = '\0';
            maps[nmaps].bus = optarg;
            maps[nmaps++].path = eq + 1;
            break;
        }
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (conf == NULL || optind != argc) {
        usage(stderr);
        return EX_USAGE;
    }
    log_init(verbose);

    sim.cfg =
        sensorcfg_load(conf, paths_models_dir_default(models, sizeof(models)), stderr, &nerrors);
    if (sim.cfg == NULL)
        return EX_CONFIG;
    sim.st = simstate_new(sim.cfg, err, sizeof(err));
    if (sim.st == NULL) {
        log_err("%s: %s", conf, errno == EINVAL ? err : strerror(errno));
        sensorcfg_free(sim.cfg);
        return EX_CONFIG;
    }
    sim.conns = calloc(CONN_MAX, sizeof(*sim.conns));
    sim.pending = calloc(PENDING_MAX, sizeof(*sim.pending));
    if (sim.conns == NULL || sim.pending == NULL) {
        log_warn("calloc");
        goto out;
    }
    if (signals_setup(&sim) < 0) {
        log_warn("signals");
        goto out;
    }
    if (buses_open(&sim, maps, nmaps) < 0)
        goto out;
    if (sim.control_path != NULL && control_open(&sim, sim.control_path) < 0)
        goto out;
    if (scenario != NULL && scenario_play(&sim, scenario, err, sizeof(err)) < 0) {
        log_err("%s", err);
        goto out;
    }
    log_info("serving %d sensors from %s%s", sim.cfg->nsensors, conf,
             sim.wire ? ", RTU answers at their wire time" : "");
    loop(&sim);
    rc = 0;
out:
    if (sim.conns != NULL)
        for (int i = 0; i < CONN_MAX; i++)
            if (sim.conns[i].type != CONN_FREE && sim.conns[i].type != CONN_SIGNAL)
                conn_close(&sim, i);
    if (sim.sigpipe[0] >= 0)
        close(sim.sigpipe[0]);
    if (sim.sigpipe[1] >= 0)
        close(sim.sigpipe[1]);
    if (sim.control_bound && unlink(sim.control_path) < 0)
        log_warn("unlink %s", sim.control_path);
    scenario_stop(&sim);
    free(sim.conns);
    free(sim.pending);
    simstate_free(sim.st);
    sensorcfg_free(sim.cfg);
    return rc;
}
