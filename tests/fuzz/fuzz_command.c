/*
 * fuzz_command: the MQTT command parser (gateway/command.c) on any verb and
 * payload, then the cmd_result the gateway answers with (payload.c), as
 * gateway/delivery.c does for a message on {base}/cmd/{verb}.
 *
 * Input: the verb (the topic's last level) up to the first NUL, then the
 * payload (any bytes, NULs included).  Without a NUL the whole input is the
 * payload of cmd/ack.
 *
 * Checked: a parsed command has a known verb and only bounded, printable
 * UTF-8 text in its fields; a rejected one has a reason; the reason (logged
 * and published) is one line of UTF-8 without control characters, so no
 * broker user can forge log lines or break the consumers of cmd_result; and
 * the cmd_result is a JSON object that echoes the id.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "fuzz.h"
#include "payload.h"

/* Printable UTF-8 (shortest forms, no surrogates), no control characters. */
static bool clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7F)
            return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xC2) || *p > 0xF4)
            return false;
        unsigned cp = *p & (0x3F >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
            return false;
        p += n + 1;
    }
    return true;
}

static void check_field(const char *s, size_t cap, bool may_be_empty)
{
    size_t n = strnlen(s, cap);
    FUZZ_ASSERT(n < cap);
    FUZZ_ASSERT(may_be_empty || n > 0);
    FUZZ_ASSERT(clean_text(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct command cmd;
    char err[256], verb[256] = "ack";
    const uint8_t *nul = memchr(data, '\0', size);
    const uint8_t *payload = data;
    size_t len = size;

    if (nul != NULL) {
        size_t vlen = (size_t)(nul - data);
        if (vlen >= sizeof(verb))
            return 0; /* topics this long are not what this target is about */
        memcpy(verb, data, vlen);
        verb[vlen] = '\0';
        payload = nul + 1;
        len = size - vlen - 1;
    }
    /* Exactly len bytes, not NUL-terminated, as Paho hands them over. */
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_ASSERT(copy != NULL);
    memcpy(copy, payload, len);

    err[0] = '\0';
    int rc = command_parse(verb, copy, len, "fuzz-shelter", &cmd, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -1);
    check_field(cmd.id, sizeof(cmd.id), rc == -1);
    if (rc == 0) {
        FUZZ_ASSERT(strcmp(command_verb_name(cmd.verb), verb) == 0);
        check_field(cmd.by, sizeof(cmd.by), false);
        check_field(cmd.sensor, sizeof(cmd.sensor), cmd.verb != CMD_ACK && cmd.verb != CMD_INHIBIT);
        check_field(cmd.alarm, sizeof(cmd.alarm), cmd.verb != CMD_ACK);
        check_field(cmd.output, sizeof(cmd.output), cmd.verb != CMD_SILENCE);
        FUZZ_ASSERT(!cmd.outputs || cmd.verb == CMD_TEST);
        FUZZ_ASSERT(cmd.duration_ms >= 0);
    } else {
        FUZZ_ASSERT(err[0] != '\0');
        FUZZ_ASSERT(strnlen(err, sizeof(err)) < sizeof(err));
        FUZZ_ASSERT(clean_text(err));
    }

    /* The answer, as delivery.c publishes it (the verb echoed from the topic). */
    char *answer =
        payload_cmd_result(cmd.id[0] ? cmd.id : NULL, rc == 0 ? command_verb_name(cmd.verb) : verb,
                           rc == 0, rc == 0 ? NULL : err, 1784541784123);
    FUZZ_ASSERT(answer != NULL);
    cJSON *o = cJSON_Parse(answer);
    FUZZ_ASSERT(cJSON_IsObject(o));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    FUZZ_ASSERT(cmd.id[0] ? cJSON_IsString(id) && strcmp(id->valuestring, cmd.id) == 0
                          : cJSON_IsNull(id));
    cJSON_Delete(o);
    free(answer);
    free(copy);
    return 0;
}
