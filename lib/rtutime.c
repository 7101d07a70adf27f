/*
 * rtutime: see rtutime.h.  Integer arithmetic in nanoseconds, rounded up:
 * a silence one nanosecond too long costs nothing, one too short may merge
 * two frames for a strict slave.
 */
#include "rtutime.h"

int rtutime_char_bits(int data_bits, char parity, int stop_bits)
{
    return 1 + data_bits + (parity == 'E' || parity == 'O' ? 1 : 0) + stop_bits;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

int64_t rtutime_char_ns(int baud, int char_bits)
{
    return ceil_div((int64_t)char_bits * 1000000000, baud);
}

int64_t rtutime_bytes_ns(int baud, int char_bits, int bytes)
{
    return ceil_div((int64_t)bytes * char_bits * 1000000000, baud);
}

int64_t rtutime_silence_ns(int baud, int char_bits)
{
    if (baud > RTUTIME_FAST_BAUD)
        return RTUTIME_FAST_SILENCE_NS;
    return ceil_div((int64_t)7 * char_bits * 1000000000, 2 * (int64_t)baud);
}

int rtutime_read_answer_bytes(int fn, int count)
{
    int data = fn == 1 || fn == 2 ? (count + 7) / 8 : 2 * count;
    return 5 + data;
}

int64_t rtutime_read_transaction_ns(int baud, int char_bits, int fn, int count)
{
    return 2 * rtutime_silence_ns(baud, char_bits) +
           rtutime_bytes_ns(baud, char_bits,
                            RTUTIME_READ_REQUEST_BYTES + rtutime_read_answer_bytes(fn, count));
}
