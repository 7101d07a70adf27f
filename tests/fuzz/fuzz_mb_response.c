/*
 * fuzz_mb_response: the bytes a Modbus slave answers, through the gateway's
 * Modbus master and on to a reading.  For one request of the reference
 * shelter the target does what a bus thread does (gateway/poller.c do_read():
 * Modbus TCP through mbtcp_read() on the connection's socket; RTU through
 * libmodbus: modbus_set_slave, then modbus_read_bits / _input_bits /
 * _registers / _input_registers on the request's span, a short answer
 * being an error) and then what the main loop does with the data
 * (fuzz_decode_request).  The answer arrives on a socketpair (for RTU given
 * to a libmodbus context with modbus_set_socket()); the far end is shut for
 * writing after it, so a short answer ends at once instead of waiting for
 * the response timeout.
 *
 * Input: one selector byte, then the answer's bytes.
 *   bit 0   framing: 0 Modbus TCP (MBAP header), 1 RTU (unit ... CRC)
 *   bit 1   fix the framing up first (TCP: transaction id and length
 *           field; RTU: append the CRC), so mutations reach the PDU
 *   bits 2+ the request of the reference shelter (modulo their number)
 *
 * Checked: the master answers with the data or -1; data it accepts decodes
 * for every member sensor into a sound reading.  libmodbus itself is not
 * instrumented (a system library): for RTU the sanitizers see our side only.
 */
#include <modbus.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"
#include "mbtcp.h"
#include "plan.h"

#define ANSWER_MAX 1024 /* more than any answer; a socketpair buffer holds it */

static uint16_t crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct cfg *c = fuzz_shelter();
    const struct plan *p = fuzz_shelter_plan();
    static uint8_t answer[ANSWER_MAX + 2];
    static uint16_t regs[PLAN_MAX_REGS];
    static uint8_t bits[PLAN_MAX_BITS];
    int sv[2];

    if (size < 1 || size - 1 > ANSWER_MAX)
        return 0;
    bool rtu = data[0] & 1, fix = data[0] & 2;
    int request = (data[0] >> 2) % p->nrequests;
    const struct plan_request *rq = &p->requests[request];
    size_t len = size - 1;
    memcpy(answer, data + 1, len);
    if (fix && rtu) {
        uint16_t crc = crc16(answer, len);
        answer[len++] = (uint8_t)(crc & 0xFF);
        answer[len++] = (uint8_t)(crc >> 8);
    } else if (fix && len >= 7) {
        answer[0] = 0; /* a fresh context's first transaction id is 1 */
        answer[1] = 1;
        answer[4] = (uint8_t)((len - 6) >> 8);
        answer[5] = (uint8_t)((len - 6) & 0xFF);
    }

    FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    /* The device end: the answer, then end of stream (the request the
     * master writes still fits its receive buffer). */
    FUZZ_ASSERT(len == 0 || write(sv[1], answer, len) == (ssize_t)len);
    FUZZ_ASSERT(shutdown(sv[1], SHUT_WR) == 0);

    int n = -1;
    memset(regs, 0, sizeof(regs));
    memset(bits, 0, sizeof(bits));
    if (!rtu) {
        uint16_t tid = 0; /* a new connection's: its first request is tid 1 */
        if (mbtcp_read(sv[0], &tid, (uint8_t)rq->unit, (int)rq->fn, rq->start, rq->count, 200, regs,
                       bits) == 0)
            n = rq->count;
        FUZZ_ASSERT(tid == 1);
        close(sv[0]);
    } else {
        modbus_t *ctx = modbus_new_rtu("/dev/null", 9600, 'N', 8, 1);
        FUZZ_ASSERT(ctx != NULL);
        FUZZ_ASSERT(modbus_set_socket(ctx, sv[0]) == 0);
        /* As poller.c sets up its contexts. */
        FUZZ_ASSERT(modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE) == 0);
        FUZZ_ASSERT(modbus_set_response_timeout(ctx, 0, 200000) == 0);
        FUZZ_ASSERT(modbus_set_byte_timeout(ctx, 0, 0) == 0);
        if (modbus_set_slave(ctx, rq->unit) == 0) {
            switch (rq->fn) {
            case MB_FN_COILS:
                n = modbus_read_bits(ctx, rq->start, rq->count, bits);
                break;
            case MB_FN_DISCRETE:
                n = modbus_read_input_bits(ctx, rq->start, rq->count, bits);
                break;
            case MB_FN_HOLDING:
                n = modbus_read_registers(ctx, rq->start, rq->count, regs);
                break;
            case MB_FN_INPUT:
                n = modbus_read_input_registers(ctx, rq->start, rq->count, regs);
                break;
            }
        }
        modbus_close(ctx); /* closes sv[0] */
        modbus_free(ctx);
    }
    FUZZ_ASSERT(n == -1 || (n >= 0 && n <= rq->count));
    if (n == rq->count) /* poller.c: any other count is EGW_SHORT, a failed poll */
        fuzz_decode_request(c, p, request, regs, bits);
    close(sv[1]);
    return 0;
}
