/*
 * filecheck: are the files a configuration names usable?  (docs/design.md sections 5.1, 6)
 *
 * `--check` runs every check and prints each problem as a warning; the
 * daemon runs those of the MQTT and InfluxDB clients before it sets them up
 * (an unusable file leaves that output down, retried, with a gateway alarm)
 * and logs the others at start.  None of these problems stops local polling
 * and alarms, which is why they are warnings and not configuration errors.
 *
 * Checked: state_dir (a writable directory), each RTU bus device (exists,
 * readable and writable), [mqtt] password_file (the rules of mqtt_new()),
 * ca_file (PEM certificates), cert_file (a PEM certificate; expiry),
 * key_file (an unencrypted PEM private key matching cert_file), [influx]
 * token_file (the rules of influx_new()); secrets that other users may read;
 * and, given a service user, whether that user can reach each file (owner,
 * group and mode bits of the file and its directories; ACLs are not read).
 * models_dir is the configuration's own business: cfg_load() fails without
 * models.  Blocking file I/O: main thread, at start and on retries only.
 */
#ifndef GW_FILECHECK_H
#define GW_FILECHECK_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;

/* What a problem affects; a bit each in the scopes mask of filecheck_run(). */
enum filecheck_scope {
    FILECHECK_MQTT = 1u << 0,   /* the MQTT uplink (alarm gateway/uplink) */
    FILECHECK_INFLUX = 1u << 1, /* the InfluxDB output (alarm gateway/influx) */
    FILECHECK_STATE = 1u << 2,  /* durability: state_dir (alarm gateway/disk) */
    FILECHECK_BUS = 1u << 3,    /* a serial bus device: the bus retries */
    FILECHECK_CONFIG = 1u << 4, /* the configuration file itself */
};
#define FILECHECK_ALL 0x1fu

enum filecheck_level {
    FILECHECK_UNUSABLE, /* the file cannot serve: what it is for does not work */
    FILECHECK_ADVICE,   /* it works for us, but is unsafe or will fail for the service */
};

struct filecheck_problem {
    enum filecheck_scope scope;
    enum filecheck_level level;
    char text[768]; /* "FILE:LINE: [section] key: PATH: reason" (LINE omitted when
                     * the key was not set and its default applies); see also
                     * filecheck_consequence() */
};

/* Check the files c names, in the scopes of the mask.  service_user: also
 * check that this user (the systemd unit's User=) can use them, for a check
 * run as root; NULL: skip.  Returns the number of problems, *out a malloc'd
 * array of them (NULL when none; caller frees), or -1 (ENOMEM). */
int filecheck_run(const struct cfg *c, unsigned scopes, const char *service_user,
                  struct filecheck_problem **out);

/* What does not work while a file of the scope is unusable, for the
 * reader ("no MQTT uplink until it is fixed (alarm gateway/uplink)"); NULL
 * when there is nothing to add. */
const char *filecheck_consequence(enum filecheck_scope scope);

/* The first problem of level FILECHECK_UNUSABLE in the scope, or NULL. */
const struct filecheck_problem *filecheck_first_unusable(const struct filecheck_problem *p, int n,
                                                         unsigned scopes);

/* Is a file of scope unusable?  The first such problem's text in why.  For
 * a client about to be set up: an unreadable CA or key is named then,
 * rather than showing as a TLS failure at every connect. */
bool filecheck_unusable(const struct cfg *c, unsigned scope, char *why, size_t len);

#endif
