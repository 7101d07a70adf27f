/*
 * mqttcfg: the [mqtt] section, see mqttcfg.h.  The broker URIs are checked
 * here as the MQTT client will take them (tcp:// or ssl://, a host, an
 * optional port, no path), so --check names what mqtt_new() would refuse.
 */
#include "mqttcfg.h"

#include <stdio.h>
#include <string.h>

#define FIELD(member) INI_FIELD(struct mqttcfg, member)

/* One MQTT broker URI: tcp://HOST[:PORT] or ssl://..., HOST may be [IPv6]. */
static int check_uri(const char *uri, char *err, size_t errlen)
{
    const char *host, *port = NULL;
    size_t hostlen;
    long portnum;
    char perr[64];

    if (strncmp(uri, "tcp://", 6) != 0 && strncmp(uri, "ssl://", 6) != 0) {
        snprintf(err, errlen, "'%.64s' must start with tcp:// or ssl://", uri);
        return -1;
    }
    host = uri + 6;
    if (strchr(host, '/') != NULL) {
        snprintf(err, errlen, "'%.64s': a broker URI has no path", uri);
        return -1;
    }
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, errlen, "'%.64s': bad [IPv6] address", uri);
            return -1;
        }
        hostlen = (size_t)(close - host - 1);
        if (close[1] == ':')
            port = close + 2;
    } else {
        const char *colon = strchr(host, ':');
        hostlen = colon != NULL ? (size_t)(colon - host) : strlen(host);
        if (colon != NULL)
            port = colon + 1;
    }
    if (hostlen == 0) {
        snprintf(err, errlen, "'%.64s' has no host", uri);
        return -1;
    }
    if (port != NULL && parse_int(port, 1, 65535, &portnum, perr, sizeof(perr)) == -1) {
        snprintf(err, errlen, "'%.64s': port %s", uri, perr);
        return -1;
    }
    return 0;
}

/* uri: one or more URIs separated by blanks and/or commas. */
static int p_uris(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
{
    char(*uri)[MQTTCFG_TEXT_MAX] = field;
    char one[MQTTCFG_TEXT_MAX];
    int n = 0;
    const char *q = value;
    (void)k;

    memset(uri, 0, sizeof(char[MQTTCFG_URI_MAX][MQTTCFG_TEXT_MAX]));
    for (;;) {
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        size_t len = strcspn(q, " \t,");
        if (len >= sizeof(one)) {
            snprintf(err, errlen, "a URI is too long (at most %zu bytes)", sizeof(one) - 1);
            return -1;
        }
        memcpy(one, q, len);
        one[len] = '\0';
        if (check_uri(one, err, errlen) == -1)
            return -1;
        if (n == MQTTCFG_URI_MAX) {
            snprintf(err, errlen, "too many URIs (at most %d)", MQTTCFG_URI_MAX);
            return -1;
        }
        memcpy(uri[n++], one, len + 1);
        q += len;
    }
    if (n == 0) {
        snprintf(err, errlen, "no URI given");
        return -1;
    }
    return 0;
}

/* clang-format off */
const struct ini_key mqttcfg_keys[MQTTCFG_NKEYS] = {
    [MQTTCFG_URI] = {"uri", p_uris, FIELD(uri), .flags = INI_REQUIRED},
    [MQTTCFG_USERNAME] = {"username", ini_text, FIELD(username)},
    [MQTTCFG_PASSWORD_FILE] = {"password_file", ini_text, FIELD(password_file)},
    [MQTTCFG_CA_FILE] = {"ca_file", ini_text, FIELD(ca_file)},
    [MQTTCFG_CERT_FILE] = {"cert_file", ini_text, FIELD(cert_file)},
    [MQTTCFG_KEY_FILE] = {"key_file", ini_text, FIELD(key_file)},
    [MQTTCFG_TOPIC_PREFIX] = {"topic_prefix", ini_topic, FIELD(topic_prefix), .dflt = "shelter"},
    /* MQTT carries the keepalive in whole seconds, 16 bits. */
    [MQTTCFG_KEEPALIVE] = {"keepalive", ini_duration_s, FIELD(keepalive_s), 5000, 3600000,
                           .dflt = "30s"},
};
/* clang-format on */

void mqttcfg_check(struct ini *ini, int header_line, const struct ini_keyset *ks, struct mqttcfg *m)
{
    if (header_line == 0)
        return;
    m->nuri = 0;
    while (m->nuri < MQTTCFG_URI_MAX && m->uri[m->nuri][0] != '\0')
        m->nuri++;
    /* A client certificate is useless without its key and vice versa. */
    if (ks->line[MQTTCFG_CERT_FILE] > 0 && ks->line[MQTTCFG_KEY_FILE] == 0)
        ini_error(ini, ks->line[MQTTCFG_CERT_FILE], "mqtt", "cert_file", "needs key_file as well");
    if (ks->line[MQTTCFG_KEY_FILE] > 0 && ks->line[MQTTCFG_CERT_FILE] == 0)
        ini_error(ini, ks->line[MQTTCFG_KEY_FILE], "mqtt", "key_file", "needs cert_file as well");
    /* The MQTT client refuses these (mqtt_new()); --check must name them. */
    if (ks->line[MQTTCFG_PASSWORD_FILE] > 0 && ks->line[MQTTCFG_USERNAME] == 0)
        ini_error(ini, ks->line[MQTTCFG_PASSWORD_FILE], "mqtt", "password_file", "needs username");
    if (!ini_key_ok(ks, MQTTCFG_URI) || m->nuri == 0)
        return;
    int ntls = 0;
    for (int i = 0; i < m->nuri; i++)
        ntls += strncmp(m->uri[i], "ssl://", 6) == 0;
    if (ntls > 0 && ntls < m->nuri)
        ini_error(ini, ks->line[MQTTCFG_URI], "mqtt", "uri",
                  "tcp:// and ssl:// mixed (failing over would drop TLS)");
    static const int tls_keys[] = {MQTTCFG_CA_FILE, MQTTCFG_CERT_FILE, MQTTCFG_KEY_FILE};
    for (size_t i = 0; ntls == 0 && i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++)
        if (ks->line[tls_keys[i]] > 0)
            ini_error(ini, ks->line[tls_keys[i]], "mqtt", mqttcfg_keys[tls_keys[i]].name,
                      "needs ssl:// URIs");
}
