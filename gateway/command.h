/*
 * command: strict parsing of the MQTT commands under {base}/cmd/{verb}
 * (docs/design.md section 10): ack, inhibit, mode, test, silence.  Pure: bytes in, a struct or a
 * reason out.  Whether the named sensor and alarm exist is the caller's check.
 */
#ifndef GW_COMMAND_H
#define GW_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mode.h"

#define CMD_MAX_BYTES 2048 /* larger payloads are rejected unparsed */
#define CMD_ID_MAX 64      /* bytes of an id, NUL excluded */
#define CMD_TEXT_MAX 64    /* sensor, alarm and by: bytes, NUL excluded */

enum cmd_verb { CMD_ACK, CMD_INHIBIT, CMD_MODE, CMD_TEST, CMD_SILENCE };

struct command {
    enum cmd_verb verb;
    char id[CMD_ID_MAX + 1];       /* echoed in cmd_result; "" when unusable */
    char by[CMD_TEXT_MAX + 1];     /* who; default "mqtt" */
    char sensor[CMD_TEXT_MAX + 1]; /* ack, inhibit: required; test: "" = all sensors */
    char alarm[CMD_TEXT_MAX + 1];  /* ack: required; test: optional ("" = comm_lost) */
    int64_t duration_ms;           /* inhibit: 0 ends a running inhibit */
    enum gw_mode mode;             /* mode */
    char output[CMD_TEXT_MAX + 1]; /* silence: required, the [output] name */
    bool outputs;                  /* test: also pulse every output (default false) */
};

/* Parse the command of verb (the topic's last level) from payload.
 * gateway_id: a "gateway" field, if present, must equal it.  Returns 0, or
 * -1 with a one-line reason in err; out->id is filled whenever the payload
 * had a usable id, so the error reply can echo it. */
int command_parse(const char *verb, const void *payload, size_t len, const char *gateway_id,
                  struct command *out, char *err, size_t errlen);

const char *command_verb_name(enum cmd_verb v);

#endif
