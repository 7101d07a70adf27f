/*
 * sensorcfg: the [bus] and [sensor] sections of gateway.conf, read through
 * lib/ini (docs/design.md section 6).  The [bus] key table is constant; the
 * [sensor] one is the keys every sensor has plus, for each kind of the kind
 * table, its own keys (kind_def()->keys) and DI channels (->inputs), each
 * tagged with the kinds that have it; it is built once, on first use.  The
 * rules that span keys or sections run after the whole file is read
 * (sensorcfg_check), so that key order never matters.  shelter-sim reads
 * the file through sensorcfg_load; the gateway through the parts, in its
 * own section table (gateway/cfg.c).
 */
#include "sensorcfg.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gwerr.h"
#include "kind.h"
#include "rtutime.h"

#define CHANNEL_MAX 31 /* inverted_mask is 32 bits wide */
#define LABEL_MAX (CFG_NAME_MAX + 16)

/* ---- parse state ---- */

struct bus_parse {
    struct cfg_bus b;
    struct ini_keyset ks;
};

struct sensor_parse {
    struct cfg_sensor s;
    char bus_name[CFG_NAME_MAX];
    char model_name[MODEL_NAME_MAX];
    struct ini_keyset ks;
    struct sensorcfg_extra *extra;
    int nextra;
    /* filled by validation, for the checks across sensors */
    bool shareable; /* bus, unit and model known */
    int nch;
    int ch[INI_KEYS_MAX], ch_key[INI_KEYS_MAX];
};

/* An [output NAME]. */
struct output_parse {
    struct sensorcfg_output o;
    char bus_name[CFG_NAME_MAX];
    char model_name[MODEL_NAME_MAX];
    struct ini_keyset ks;
    bool placed; /* bus, unit, model and channel known: for the checks across outputs */
};

struct sensorcfg_parse {
    struct bus_parse *buses;
    int nbuses;
    struct sensor_parse *sensors;
    int nsensors;
    struct output_parse *outputs;
    int noutputs;
    /* sensorcfg_load only: [gateway], of which it reads models_dir */
    struct sensorcfg *out;
    int gateway_line;
    struct ini_keyset gateway_ks;
};

/* ---- key tables ---- */

/* Conditions the cross-checks apply (lib/ini.h: a key with one of these is
 * required only where its condition holds). */
enum {
    K_RTU = INI_USER(0),    /* only on rtu buses */
    K_TCP = INI_USER(1),    /* only on tcp buses */
    K_INPUTS = INI_USER(2), /* only on models with an "inputs" point */
};

#define FIELD INI_FIELD
#define KIND_BIT(k) (1u << (k))

static int p_kind(const struct ini_key *, const char *, void *, char *, size_t);
static int p_baud(const struct ini_key *, const char *, void *, char *, size_t);
static int p_channel(const struct ini_key *, const char *, void *, char *, size_t);
static int p_channels(const struct ini_key *, const char *, void *, char *, size_t);

static const struct name_value bus_type_names[] = {{"rtu", BUS_RTU}, {"tcp", BUS_TCP}, {NULL, 0}};
/* N, E, O: the letter of a device manual's "9600 8N1". */
static const struct name_value parity_names[] = {
    {"none", 'N'}, {"even", 'E'}, {"odd", 'O'}, {"N", 'N'}, {"E", 'E'}, {"O", 'O'}, {NULL, 0}};

/* Enum keys store through an int; make sure the enums are int-sized. */
_Static_assert(sizeof(enum bus_type) == sizeof(int), "enum bus_type is not int-sized");
_Static_assert(sizeof(enum kind) == sizeof(int), "enum kind is not int-sized");

enum {
    BK_TYPE,
    BK_DEVICE,
    BK_BAUD,
    BK_PARITY,
    BK_DATA_BITS,
    BK_STOP_BITS,
    BK_HOST,
    BK_PORT,
    BK_TIMEOUT,
    BK_RETRIES,
    BK_GAP,
    BK_COUNT
};
static const struct ini_key bus_keys[BK_COUNT] = {
    [BK_TYPE] = {"type", ini_enum, FIELD(struct bus_parse, b.type), .flags = INI_REQUIRED,
                 .names = bus_type_names},
    [BK_DEVICE] = {"device", ini_text, FIELD(struct bus_parse, b.device),
                   .flags = K_RTU | INI_REQUIRED},
    [BK_BAUD] = {"baud", p_baud, FIELD(struct bus_parse, b.baud), .dflt = "9600", .flags = K_RTU},
    [BK_PARITY] = {"parity", ini_enum, FIELD(struct bus_parse, b.parity), .dflt = "none",
                   .flags = K_RTU, .names = parity_names},
    [BK_DATA_BITS] = {"data_bits", ini_int, FIELD(struct bus_parse, b.data_bits), 7, 8, .dflt = "8",
                      .flags = K_RTU},
    [BK_STOP_BITS] = {"stop_bits", ini_int, FIELD(struct bus_parse, b.stop_bits), 1, 2, .dflt = "1",
                      .flags = K_RTU},
    [BK_HOST] = {"host", ini_host, FIELD(struct bus_parse, b.host), .flags = K_TCP | INI_REQUIRED},
    [BK_PORT] = {"port", ini_int, FIELD(struct bus_parse, b.port), 1, 65535, .dflt = "502",
                 .flags = K_TCP},
    [BK_TIMEOUT] = {"timeout", ini_duration_ms, FIELD(struct bus_parse, b.timeout_ms), 10, 5000,
                    .dflt = "500ms"},
    [BK_RETRIES] = {"retries", ini_int, FIELD(struct bus_parse, b.retries), 0, 5, .dflt = "1"},
    /* No table default: it depends on the line (rtu t3.5, tcp 0), see check_bus(). */
    [BK_GAP] = {"gap", ini_duration_ms, FIELD(struct bus_parse, b.gap_ms), 0, 1000},
};

