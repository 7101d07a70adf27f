/*
 * intake: see intake.h.  A command is an instruction to safety equipment:
 * guessing what a malformed one meant is worse than refusing it, so the
 * parsing is strict (command.c) and every refusal is answered and logged.
 */
#include "intake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "clock.h"
#include "command.h"
#include "gwerr.h"
#include "log.h"
#include "mqtt.h"
#include "payload.h"
#include "topic.h"

struct intake {
    char id[CFG_NAME_MAX]; /* the gateway's: a command naming another is refused */
    char base[TOPIC_BASE_SIZE];
    char filter[TOPIC_SIZE], result_topic[TOPIC_SIZE];
};

struct intake *intake_new(const struct cfg *c)
{
    struct intake *in = calloc(1, sizeof(*in));

    if (in == NULL)
        return NULL;
    if (payload_topic_base(c, in->base, sizeof(in->base)) == -1 ||
        topic_join(in->filter, sizeof(in->filter), in->base, "cmd", "+", NULL) == -1 ||
        topic_join(in->result_topic, sizeof(in->result_topic), in->base, "cmd_result", NULL) ==
            -1) {
        free(in);
        errno = ENOSPC;
        return NULL;
    }
    snprintf(in->id, sizeof(in->id), "%s", c->id);
    return in;
}

void intake_free(struct intake *in)
{
    free(in);
}

const char *intake_filter(const struct intake *in)
{
    return in->filter;
}

static void publish_result(struct intake *in, struct mqtt *mq, const char *payload)
{
    if (payload != NULL && mq != NULL &&
        mqtt_publish(mq, in->result_topic, payload, strlen(payload), 1, 0, 0) == -1)
        log_warnx("mqtt: publish cmd_result: %s", gw_strerror(errno));
}

static void reject(struct intake *in, struct mqtt *mq, const char *id, const char *verb,
                   const char *why)
{
    char *p = payload_cmd_result(id, verb, false, why, wall_ms());
    log_warnx("command %s rejected: %s", verb, why);
    publish_result(in, mq, p);
    free(p);
}

int intake_message(struct intake *in, struct mqtt *mq, const struct mqtt_event *ev,
                   struct command *cmd)
{
    size_t plen = strlen(in->base) + strlen("/cmd/");
    const char *verb = ev->topic + plen;
    char why[256];

    if (strncmp(ev->topic, in->base, strlen(in->base)) != 0 || strlen(ev->topic) <= plen ||
        strncmp(ev->topic + strlen(in->base), "/cmd/", 5) != 0) {
        log_warnx("mqtt: message on unexpected topic %.200s ignored", ev->topic);
        return 0;
    }
    if (ev->oversized) {
        snprintf(why, sizeof(why), "command too large (%zu bytes)", ev->len);
        reject(in, mq, NULL, verb, why);
        return 0;
    }
    if (ev->retained) {
        /* A retained command would run again on every reconnect.  Parsed only
         * to echo its id. */
        command_parse(verb, ev->payload, ev->len, in->id, cmd, why, sizeof(why));
        reject(in, mq, cmd->id[0] ? cmd->id : NULL, verb,
               "retained commands are refused: publish with retain off");
        return 0;
    }
    if (command_parse(verb, ev->payload, ev->len, in->id, cmd, why, sizeof(why)) == -1) {
        reject(in, mq, cmd->id[0] ? cmd->id : NULL, verb, why);
        return 0;
    }
    return 1;
}

void intake_reply(struct intake *in, struct mqtt *mq, const struct command *cmd, bool ok,
                  const char *error)
{
    char *p = payload_cmd_result(cmd->id, command_verb_name(cmd->verb), ok, error, wall_ms());
    publish_result(in, mq, p);
    free(p);
}
