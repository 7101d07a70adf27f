/* clock: the two clocks (docs/design.md section 4).  Monotonic ms for schedules and delays,
 * wall-clock ms for timestamps only.  Any thread. */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H
#include <stdint.h>
#include <time.h>

static inline int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic nanoseconds: for timing below the millisecond (a character on
 * an RS-485 line is about 1 ms at 9600 baud, 0.1 ms at 115200). */
static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
#endif
