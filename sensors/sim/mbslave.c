/*
 * mbslave: see mbslave.h.  Written from the Modbus specifications (Application
 * Protocol v1.1b3, Serial Line v1.02, Messaging on TCP/IP v1.0b) rather than
 * with libmodbus: an independent slave is a better test of the gateway's
 * libmodbus master, and keeping framing apart from the PDU logic lets the
 * program corrupt or delay whole frames on top of it (fault injection).
 * Checks run in the order the spec's state diagrams give: function, then
 * quantity (exception 03), then address span (exception 02).
 */
#include "mbslave.h"

#include <errno.h>
#include <string.h>

/* The read functions the slave serves: quantity limits from the spec. */
static const struct read_fn {
    uint8_t fc;
    uint16_t max_qty;
    int is_bits;
} read_fns[] = {
    {0x01, 2000, 1}, /* read coils */
    {0x02, 2000, 1}, /* read discrete inputs */
    {0x03, 125, 0},  /* read holding registers */
    {0x04, 125, 0},  /* read input registers */
};

static const struct read_fn *read_fn_find(uint8_t fc)
{
    for (size_t i = 0; i < sizeof(read_fns) / sizeof(read_fns[0]); i++)
        if (read_fns[i].fc == fc)
            return &read_fns[i];
    return NULL;
}

int mbs_pdu_exception(uint8_t fc, uint8_t code, uint8_t *resp)
{
    resp[0] = (uint8_t)(fc | 0x80);
    resp[1] = code;
    return 2;
}

int mbs_pdu_is_exception(const uint8_t *resp)
{
    return (resp[0] & 0x80) != 0;
}

int mbs_pdu_answer(const struct mbs_tables *t, const uint8_t *req, size_t reqlen, uint8_t *resp)
{
    if (reqlen == 0) {
        errno = EINVAL;
        return -1;
    }
    uint8_t fc = req[0];
    const struct read_fn *rf = read_fn_find(fc);
    if (rf == NULL)
        return mbs_pdu_exception(fc, MBS_EX_ILLEGAL_FUNCTION, resp);
    if (reqlen != 5)
        return mbs_pdu_exception(fc, MBS_EX_ILLEGAL_VALUE, resp);

    unsigned addr = (unsigned)req[1] << 8 | req[2];
    unsigned qty = (unsigned)req[3] << 8 | req[4];
    if (qty < 1 || qty > rf->max_qty)
        return mbs_pdu_exception(fc, MBS_EX_ILLEGAL_VALUE, resp);
    if (addr + qty > MBS_ADDR_COUNT)
        return mbs_pdu_exception(fc, MBS_EX_ILLEGAL_ADDRESS, resp);

    resp[0] = fc;
    if (rf->is_bits) {
        const uint8_t *bits = fc == 0x01 ? t->coils : t->discrete;
        unsigned nbytes = (qty + 7) / 8;
        resp[1] = (uint8_t)nbytes;
        memset(resp + 2, 0, nbytes);
        for (unsigned i = 0; i < qty; i++)
            if (bits[addr + i])
                resp[2 + i / 8] |= (uint8_t)(1u << (i % 8));
        return 2 + (int)nbytes;
    }
    const uint16_t *regs = fc == 0x03 ? t->holding : t->input;
    resp[1] = (uint8_t)(qty * 2);
    for (unsigned i = 0; i < qty; i++) {
        resp[2 + 2 * i] = (uint8_t)(regs[addr + i] >> 8);
        resp[3 + 2 * i] = (uint8_t)(regs[addr + i] & 0xFF);
    }
    return 2 + (int)qty * 2;
}

int mbs_write_parse(const uint8_t *req, size_t reqlen, struct mbs_write *w)
{
    memset(w, 0, sizeof(*w));
    if (reqlen == 0 || (req[0] != 0x05 && req[0] != 0x0F))
        return MBS_EX_ILLEGAL_FUNCTION;
    w->fc = req[0];
    if (reqlen < 5)
        return MBS_EX_ILLEGAL_VALUE;
    w->addr = (uint16_t)(req[1] << 8 | req[2]);
    if (w->fc == 0x05) {
        unsigned value = (unsigned)req[3] << 8 | req[4];
        if (reqlen != 5 || (value != 0xFF00 && value != 0x0000))
            return MBS_EX_ILLEGAL_VALUE;
        w->qty = 1;
        w->bits[0] = value == 0xFF00;
    } else {
        w->qty = (uint16_t)(req[3] << 8 | req[4]);
        if (w->qty < 1 || w->qty > 0x07B0 || reqlen < 6 || req[5] != (w->qty + 7) / 8 ||
            reqlen != 6 + (size_t)req[5])
            return MBS_EX_ILLEGAL_VALUE;
    }
    if ((unsigned)w->addr + w->qty > MBS_ADDR_COUNT)
        return MBS_EX_ILLEGAL_ADDRESS;
    if (w->fc == 0x0F)
        for (unsigned i = 0; i < w->qty; i++)
            w->bits[i] = (uint8_t)(req[6 + i / 8] >> (i % 8) & 1);
    return 0;
}

