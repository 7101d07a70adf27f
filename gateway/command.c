/*
 * command: see command.h.  Everything not expected is an error: unknown
 * verbs and fields, wrong types, oversized or non-UTF-8 text, control
 * characters.  A command is an instruction to safety equipment; guessing
 * what a malformed one meant is worse than refusing it.
 */
#include "command.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "parse.h"
#include "textbuf.h"

#define MEMBERS_MAX 64 /* members of a command's object scanned for escaped NULs */

static const char *const verb_names[] = {[CMD_ACK] = "ack",
                                         [CMD_INHIBIT] = "inhibit",
                                         [CMD_MODE] = "mode",
                                         [CMD_TEST] = "test",
                                         [CMD_SILENCE] = "silence"};

/* Fields each verb accepts (id, gateway and by are accepted by all). */
static const struct {
    const char *name;
    unsigned verbs;
} fields[] = {
    {"id", 0x1F},
    {"gateway", 0x1F},
    {"by", 0x1F},
    {"sensor", 1u << CMD_ACK | 1u << CMD_INHIBIT | 1u << CMD_TEST},
    {"alarm", 1u << CMD_ACK | 1u << CMD_TEST},
    {"duration", 1u << CMD_INHIBIT},
    {"mode", 1u << CMD_MODE},
    {"output", 1u << CMD_SILENCE},
    {"outputs", 1u << CMD_TEST},
};

const char *command_verb_name(enum cmd_verb v)
{
    return (unsigned)v < sizeof(verb_names) / sizeof(verb_names[0]) ? verb_names[v] : "?";
}

/* cJSON decodes the escape \u0000 into a NUL inside the string it returns,
 * and does not say how long the decoded string is: "nul\u0000x" would read
 * as "nul".  So the raw text is scanned.  For each member of the top-level
 * object, in document order (the order of cJSON's children), nul[k] tells
 * whether its key or anything in its value holds an escaped NUL.  Returns
 * the number of members seen, or -1 when an escaped NUL lies beyond the
 * first max members.  Only called on text cJSON parsed as an object, so
 * strings are well formed. */
static int members_with_nul(const char *s, size_t len, bool *nul, int max)
{
    int depth = 0, member = -1;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '{' || s[i] == '[') {
            if (depth++ == 0)
                member = 0; /* the first member starts after the opening brace */
            continue;
        }
        if (s[i] == '}' || s[i] == ']') {
            depth--;
            continue;
        }
        if (s[i] == ',' && depth == 1) {
            member++;
            continue;
        }
        if (s[i] != '"')
            continue;
        bool has_nul = false;
        for (i++; i < len && s[i] != '"'; i++) {
            if (s[i] != '\\' || i + 1 >= len)
                continue;
            if (s[i + 1] == 'u' && i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
                has_nul = true;
            i++; /* the escaped character: an escaped quote does not end the string */
        }
        if (!has_nul)
            continue;
        if (member >= max)
            return -1;
        nul[member] = true;
    }
    return member + 1 > max ? max : member + 1;
}

/* A string field into dst: present and required, or optional. */
static int take_text(const cJSON *o, const char *name, bool required, char *dst, size_t dstlen,
                     char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v == NULL) {
        if (required) {
            snprintf(err, errlen, "missing field \"%s\"", name);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        snprintf(err, errlen, "field \"%s\" must be a string", name);
        return -1;
    }
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= dstlen) {
        snprintf(err, errlen, "field \"%s\" must be 1..%zu bytes", name, dstlen - 1);
        return -1;
    }
    if (!tb_is_printable(v->valuestring)) {
        snprintf(err, errlen, "field \"%s\" is not printable UTF-8", name);
        return -1;
    }
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

int command_parse(const char *verb, const void *payload, size_t len, const char *gateway_id,
                  struct command *out, char *err, size_t errlen)
{
    cJSON *o = NULL;
    int rc = -1;
    int v;

