/*
 * ncfg: loads notify.conf (see ncfg.h) through the one INI front-end
 * (lib/ini.h): one key table per section, the parsers only the notifier
 * needs (broker URIs, subtrees, event and name lists, mentions, the flood
 * rate, the UTC offset), then the rules across keys and sections and the
 * files the configuration names (URLs, secrets, the token key), read here
 * so that a missing or empty file is a FILE:LINE problem at --check time,
 * not a silent channel at 3 a.m.
 */
#include "ncfg.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwmsg.h"
#include "ini.h"
#include "token.h"

#define FIELD INI_FIELD

/* clang-format off */
const struct name_value ncfg_event_names[] = {
    {"raised", NCFG_EV_RAISED},
    {"acknowledged", NCFG_EV_ACKNOWLEDGED},
    {"cleared", NCFG_EV_CLEARED},
    {"offline", NCFG_EV_OFFLINE},
    {"online", NCFG_EV_ONLINE},
    {"test", NCFG_EV_TEST},
    {NULL, 0},
};

static const struct name_value severity_names[] = {
    {"critical", 0}, {"major", 1}, {"minor", 2}, {"info", 3}, {NULL, 0},
};

static const struct name_value type_names[] = {
    {"wecom", CHANNEL_WECOM}, {"dingtalk", CHANNEL_DINGTALK}, {"webhook", CHANNEL_WEBHOOK},
    {NULL, 0},
};
/* clang-format on */

unsigned ncfg_event_bit(const char *event)
{
    for (const struct name_value *n = ncfg_event_names; event != NULL && n->name != NULL; n++)
        if (strcmp(n->name, event) == 0 && n->value != NCFG_EV_OFFLINE &&
            n->value != NCFG_EV_ONLINE)
            return (unsigned)n->value;
    return 0;
}

/* ---- parse state ---- */

struct channel_parse {
    struct ncfg_channel c;
    struct ini_keyset ks;
};

struct route_parse {
    struct ncfg_route r;
    char channels[NCFG_TEXT_MAX];
    struct ini_keyset ks;
};

struct parse {
    struct ncfg *c;
    struct ini *ini;
    int notify_line, mqtt_line;
    struct ini_keyset notify_ks, mqtt_ks;
    struct channel_parse *channels;
    int nchannels;
    struct route_parse *routes;
    int nroutes;
};

/* ---- parsers of our own ---- */

static int p_subtree(const struct ini_key *k, const char *value, void *field, char *err,
                     size_t errlen)
{
    struct ncfg_route *r =
        (struct ncfg_route *)((char *)field - offsetof(struct ncfg_route, subtree));
    (void)k;
    if (strlen(value) >= sizeof(r->subtree_text)) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    if (topic_subtree_parse(value, &r->subtree, err, errlen) < 0)
        return -1;
    snprintf(r->subtree_text, sizeof(r->subtree_text), "%s", value);
    return 0;
}

/* A list of names separated by commas and/or blanks: each one through fn. */
static int each_name(const char *value,
                     int (*fn)(const char *name, size_t len, void *ctx, char *err, size_t errlen),
                     void *ctx, char *err, size_t errlen)
{
    const char *q = value;
    int n = 0;

    for (;;) {
        size_t len;
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        len = strcspn(q, " \t,");
        if (fn(q, len, ctx, err, errlen) < 0)
            return -1;
        n++;
        q += len;
    }
    if (n == 0) {
        snprintf(err, errlen, "empty list");
        return -1;
    }
    return 0;
}

static int one_event(const char *name, size_t len, void *ctx, char *err, size_t errlen)
{
    unsigned *events = ctx;
    for (const struct name_value *n = ncfg_event_names; n->name != NULL; n++)
        if (strlen(n->name) == len && strncmp(n->name, name, len) == 0) {
            *events |= (unsigned)n->value;
            return 0;
        }
    snprintf(err, errlen,
             "unknown event '%.*s' (raised, acknowledged, cleared, offline, online, "
             "test)",
             (int)(len > 32 ? 32 : len), name);
    return -1;
}

