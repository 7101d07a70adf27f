/*
 * fuzz_mbslave: shelter-sim's request side (sensors/sim/mbslave.c) on any
 * byte stream from a master: the framing loops of sensors/sim/main.c
 * (rtu_frames, rtu_silence, tcp_frames; static there, so mirrored here step
 * for step over a buffer of the same size) calling the mbslave functions,
 * and each answer PDU framed as serve() frames it.
 *
 * Input: one selector byte, then the bytes the master sends.
 *   bit 0     0 Modbus TCP, 1 RTU
 *   bits 1-7  the stream arrives in reads of this many bytes (0 = 1 read);
 *             on RTU the line falls silent after the last read
 *
 * Checked: every answer is a well-formed response to its request (the
 * request's function, or that function with 0x80 and a known exception
 * code; the byte count of a read matches its quantity) that fits its frame,
 * and the framed answer parses back (CRC, MBAP) as the master would.
 */
#include <string.h>

#include "fuzz.h"
#include "sim/mbslave.h"

#define IN_MAX 1024 /* sensors/sim/main.c */

struct conn {
    int rtu;
    uint8_t in[IN_MAX];
    size_t inlen;
    int rtu_discard;
};

static struct mbs_tables tables;

/* serve(): one request PDU for unit, answered from the tables and framed. */
static void serve(const struct conn *c, uint8_t unit, const uint8_t *pdu, size_t pdulen,
                  uint16_t tid)
{
    uint8_t resp[MBS_PDU_MAX];
    uint8_t frame[MBS_TCP_MAX + 4];
    size_t len;

    if (pdulen == 0)
        return;
    /* Coil writes, as simstate_write() takes them: parsed or refused with
     * an exception code, applied within the table, answered in 5 bytes. */
    struct mbs_write w;
    int ex = mbs_write_parse(pdu, pdulen, &w);
    FUZZ_ASSERT(ex >= 0 && ex <= MBS_EX_ILLEGAL_VALUE);
    if (ex == 0) {
        FUZZ_ASSERT(w.qty >= 1 && (unsigned)w.addr + w.qty <= MBS_ADDR_COUNT);
        mbs_write_apply(&tables, &w);
        FUZZ_ASSERT(mbs_write_reply(&w, resp) == 5 && resp[0] == pdu[0]);
        return;
    }
    FUZZ_ASSERT((pdu[0] == 0x05 || pdu[0] == 0x0F) == (ex != MBS_EX_ILLEGAL_FUNCTION));
    int n = mbs_pdu_answer(&tables, pdu, pdulen, resp);
    FUZZ_ASSERT(n >= 2 && n <= MBS_PDU_MAX);
    if (mbs_pdu_is_exception(resp)) {
        FUZZ_ASSERT(n == 2 && resp[0] == (pdu[0] | 0x80));
        FUZZ_ASSERT(resp[1] >= MBS_EX_ILLEGAL_FUNCTION && resp[1] <= MBS_EX_ILLEGAL_VALUE);
    } else {
        FUZZ_ASSERT(pdulen == 5 && resp[0] == pdu[0] && pdu[0] >= 1 && pdu[0] <= 4);
        unsigned qty = (unsigned)pdu[3] << 8 | pdu[4];
        unsigned want = pdu[0] <= 2 ? (qty + 7) / 8 : 2 * qty;
        FUZZ_ASSERT(resp[1] == want && (unsigned)n == 2 + want);
    }
    if (c->rtu) {
        len = mbs_rtu_wrap(unit, resp, (size_t)n, frame);
        FUZZ_ASSERT(len <= MBS_RTU_MAX && mbs_rtu_crc_ok(frame, len));
    } else {
        struct mbs_mbap h;
        len = mbs_mbap_wrap(tid, unit, resp, (size_t)n, frame);
        FUZZ_ASSERT(len <= MBS_TCP_MAX);
        FUZZ_ASSERT(mbs_mbap_parse(frame, len, &h) == (int)len);
        FUZZ_ASSERT(h.tid == tid && h.unit == unit && h.length == n + 1);
    }
}

static void consume(struct conn *c, size_t n)
{
    FUZZ_ASSERT(n <= c->inlen);
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
}

static void rtu_frames(struct conn *c)
{
    while (!c->rtu_discard) {
        int need = mbs_rtu_request_len(c->in, c->inlen);
        FUZZ_ASSERT(need == -1 || need == 0 || need >= 4);
        FUZZ_ASSERT(need < IN_MAX);
        if (need <= 0 || (size_t)need > c->inlen)
            return;
        if (!mbs_rtu_crc_ok(c->in, (size_t)need)) {
            c->rtu_discard = 1;
            return;
        }
        serve(c, c->in[0], c->in + 1, (size_t)need - 3, 0);
        consume(c, (size_t)need);
    }
}

static void rtu_silence(struct conn *c)
{
    if (!c->rtu_discard && mbs_rtu_request_len(c->in, c->inlen) < 0 && c->inlen >= 4 &&
        mbs_rtu_crc_ok(c->in, c->inlen))
        serve(c, c->in[0], c->in + 1, c->inlen - 3, 0);
    c->inlen = 0;
    c->rtu_discard = 0;
}

/* 0 while the connection lives, -1 once the sim would close it. */
static int tcp_frames(struct conn *c)
{
    for (;;) {
        struct mbs_mbap h;
        int n = mbs_mbap_parse(c->in, c->inlen, &h);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        FUZZ_ASSERT((size_t)n <= c->inlen && n == MBS_MBAP_LEN + h.length - 1);
        serve(c, h.unit, c->in + MBS_MBAP_LEN, (size_t)h.length - 1, h.tid);
        consume(c, (size_t)n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conn c;

    if (tables.holding[1] == 0)
        for (int i = 0; i < MBS_ADDR_COUNT; i++) {
            tables.coils[i] = (uint8_t)(i % 3 == 0);
            tables.discrete[i] = (uint8_t)(i % 2);
            tables.holding[i] = (uint16_t)(i * 257 + 1);
            tables.input[i] = (uint16_t)(0xFFFF - i);
        }
    if (size < 1)
        return 0;
    memset(&c, 0, sizeof(c));
    c.rtu = data[0] & 1;
    size_t chunk = data[0] >> 1;
    data++, size--;
    if (chunk == 0)
        chunk = size ? size : 1;

    for (size_t at = 0; at < size;) {
        /* on_readable(): a full buffer is dropped (RTU garbage without silence). */
        if (c.inlen == IN_MAX)
            c.inlen = 0;
        size_t n = size - at < chunk ? size - at : chunk;
        if (n > IN_MAX - c.inlen)
            n = IN_MAX - c.inlen;
        memcpy(c.in + c.inlen, data + at, n);
        c.inlen += n;
        at += n;
        if (c.rtu)
            rtu_frames(&c);
        else if (tcp_frames(&c) == -1)
            return 0; /* invalid MBAP header: the sim closes the connection */
    }
    if (c.rtu && c.inlen > 0)
        rtu_silence(&c);
    return 0;
}
