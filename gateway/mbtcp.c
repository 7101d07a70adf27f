/*
 * mbtcp: see mbtcp.h.  Frames are read exactly (the MBAP header, then the
 * length it gives), never past the frame being read, so a late answer is
 * dropped whole and ours is next.  The deadline is one monotonic instant
 * for the whole transaction, as libmodbus's response timeout with no byte
 * timeout is.
 */
#include "mbtcp.h"

#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

#define MBAP_LEN 7

size_t mbtcp_request(uint16_t tid, uint8_t unit, int fn, uint16_t start, uint16_t count,
                     uint8_t out[MBTCP_REQUEST_LEN])
{
    const uint8_t req[MBTCP_REQUEST_LEN] = {
        (uint8_t)(tid >> 8),
        (uint8_t)tid,
        0,
        0, /* protocol: Modbus */
        0,
        6, /* unit + PDU bytes */
        unit,
        (uint8_t)fn,
        (uint8_t)(start >> 8),
        (uint8_t)start,
        (uint8_t)(count >> 8),
        (uint8_t)count,
    };
    memcpy(out, req, sizeof(req));
    return sizeof(req);
}

int mbtcp_frame_len(const uint8_t *buf, size_t len)
{
    unsigned length;

    if (len < MBAP_LEN)
        return 0;
    length = (unsigned)buf[4] << 8 | buf[5];
    if (buf[2] != 0 || buf[3] != 0 || length < 2 || length > 254) {
        errno = EMBBADDATA;
        return -1;
    }
    return (int)(6 + length);
}

uint16_t mbtcp_frame_tid(const uint8_t *frame)
{
    return (uint16_t)(frame[0] << 8 | frame[1]);
}

int mbtcp_check(const uint8_t *frame, size_t len, uint8_t unit, int fn, uint16_t count,
                uint16_t *regs, uint8_t *bits)
{
    size_t want;
    int fc;

    if (len < MBAP_LEN + 2) {
        errno = EMBBADDATA;
        return -1;
    }
    if (frame[6] != unit) {
        errno = EMBBADSLAVE; /* another unit's answer is no answer from ours */
        return -1;
    }
    fc = frame[7];
    if (fc == (fn | 0x80)) {
        int code = frame[8];
        errno = len == MBAP_LEN + 2 && code >= MODBUS_EXCEPTION_ILLEGAL_FUNCTION &&
                        code < MODBUS_EXCEPTION_MAX
                    ? MODBUS_ENOBASE + code
                    : EMBBADEXC;
        return -1;
    }
    want = fn <= 2 ? (count + 7u) / 8u : 2u * count;
    if (fc != fn || frame[8] != want || len != MBAP_LEN + 2 + want) {
        errno = EMBBADDATA;
        return -1;
    }
    const uint8_t *data = frame + MBAP_LEN + 2;
    if (fn <= 2) {
        for (unsigned i = 0; i < count; i++)
            bits[i] = (uint8_t)(data[i / 8] >> (i % 8) & 1);
    } else {
        for (unsigned i = 0; i < count; i++)
            regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    }
    return 0;
}

/* Wait until fd is ready for events or the deadline passes (ETIMEDOUT). */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - mono_ms();
        struct pollfd pfd = {.fd = fd, .events = events};
        int n;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 0;
        if (n == -1 && errno != EINTR)
            return -1;
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline_ms)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w >= 0) {
            p += w;
            n -= (size_t)w;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLOUT, deadline_ms) == -1)
                return -1;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Read some of the n bytes wanted (at least one). */
static ssize_t recv_some(int fd, uint8_t *p, size_t n, int64_t deadline_ms)
{
    for (;;) {
        ssize_t r;
        if (wait_fd(fd, POLLIN, deadline_ms) == -1)
            return -1;
        r = recv(fd, p, n, 0);
        if (r > 0)
            return r;
        if (r == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
}

/* recv_some, but when the bytes are probably there already (ready: the rest
 * of a frame whose header came) try before waiting: one system call instead
 * of two on every poll (issue 11, the cost per poll). */
static ssize_t recv_rest(int fd, uint8_t *p, size_t n, int64_t deadline_ms, int ready)
{
    if (ready) {
        ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
        if (r > 0)
            return r;
        if (r == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
    return recv_some(fd, p, n, deadline_ms);
}

int mbtcp_read(int fd, uint16_t *tid, uint8_t unit, int fn, uint16_t start, uint16_t count,
               int timeout_ms, uint16_t *regs, uint8_t *bits)
{
    uint8_t req[MBTCP_REQUEST_LEN], frame[MBTCP_ADU_MAX];
    int64_t deadline = mono_ms() + timeout_ms;
    size_t have = 0;

    *tid = (uint16_t)(*tid + 1);
    mbtcp_request(*tid, unit, fn, start, count, req);
    if (send_all(fd, req, sizeof(req), deadline) == -1)
        return -1;
    for (;;) {
        int need = mbtcp_frame_len(frame, have);
        ssize_t r;

        if (need == -1)
            return -1;
        if (need > 0 && have == (size_t)need) {
            if (mbtcp_frame_tid(frame) == *tid)
                return mbtcp_check(frame, have, unit, fn, count, regs, bits);
            have = 0; /* a late answer to an earlier request: dropped */
            continue;
        }
        /* Never past this frame: the header first, then what it announces. */
        r = recv_rest(fd, frame + have, (need > 0 ? (size_t)need : MBAP_LEN) - have, deadline,
                      need > 0);
        if (r == -1)
            return -1;
        have += (size_t)r;
    }
}