static int p_events(const struct ini_key *k, const char *value, void *field, char *err,
                    size_t errlen)
{
    unsigned events = 0;
    (void)k;
    if (each_name(value, one_event, &events, err, errlen) < 0)
        return -1;
    *(unsigned *)field = events;
    return 0;
}

/* channels = a, b: kept as text, resolved once every channel is known. */
static int one_slug(const char *name, size_t len, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    if (!ini_is_slug(name, len) || len >= NCFG_NAME_MAX) {
        snprintf(err, errlen, "'%.*s' is not a channel name", (int)(len > 32 ? 32 : len), name);
        return -1;
    }
    return 0;
}

static int p_names(const struct ini_key *k, const char *value, void *field, char *err,
                   size_t errlen)
{
    if (each_name(value, one_slug, NULL, err, errlen) < 0)
        return -1;
    if (strlen(value) >= k->size) {
        snprintf(err, errlen, "too long");
        return -1;
    }
    snprintf(field, k->size, "%s", value);
    return 0;
}

static int one_mobile(const char *name, size_t len, void *ctx, char *err, size_t errlen)
{
    struct ncfg_channel *c = ctx;
    if (len < 5 || len > 20 || strspn(name, "+0123456789") < len) {
        snprintf(err, errlen, "'%.*s' is not a mobile number", (int)(len > 24 ? 24 : len), name);
        return -1;
    }
    if (c->nmobiles == NCFG_MENTIONS) {
        snprintf(err, errlen, "at most %d mobiles", NCFG_MENTIONS);
        return -1;
    }
    memcpy(c->mobile[c->nmobiles], name, len);
    c->mobile[c->nmobiles++][len] = '\0';
    return 0;
}

static int p_mentions(const struct ini_key *k, const char *value, void *field, char *err,
                      size_t errlen)
{
    struct ncfg_channel *c =
        (struct ncfg_channel *)((char *)field - offsetof(struct ncfg_channel, mentions));
    (void)k;
    c->nmobiles = 0;
    if (each_name(value, one_mobile, c, err, errlen) < 0)
        return -1;
    snprintf(c->mentions, sizeof(c->mentions), "%s", value);
    return 0;
}

/* flood = off | COUNT/PERIOD */
static int p_flood(const struct ini_key *k, const char *value, void *field, char *err,
                   size_t errlen)
{
    (void)k;
    if (strcmp(value, "off") == 0) {
        *(struct parse_rate *)field = (struct parse_rate){0, 0};
        return 0;
    }
    return parse_rate(value, 10000, field, err, errlen);
}