    memset(out, 0, sizeof(*out));
    for (v = 0; v < (int)(sizeof(verb_names) / sizeof(verb_names[0])); v++)
        if (strcmp(verb, verb_names[v]) == 0)
            break;
    if (len > CMD_MAX_BYTES) {
        snprintf(err, errlen, "command too large (%zu bytes, at most %d)", len, CMD_MAX_BYTES);
        return -1;
    }
    if (memchr(payload, '\0', len) != NULL) {
        snprintf(err, errlen, "command contains a NUL byte");
        return -1;
    }
    o = cJSON_ParseWithLength(payload, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(err, errlen, o == NULL ? "not valid JSON" : "not a JSON object");
        goto out;
    }
    /* A string with an escaped NUL is refused: its C string would be cut
     * short.  The id is echoed only when it is not the one cut short. */
    bool nul[MEMBERS_MAX] = {false};
    const cJSON *cut = NULL;
    bool id_cut = members_with_nul(payload, len, nul, MEMBERS_MAX) == -1;
    int k = 0;
    for (const cJSON *f = o->child; f != NULL; f = f->next, k++)
        if (k < MEMBERS_MAX && nul[k]) {
            if (cut == NULL)
                cut = f;
            id_cut |= f->string == NULL || strcmp(f->string, "id") == 0;
        }
    if (id_cut) {
        if (cut != NULL && cut->string != NULL)
            snprintf(err, errlen, "field \"%.32s\" contains an escaped NUL (\\u0000)", cut->string);
        else
            snprintf(err, errlen, "a string contains an escaped NUL (\\u0000)");
        goto out;
    }
    /* The id first, so even a rejected command gets its reply matched. */
    if (take_text(o, "id", true, out->id, sizeof(out->id), err, errlen) == -1) {
        out->id[0] = '\0';
        goto out;
    }
    if (cut != NULL) {
        snprintf(err, errlen, "field \"%.32s\" contains an escaped NUL (\\u0000)", cut->string);
        goto out;
    }
    if (v == (int)(sizeof(verb_names) / sizeof(verb_names[0]))) {
        snprintf(err, errlen, "unknown command \"%.32s\" (ack, inhibit, mode, test, silence)",
                 verb);
        goto out;
    }
    out->verb = (enum cmd_verb)v;
    for (const cJSON *f = o->child; f != NULL; f = f->next) {
        size_t i;
        for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            if (strcmp(f->string, fields[i].name) == 0)
                break;
        if (i == sizeof(fields) / sizeof(fields[0]) || !(fields[i].verbs & (1u << v))) {
            snprintf(err, errlen, "unknown field \"%.32s\" for %s", f->string, verb_names[v]);
            goto out;
        }
        /* Duplicate keys: cJSON keeps both; the first would win silently. */
        for (const cJSON *g = o->child; g != f; g = g->next)
            if (strcmp(g->string, f->string) == 0) {
                snprintf(err, errlen, "duplicate field \"%.32s\"", f->string);
                goto out;
            }
    }
    char gw[CFG_NAME_MAX + 1] = "";
    if (take_text(o, "gateway", false, gw, sizeof(gw), err, errlen) == -1)
        goto out;
    if (gw[0] != '\0' && strcmp(gw, gateway_id) != 0) {
        snprintf(err, errlen, "command is for gateway \"%s\", not this one", gw);
        goto out;
    }
    snprintf(out->by, sizeof(out->by), "mqtt");
    if (take_text(o, "by", false, out->by, sizeof(out->by), err, errlen) == -1)
        goto out;

    switch (out->verb) {
    case CMD_ACK:
        if (take_text(o, "sensor", true, out->sensor, sizeof(out->sensor), err, errlen) == -1 ||
            take_text(o, "alarm", true, out->alarm, sizeof(out->alarm), err, errlen) == -1)
            goto out;
        break;
    case CMD_INHIBIT: {
        if (take_text(o, "sensor", true, out->sensor, sizeof(out->sensor), err, errlen) == -1)
            goto out;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "duration");
        char why[128];
        if (d == NULL) {
            snprintf(err, errlen, "missing field \"duration\" (e.g. \"2h\"; \"0s\" ends it)");
            goto out;
        }
        if (!cJSON_IsString(d) || parse_duration_ms(d->valuestring, 0, ALARM_INHIBIT_MAX_MS,
                                                    &out->duration_ms, why, sizeof(why)) == -1) {
            snprintf(err, errlen, "field \"duration\": %s",
                     cJSON_IsString(d) ? why : "must be a string such as \"2h\"");
            goto out;
        }
        break;
    }
    case CMD_MODE: {
        char m[32];
        if (take_text(o, "mode", true, m, sizeof(m), err, errlen) == -1)
            goto out;
        if (mode_from_name(m, &out->mode) == -1) {
            snprintf(err, errlen, "unknown mode \"%s\" (peacetime, flood_season, protective)", m);
            goto out;
        }
        break;
    }
    case CMD_TEST: {
        if (take_text(o, "sensor", false, out->sensor, sizeof(out->sensor), err, errlen) == -1 ||
            take_text(o, "alarm", false, out->alarm, sizeof(out->alarm), err, errlen) == -1)
            goto out;
        const cJSON *po = cJSON_GetObjectItemCaseSensitive(o, "outputs");
        if (po != NULL && !cJSON_IsBool(po)) {
            snprintf(err, errlen, "field \"outputs\" must be true or false");
            goto out;
        }
        out->outputs = po != NULL && cJSON_IsTrue(po);
        break;
    }
    case CMD_SILENCE:
        if (take_text(o, "output", true, out->output, sizeof(out->output), err, errlen) == -1)
            goto out;
        break;
    }
    rc = 0;
out:
    cJSON_Delete(o);
    /* The reason echoes the verb, field names and values as they came; it
     * goes to the log and back on cmd_result, so nothing in it may forge a
     * log line or break the UTF-8 of a reply. */
    if (rc == -1 && errlen > 0)
        tb_make_printable(err);
    return rc;
}