void mbs_write_apply(struct mbs_tables *t, const struct mbs_write *w)
{
    for (unsigned i = 0; i < w->qty && w->addr + i < MBS_ADDR_COUNT; i++)
        t->coils[w->addr + i] = w->bits[i];
}

int mbs_write_reply(const struct mbs_write *w, uint8_t *resp)
{
    resp[0] = w->fc;
    resp[1] = (uint8_t)(w->addr >> 8);
    resp[2] = (uint8_t)(w->addr & 0xFF);
    if (w->fc == 0x05) {
        resp[3] = w->bits[0] ? 0xFF : 0x00;
        resp[4] = 0x00;
    } else {
        resp[3] = (uint8_t)(w->qty >> 8);
        resp[4] = (uint8_t)(w->qty & 0xFF);
    }
    return 5;
}

uint16_t mbs_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

int mbs_rtu_crc_ok(const uint8_t *frame, size_t len)
{
    if (len < 4)
        return 0;
    uint16_t crc = mbs_crc16(frame, len - 2);
    return frame[len - 2] == (crc & 0xFF) && frame[len - 1] == (crc >> 8);
}

/* Request layouts by function code (Serial Line spec): fixed length, or a
 * byte count at some offset followed by that many bytes. */
static const struct rtu_layout {
    uint8_t fc;
    uint8_t fixed_len;    /* whole frame incl. unit and CRC; 0 = by count */
    uint8_t count_offset; /* byte-count position when fixed_len is 0 */
} rtu_layouts[] = {
    {0x01, 8, 0}, {0x02, 8, 0}, {0x03, 8, 0},  {0x04, 8, 0},  {0x05, 8, 0},
    {0x06, 8, 0}, {0x07, 4, 0}, {0x0B, 4, 0},  {0x0C, 4, 0},  {0x0F, 0, 6},
    {0x10, 0, 6}, {0x11, 4, 0}, {0x16, 10, 0}, {0x17, 0, 10},
};

int mbs_rtu_request_len(const uint8_t *buf, size_t len)
{
    if (len < 2)
        return 0;
    for (size_t i = 0; i < sizeof(rtu_layouts) / sizeof(rtu_layouts[0]); i++) {
        const struct rtu_layout *l = &rtu_layouts[i];
        if (l->fc != buf[1])
            continue;
        if (l->fixed_len)
            return l->fixed_len;
        if (len <= l->count_offset)
            return 0;
        return l->count_offset + 1 + buf[l->count_offset] + 2;
    }
    return -1;
}

size_t mbs_rtu_wrap(uint8_t unit, const uint8_t *pdu, size_t pdulen, uint8_t *out)
{
    out[0] = unit;
    memcpy(out + 1, pdu, pdulen);
    uint16_t crc = mbs_crc16(out, pdulen + 1);
    out[pdulen + 1] = (uint8_t)(crc & 0xFF);
    out[pdulen + 2] = (uint8_t)(crc >> 8);
    return pdulen + 3;
}

int mbs_mbap_parse(const uint8_t *buf, size_t len, struct mbs_mbap *h)
{
    if (len < MBS_MBAP_LEN)
        return 0;
    h->tid = (uint16_t)(buf[0] << 8 | buf[1]);
    h->proto = (uint16_t)(buf[2] << 8 | buf[3]);
    h->length = (uint16_t)(buf[4] << 8 | buf[5]);
    h->unit = buf[6];
    if (h->proto != 0 || h->length < 2 || h->length > MBS_PDU_MAX + 1) {
        errno = EPROTO;
        return -1;
    }
    size_t total = 6 + (size_t)h->length;
    return len < total ? 0 : (int)total;
}

size_t mbs_mbap_wrap(uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t pdulen, uint8_t *out)
{
    out[0] = (uint8_t)(tid >> 8);
    out[1] = (uint8_t)(tid & 0xFF);
    out[2] = 0;
    out[3] = 0;
    out[4] = (uint8_t)((pdulen + 1) >> 8);
    out[5] = (uint8_t)((pdulen + 1) & 0xFF);
    out[6] = unit;
    memcpy(out + MBS_MBAP_LEN, pdu, pdulen);
    return pdulen + MBS_MBAP_LEN;
}