/* utc_offset = +08:00 */
static int p_offset(const struct ini_key *k, const char *value, void *field, char *err,
                    size_t errlen)
{
    int hh, mm, n = 0;
    char sign;
    (void)k;
    if (sscanf(value, "%c%2d:%2d%n", &sign, &hh, &mm, &n) != 3 || value[n] != '\0' ||
        (sign != '+' && sign != '-') || strlen(value) != 6 || hh > 14 || mm > 59) {
        snprintf(err, errlen, "'%.16s' is not an offset such as +08:00", value);
        return -1;
    }
    *(int *)field = (sign == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return 0;
}

/* A client id: printable ASCII without blanks, wildcards or '/'. */
static int p_client_id(const struct ini_key *k, const char *value, void *field, char *err,
                       size_t errlen)
{
    for (const char *q = value; *q; q++)
        if (*q <= ' ' || *q > '~' || strchr("+#/", *q) != NULL) {
            snprintf(err, errlen,
                     "'%.64s' is not a client id (printable ASCII, no blanks, "
                     "+, # or /)",
                     value);
            return -1;
        }
    if (strlen(value) >= k->size || strlen(value) > 128) {
        snprintf(err, errlen, "too long (at most 128 bytes)");
        return -1;
    }
    snprintf(field, k->size, "%s", value);
    return 0;
}

/* ---- key tables ---- */

enum {
    NK_STATE_DIR,
    NK_LANGUAGE,
    NK_UTC_OFFSET,
    NK_OFFLINE_AFTER,
    NK_ACK_URL,
    NK_LISTEN,
    NK_TOKEN_KEY_FILE,
    NK_ACK_TTL,
    NK_COUNT
};
static const struct ini_key notify_keys[NK_COUNT] = {
    [NK_STATE_DIR] = {"state_dir", ini_text, FIELD(struct ncfg, state_dir), .flags = INI_REQUIRED},
    [NK_LANGUAGE] = {"language", ini_enum, FIELD(struct ncfg, language), .dflt = "zh",
                     .names = lang_names},
    [NK_UTC_OFFSET] = {"utc_offset", p_offset, FIELD(struct ncfg, utc_offset_s), .dflt = "+08:00"},
    [NK_OFFLINE_AFTER] = {"offline_after", ini_duration_ms, FIELD(struct ncfg, offline_after_ms),
                          1000, 86400000, .dflt = "60s"},
    [NK_ACK_URL] = {"ack_url", ini_url, FIELD(struct ncfg, ack_url)},
    [NK_LISTEN] = {"listen", ini_host, FIELD(struct ncfg, listen)},
    [NK_TOKEN_KEY_FILE] = {"token_key_file", ini_text, FIELD(struct ncfg, token_key_file)},
    [NK_ACK_TTL] = {"ack_ttl", ini_duration_ms, FIELD(struct ncfg, ack_ttl_ms), 60000,
                    30LL * 86400000, .dflt = "24h"},
};

enum { CK_TYPE, CK_URL, CK_URL_FILE, CK_SECRET_FILE, CK_RATE, CK_MENTIONS, CK_TIMEOUT, CK_COUNT };
static const struct ini_key channel_keys[CK_COUNT] = {
    [CK_TYPE] = {"type", ini_enum, FIELD(struct ncfg_channel, type), .flags = INI_REQUIRED,
                 .names = type_names},
    [CK_URL] = {"url", ini_url, FIELD(struct ncfg_channel, url)},
    [CK_URL_FILE] = {"url_file", ini_text, FIELD(struct ncfg_channel, url_file)},
    [CK_SECRET_FILE] = {"secret_file", ini_text, FIELD(struct ncfg_channel, secret_file)},
    [CK_RATE] = {"rate", ini_rate, FIELD(struct ncfg_channel, rate), 0, 1000},
    [CK_MENTIONS] = {"mentions", p_mentions, FIELD(struct ncfg_channel, mentions)},
    [CK_TIMEOUT] = {"timeout", ini_duration_ms, FIELD(struct ncfg_channel, timeout_ms), 1000,
                    120000, .dflt = "10s"},
};

enum {
    RK_NAME,
    RK_SUBTREE,
    RK_MIN_SEVERITY,
    RK_EVENTS,
    RK_CHANNELS,
    RK_ESCALATE_AFTER,
    RK_ESCALATE_TO,
    RK_FLOOD,
    RK_COUNT
};
static const struct ini_key route_keys[RK_COUNT] = {
    [RK_NAME] = {"name", ini_text, FIELD(struct route_parse, r.display)},
    [RK_SUBTREE] = {"subtree", p_subtree, FIELD(struct route_parse, r.subtree),
                    .flags = INI_REQUIRED},
    [RK_MIN_SEVERITY] = {"min_severity", ini_enum, FIELD(struct route_parse, r.min_severity),
                         .dflt = "info", .names = severity_names},
    [RK_EVENTS] = {"events", p_events, FIELD(struct route_parse, r.events),
                   .dflt = "raised, offline"},
    [RK_CHANNELS] = {"channels", p_names, FIELD(struct route_parse, channels),
                     .flags = INI_REQUIRED},
    [RK_ESCALATE_AFTER] = {"escalate_after", ini_duration_ms,
                           FIELD(struct route_parse, r.escalate_after_ms), 1000, 7LL * 86400000},
    [RK_ESCALATE_TO] = {"escalate_to", ini_slug, FIELD(struct route_parse, r.escalate_to_name)},
    [RK_FLOOD] = {"flood", p_flood, FIELD(struct route_parse, r.flood), .dflt = "10/10min"},
};

/* ---- sections ---- */

static void *grow(void *v, int n, size_t elem)
{
    return realloc(v, (size_t)(n + 1) * elem);
}

static void *open_notify(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->notify_line = line;
    *ks = &p->notify_ks;
    return p->c;
}

static void *open_mqtt(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                       size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->mqtt_line = line;
    *ks = &p->mqtt_ks;
    return &p->c->mqtt;
}

/* The notifier's own [mqtt] keys, besides lib/mqttcfg's table. */
static int mqtt_other_key(void *user, void *base, const char *key, const char *value, int line,
                          char *err, size_t errlen)
{
    struct parse *p = user;
    struct ncfg *c = p->c;
    static const struct ini_key client_id = {"client_id", p_client_id,
                                             INI_FIELD(struct ncfg, nmqtt.client_id)};
    int *seen;
    (void)base;

    if (strcmp(key, "share_group") == 0)
        seen = &c->nmqtt.share_group_line;
    else if (strcmp(key, "client_id") == 0)
        seen = &c->nmqtt.client_id_line;
    else if (strcmp(key, "session_expiry") == 0)
        seen = &c->nmqtt.session_expiry_line;
    else {
        snprintf(err, errlen, "unknown key");
        return -1;
    }
    if (*seen > 0) {
        snprintf(err, errlen, "repeated (first on line %d)", *seen);
        return -1;
    }
    if (value[0] == '\0') {
        snprintf(err, errlen, "empty value");
        return -1;
    }
    if (strcmp(key, "share_group") == 0) {
        if (!ini_is_slug(value, strlen(value)) || strlen(value) >= sizeof(c->nmqtt.share_group)) {
            snprintf(err, errlen, "'%.64s' is not a group name (A-Z a-z 0-9 _ -)", value);
            return -1;
        }
        snprintf(c->nmqtt.share_group, sizeof(c->nmqtt.share_group), "%s", value);
    } else if (strcmp(key, "client_id") == 0) {
        if (p_client_id(&client_id, value, c->nmqtt.client_id, err, errlen) < 0)
            return -1;
    } else if (parse_duration_ms(value, 0, 7LL * 86400000, &c->nmqtt.session_expiry_ms, err,
                                 errlen) < 0) {
        return -1;
    }
    *seen = line;
    return 0;
}

static void *open_channel(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                          size_t errlen)
{
    struct parse *p = user;
    struct channel_parse *v = grow(p->channels, p->nchannels, sizeof(*v)), *cp;
    (void)errlen;
    if (v == NULL) {
        err[0] = '\0';
        return NULL;
    }
    p->channels = v;
    cp = &v[p->nchannels++];
    memset(cp, 0, sizeof(*cp));
    snprintf(cp->c.name, sizeof(cp->c.name), "%s", name);
    cp->c.line = line;
    *ks = &cp->ks;
    return &cp->c;
}

static void *open_route(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                        size_t errlen)
{
    struct parse *p = user;
    struct route_parse *v = grow(p->routes, p->nroutes, sizeof(*v)), *rp;
    (void)errlen;
    if (v == NULL) {
        err[0] = '\0';
        return NULL;
    }
    p->routes = v;
    rp = &v[p->nroutes++];
    memset(rp, 0, sizeof(*rp));
    snprintf(rp->r.name, sizeof(rp->r.name), "%s", name);
    rp->r.line = line;
    rp->r.escalate_to = -1;
    *ks = &rp->ks;
    return rp;
}

/* clang-format off */
static const struct ini_section sections[] = {
    {"notify", notify_keys, NK_COUNT, INI_SECTION_REQ, open_notify, NULL, NULL},
    {"mqtt", mqttcfg_keys, MQTTCFG_NKEYS, INI_SECTION_REQ, open_mqtt, mqtt_other_key, NULL},
    {"channel", channel_keys, CK_COUNT, INI_NAMED | INI_SECTION_REQ, open_channel, NULL, NULL},
    {"route", route_keys, RK_COUNT, INI_NAMED | INI_SECTION_REQ, open_route, NULL, NULL},
};
/* clang-format on */
#define NSECTIONS ((int)(sizeof(sections) / sizeof(sections[0])))

/* ---- files the configuration names ---- */

/* The first line of path (a URL, a secret, a key) into out; problems as
 * FILE:LINE of the key that names it.  A file others may read is a warning:
 * it holds a secret. */
static int read_secret(struct parse *p, int line, const char *label, const char *key,
                       const char *path, char *out, size_t outlen, size_t *len)
{
    struct stat sb;
    FILE *f = fopen(path, "r");
    size_t n;

    out[0] = '\0';
    if (f == NULL) {
        ini_error(p->ini, line, label, key, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & S_IROTH))
        ini_warning(p->ini, line, label, key, "%s is readable by every user: it holds a secret",
                    path);
    if (fgets(out, (int)outlen, f) == NULL) {
        fclose(f);
        ini_error(p->ini, line, label, key, "%s is empty", path);
        return -1;
    }
    fclose(f);
    n = strcspn(out, "\r\n");
    if (n == strlen(out) && n == outlen - 1) {
        ini_error(p->ini, line, label, key, "%s: its first line is too long", path);
        out[0] = '\0';
        return -1;
    }
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = '\0';
    if (n == 0) {
        ini_error(p->ini, line, label, key, "%s: the first line is empty", path);
        return -1;
    }
    if (len != NULL)
        *len = n;
    return 0;
}

/* ---- checks across keys and sections ---- */

static void check_notify(struct parse *p)
{
    struct ncfg *c = p->c;
    const struct ini_keyset *ks = &p->notify_ks;

    if (p->notify_line == 0)
        return;
    if (ks->line[NK_ACK_URL] > 0 && ks->line[NK_LISTEN] == 0)
        ini_error(p->ini, ks->line[NK_ACK_URL], "notify", "ack_url",
                  "needs listen (where the ack pages are served)");
    if (ks->line[NK_LISTEN] > 0 && ks->line[NK_ACK_URL] == 0)
        ini_error(p->ini, ks->line[NK_LISTEN], "notify", "listen",
                  "needs ack_url (the address people open)");
    if (ks->line[NK_ACK_URL] > 0 && ks->line[NK_TOKEN_KEY_FILE] == 0)
        ini_error(p->ini, ks->line[NK_ACK_URL], "notify", "ack_url",
                  "needs token_key_file (the links are signed)");
    if (ini_key_ok(ks, NK_ACK_URL)) {
        const char *host = strstr(c->ack_url, "://") + 3, *path = strchr(host, '/');
        if (strpbrk(c->ack_url, "?#") != NULL)
            ini_error(p->ini, ks->line[NK_ACK_URL], "notify", "ack_url",
                      "must not have a query or fragment (the token is added as ?t=...)");
        snprintf(c->ack_path, sizeof(c->ack_path), "%s", path != NULL ? path : "/");
    }
    if (ini_key_ok(ks, NK_TOKEN_KEY_FILE)) {
        char key[NCFG_SECRET_MAX];
        size_t n = 0;
        if (read_secret(p, ks->line[NK_TOKEN_KEY_FILE], "notify", "token_key_file",
                        c->token_key_file, key, sizeof(key), &n) == 0) {
            if (n < TOKEN_KEY_MIN)
                ini_error(p->ini, ks->line[NK_TOKEN_KEY_FILE], "notify", "token_key_file",
                          "%s: the key is %zu bytes, at least %d are needed (openssl rand -hex "
                          "32)",
                          c->token_key_file, n, TOKEN_KEY_MIN);
            memcpy(c->token_key, key, n);
            c->token_key_len = n;
        }
        memset(key, 0, sizeof(key));
    }
}

static void check_mqtt(struct parse *p)
{
    struct ncfg *c = p->c;

    if (p->mqtt_line == 0)
        return;
    mqttcfg_check(p->ini, p->mqtt_line, &p->mqtt_ks, &c->mqtt);
    if (c->nmqtt.client_id_line == 0) {
        char host[64] = "";
        if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "host");
        host[sizeof(host) - 1] = '\0';
        for (char *q = host; *q; q++)
            if (*q <= ' ' || *q > '~' || strchr("+#/", *q) != NULL)
                *q = '_';
        snprintf(c->nmqtt.client_id, sizeof(c->nmqtt.client_id), "shelter-notify-%s", host);
    }
    if (c->nmqtt.share_group_line > 0 && c->nmqtt.session_expiry_ms == 0)
        ini_warning(p->ini, c->nmqtt.session_expiry_line, "mqtt", "session_expiry",
                    "0s with share_group: alarms in flight to an instance that dies are lost "
                    "(mosquitto); keep a session");
}

