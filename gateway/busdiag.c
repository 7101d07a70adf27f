/* busdiag: see busdiag.h.  When one unit on a bus is silent, that unit is
 * the suspect; when every unit is, the line almost always is (the wiring,
 * or serial settings that match no device), and a row of comm_lost readings
 * says none of that.  The causes are listed commonest first, as installers
 * find them; what the poller's last error says narrows them (a device that
 * cannot be opened is not a wiring fault, answers with a bad CRC are not
 * swapped wires). */
#include "busdiag.h"

#include "cfg.h"

#include <errno.h>
#include <modbus.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *buf;
    size_t len, used; /* used counts what was needed, also past len */
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->used < o->len ? o->len - o->used : 0;
    int n = vsnprintf(room > 0 ? o->buf + o->used : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used += (size_t)n;
}

/* The answer came but was garbled: the bytes are read at another speed or
 * framing than they were sent with. */
static int garbled(int err)
{
    return err == EMBBADCRC || err == EMBBADDATA || err == EMBBADEXC || err == EMBMDATA;
}

/* The link could not even be opened or connected: no question was asked. */
static int not_opened(int err)
{
    return err == ENOENT || err == EACCES || err == EPERM || err == ENODEV || err == EBUSY ||
           err == ENXIO || err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
           err == ENOTCONN;
}

size_t busdiag_silent(const struct cfg *c, int bus, int err, char *buf, size_t len)
{
    const struct cfg_bus *b = &c->buses[bus];
    struct out o = {buf, len, 0};
    int listed = 0;

    if (len > 0)
        buf[0] = '\0';
    if (b->type == BUS_RTU)
        put(&o, "bus %s (%s, %d %d%c%d): no unit answered (units", b->name, b->device, b->baud,
            b->data_bits, b->parity, b->stop_bits);
    else
        put(&o, "bus %s (%s:%d): no unit answered (units", b->name, b->host, b->port);
    for (int i = 0; i < c->nsensors; i++) {
        int seen = 0;
        if (c->sensors[i].bus != bus)
            continue;
        for (int j = 0; j < i && !seen; j++)
            seen = c->sensors[j].bus == bus && c->sensors[j].unit == c->sensors[i].unit;
        if (!seen)
            put(&o, "%s%d", listed++ ? ", " : " ", c->sensors[i].unit);
    }
    put(&o, "; last error: %s).\n", err ? modbus_strerror(err) : "no poll result");

    if (not_opened(err)) {
        if (b->type == BUS_RTU)
            put(&o,
                "  The serial port could not be opened: is the RS-485 adapter plugged in and"
                " is %s its name (ls -l /dev/ttyS* /dev/ttyUSB*)? The service user needs"
                " the group dialout.\n",
                b->device);
        else
            put(&o,
                "  Nothing answered at %s:%d: check the address and port of the Modbus TCP"
                " device or converter, and that this machine can reach it.\n",
                b->host, b->port);
        return o.used;
    }
    if (b->type == BUS_TCP)
        put(&o, "  Behind a Modbus TCP to RS-485 converter, every unit silent usually means its"
                " serial side:\n");
    else
        put(&o, "  When every unit on a bus is silent, the line is usually at fault, not the"
                " devices:\n");
    char settings[64];
    if (b->type == BUS_RTU)
        snprintf(settings, sizeof(settings), "this bus: %d %d%c%d", b->baud, b->data_bits,
                 b->parity, b->stop_bits);
    else
        snprintf(settings, sizeof(settings), "the converter's serial settings");
    if (garbled(err)) {
        put(&o,
            "  - answers arrive garbled: the baud rate, parity or stop bits differ from the"
            " devices' (%s; most sensors ship at 9600 8N1, which is parity = N);\n",
            settings);
        put(&o, "  - A and B swapped, or no common ground, on a long or noisy line;\n");
    } else {
        put(&o, "  - A and B swapped: exchange the two data wires (some makers label them the"
                " other way round, or D+/D-);\n");
        put(&o, "  - no common ground: connect the adapter's GND to the devices' GND/COM;\n");
        put(&o,
            "  - the baud rate or parity differ from the devices' (%s; most sensors ship at"
            " 9600 8N1, which is parity = N);\n",
            settings);
    }
    put(&o, "  - wrong unit ids: [sensor] unit is not the address set in the device (factory"
            " default usually 1);\n");
    put(&o, "  - no power to the devices, or a broken cable or missing termination.\n");
    return o.used;
}
