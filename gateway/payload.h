/*
 * payload: MQTT topics and JSON payloads of the v1 contract (docs/design.md section 10):
 * alarm transitions, gateway status, command results.  Pure: no I/O; the
 * caller passes the time.  Main thread (or any, no shared state).
 */
#ifndef GW_PAYLOAD_H
#define GW_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm.h"
#include "gwmsg.h"
#include "points.h"

struct cfg;

/* struct alarm_msg, one alarm message (from an engine event or a gateway-level
 * alarm), is the catalogue's: sensors/alarmdef.h. */

/* The gateway's site as InfluxDB points carry it (sensors/points.h); the
 * strings are c's. */
struct points_site payload_site(const struct cfg *c);

/* The gateway's topic base {prefix}/{city}/{district}/{street}/{community}/
 * {property}/{id} (lib/topic.h).  Returns the length or -1 (ENOSPC). */
int payload_topic_base(const struct cfg *c, char *buf, size_t len);

/* Fill m from an engine event; text (len bytes) receives the message.  Inhibit
 * events map to alarm "inhibit", raised when it starts and cleared when it ends
 * (docs/design.md section 10 knows only raised|cleared|acknowledged|test). */
void alarm_msg_from_event(const struct cfg *c, const struct alarm_event *ev, uint64_t seq,
                          char *text, size_t len, struct alarm_msg *m);

/* Fill m from the withdrawal of an orphaned alarm (its sensor left the
 * configuration): event "cleared", reason "sensor_removed", no location. */
void alarm_msg_from_orphan(const struct cfg *c, const struct alarm_orphan *o, uint64_t seq,
                           char *text, size_t len, struct alarm_msg *m);

/* The alarm payload: a malloc'd JSON string (caller frees), NULL on ENOMEM. */
char *payload_alarm(const struct cfg *c, const struct alarm_msg *m);

/* The status counts alarms by the centre's severity ranks (lib/gwmsg.h),
 * which are the engine's severities in the same order. */
_Static_assert(ALARM_SEV_CRITICAL == 0 && ALARM_SEV_INFO == GWMSG_SEVERITIES - 1,
               "enum alarm_severity is not gwmsg's severity rank");

/* What a status says besides the configuration (docs/design.md section 10.1). */
struct status_info {
    enum gw_mode mode;
    int64_t ts_ms;                /* now: when this status is published */
    int64_t since_ms;             /* when this connection began */
    int alarms[GWMSG_SEVERITIES]; /* active alarms by severity (enum alarm_severity) */
};

/* The retained status: {"online":true,"ts","since","gateway","name","mode",
 * "version","config","sensors","alarms":{"critical","major","minor","info"},
 * "heartbeat_s"}.  malloc'd; NULL on ENOMEM. */
char *payload_status(const struct cfg *c, const struct status_info *si);

/* The will, fixed when the connection begins at since_ms:
 * {"online":false,"since","gateway","name","version","mode","config"}, the
 * last two as the gateway runs when it is made (sink_mqtt.c renews it when
 * they change), so the centre still knows them of an offline gateway.  The
 * broker publishes it retained when the connection ends, with an expiry
 * interval that tells when (lib/gwmsg.h GWMSG_WILL_EXPIRY_S).  malloc'd;
 * NULL on ENOMEM. */
char *payload_will(const struct cfg *c, int64_t since_ms, enum gw_mode mode);

/* cmd_result payload: {"id":...,"verb":...,"ok":...,"error":...,"ts":...}.
 * id may be NULL (a command too broken to have one): "id":null. */
char *payload_cmd_result(const char *id, const char *verb, bool ok, const char *error,
                         int64_t ts_ms);

#endif