/* The keys every sensor has; the kinds' own keys follow them in the table. */
enum { SK_BUS, SK_UNIT, SK_KIND, SK_MODEL, SK_INTERVAL, SK_GAP, SK_LOCATION, SK_COMMON };
static const struct ini_key common_sensor_keys[SK_COMMON] = {
    [SK_BUS] = {"bus", ini_slug, FIELD(struct sensor_parse, bus_name), .flags = INI_REQUIRED},
    /* The range of a unit id depends on the bus type: checked in check_sensor(). */
    [SK_UNIT] = {"unit", ini_int, FIELD(struct sensor_parse, s.unit), 0, 255,
                 .flags = INI_REQUIRED},
    [SK_KIND] = {"kind", p_kind, FIELD(struct sensor_parse, s.def.kind), .flags = INI_REQUIRED},
    [SK_MODEL] = {"model", ini_text, FIELD(struct sensor_parse, model_name), .flags = INI_REQUIRED},
    [SK_INTERVAL] = {"interval", ini_duration_ms, FIELD(struct sensor_parse, s.interval_ms), 100,
                     3600000, .dflt = "1s"},
    [SK_GAP] = {"gap", ini_duration_ms, FIELD(struct sensor_parse, s.gap_ms), 0, 1000},
    [SK_LOCATION] = {"location", ini_text, FIELD(struct sensor_parse, s.location),
                     .flags = INI_EMPTY_OK},
};

/* The [sensor] table: common keys, then each kind's keys and DI channels
 * in kind order, then inverted_inputs (for every kind with channels). */
static struct ini_key sensor_keys[INI_KEYS_MAX];
static int nsensor_keys, sk_inverted;

#define DEF_AT(offset) (offsetof(struct sensor_parse, s.def) + (offset))

static void add_sensor_key(struct ini_key k)
{
    for (int i = SK_COMMON; i < nsensor_keys; i++) {
        if (strcmp(sensor_keys[i].name, k.name) == 0) {
            /* Two kinds with one key: it must mean the same to both. */
            assert(sensor_keys[i].offset == k.offset && sensor_keys[i].parse == k.parse &&
                   sensor_keys[i].flags == k.flags);
            sensor_keys[i].tag |= k.tag;
            return;
        }
    }
    assert(nsensor_keys < INI_KEYS_MAX);
    sensor_keys[nsensor_keys++] = k;
}

static void build_sensor_keys(void)
{
    unsigned di_kinds = 0;

    if (nsensor_keys > 0)
        return;
    memcpy(sensor_keys, common_sensor_keys, sizeof(common_sensor_keys));
    nsensor_keys = SK_COMMON;
    for (int k = 0; k < KIND_COUNT; k++) {
        const struct kind_def *d = kind_def((enum kind)k);
        for (int i = 0; i < d->nkeys; i++)
            add_sensor_key((struct ini_key){d->keys[i].key, ini_double, DEF_AT(d->keys[i].offset),
                                            sizeof(double), d->keys[i].min, d->keys[i].max,
                                            .flags = d->keys[i].required ? INI_REQUIRED : 0,
                                            .tag = KIND_BIT(k)});
        for (int i = 0; i < d->ninputs; i++)
            add_sensor_key((struct ini_key){
                d->inputs[i].key, p_channel, DEF_AT(d->inputs[i].offset), sizeof(int),
                .flags = K_INPUTS | (d->inputs[i].required ? INI_REQUIRED : 0),
                .tag = KIND_BIT(k)});
        if (d->ninputs > 0)
            di_kinds |= KIND_BIT(k);
    }
    sk_inverted = nsensor_keys;
    add_sensor_key((struct ini_key){"inverted_inputs", p_channels,
                                    FIELD(struct sensor_parse, s.def.inverted_mask),
                                    .flags = K_INPUTS | INI_EMPTY_OK, .tag = di_kinds});
}

static bool is_channel_key(int i)
{
    return sensor_keys[i].parse == p_channel;
}

/* ---- value parsers (the "parser" column of the key tables) ---- */

