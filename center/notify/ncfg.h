/*
 * ncfg: notify.conf, shelter-notify's configuration (docs/design.md section
 * 22.1; every key is documented in conf/notify.conf and notify.conf(5)),
 * read through the project's one INI front-end (lib/ini.h): FILE:LINE
 * problems, unknown keys and bad values are errors, exit 78.
 *
 *   [notify]        state_dir, language, utc_offset, offline_after, ack_url,
 *                   listen, token_key_file, ack_ttl
 *   [mqtt]          lib/mqttcfg's keys (as the gateway's), and
 *                   share_group, client_id, session_expiry
 *   [channel NAME]  type (wecom | dingtalk | webhook), url or url_file,
 *                   secret_file (dingtalk), rate, mentions, timeout
 *   [route NAME]    name, subtree, min_severity, events, channels,
 *                   escalate_after, escalate_to, flood
 *
 * The files a configuration names (URLs, secrets, the token key) are read
 * at load; their contents are secrets and never printed.  The struct is
 * immutable once loaded.  Main thread.
 */
#ifndef NOTIFY_NCFG_H
#define NOTIFY_NCFG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "channel.h"
#include "mode.h"
#include "mqttcfg.h"
#include "parse.h"
#include "topic.h"

#define NCFG_NAME_MAX 64      /* a section NAME, NUL included */
#define NCFG_TEXT_MAX 256     /* a display name, a user name, NUL included */
#define NCFG_ROUTE_CHANNELS 8 /* channels of one route */
#define NCFG_MENTIONS 8       /* mobiles of one channel */
#define NCFG_SECRET_MAX 512

enum ncfg_event {
    NCFG_EV_RAISED = 1u << 0,
    NCFG_EV_ACKNOWLEDGED = 1u << 1,
    NCFG_EV_CLEARED = 1u << 2,
    NCFG_EV_OFFLINE = 1u << 3,
    NCFG_EV_ONLINE = 1u << 4,
    NCFG_EV_TEST = 1u << 5,
};

/* The event names of `events =`, and the bit of an alarm event name (0 for
 * one routes cannot name). */
extern const struct name_value ncfg_event_names[];
unsigned ncfg_event_bit(const char *event);

struct ncfg_channel {
    char name[NCFG_NAME_MAX];
    int type;                     /* enum channel_type */
    char url[CHANNEL_URL_MAX];    /* secret: it holds the robot's key */
    char url_file[PATH_MAX];      /* where url came from, or "" */
    char secret[NCFG_SECRET_MAX]; /* dingtalk: the signing secret (加签) */
    char secret_file[PATH_MAX];
    struct parse_rate rate; /* count 0: no limit */
    char mentions[NCFG_TEXT_MAX];
    char mobile[NCFG_MENTIONS][24];
    int nmobiles;
    int64_t timeout_ms;
    int line;
};

struct ncfg_route {
    char name[NCFG_NAME_MAX];
    char display[NCFG_TEXT_MAX]; /* name = ..., default the section name */
    char subtree_text[TOPIC_SIZE];
    struct topic_subtree subtree;
    int min_severity; /* rank: 0 critical .. 3 info */
    unsigned events;  /* enum ncfg_event bits */
    int channel[NCFG_ROUTE_CHANNELS];
    int nchannels;
    int64_t escalate_after_ms; /* 0: no escalation */
    int escalate_to;           /* route index, -1: none */
    char escalate_to_name[NCFG_NAME_MAX];
    struct parse_rate flood; /* more than count per per_ms: summaries; count 0: off */
    int line;
};

struct ncfg {
    char path[PATH_MAX];
    /* [notify] */
    char state_dir[PATH_MAX];
    int language; /* enum gw_lang */
    int utc_offset_s;
    int64_t offline_after_ms;
    char ack_url[CHANNEL_URL_MAX];
    char ack_path[CHANNEL_URL_MAX]; /* the path of ack_url ("/ack"): what listen serves */
    char listen[NCFG_TEXT_MAX];
    char token_key_file[PATH_MAX];
    unsigned char token_key[NCFG_SECRET_MAX];
    size_t token_key_len;
    int64_t ack_ttl_ms;
    /* [mqtt]: the shared section (lib/mqttcfg) and the notifier's own keys */
    struct mqttcfg mqtt;
    struct {
        char share_group[NCFG_NAME_MAX];
        char client_id[NCFG_TEXT_MAX];
        int64_t session_expiry_ms;
        int share_group_line, client_id_line, session_expiry_line;
    } nmqtt;
    struct ncfg_channel *channels;
    int nchannels;
    struct ncfg_route *routes;
    int nroutes;
};

/* Load path.  Every problem goes to out as FILE:LINE: [section] key: reason
 * (out NULL: not printed); returns the configuration, or NULL when it has
 * errors (*nerrors says how many; 0 with errno when the file could not be
 * read or memory ran out).  Warnings alone do not fail the load. */
struct ncfg *ncfg_load(const char *path, FILE *out, int *nerrors);
void ncfg_free(struct ncfg *c); /* NULL is a no-op; wipes the secrets */

/* Index of the channel or route named name, or -1. */
int ncfg_channel_index(const struct ncfg *c, const char *name);
int ncfg_route_index(const struct ncfg *c, const char *name);

/* A summary for --check: one line per route and channel (no secrets). */
void ncfg_print_summary(const struct ncfg *c, FILE *out);

#endif
