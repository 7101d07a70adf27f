/*
 * mqttcfg: the [mqtt] section of every configuration that names the broker
 * (gateway.conf; the centre's notify.conf, docs/design.md section 13): its
 * struct, its key table for lib/ini, and the rules across its keys.  A
 * program lists {"mqtt", mqttcfg_keys, MQTTCFG_NKEYS, ...} in its section
 * table, points the section's open() at its struct mqttcfg, and calls
 * mqttcfg_check() once the file is read.  Pure; any thread.
 */
#ifndef GW_MQTTCFG_H
#define GW_MQTTCFG_H

#include "ini.h"

#define MQTTCFG_URI_MAX 4
#define MQTTCFG_NAME_MAX 64  /* username, topic prefix */
#define MQTTCFG_TEXT_MAX 256 /* a URI, a path */

struct mqttcfg {
    char uri[MQTTCFG_URI_MAX][MQTTCFG_TEXT_MAX]; /* tcp:// or ssl://, failover order */
    int nuri;
    char username[MQTTCFG_NAME_MAX];
    char password_file[MQTTCFG_TEXT_MAX], ca_file[MQTTCFG_TEXT_MAX];
    char cert_file[MQTTCFG_TEXT_MAX], key_file[MQTTCFG_TEXT_MAX];
    char topic_prefix[MQTTCFG_NAME_MAX]; /* default "shelter" */
    int keepalive_s;                     /* default 30 */
    char error[512]; /* lenient load: the section's first problem; "" when usable */
};

/* The keys, indexed for the program's own checks (struct ini_keyset). */
enum {
    MQTTCFG_URI,
    MQTTCFG_USERNAME,
    MQTTCFG_PASSWORD_FILE,
    MQTTCFG_CA_FILE,
    MQTTCFG_CERT_FILE,
    MQTTCFG_KEY_FILE,
    MQTTCFG_TOPIC_PREFIX,
    MQTTCFG_KEEPALIVE,
    MQTTCFG_NKEYS
};
extern const struct ini_key mqttcfg_keys[MQTTCFG_NKEYS];

/* After the whole file: counts the URIs and reports, at their lines, a
 * certificate without its key (and the reverse), a password without a user,
 * tcp:// and ssl:// mixed, and TLS files without ssl://.  header_line 0:
 * the section is absent, nothing to check. */
void mqttcfg_check(struct ini *ini, int header_line, const struct ini_keyset *ks,
                   struct mqttcfg *m);

#endif
