/*
 * fleet: the gateways under a subtree as their retained statuses tell
 * (docs/design.md sections 5.2, 10), for `shelter-watch gateways`, `mode`
 * and `test`.  One entry per topic base (the identity; never a payload's
 * claim), updated from each status message; the table and the JSON of
 * `gateways`, and the per-gateway outcome of a command sent to the fleet.
 * Pure: no I/O, no clock reads (the caller passes the time).  An object
 * belongs to one thread.
 */
#ifndef GW_FLEET_H
#define GW_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gwmsg.h"
#include "mode.h"

/* The outcome of a command sent to one gateway. */
enum fleet_outcome {
    FLEET_NOT_SENT, /* offline (or stale): not sent */
    FLEET_WAITING,  /* sent, no answer yet (at the end: did not answer) */
    FLEET_OK,       /* cmd_result ok */
    FLEET_ERROR,    /* cmd_result error (the gateway's reason) */
    FLEET_REFUSED,  /* the broker refused the publish (e.g. not authorized by its ACL) */
};

struct fleet_gateway {
    char *base;    /* the topic base: the identity, as received (shown printable) */
    char *gateway; /* the id (the base's last level), as received */
    char *site;    /* "city/district/street/community/property" */
    char *name, *mode, *version, *config; /* "" when the gateway did not say */
    bool online;
    bool stale;       /* online, but no status for 3 heartbeats and a minute: its broker lost it? */
    int64_t since_ms; /* online: the connection began; offline: it went offline (0 unknown) */
    int64_t up_since_ms;  /* offline: when the connection that ended had begun (0 unknown) */
    int64_t last_seen_ms; /* online: the last status; offline: as since_ms */
    int64_t heartbeat_ms; /* 0 unknown */
    int sensors;          /* -1 unknown */
    bool has_alarms;
    int alarms[GWMSG_SEVERITIES]; /* active, by severity rank */
    /* a command sent to the fleet */
    enum fleet_outcome outcome;
    char *error; /* FLEET_ERROR, FLEET_REFUSED: why; else NULL */
};

struct fleet;

struct fleet *fleet_new(void);    /* NULL on ENOMEM */
void fleet_free(struct fleet *f); /* NULL is a no-op */

/* Take a status in: published_ms is when the broker published it, if known
 * (gwmsg_status_published_ms(): for a will, when the gateway went offline),
 * else 0.  1 when the gateway is new, 0 when updated, -1 on ENOMEM (state
 * unchanged). */
int fleet_update(struct fleet *f, const struct gwmsg_status *st, int64_t published_ms,
                 int64_t now_ms);

size_t fleet_count(const struct fleet *f);
struct fleet_gateway *fleet_at(struct fleet *f, size_t i);           /* i < fleet_count() */
struct fleet_gateway *fleet_find(struct fleet *f, const char *base); /* NULL: unknown */
void fleet_counts(const struct fleet *f, int *online, int *offline); /* stale counts offline */

/* The outcome of a command; error copied (NULL: none).  0, or -1 on ENOMEM. */
int fleet_set_outcome(struct fleet_gateway *g, enum fleet_outcome o, const char *error);

/* ---- order ---- */

enum fleet_key {
    FLEET_BY_SITE, /* the default: by place in the maintenance network */
    FLEET_BY_GATEWAY,
    FLEET_BY_NAME,
    FLEET_BY_SINCE,  /* longest in its state first */
    FLEET_BY_ALARMS, /* most critical, then major, ... first */
    FLEET_BY_MODE,
    FLEET_BY_VERSION,
    FLEET_BY_CONFIG,
};
/* "site", "gateway", "name", "since", "alarms", "mode", "version", "config":
 * 0, or -1 for another word. */
int fleet_key_from_name(const char *name, enum fleet_key *key);
extern const char fleet_key_names[]; /* "site, gateway, ..." for messages */

/* Offline (and stale) gateways first, then by key, then by site and id. */
void fleet_sort(struct fleet *f, enum fleet_key key);

/* ---- output ---- */

/* The table of `shelter-watch gateways`: a header line and one line per
 * gateway in the current order (state, since, gateway, mode, alarms,
 * version, config, site, name), columns aligned, times local (tz_offset_s
 * east of UTC).  malloc'd, NULL on ENOMEM. */
char *fleet_table(const struct fleet *f, enum gw_lang lang, int64_t now_ms, int tz_offset_s);

/* The JSON array of `shelter-watch gateways --json`: one object per gateway
 * in the current order: gateway, name, online, stale, since, last_seen,
 * up_since (offline only), version, config, mode, sensors, alarms
 * {critical, major, minor, info}, heartbeat_s, topic (the base), site
 * {city, district, street, community, property}; unknown values null.
 * Times RFC 3339 UTC.  malloc'd, NULL on ENOMEM. */
char *fleet_json(const struct fleet *f);

/* One line of a command's outcome for g: "ok", "error: ...", "no answer",
 * "not sent: offline since ...", with its state, id, site and name. */
int fleet_format_outcome(const struct fleet_gateway *g, enum gw_lang lang, int64_t now_ms,
                         int tz_offset_s, char *buf, size_t len);

#endif
