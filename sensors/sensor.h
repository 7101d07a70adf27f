/*
 * sensor: what one configured sensor is, as far as its kind is concerned:
 * which kind, which device model, where its DI channels are wired and with
 * which polarity, how deep its pit is.  The kinds (kind.h) decode and check
 * a sensor from this alone; a program's configuration embeds it (gateway/cfg.h
 * struct cfg_sensor: `def`) with what only that program needs (bus, unit id,
 * interval, alarm overrides).  A plain struct: no functions, no state.
 */
#ifndef GW_SENSOR_H
#define GW_SENSOR_H

/* The sensor kinds; their table (names, fields, decoders) is sensors/kind.c. */
enum kind { KIND_WATER_LEVEL, KIND_WATER_LEAK, KIND_CO2, KIND_BLAST_DOOR, KIND_SMOKE, KIND_COUNT };

struct model;

struct sensor_def {
    enum kind kind;
    const struct model *model; /* owned by the program's model set */
    double pit_depth_m;        /* water_level: required, > 0 */
    /* Channels of a DI module (-1: unset); which a kind uses: kind.c. */
    int closed_input, locked_input, open_input; /* blast_door */
    int alarm_input, fault_input;               /* smoke */
    int input;                                  /* water_leak */
    unsigned inverted_mask; /* bit n set: input n is normally-closed (active when 0) */
};

#endif
