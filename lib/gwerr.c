/* gwerr: messages for the project's errno range; system and libmodbus errnos
 * fall through to modbus_strerror(), which itself defers to strerror(). */
#include "gwerr.h"

#include <modbus.h>

const char *gw_strerror(int errnum)
{
    /* clang-format off */
    switch (errnum) {
    case EGW_PLACEHOLDER: return "placeholder value (sensor reports no measurement)";
    case EGW_RANGE: return "value out of range";
    case EGW_SHORT: return "response shorter than the model needs";
    case EGW_CONFIG: return "invalid configuration";
    case EGW_FULL: return "full";
    default: return modbus_strerror(errnum);
    }
    /* clang-format on */
}