static void check_channel(struct parse *p, struct channel_parse *cp)
{
    struct ncfg_channel *ch = &cp->c;
    const struct ini_keyset *ks = &cp->ks;
    char label[NCFG_NAME_MAX + 16];

    snprintf(label, sizeof(label), "channel %s", ch->name);
    if (!ini_key_ok(ks, CK_TYPE))
        return;
    if (ks->line[CK_URL] > 0 && ks->line[CK_URL_FILE] > 0)
        ini_error(p->ini, ks->line[CK_URL_FILE], label, "url_file",
                  "give url or url_file, not both");
    else if (ks->line[CK_URL] == 0 && ks->line[CK_URL_FILE] == 0)
        ini_error(p->ini, ch->line, label, NULL, "url_file (or url) missing (required)");
    else if (ini_key_ok(ks, CK_URL_FILE) &&
             read_secret(p, ks->line[CK_URL_FILE], label, "url_file", ch->url_file, ch->url,
                         sizeof(ch->url), NULL) == 0 &&
             strncmp(ch->url, "http://", 7) != 0 && strncmp(ch->url, "https://", 8) != 0)
        ini_error(p->ini, ks->line[CK_URL_FILE], label, "url_file",
                  "%s does not hold an http:// or https:// URL", ch->url_file);
    if (ch->type == CHANNEL_DINGTALK) {
        if (ks->line[CK_SECRET_FILE] == 0)
            ini_error(p->ini, ch->line, label, "secret_file",
                      "missing (required for dingtalk: the robot's signing secret, 加签)");
        else if (ini_key_ok(ks, CK_SECRET_FILE))
            read_secret(p, ks->line[CK_SECRET_FILE], label, "secret_file", ch->secret_file,
                        ch->secret, sizeof(ch->secret), NULL);
    } else if (ks->line[CK_SECRET_FILE] > 0) {
        ini_error(p->ini, ks->line[CK_SECRET_FILE], label, "secret_file", "only for dingtalk");
    }
    if (ks->line[CK_MENTIONS] > 0 && ch->type != CHANNEL_DINGTALK)
        ini_error(p->ini, ks->line[CK_MENTIONS], label, "mentions",
                  "only for dingtalk (a WeCom markdown message cannot @ a mobile)");
    if (ks->line[CK_RATE] == 0 && ch->type != CHANNEL_WEBHOOK)
        ch->rate = (struct parse_rate){20, 60000}; /* both robots take 20 a minute */
}

