/*
 * topic: the MQTT topics of the v1 contract (docs/design.md section 10), for
 * every program: the gateway builds them, shelter-watch and shelter-notify
 * take them apart, shelter-report names subtrees the same way.
 *
 * A gateway's base topic is
 *   {prefix}/{city}/{district}/{street}/{community}/{property}/{id}
 * (the prefix may itself have several levels); under it the gateway's own
 * topics: status, alarm/{sensor}/{alarm}, reading/{sensor}, cmd/{verb},
 * cmd_result.  The base is the gateway's identity: the broker's ACL pins a
 * gateway to it, so a receiver takes the site from the topic, never from a
 * payload.
 *
 * Pure: no I/O, no allocation, no global state.  Any thread.
 */
#ifndef GW_TOPIC_H
#define GW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_SIZE 1024 /* a gateway topic with its NUL: longer ones are no gateway's */
/* A configured gateway's base with its NUL: the prefix and the six levels,
 * seven names of < 64 bytes each (gateway.conf); under it a gateway's own
 * levels (a sensor and an alarm name, < 64 bytes each) stay in TOPIC_SIZE. */
#define TOPIC_BASE_SIZE 448
#define TOPIC_LEVEL_SIZE 64 /* one level of a site with its NUL (gateway.conf's slugs) */

/* The levels of a site under the prefix, in topic order. */
enum topic_level {
    TOPIC_CITY,
    TOPIC_DISTRICT,
    TOPIC_STREET,
    TOPIC_COMMUNITY,
    TOPIC_PROPERTY,
    TOPIC_ID, /* the shelter: the gateway's id */
    TOPIC_LEVELS,
};

/* Their names as keys of an alarm payload's "site" object (the id is
 * "shelter" there): "city", "district", "street", "community", "property",
 * "shelter". */
extern const char *const topic_site_keys[TOPIC_LEVELS];

/* What a topic is, judged from its last levels. */
enum topic_type {
    TOPIC_OTHER,      /* not a gateway topic of the v1 contract */
    TOPIC_ALARM,      /* {base}/alarm/{sensor}/{alarm} */
    TOPIC_STATUS,     /* {base}/status */
    TOPIC_READING,    /* {base}/reading/{sensor} */
    TOPIC_CMD,        /* {base}/cmd/{verb} */
    TOPIC_CMD_RESULT, /* {base}/cmd_result */
    TOPIC_OUTPUT,     /* {base}/output/{output} */
};

/* A topic taken apart.  Every string is NUL-terminated and lives in the
 * struct (copy it whole, or keep it while the strings are used). */
struct topic_parts {
    enum topic_type type;
    char base[TOPIC_SIZE];           /* the topic before the gateway's own levels ("" for OTHER);
                                      * never empty and never ending in '/' otherwise */
    bool site;                       /* base is a prefix and the six site levels, none empty */
    const char *prefix;              /* site: the levels before the city; else "" */
    const char *level[TOPIC_LEVELS]; /* site: city .. property and the id; else "" */
    const char *name[2];             /* alarm: sensor, alarm; reading: sensor; cmd: verb;
                                      * output: its name; else "" */
    char store_[TOPIC_SIZE];         /* private: the split copy the pointers point into */
};

/* Take topic apart into p; returns p->type.  A topic of TOPIC_SIZE bytes or
 * more, or one of another shape, is TOPIC_OTHER.  The type comes from the
 * last levels alone ("x/alarm/s/a" is an alarm topic whose base "x" is no
 * site): p->site says whether the base is a gateway's. */
enum topic_type topic_parse(const char *topic, struct topic_parts *p);

/* The type of topic, as topic_parse() would say, without copying anything
 * (cheap enough for Paho's threads). */
enum topic_type topic_type_of(const char *topic);

/* buf = the levels joined by '/': topic_join(buf, len, base, "alarm", sensor,
 * alarm, NULL).  Returns the length, or -1 with errno ENOSPC (buf then holds
 * "") or EINVAL (no level at all). */
int topic_join(char *buf, size_t len, const char *first, ...) __attribute__((sentinel));

/* The base {prefix}/{city}/.../{property}/{id} of a site (level[] in
 * enum topic_level order).  The length, or -1 with errno ENOSPC. */
int topic_base(char *buf, size_t len, const char *prefix, const char *const level[TOPIC_LEVELS]);

/* A slug: a topic level a configuration may name, 1 or more bytes of
 * A-Z a-z 0-9 _ - (never a wildcard, a blank or '/'); also an InfluxDB tag
 * value and a config section's NAME (lib/ini.c).  len bytes of s are judged. */
bool topic_slug_valid(const char *s, size_t len);

/* A topic one may publish to: not empty, no wildcard, no NUL (below 64 KiB). */
bool topic_name_valid(const char *topic);

/* MQTT topic filter syntax: '+' fills a whole level, '#' only the last one;
 * and an MQTT 5 shared subscription $share/{group}/{filter}, the group a
 * non-empty level without wildcards.  A broker disconnects a client that
 * subscribes to anything else. */
bool topic_filter_valid(const char *filter);
bool topic_filter_shared(const char *filter); /* starts with "$share/" */

/* ---- subtrees of the maintenance network ---- */

/* 1 to 6 levels under the prefix, from the city down: "zhengzhou" (a city),
 * "zhengzhou/jinshui" (a district), ... "zhengzhou/.../{id}" (one shelter).
 * A subtree matches by its full path, never by a slug alone: "jinshui" is the
 * city called jinshui, not a district of any city. */
struct topic_subtree {
    int nlevels;
    char level[TOPIC_LEVELS][TOPIC_LEVEL_SIZE];
};

/* Parse "a/b/..." into st: 0, or -1 with a reason in err (empty, more than
 * six levels, an empty level, a level that is no slug). */
int topic_subtree_parse(const char *s, struct topic_subtree *st, char *err, size_t errlen);

/* Does the topic p (parsed, with a site) lie in st: are its first
 * st->nlevels site levels st's, in order?  false for a topic without a site. */
bool topic_subtree_contains(const struct topic_subtree *st, const struct topic_parts *p);

/* The filter of everything in the subtree: {prefix}/{levels}/#.  The length,
 * or -1 with errno ENOSPC. */
int topic_subtree_filter(char *buf, size_t len, const char *prefix, const struct topic_subtree *st);

#endif
