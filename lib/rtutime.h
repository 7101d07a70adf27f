/*
 * rtutime: how long Modbus RTU frames take on an RS-485 line (Modbus over
 * Serial Line v1.02, section 2.5.1.1), for the gateway (its default gap,
 * the line load --check reports) and shelter-sim (its wire-timed mode).
 * Times in nanoseconds.  Pure; any thread.
 *
 * A character is a start bit, the data bits, a parity bit if any and the
 * stop bits: 10 bits for 8N1, 11 for 8E1 or 8N2 (what the spec asks for).
 * A frame ends when the line has been silent for 3.5 characters (t3.5);
 * above 19200 baud the spec fixes t3.5 at 1.75 ms instead.  One read
 * transaction on the line is: the silence before the request, the request,
 * the silence that ends it, the answer.
 */
#ifndef GW_RTUTIME_H
#define GW_RTUTIME_H

#include <stdint.h>

#define RTUTIME_READ_REQUEST_BYTES 8 /* unit, FC, address, quantity, CRC (FC01-04) */
#define RTUTIME_EXCEPTION_BYTES 5    /* unit, FC | 0x80, code, CRC */
#define RTUTIME_FAST_BAUD 19200      /* above this, fixed timers */
#define RTUTIME_FAST_SILENCE_NS 1750000
#define RTUTIME_FRAME_MAX_BYTES 256

/* Bits per character: 1 + data_bits + (parity 'E' or 'O' ? 1 : 0) + stop_bits. */
int rtutime_char_bits(int data_bits, char parity, int stop_bits);

/* One character at baud (> 0), rounded up to the nanosecond. */
int64_t rtutime_char_ns(int baud, int char_bits);

/* t3.5: the silence that ends a frame (3.5 characters; 1.75 ms above 19200 baud). */
int64_t rtutime_silence_ns(int baud, int char_bits);

/* bytes on the line. */
int64_t rtutime_bytes_ns(int baud, int char_bits, int bytes);

/* The answer frame to a read of count registers (fn 3, 4) or bits (fn 1, 2):
 * unit, FC, byte count, data, CRC. */
int rtutime_read_answer_bytes(int fn, int count);

/* One read transaction's share of the line: t3.5 before the request, the
 * request, t3.5, the answer.  The bound no master can beat. */
int64_t rtutime_read_transaction_ns(int baud, int char_bits, int fn, int count);

#endif