static int find_channel(const struct parse *p, const char *name, size_t len)
{
    for (int i = 0; i < p->nchannels; i++)
        if (strlen(p->channels[i].c.name) == len && strncmp(p->channels[i].c.name, name, len) == 0)
            return i;
    return -1;
}

static void check_route(struct parse *p, struct route_parse *rp)
{
    struct ncfg_route *r = &rp->r;
    const struct ini_keyset *ks = &rp->ks;
    char label[NCFG_NAME_MAX + 16];
    const char *q = rp->channels;

    snprintf(label, sizeof(label), "route %s", r->name);
    if (ks->line[RK_NAME] == 0)
        snprintf(r->display, sizeof(r->display), "%s", r->name);
    while (ini_key_ok(ks, RK_CHANNELS)) {
        size_t len;
        int ci;
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        len = strcspn(q, " \t,");
        if ((ci = find_channel(p, q, len)) < 0)
            ini_error(p->ini, ks->line[RK_CHANNELS], label, "channels", "unknown channel '%.*s'",
                      (int)len, q);
        else if (r->nchannels == NCFG_ROUTE_CHANNELS)
            ini_error(p->ini, ks->line[RK_CHANNELS], label, "channels", "at most %d channels",
                      NCFG_ROUTE_CHANNELS);
        else
            r->channel[r->nchannels++] = ci;
        q += len;
    }
    if (ks->line[RK_ESCALATE_AFTER] > 0 && ks->line[RK_ESCALATE_TO] == 0)
        ini_error(p->ini, ks->line[RK_ESCALATE_AFTER], label, "escalate_after",
                  "needs escalate_to (the route it escalates to)");
    if (ks->line[RK_ESCALATE_TO] > 0 && ks->line[RK_ESCALATE_AFTER] == 0)
        ini_error(p->ini, ks->line[RK_ESCALATE_TO], label, "escalate_to",
                  "needs escalate_after (how long nobody acknowledges first)");
    if (ini_key_ok(ks, RK_ESCALATE_TO)) {
        for (int i = 0; i < p->nroutes; i++)
            if (strcmp(p->routes[i].r.name, r->escalate_to_name) == 0)
                r->escalate_to = i;
        if (r->escalate_to < 0)
            ini_error(p->ini, ks->line[RK_ESCALATE_TO], label, "escalate_to", "unknown route '%s'",
                      r->escalate_to_name);
        else if (&p->routes[r->escalate_to] == rp)
            ini_error(p->ini, ks->line[RK_ESCALATE_TO], label, "escalate_to",
                      "a route cannot escalate to itself");
    }
}

