/*
 * mbslave: the Modbus slave protocol core of shelter-sim.  Pure functions:
 * a request PDU and the unit's tables in, a response PDU out; RTU (CRC16)
 * and TCP (MBAP) framing helpers.  No I/O, no clock, no allocation; any
 * thread.
 */
#ifndef SIM_MBSLAVE_H
#define SIM_MBSLAVE_H

#include <stddef.h>
#include <stdint.h>

#define MBS_ADDR_COUNT 256 /* each table serves addresses 0..255 */
#define MBS_PDU_MAX 253    /* function code + data */
#define MBS_RTU_MAX 256    /* unit + PDU + CRC */
#define MBS_TCP_MAX 260    /* MBAP (7) + PDU */
#define MBS_MBAP_LEN 7

/* Modbus exception codes used by the slave. */
enum {
    MBS_EX_ILLEGAL_FUNCTION = 0x01,
    MBS_EX_ILLEGAL_ADDRESS = 0x02,
    MBS_EX_ILLEGAL_VALUE = 0x03,
};

/* The four data tables of one unit.  Bits are stored one per byte (0 or 1). */
struct mbs_tables {
    uint8_t coils[MBS_ADDR_COUNT];
    uint8_t discrete[MBS_ADDR_COUNT];
    uint16_t holding[MBS_ADDR_COUNT];
    uint16_t input[MBS_ADDR_COUNT];
};

/* Answer one request PDU (function code first, reqlen >= 1) from t into resp
 * (room for MBS_PDU_MAX bytes).  FC01/02/03/04 are served; any other function
 * gets exception 01, a quantity outside the function's limits (or a PDU of
 * the wrong length) exception 03, a span outside 0..255 exception 02.
 * Returns the response PDU length, or -1 with errno EINVAL when reqlen is 0. */
int mbs_pdu_answer(const struct mbs_tables *t, const uint8_t *req, size_t reqlen, uint8_t *resp);

/* A coil write (FC05 write single coil, FC15 write multiple coils). */
struct mbs_write {
    uint8_t fc;
    uint16_t addr, qty;
    uint8_t bits[MBS_ADDR_COUNT]; /* the values, one per coil from addr */
};

/* Parse a write request PDU (function code first) into w.  Returns 0, or
 * the exception code to answer with (> 0): 01 not FC05/FC15, 03 a value or
 * quantity outside the spec (FC05: 0xFF00 or 0x0000; FC15: 1..1968 coils,
 * a byte count that fits them) or a PDU of the wrong length, 02 a span
 * outside 0..255. */
int mbs_write_parse(const uint8_t *req, size_t reqlen, struct mbs_write *w);

/* Set the coils w writes. */
void mbs_write_apply(struct mbs_tables *t, const struct mbs_write *w);

/* The normal response to w into resp: FC05 echoes the request, FC15 gives
 * the start and quantity.  Returns its length (5). */
int mbs_write_reply(const struct mbs_write *w, uint8_t *resp);

/* Write the exception response to function fc into resp.  Returns 2. */
int mbs_pdu_exception(uint8_t fc, uint8_t code, uint8_t *resp);

/* True when a response PDU is an exception response. */
int mbs_pdu_is_exception(const uint8_t *resp);

/* Modbus RTU CRC16 (poly 0xA001, init 0xFFFF).  On the wire the low byte goes
 * first: 01 03 00 00 00 0A -> 0xCDC5, sent as C5 CD. */
uint16_t mbs_crc16(const uint8_t *buf, size_t len);

/* Length of the RTU request frame that starts at buf, judged from its function
 * code: > 0 the frame length (it may exceed len: wait for more bytes), 0 when
 * len is too short to tell yet, -1 when the function has no fixed request
 * layout (the frame then ends with the line's silence). */
int mbs_rtu_request_len(const uint8_t *buf, size_t len);

/* True when the last two bytes of an RTU frame (len >= 4) are its CRC. */
int mbs_rtu_crc_ok(const uint8_t *frame, size_t len);

/* Frame a PDU for RTU: unit, PDU, CRC low, CRC high.  out needs pdulen + 3
 * bytes.  Returns the frame length. */
size_t mbs_rtu_wrap(uint8_t unit, const uint8_t *pdu, size_t pdulen, uint8_t *out);

/* The MBAP header of a Modbus TCP frame. */
struct mbs_mbap {
    uint16_t tid;    /* transaction id, echoed in the response */
    uint16_t proto;  /* 0 for Modbus */
    uint16_t length; /* unit + PDU bytes */
    uint8_t unit;
};

/* Parse the TCP frame at buf.  Returns the whole frame length (header + PDU)
 * when complete, 0 when more bytes are needed, -1 with errno EPROTO when the
 * header is invalid (protocol id not 0, length outside 2..254): the stream
 * cannot be resynchronised and the connection should be closed.
 * The PDU starts at buf + MBS_MBAP_LEN and is h->length - 1 bytes. */
int mbs_mbap_parse(const uint8_t *buf, size_t len, struct mbs_mbap *h);

/* Frame a PDU for TCP with transaction id tid.  out needs pdulen + 7 bytes.
 * Returns the frame length. */
size_t mbs_mbap_wrap(uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t pdulen, uint8_t *out);

#endif
