/*
 * alarmdef: the alarm catalogue (see alarmdef.h).  One row per alarm, with
 * its Chinese and English names side by side, so a new alarm cannot get one
 * language and not the other.  Severities: flood and fire critical, what
 * needs a person soon major, hygiene and maintenance minor.
 */
#include "alarmdef.h"

#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
static const struct alarm_def alarm_defs[ALARM_COUNT + 1] = {
    [ALARM_COMM_LOST] = {"comm_lost", -1, ALARM_SEV_MAJOR, false, "",
                         "通信中断", "communication lost"},
    [ALARM_IMPLAUSIBLE] = {"implausible", -1, ALARM_SEV_MINOR, true, "",
                           "数据异常", "implausible reading"},
    [ALARM_WL_HIGH] = {"high", KIND_WATER_LEVEL, ALARM_SEV_MAJOR, false, "m",
                       "集水坑水位高", "sump level high"},
    [ALARM_WL_HIGH_HIGH] = {"high_high", KIND_WATER_LEVEL, ALARM_SEV_CRITICAL, false, "m",
                            "集水坑水位超高", "sump level high-high"},
    [ALARM_WL_RISING_FAST] = {"rising_fast", KIND_WATER_LEVEL, ALARM_SEV_MAJOR, true, "cm/min",
                              "集水坑水位快速上涨", "sump level rising fast"},
    [ALARM_LEAK] = {"leak", KIND_WATER_LEAK, ALARM_SEV_CRITICAL, false, "",
                    "漏水", "water leak"},
    [ALARM_CO2_HIGH] = {"high", KIND_CO2, ALARM_SEV_MINOR, true, "ppm",
                        "二氧化碳浓度偏高", "CO2 high"},
    [ALARM_CO2_HIGH_HIGH] = {"high_high", KIND_CO2, ALARM_SEV_MAJOR, true, "ppm",
                             "二氧化碳浓度过高", "CO2 high-high"},
    [ALARM_CO2_CRITICAL] = {"critical", KIND_CO2, ALARM_SEV_CRITICAL, true, "ppm",
                            "二氧化碳浓度危险", "CO2 critical"},
    [ALARM_CO2_OVER_RANGE] = {"over_range", KIND_CO2, ALARM_SEV_MAJOR, false, "ppm",
                              "二氧化碳超出量程", "CO2 over range"},
    [ALARM_DOOR_DISAGREE] = {"sensor_disagree", KIND_BLAST_DOOR, ALARM_SEV_MAJOR, false, "",
                             "人防门位置信号矛盾", "blast door contacts disagree"},
    [ALARM_DOOR_CHATTER] = {"chatter", KIND_BLAST_DOOR, ALARM_SEV_MAJOR, true, "",
                            "人防门信号频繁跳变", "blast door contacts chattering"},
    [ALARM_DOOR_NOT_SECURED] = {"not_secured", KIND_BLAST_DOOR, ALARM_SEV_CRITICAL, false, "s",
                                "防护状态下人防门未关闭锁紧",
                                "blast door not closed and locked in protective mode"},
    [ALARM_DOOR_OPEN_TOO_LONG] = {"open_too_long", KIND_BLAST_DOOR, ALARM_SEV_MAJOR, false, "s",
                                  "人防门开启超时", "blast door open too long"},
    [ALARM_DOOR_CLOSED_NOT_LOCKED] = {"closed_not_locked", KIND_BLAST_DOOR, ALARM_SEV_MAJOR,
                                      false, "s",
                                      "人防门关闭未锁紧", "blast door closed but not locked"},
    [ALARM_DOOR_EXERCISE_OVERDUE] = {"exercise_overdue", KIND_BLAST_DOOR, ALARM_SEV_MINOR, false,
                                     "d", "人防门超期未启闭", "blast door exercise overdue"},
    [ALARM_SMOKE_FIRE] = {"fire", KIND_SMOKE, ALARM_SEV_CRITICAL, false, "",
                          "火警", "fire"},
    [ALARM_SMOKE_FAULT] = {"fault", KIND_SMOKE, ALARM_SEV_MAJOR, false, "",
                           "烟感故障", "smoke detector fault"},
    /* not an alarm of the engine's: a sensor's maintenance window, published as one */
    [ALARM_INHIBIT] = {"inhibit", -2, ALARM_SEV_INFO, false, "",
                       "维护屏蔽", "maintenance inhibit"},
};
/* clang-format on */

static const char *const severity_names[] = {
    [ALARM_SEV_CRITICAL] = "critical",
    [ALARM_SEV_MAJOR] = "major",
    [ALARM_SEV_MINOR] = "minor",
    [ALARM_SEV_INFO] = "info",
};

static const char *const event_type_names[] = {
    [ALARM_EV_RAISED] = "raised",
    [ALARM_EV_CLEARED] = "cleared",
    [ALARM_EV_ACKNOWLEDGED] = "acknowledged",
    [ALARM_EV_TEST] = "test",
    [ALARM_EV_INHIBIT_STARTED] = "inhibit_started",
    [ALARM_EV_INHIBIT_ENDED] = "inhibit_ended",
    [ALARM_EV_WITHDRAWN] = "withdrawn",
};

const struct alarm_def *alarm_def(enum alarm_id id)
{
    return (unsigned)id <= ALARM_INHIBIT ? &alarm_defs[id] : NULL;
}

const char *alarm_name(enum alarm_id id)
{
    return (unsigned)id <= ALARM_INHIBIT ? alarm_defs[id].name : "?";
}

bool alarm_applies(enum kind kind, enum alarm_id id)
{
    return (unsigned)id < ALARM_COUNT && (unsigned)kind < KIND_COUNT &&
           (alarm_defs[id].kind == -1 || alarm_defs[id].kind == (int)kind);
}

int alarm_from_name(enum kind kind, const char *name, enum alarm_id *out)
{
    for (int id = 0; id < ALARM_COUNT; id++) {
        if (alarm_applies(kind, (enum alarm_id)id) && strcmp(alarm_defs[id].name, name) == 0) {
            *out = (enum alarm_id)id;
            return 0;
        }
    }
    return -1;
}

bool alarm_is_strict(enum alarm_id id)
{
    return (unsigned)id < ALARM_COUNT && alarm_defs[id].strict;
}

const char *alarm_severity_name(enum alarm_severity s)
{
    return (unsigned)s < NELEM(severity_names) ? severity_names[s] : "?";
}

int alarm_severity_from_name(const char *name, enum alarm_severity *out)
{
    for (size_t i = 0; i < NELEM(severity_names); i++) {
        if (strcmp(severity_names[i], name) == 0) {
            *out = (enum alarm_severity)i;
            return 0;
        }
    }
    return -1;
}

const char *alarm_event_type_name(enum alarm_event_type t)
{
    return (unsigned)t < NELEM(event_type_names) ? event_type_names[t] : "?";
}