/* An escalation chain that comes back to a route would call people for ever. */
static void check_circles(struct parse *p)
{
    for (int i = 0; i < p->nroutes; i++) {
        int at = p->routes[i].r.escalate_to;
        char label[NCFG_NAME_MAX + 16];
        if (at == i)
            continue; /* reported as escalating to itself */
        for (int steps = 0; at >= 0 && at != i && steps < p->nroutes; steps++)
            at = p->routes[at].r.escalate_to;
        if (at == i) {
            snprintf(label, sizeof(label), "route %s", p->routes[i].r.name);
            ini_error(p->ini, p->routes[i].ks.line[RK_ESCALATE_TO], label, "escalate_to",
                      "the escalation chain comes back to this route");
        }
    }
}

/* ---- load ---- */

struct ncfg *ncfg_load(const char *path, FILE *out, int *nerrors)
{
    struct parse p = {0};
    struct ncfg *c = calloc(1, sizeof(*c));
    int fatal;

    *nerrors = 0;
    if (c == NULL)
        return NULL;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->nmqtt.session_expiry_ms = 86400000; /* default 1d */
    p.c = c;
    if ((p.ini = ini_new(path, sections, NSECTIONS, &p)) == NULL)
        goto fail;
    if (ini_read(p.ini) < 0) {
        if (out != NULL)
            ini_print(p.ini, out);
        goto fail;
    }
    check_notify(&p);
    check_mqtt(&p);
    for (int i = 0; i < p.nchannels; i++)
        check_channel(&p, &p.channels[i]);
    for (int i = 0; i < p.nroutes; i++)
        check_route(&p, &p.routes[i]);
    check_circles(&p);
    if (out != NULL)
        ini_print(p.ini, out);
    fatal = ini_fatal(p.ini, false);
    if (fatal > 0) {
        *nerrors = fatal;
        goto fail;
    }
    c->channels = calloc((size_t)p.nchannels + 1, sizeof(*c->channels));
    c->routes = calloc((size_t)p.nroutes + 1, sizeof(*c->routes));
    if (c->channels == NULL || c->routes == NULL)
        goto fail;
    for (int i = 0; i < p.nchannels; i++)
        c->channels[i] = p.channels[i].c;
    for (int i = 0; i < p.nroutes; i++)
        c->routes[i] = p.routes[i].r;
    c->nchannels = p.nchannels;
    c->nroutes = p.nroutes;
    if (p.channels != NULL)
        memset(p.channels, 0, sizeof(*p.channels) * (size_t)p.nchannels);
    free(p.channels);
    free(p.routes);
    ini_free(p.ini);
    return c;
fail:
    if (p.channels != NULL)
        memset(p.channels, 0, sizeof(*p.channels) * (size_t)p.nchannels);
    free(p.channels);
    free(p.routes);
    ini_free(p.ini);
    ncfg_free(c);
    return NULL;
}