static int p_kind(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    enum kind kind;
    char list[128];
    size_t used = 0;
    (void)k;

    if (kind_from_name(value, &kind) == 0) {
        *(enum kind *)field = kind;
        return 0;
    }
    list[0] = '\0';
    for (int i = 0; i < KIND_COUNT && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                         kind_name((enum kind)i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    snprintf(err, errlen, "unknown kind '%.64s' (one of: %s)", value, list);
    return -1;
}

/* libmodbus silently falls back to 9600 for a rate it does not know, so only
 * rates every RS-485 adapter supports are accepted. */
static const int bauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};

static int p_baud(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    long v;
    (void)k;
    if (parse_int(value, 1, 4000000, &v, err, errlen) == -1)
        return -1;
    for (size_t i = 0; i < sizeof(bauds) / sizeof(bauds[0]); i++) {
        if (bauds[i] == v) {
            *(int *)field = (int)v;
            return 0;
        }
    }
    snprintf(err, errlen,
             "%ld is not a supported baud rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, "
             "115200)",
             v);
    return -1;
}

static int p_channel(const struct ini_key *k, const char *value, void *field, char *err,
                     size_t errlen)
{
    long v;
    (void)k;
    if (parse_int(value, 0, CHANNEL_MAX, &v, err, errlen) == -1)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

/* inverted_inputs: channel numbers separated by blanks and/or commas. */
static int p_channels(const struct ini_key *k, const char *value, void *field, char *err,
                      size_t errlen)
{
    unsigned mask = 0;
    const char *q = value;
    char one[32];
    long ch;
    (void)k;

    for (;;) {
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        size_t len = strcspn(q, " \t,");
        if (len >= sizeof(one))
            len = sizeof(one) - 1; /* still not a valid number: parse_int says so */
        memcpy(one, q, len);
        one[len] = '\0';
        if (parse_int(one, 0, CHANNEL_MAX, &ch, err, errlen) == -1)
            return -1;
        if (mask & (1u << ch)) {
            snprintf(err, errlen, "channel %ld listed twice", ch);
            return -1;
        }
        mask |= 1u << ch;
        q += strcspn(q, " \t,");
    }
    *(unsigned *)field = mask;
    return 0;
}

/* ---- sections: where their keys go ---- */

static void *grow(void *v, int n, size_t elem)
{
    /* Arrays grow by one section at a time; configs have tens of sections. */
    return realloc(v, (size_t)(n + 1) * elem);
}

void *sensorcfg_open_bus(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct sensorcfg_parse *p = user;
    (void)err, (void)errlen;
    struct bus_parse *v = grow(p->buses, p->nbuses, sizeof(*v));
    if (v == NULL)
        return NULL;
    p->buses = v;
    struct bus_parse *bp = &p->buses[p->nbuses++];
    memset(bp, 0, sizeof(*bp));
    snprintf(bp->b.name, sizeof(bp->b.name), "%s", name);
    bp->b.line = line;
    *ks = &bp->ks;
    return bp;
}

void *sensorcfg_open_sensor(void *user, const char *name, int line, struct ini_keyset **ks,
                            char *err, size_t errlen)
{
    struct sensorcfg_parse *p = user;
    (void)err, (void)errlen;
    struct sensor_parse *v = grow(p->sensors, p->nsensors, sizeof(*v));
    if (v == NULL)
        return NULL;
    p->sensors = v;
    struct sensor_parse *sp = &p->sensors[p->nsensors++];
    memset(sp, 0, sizeof(*sp));
    snprintf(sp->s.name, sizeof(sp->s.name), "%s", name);
    sp->s.line = line;
    sp->s.gap_ms = -1;
    for (int i = 0; i < nsensor_keys; i++) /* "not wired" */
        if (is_channel_key(i))
            *(int *)((char *)sp + sensor_keys[i].offset) = -1;
    *ks = &sp->ks;
    return sp;
}

/* A sensor key outside the table (the gateway's alarm overrides,
 * docs/design.md section 9), kept for the program, which knows what it is
 * once the sensor's kind is known. */
int sensorcfg_other_key(void *user, void *base, const char *key, const char *value, int line,
                        char *err, size_t errlen)
{
    struct sensor_parse *sp = base;
    (void)user, (void)err, (void)errlen;
    struct sensorcfg_extra *v = grow(sp->extra, sp->nextra, sizeof(*v));
    if (v == NULL)
        return -1;
    sp->extra = v;
    v[sp->nextra].key = strdup(key);
    v[sp->nextra].value = strdup(value);
    v[sp->nextra].line = line;
    sp->nextra++;
    if (v[sp->nextra - 1].key == NULL || v[sp->nextra - 1].value == NULL)
        return -1;
    return 0;
}

static int sensor_name_ok(const char *name, char *err, size_t errlen)
{
    if (!ini_is_slug(name, strlen(name)) || strlen(name) >= CFG_NAME_MAX) {
        snprintf(err, errlen,
                 "name '%.64s' is not topic-safe (use only A-Z a-z 0-9 _ -, at most %d bytes)",
                 name, CFG_NAME_MAX - 1);
        return -1;
    }
    /* alarm/gateway/... carries the gateway's own alarms (disk). */
    if (strcmp(name, "gateway") == 0) {
        snprintf(err, errlen, "the name 'gateway' is reserved for the gateway's own alarms");
        return -1;
    }
    return 0;
}

void sensorcfg_sections(struct ini_section *bus, struct ini_section *sensor)
{
    build_sensor_keys();
    *bus = (struct ini_section){.type = "bus", .keys = bus_keys, .nkeys = BK_COUNT};
    bus->flags = INI_NAMED;
    bus->open = sensorcfg_open_bus;
    *sensor = (struct ini_section){.type = "sensor", .keys = sensor_keys, .nkeys = nsensor_keys};
    sensor->flags = INI_NAMED | INI_SECTION_REQ;
    sensor->open = sensorcfg_open_sensor;
    sensor->other_key = sensorcfg_other_key;
    sensor->name_ok = sensor_name_ok;
}

/* ---- validation after the whole file is read ---- */

static void check_bus(struct ini *ini, struct bus_parse *bp)
{
    char label[LABEL_MAX];
    struct cfg_bus *b = &bp->b;

    snprintf(label, sizeof(label), "bus %s", b->name);
    if (!ini_key_ok(&bp->ks, BK_TYPE))
        return; /* which keys belong depends on the type */
    unsigned mine = b->type == BUS_RTU ? K_RTU : K_TCP;
    const char *type = b->type == BUS_RTU ? "rtu" : "tcp";
    for (int i = 0; i < BK_COUNT; i++) {
        const struct ini_key *k = &bus_keys[i];
        bool applies = !(k->flags & (K_RTU | K_TCP)) || (k->flags & mine);
        if (bp->ks.line[i] > 0 && !applies)
            ini_error(ini, bp->ks.line[i], label, k->name, "not a key of a %s bus", type);
        if (bp->ks.line[i] == 0 && applies && (k->flags & INI_REQUIRED) && (k->flags & mine))
            ini_error(ini, b->line, label, k->name, "missing (required on a %s bus)", type);
    }
    /* RTU needs a silence between frames: 3.5 characters (the Modbus rule,
     * 1.75 ms above 19200 baud) with a small floor for the master's own
     * timing, more for slow slaves; TCP framing needs none. */
    if (bp->ks.line[BK_GAP] > 0) {
        b->gap_us = b->gap_ms * 1000;
    } else if (b->type == BUS_RTU && b->baud > 0) {
        int64_t t35 =
            rtutime_silence_ns(b->baud, rtutime_char_bits(b->data_bits, b->parity, b->stop_bits));
        int64_t us = (t35 + 999) / 1000;
        b->gap_us = us < CFG_GAP_FLOOR_US ? CFG_GAP_FLOOR_US : (int)us;
        b->gap_ms = (b->gap_us + 999) / 1000;
    } else { /* tcp, or an rtu line whose baud was refused */
        b->gap_us = b->type == BUS_RTU ? CFG_GAP_FLOOR_US : 0;
        b->gap_ms = (b->gap_us + 999) / 1000;
    }
}

static const struct model_point *inputs_point(const struct model *m)
{
    const struct model_point *pt = model_point(m, "inputs");
    return pt != NULL && pt->type == PT_BITS ? pt : NULL;
}

static void list_models(const struct model_set *ms, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < model_set_count(ms) && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", model_set_at(ms, i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void list_kinds(unsigned kinds, char *buf, size_t len)
{
    size_t used = 0;
    if (kinds == 0) {
        snprintf(buf, len, "none: it is an output module's, for an [output]");
        return;
    }
    buf[0] = '\0';
    for (int k = 0; k < KIND_COUNT && used < len; k++) {
        if (!(kinds & KIND_BIT(k)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", kind_name((enum kind)k));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int find_bus(const struct sensorcfg_parse *p, const char *name)
{
    for (int i = 0; i < p->nbuses; i++)
        if (strcmp(p->buses[i].b.name, name) == 0)
            return i;
    return -1;
}

/* Unit ids a sensor can have on each bus type.  RTU: 1..247 (0 is the
 * broadcast address: nobody answers a read).  TCP: what libmodbus 3.1.6's
 * modbus_set_slave() takes, 0..247 and 255 (MODBUS_TCP_SLAVE); it refuses
 * 248..254 with EINVAL, so such a sensor could never be polled. */
static bool unit_addressable(enum bus_type type, int unit)
{
    if (type == BUS_RTU)
        return unit >= 1 && unit <= 247;
    return (unit >= 0 && unit <= 247) || unit == 255;
}

static void check_sensor(struct sensorcfg_parse *p, struct ini *ini, struct sensor_parse *sp,
                         const struct model_set *ms)
{
    struct cfg_sensor *s = &sp->s;
    const struct ini_keyset *ks = &sp->ks;
    const struct model_point *inputs = NULL;
    const struct cfg_bus *bus = NULL;
    char label[LABEL_MAX], list[256];
    bool kind_known = ini_key_ok(ks, SK_KIND), model_known = false;

    snprintf(label, sizeof(label), "sensor %s", s->name);

    if (ini_key_ok(ks, SK_BUS)) {
        s->bus = find_bus(p, sp->bus_name);
        if (s->bus < 0)
            ini_error(ini, ks->line[SK_BUS], label, "bus", "unknown bus '%s'", sp->bus_name);
        else
            bus = &p->buses[s->bus].b;
    }
    /* Only a valid type tells the unit range; an invalid one is reported. */
    if (bus != NULL && ini_key_ok(&p->buses[s->bus].ks, BK_TYPE) && ini_key_ok(ks, SK_UNIT) &&
        !unit_addressable(bus->type, s->unit))
        ini_error(ini, ks->line[SK_UNIT], label, "unit", "%d is out of range on %s bus %s (%s)",
                  s->unit, bus->type == BUS_RTU ? "rtu" : "tcp", bus->name,
                  bus->type == BUS_RTU ? "1..247" : "0..247 or 255");
    if (ms != NULL && ini_key_ok(ks, SK_MODEL)) {
        s->def.model = model_set_find(ms, sp->model_name);
        if (s->def.model == NULL) {
            list_models(ms, list, sizeof(list));
            ini_error(ini, ks->line[SK_MODEL], label, "model", "unknown model '%s' (known: %s)",
                      sp->model_name, list);
        } else if (kind_known && !(s->def.model->kinds & KIND_BIT(s->def.kind))) {
            list_kinds(s->def.model->kinds, list, sizeof(list));
            ini_error(ini, ks->line[SK_MODEL], label, "model",
                      "model %s does not support kind %s (it supports: %s)", s->def.model->name,
                      kind_name(s->def.kind), list);
        } else {
            model_known = true;
            inputs = inputs_point(s->def.model);
        }
    }

    /* Keys of another kind, input keys on a model without inputs, and
     * required kind keys that are missing. */
    for (int i = 0; i < nsensor_keys; i++) {
        const struct ini_key *k = &sensor_keys[i];
        if (k->tag == 0 && !(k->flags & K_INPUTS))
            continue;
        bool kind_fits = k->tag == 0 || (kind_known && (k->tag & KIND_BIT(s->def.kind)));
        bool model_fits = !(k->flags & K_INPUTS) || inputs != NULL;
        if (ks->line[i] > 0) {
            if (kind_known && !kind_fits)
                ini_error(ini, ks->line[i], label, k->name, "not a key of kind %s",
                          kind_name(s->def.kind));
            else if (model_known && !model_fits)
                ini_error(ini, ks->line[i], label, k->name,
                          "not a key of model %s (it has no inputs)", s->def.model->name);
        } else if ((k->flags & INI_REQUIRED) && kind_known && kind_fits) {
            if (!(k->flags & K_INPUTS))
                ini_error(ini, s->line, label, k->name, "missing (required for %s)",
                          kind_name(s->def.kind));
            else if (model_known && model_fits)
                ini_error(ini, s->line, label, k->name, "missing (required for %s on model %s)",
                          kind_name(s->def.kind), s->def.model->name);
        }
    }

    /* The sensor's own DI channels: in the model's range, each used once. */
    if (model_known && inputs != NULL && kind_known) {
        unsigned own = 0;
        for (int i = 0; i < nsensor_keys; i++) {
            const struct ini_key *k = &sensor_keys[i];
            if (!is_channel_key(i) || !ini_key_ok(ks, i) || !(k->tag & KIND_BIT(s->def.kind)))
                continue;
            int ch = *(const int *)((const char *)sp + k->offset);
            if (ch >= inputs->bits) {
                ini_error(ini, ks->line[i], label, k->name,
                          "channel %d out of range: model %s has inputs 0..%d", ch,
                          s->def.model->name, inputs->bits - 1);
                continue;
            }
            int dup = -1;
            for (int j = 0; j < sp->nch; j++)
                if (sp->ch[j] == ch)
                    dup = sp->ch_key[j];
            if (dup >= 0) {
                ini_error(ini, ks->line[i], label, k->name, "channel %d is already %s", ch,
                          sensor_keys[dup].name);
                continue;
            }
            sp->ch[sp->nch] = ch;
            sp->ch_key[sp->nch++] = i;
            own |= 1u << ch;
        }
        if (ini_key_ok(ks, sk_inverted) && (sensor_keys[sk_inverted].tag & KIND_BIT(s->def.kind))) {
            for (int ch = 0; ch <= CHANNEL_MAX; ch++) {
                if (!(s->def.inverted_mask & (1u << ch)))
                    continue;
                if (ch >= inputs->bits)
                    ini_error(ini, ks->line[sk_inverted], label, "inverted_inputs",
                              "channel %d out of range: model %s has inputs 0..%d", ch,
                              s->def.model->name, inputs->bits - 1);
                else if (!(own & (1u << ch)))
                    ini_error(ini, ks->line[sk_inverted], label, "inverted_inputs",
                              "channel %d is not an input of this sensor", ch);
            }
        }
    }

    sp->shareable = bus != NULL && ini_key_ok(ks, SK_UNIT) && model_known;
}

/* One Modbus unit is one device: sensors may share it only when it is a DI
 * module (one read serves them all, docs/design.md section 7), each on its
 * own channels. */
static void check_shared_units(struct sensorcfg_parse *p, struct ini *ini)
{
    char label[LABEL_MAX];
    for (int j = 0; j < p->nsensors; j++) {
        struct sensor_parse *b = &p->sensors[j];
        if (!b->shareable)
            continue;
        snprintf(label, sizeof(label), "sensor %s", b->s.name);
        for (int i = 0; i < j; i++) {
            const struct sensor_parse *a = &p->sensors[i];
            if (!a->shareable || a->s.bus != b->s.bus || a->s.unit != b->s.unit)
                continue;
            const char *bus = p->buses[b->s.bus].b.name;
            if (a->s.def.model != b->s.def.model) {
                ini_error(ini, b->ks.line[SK_UNIT], label, "unit",
                          "unit %d on bus %s is already sensor %s (line %d) of model %s", b->s.unit,
                          bus, a->s.name, a->s.line, a->s.def.model->name);
                break;
            }
            if (inputs_point(b->s.def.model) == NULL) {
                ini_error(ini, b->ks.line[SK_UNIT], label, "unit",
                          "unit %d on bus %s is already used by sensor %s (line %d)", b->s.unit,
                          bus, a->s.name, a->s.line);
                break;
            }
            for (int x = 0; x < b->nch; x++)
                for (int y = 0; y < a->nch; y++)
                    if (b->ch[x] == a->ch[y])
                        ini_error(ini, b->ks.line[b->ch_key[x]], label,
                                  sensor_keys[b->ch_key[x]].name,
                                  "channel %d of unit %d on bus %s is already used by sensor %s "
                                  "(line %d)",
                                  b->ch[x], b->s.unit, bus, a->s.name, a->s.line);
        }
    }
}

struct model_set *sensorcfg_models_load(struct ini *ini, const char *dir, int key_line,
                                        int section_line)
{
    char err[4096];
    struct model_set *ms;
    int line = key_line;

    if (dir[0] == '\0')
        return NULL; /* no usable directory: already reported */
    err[0] = '\0';
    ms = kind_models_load(dir, err, sizeof(err));
    if (ms != NULL)
        return ms;
    if (key_line == 0)
        line = section_line ? section_line : ini_last_line(ini);
    ini_error(ini, line, "gateway", "models_dir", "cannot load device models from %s%s", dir,
              key_line ? "" : " (the default)");
    /* The model loader's own "FILE:LINE: reason" lines, one problem each. */
    for (char *q = err, *nl; *q != '\0'; q = nl + 1) {
        nl = strchr(q, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (*q != '\0')
            ini_error_text(ini, line, q);
        if (nl == NULL)
            break;
    }
    return NULL;
}

void sensorcfg_check(struct sensorcfg_parse *p, struct ini *ini, const struct model_set *ms)
{
    for (int i = 0; i < p->nbuses; i++)
        check_bus(ini, &p->buses[i]);
    for (int i = 0; i < p->nsensors; i++)
        check_sensor(p, ini, &p->sensors[i], ms);
    check_shared_units(p, ini);
}

/* ---- [output NAME] (docs/design.md section 21) ---- */

/* The module's place first: shelter-sim reads those alone (up to OK_ON). */
enum { OK_BUS, OK_UNIT, OK_MODEL, OK_CHANNEL, OK_ON, OK_UNTIL, OK_MIN_ON, OK_LOCATION, OK_COUNT };
static const struct name_value until_names[] = {
    {"cleared", SENSORCFG_UNTIL_CLEARED}, {"acked", SENSORCFG_UNTIL_ACKED}, {NULL, 0}};
static const struct ini_key output_keys[OK_COUNT] = {
    [OK_BUS] = {"bus", ini_slug, FIELD(struct output_parse, bus_name), .flags = INI_REQUIRED},
    /* The range of a unit id depends on the bus type: checked in check_output(). */
    [OK_UNIT] = {"unit", ini_int, FIELD(struct output_parse, o.unit), 0, 255,
                 .flags = INI_REQUIRED},
    [OK_MODEL] = {"model", ini_text, FIELD(struct output_parse, model_name), .flags = INI_REQUIRED},
    /* The model says how many channels it has: checked in check_output(). */
    [OK_CHANNEL] = {"channel", ini_int, FIELD(struct output_parse, o.channel), 0, 31,
                    .flags = INI_REQUIRED},
    [OK_ON] = {"on", ini_text, FIELD(struct output_parse, o.on), .flags = INI_REQUIRED},
    [OK_UNTIL] = {"until", ini_enum, FIELD(struct output_parse, o.until), .dflt = "cleared",
                  .names = until_names},
    [OK_MIN_ON] = {"min_on", ini_duration_ms, FIELD(struct output_parse, o.min_on_ms), 0, 3600000,
                   .dflt = "0s"},
    [OK_LOCATION] = {"location", ini_text, FIELD(struct output_parse, o.location),
                     .flags = INI_EMPTY_OK},
};
_Static_assert(OK_COUNT <= INI_KEYS_MAX, "INI_KEYS_MAX too small");

void sensorcfg_output_section(struct ini_section *output)
{
    *output = (struct ini_section){.type = "output", .keys = output_keys, .nkeys = OK_COUNT};
    output->flags = INI_NAMED;
    output->open = sensorcfg_open_output;
    /* An output's name is a topic level, as a sensor's (alarm/{output}/output_fault). */
    output->name_ok = sensor_name_ok;
}

void *sensorcfg_open_output(void *user, const char *name, int line, struct ini_keyset **ks,
                            char *err, size_t errlen)
{
    struct sensorcfg_parse *p = user;
    (void)err, (void)errlen;
    struct output_parse *v = realloc(p->outputs, sizeof(*v) * ((size_t)p->noutputs + 1));
    if (v == NULL)
        return NULL;
    p->outputs = v;
    struct output_parse *op = &p->outputs[p->noutputs++];
    memset(op, 0, sizeof(*op));
    snprintf(op->o.name, sizeof(op->o.name), "%s", name);
    op->o.line = line;
    *ks = &op->ks;
    return op;
}

static void check_output(struct sensorcfg_parse *p, struct ini *ini, struct output_parse *op,
                         const struct model_set *ms)
{
    struct sensorcfg_output *o = &op->o;
    const struct ini_keyset *ks = &op->ks;
    const struct cfg_bus *bus = NULL;
    const struct model_point *coils = NULL;
    char label[LABEL_MAX], list[256];

    snprintf(label, sizeof(label), "output %s", o->name);
    for (int i = 0; i < p->nsensors; i++) {
        const struct cfg_sensor *s = &p->sensors[i].s;
        if (strcmp(s->name, o->name) == 0)
            ini_error(ini, o->line, label, NULL,
                      "the name is already sensor %s (line %d): alarm topics name one or the "
                      "other",
                      o->name, s->line);
    }
    if (ini_key_ok(ks, OK_BUS)) {
        o->bus = find_bus(p, op->bus_name);
        if (o->bus < 0)
            ini_error(ini, ks->line[OK_BUS], label, "bus", "unknown bus '%s'", op->bus_name);
        else
            bus = &p->buses[o->bus].b;
    }
    if (bus != NULL && ini_key_ok(&p->buses[o->bus].ks, BK_TYPE) && ini_key_ok(ks, OK_UNIT) &&
        !unit_addressable(bus->type, o->unit))
        ini_error(ini, ks->line[OK_UNIT], label, "unit", "%d is out of range on %s bus %s (%s)",
                  o->unit, bus->type == BUS_RTU ? "rtu" : "tcp", bus->name,
                  bus->type == BUS_RTU ? "1..247" : "0..247 or 255");
    if (ms != NULL && ini_key_ok(ks, OK_MODEL)) {
        o->model = model_set_find(ms, op->model_name);
        if (o->model == NULL) {
            list_models(ms, list, sizeof(list));
            ini_error(ini, ks->line[OK_MODEL], label, "model", "unknown model '%s' (known: %s)",
                      op->model_name, list);
        } else if ((coils = model_outputs(o->model)) == NULL) {
            ini_error(ini, ks->line[OK_MODEL], label, "model",
                      "model %s has no outputs to switch (it is a sensor's: an output module's "
                      "model has a written point `outputs`, as do8)",
                      o->model->name);
            o->model = NULL;
        }
    }
    if (coils != NULL && ini_key_ok(ks, OK_CHANNEL) && o->channel >= coils->bits)
        ini_error(ini, ks->line[OK_CHANNEL], label, "channel",
                  "channel %d out of range: model %s has outputs 0..%d", o->channel, o->model->name,
                  coils->bits - 1);
    op->placed = bus != NULL && ini_key_ok(ks, OK_UNIT) && coils != NULL &&
                 ini_key_ok(ks, OK_CHANNEL) && o->channel < coils->bits;
}

/* One output per coil; a module is an output module (never a sensor's
 * unit as well: one device has one register map), of one model. */
static void check_output_units(struct sensorcfg_parse *p, struct ini *ini)
{
    char label[LABEL_MAX];
    for (int j = 0; j < p->noutputs; j++) {
        struct output_parse *b = &p->outputs[j];
        if (!b->placed)
            continue;
        const char *bus = p->buses[b->o.bus].b.name;
        snprintf(label, sizeof(label), "output %s", b->o.name);
        for (int i = 0; i < p->nsensors; i++) {
            const struct sensor_parse *s = &p->sensors[i];
            if (s->shareable && s->s.bus == b->o.bus && s->s.unit == b->o.unit) {
                ini_error(ini, b->ks.line[OK_UNIT], label, "unit",
                          "unit %d on bus %s is sensor %s (line %d): an output module is a "
                          "unit of its own",
                          b->o.unit, bus, s->s.name, s->s.line);
                break;
            }
        }
        for (int i = 0; i < j; i++) {
            const struct output_parse *a = &p->outputs[i];
            if (!a->placed || a->o.bus != b->o.bus || a->o.unit != b->o.unit)
                continue;
            if (a->o.model != b->o.model) {
                ini_error(ini, b->ks.line[OK_MODEL], label, "model",
                          "unit %d on bus %s is already output %s (line %d) of model %s", b->o.unit,
                          bus, a->o.name, a->o.line, a->o.model->name);
                break;
            }
            if (a->o.channel == b->o.channel) {
                ini_error(ini, b->ks.line[OK_CHANNEL], label, "channel",
                          "channel %d of unit %d on bus %s is already output %s (line %d)",
                          b->o.channel, b->o.unit, bus, a->o.name, a->o.line);
                break;
            }
        }
    }
}

void sensorcfg_check_outputs(struct sensorcfg_parse *p, struct ini *ini, const struct model_set *ms)
{
    for (int i = 0; i < p->noutputs; i++)
        check_output(p, ini, &p->outputs[i], ms);
    check_output_units(p, ini);
}

int sensorcfg_noutputs(const struct sensorcfg_parse *p)
{
    return p->noutputs;
}

const struct sensorcfg_output *sensorcfg_output(const struct sensorcfg_parse *p, int i)
{
    return &p->outputs[i].o;
}

int sensorcfg_output_on_line(const struct sensorcfg_parse *p, int i)
{
    return ini_key_ok(&p->outputs[i].ks, OK_ON) ? p->outputs[i].ks.line[OK_ON] : 0;
}

/* ---- the result ---- */

struct sensorcfg_parse *sensorcfg_parse_new(void)
{
    build_sensor_keys();
    return calloc(1, sizeof(struct sensorcfg_parse));
}

void sensorcfg_parse_free(struct sensorcfg_parse *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nsensors; i++) {
        for (int j = 0; j < p->sensors[i].nextra; j++) {
            free(p->sensors[i].extra[j].key);
            free(p->sensors[i].extra[j].value);
        }
        free(p->sensors[i].extra);
    }
    free(p->sensors);
    free(p->outputs);
    free(p->buses);
    free(p);
}

int sensorcfg_nsensors(const struct sensorcfg_parse *p)
{
    return p->nsensors;
}

const struct cfg_sensor *sensorcfg_sensor(const struct sensorcfg_parse *p, int i)
{
    return &p->sensors[i].s;
}

bool sensorcfg_kind_known(const struct sensorcfg_parse *p, int i)
{
    return ini_key_ok(&p->sensors[i].ks, SK_KIND);
}

int sensorcfg_extras(const struct sensorcfg_parse *p, int i, const struct sensorcfg_extra **extra)
{
    *extra = p->sensors[i].extra;
    return p->sensors[i].nextra;
}

int sensorcfg_take(struct sensorcfg_parse *p, struct cfg_bus **buses, int *nbuses,
                   struct cfg_sensor **sensors, int *nsensors)
{
    struct cfg_bus *b = calloc((size_t)p->nbuses + 1, sizeof(*b));
    struct cfg_sensor *s = calloc((size_t)p->nsensors + 1, sizeof(*s));
    if (b == NULL || s == NULL) {
        free(b);
        free(s);
        return -1;
    }
    for (int i = 0; i < p->nbuses; i++) {
        b[i] = p->buses[i].b;
        b[i].device_line = p->buses[i].ks.line[BK_DEVICE];
    }
    for (int i = 0; i < p->nsensors; i++)
        s[i] = p->sensors[i].s;
    *buses = b;
    *nbuses = p->nbuses;
    *sensors = s;
    *nsensors = p->nsensors;
    return 0;
}

/* ---- shelter-sim's reader ---- */

static const struct ini_key sim_gateway_keys[] = {
    {"models_dir", ini_text, FIELD(struct sensorcfg, models_dir)},
};

static void *open_gateway(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                          size_t errlen)
{
    struct sensorcfg_parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->gateway_line = line;
    *ks = &p->gateway_ks;
    return p->out;
}

static int skip_key(void *user, void *base, const char *key, const char *value, int line, char *err,
                    size_t errlen)
{
    (void)user, (void)base, (void)key, (void)value, (void)line, (void)err, (void)errlen;
    return 0;
}

struct sensorcfg *sensorcfg_load(const char *path, const char *models_dir_default, FILE *errs,
                                 int *nerrors)
{
    struct ini_section sections[] = {
        {"gateway", sim_gateway_keys, 1, 0, open_gateway, skip_key, NULL},
        {0},
        {0},
        {0},
        {INI_OTHER, NULL, 0, 0, NULL, NULL, NULL},
    };
    struct sensorcfg *sc = calloc(1, sizeof(*sc));
    struct sensorcfg_parse *p = sensorcfg_parse_new();
    struct ini *ini = NULL;
    int nprob = 0, err = EGW_CONFIG;

    sensorcfg_sections(&sections[1], &sections[2]);
    sections[2].other_key = skip_key; /* the gateway's alarm overrides */
    sensorcfg_output_section(&sections[3]);
    sections[3].nkeys = OK_ON;        /* the module's place: bus, unit, model, channel */
    sections[3].other_key = skip_key; /* the rest is the gateway's */
    if (sc != NULL && p != NULL)
        ini = ini_new(path, sections, (int)(sizeof(sections) / sizeof(sections[0])), p);
    if (ini == NULL) {
        if (errs != NULL)
            fprintf(errs, "%s: out of memory\n", path);
        if (nerrors != NULL)
            *nerrors = 1;
        free(sc);
        sensorcfg_parse_free(p);
        errno = ENOMEM;
        return NULL;
    }
    p->out = sc;
    snprintf(sc->path, sizeof(sc->path), "%s", path);

    if (ini_read(ini) == -1 && !ini_oom(ini)) {
        err = errno; /* the file cannot be opened: nothing to validate */
    } else {
        if (p->gateway_ks.line[0] == 0) {
            if (strlen(models_dir_default) >= sizeof(sc->models_dir))
                ini_error(ini, p->gateway_line ? p->gateway_line : ini_last_line(ini), "gateway",
                          "models_dir", "default '%.64s...' is too long", models_dir_default);
            else
                strcpy(sc->models_dir, models_dir_default);
        }
        sc->models =
            sensorcfg_models_load(ini, sc->models_dir, p->gateway_ks.line[0], p->gateway_line);
        sensorcfg_check(p, ini, sc->models);
        sensorcfg_check_outputs(p, ini, sc->models);
        if (ini_fatal(ini, false) == 0 && !ini_oom(ini) &&
            (sensorcfg_take(p, &sc->buses, &sc->nbuses, &sc->sensors, &sc->nsensors) == -1 ||
             (sc->outputs = calloc((size_t)p->noutputs + 1, sizeof(*sc->outputs))) == NULL)) {
            ini_error(ini, 0, NULL, NULL, "out of memory");
            err = ENOMEM;
        } else if (sc->outputs != NULL) {
            for (int i = 0; i < p->noutputs; i++)
                sc->outputs[i] = p->outputs[i].o;
            sc->noutputs = p->noutputs;
        }
    }
    if (ini_oom(ini))
        err = ENOMEM;
    if (ini_fatal(ini, false) > 0 || ini_oom(ini)) {
        nprob = errs != NULL ? ini_print(ini, errs) : ini_count(ini);
        if (nprob == 0) { /* even that problem could not be stored */
            if (errs != NULL)
                fprintf(errs, "%s: out of memory\n", path);
            nprob = 1;
        }
    }
    if (nerrors != NULL)
        *nerrors = nprob;
    ini_free(ini);
    sensorcfg_parse_free(p);
    if (nprob > 0) {
        sensorcfg_free(sc);
        errno = err;
        return NULL;
    }
    return sc;
}

void sensorcfg_free(struct sensorcfg *sc)
{
    if (sc == NULL)
        return;
    free(sc->buses);
    free(sc->sensors);
    free(sc->outputs);
    model_set_free(sc->models);
    free(sc);
}
