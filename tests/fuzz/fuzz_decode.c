/*
 * fuzz_decode: the register decoder (sensors/model.c, sensors/kind.c) of
 * every reference model on any data, as the gateway's main loop decodes the
 * answer to one poll request (several sensors may share one, like the four
 * on the reference shelter's DI module).
 *
 * Input: one byte choosing the request of the reference shelter (modulo
 * their number), then the data: registers big-endian (two bytes each) or
 * one byte per bit, as libmodbus hands them over; missing data reads as 0.
 *
 * Checked (fuzz_decode_request): every sensor decodes (never -1), and each
 * reading's JSON is sound: a good reading carries all values of its kind,
 * one without values carries none.
 */
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct cfg *c = fuzz_shelter();
    const struct plan *p = fuzz_shelter_plan();
    static uint16_t regs[PLAN_MAX_REGS];
    static uint8_t bits[PLAN_MAX_BITS];

    if (size < 1)
        return 0;
    int request = data[0] % p->nrequests;
    const struct plan_request *rq = &p->requests[request];
    data++, size--;

    memset(regs, 0, sizeof(regs));
    memset(bits, 0, sizeof(bits));
    if (rq->fn == MB_FN_COILS || rq->fn == MB_FN_DISCRETE) {
        memcpy(bits, data, size < rq->count ? size : rq->count);
    } else {
        for (size_t i = 0; i < rq->count && 2 * i + 1 < size; i++)
            regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    }
    fuzz_decode_request(c, p, request, regs, bits);
    return 0;
}