void ncfg_free(struct ncfg *c)
{
    if (c == NULL)
        return;
    if (c->channels != NULL)
        memset(c->channels, 0, sizeof(*c->channels) * (size_t)c->nchannels);
    free(c->channels);
    free(c->routes);
    memset(c->token_key, 0, sizeof(c->token_key));
    free(c);
}

int ncfg_channel_index(const struct ncfg *c, const char *name)
{
    for (int i = 0; name != NULL && i < c->nchannels; i++)
        if (strcmp(c->channels[i].name, name) == 0)
            return i;
    return -1;
}

int ncfg_route_index(const struct ncfg *c, const char *name)
{
    for (int i = 0; name != NULL && i < c->nroutes; i++)
        if (strcmp(c->routes[i].name, name) == 0)
            return i;
    return -1;
}

static void events_text(unsigned events, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const struct name_value *n = ncfg_event_names; n->name != NULL; n++)
        if ((events & (unsigned)n->value) && used < len) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", n->name);
            used += w > 0 ? (size_t)w : 0;
        }
}

void ncfg_print_summary(const struct ncfg *c, FILE *out)
{
    char ev[128];

    fprintf(out, "state_dir %s, language %s, offline_after %llds, ack pages %s\n", c->state_dir,
            lang_name((enum gw_lang)c->language), (long long)(c->offline_after_ms / 1000),
            c->ack_url[0] ? c->listen : "off");
    fprintf(out, "broker %s%s, client id %s, %s%s, session kept %llds\n", c->mqtt.uri[0],
            c->mqtt.nuri > 1 ? " (and more)" : "", c->nmqtt.client_id,
            c->nmqtt.share_group[0] ? "share_group " : "no share_group", c->nmqtt.share_group,
            (long long)(c->nmqtt.session_expiry_ms / 1000));
    for (int i = 0; i < c->nchannels; i++) {
        const struct ncfg_channel *ch = &c->channels[i];
        fprintf(out, "channel %s: %s, url %s", ch->name, channel_type_name(ch->type),
                ch->url_file[0] ? "from its file" : "inline");
        if (ch->rate.count > 0)
            fprintf(out, ", %ld per %llds", ch->rate.count, (long long)(ch->rate.per_ms / 1000));
        if (ch->nmobiles > 0)
            fprintf(out, ", @%d mobiles on critical alarms", ch->nmobiles);
        fputc('\n', out);
    }
    for (int i = 0; i < c->nroutes; i++) {
        const struct ncfg_route *r = &c->routes[i];
        events_text(r->events, ev, sizeof(ev));
        fprintf(out, "route %s (%s): %s, %s and above, events %s, %d channel%s", r->name,
                r->display, r->subtree_text, severity_names[r->min_severity].name, ev, r->nchannels,
                r->nchannels == 1 ? "" : "s");
        if (r->escalate_to >= 0)
            fprintf(out, ", unacknowledged %llds -> %s", (long long)(r->escalate_after_ms / 1000),
                    c->routes[r->escalate_to].name);
        fputc('\n', out);
    }
}
