/* gwerr: the project's errno range (libmodbus style).  Leaf modules set
 * errno to one of these; gw_strerror() names any errno, ours or the system's. */
#ifndef GW_GWERR_H
#define GW_GWERR_H

#define EGW_BASE 220000
enum {
    EGW_PLACEHOLDER = EGW_BASE + 1, /* register holds a "no value" placeholder */
    EGW_RANGE,                      /* value outside what the device/model allows */
    EGW_SHORT,                      /* fewer registers than the model needs */
    EGW_CONFIG,                     /* configuration invalid */
    EGW_FULL,                       /* queue or store full */
};

const char *gw_strerror(int errnum);
#endif
