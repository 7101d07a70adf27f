/*
 * mbtcp: one Modbus TCP read transaction (FC01-04), framed and checked here
 * rather than by libmodbus.  libmodbus 3.1.6 checks an answer's transaction
 * and protocol ids but not its unit id, so behind a TCP/RTU converter an
 * answer from another unit passed as this unit's data (a false door-open or
 * flood); and its raw-request path sends every request with transaction id
 * 0, which would give up the check that keeps a late answer from being read
 * as the next one's.  libmodbus still opens, flushes and closes the
 * connection; this module only talks on its socket.
 *
 * Framing and checks are pure (mbtcp_request, mbtcp_frame_len, mbtcp_check);
 * mbtcp_read does the I/O.  Errors are libmodbus's errnos, so the poller
 * treats them as it treats libmodbus's: EMBBADSLAVE an answer from another
 * unit, EMBBADDATA a malformed or mismatched answer, EMBXILFUN.. an
 * exception, ETIMEDOUT no answer in time (each that unit's failure), any
 * other errno the connection's.  The calling (poller) thread only.
 */
#ifndef GW_MBTCP_H
#define GW_MBTCP_H

#include <stddef.h>
#include <stdint.h>

#define MBTCP_REQUEST_LEN 12 /* MBAP (7) + function, start, count */
#define MBTCP_ADU_MAX 260    /* MBAP (7) + the longest PDU (253) */

/* A read request: transaction tid to unit, function fn (1..4), count
 * values from start.  Returns MBTCP_REQUEST_LEN. */
size_t mbtcp_request(uint16_t tid, uint8_t unit, int fn, uint16_t start, uint16_t count,
                     uint8_t out[MBTCP_REQUEST_LEN]);

/* The length of the frame at buf (len bytes so far): > 0 the whole frame's
 * length (it may exceed len: read more), 0 when the header is not complete,
 * -1 with errno EMBBADDATA when the header is not Modbus (protocol id not 0,
 * length outside 2..254): the stream is out of step. */
int mbtcp_frame_len(const uint8_t *buf, size_t len);

/* The transaction id of a frame (at least 2 bytes). */
uint16_t mbtcp_frame_tid(const uint8_t *frame);

/* Check a whole frame (its tid already matched) against the request (unit,
 * fn, count) and decode it: registers into regs (FC03/04), bits one per byte
 * into bits (FC01/02).  0, or -1 with errno: EMBBADSLAVE (another unit's),
 * an exception (EMBXILFUN..EMBXGTAR, EMBBADEXC for an unknown code), or
 * EMBBADDATA (another function, a byte count that is not the request's). */
int mbtcp_check(const uint8_t *frame, size_t len, uint8_t unit, int fn, uint16_t count,
                uint16_t *regs, uint8_t *bits);

/* Send the request and read its answer on the connected socket fd (blocking
 * or not), within timeout_ms for the whole transaction.  *tid is the last
 * transaction id used; it is advanced.  Answers to earlier transactions
 * (late ones) are read and dropped.  0, or -1 with errno (see above;
 * ECONNRESET when the peer closed). */
int mbtcp_read(int fd, uint16_t *tid, uint8_t unit, int fn, uint16_t start, uint16_t count,
               int timeout_ms, uint16_t *regs, uint8_t *bits);

#endif
