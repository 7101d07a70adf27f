/*
 * intake: the command intake on {base}/cmd/{verb} (docs/design.md section
 * 10).  A message becomes a struct command for the main loop, or is refused
 * here with a cmd_result error and a log line (malformed, oversized,
 * retained, for another gateway); answers go out on {base}/cmd_result, not
 * through the outbox.  Main thread only.
 */
#ifndef GW_INTAKE_H
#define GW_INTAKE_H

#include <stdbool.h>

struct cfg;
struct command;
struct mqtt;
struct mqtt_event;
struct intake;

/* For the gateway of c (its base topic and id are copied).  NULL: ENOMEM or
 * a topic too long. */
struct intake *intake_new(const struct cfg *c);
void intake_free(struct intake *in); /* NULL is a no-op */

/* The filter to subscribe: {base}/cmd/+. */
const char *intake_filter(const struct intake *in);

/* A message on the filter: 1 and *cmd when it is a valid command, 0 when it
 * was refused (answered on mq) or ignored (another topic). */
int intake_message(struct intake *in, struct mqtt *mq, const struct mqtt_event *ev,
                   struct command *cmd);

/* Answer cmd on cmd_result through mq (NULL: no client, nothing sent). */
void intake_reply(struct intake *in, struct mqtt *mq, const struct command *cmd, bool ok,
                  const char *error);

#endif
