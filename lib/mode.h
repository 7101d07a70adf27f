/* mode: the gateway's operating modes and message languages, and their names.
 *
 * The one place a mode's or a language's name is spelled: the config, the
 * cmd/mode argument, the payloads, the alarm keys' mode prefixes and
 * shelter-watch's --lang all read it from here.  Pure tables; any thread. */
#ifndef GW_MODE_H
#define GW_MODE_H

#include "parse.h" /* struct name_value: the form of the config's enum keys */

enum gw_mode { MODE_PEACETIME, MODE_FLOOD_SEASON, MODE_PROTECTIVE };
enum gw_lang { LANG_ZH, LANG_EN };

/* Every mode and every language with its name, in enum order. */
extern const struct name_value mode_names[];
extern const struct name_value lang_names[];

/* The name of m ("peacetime", "flood_season", "protective"); "unknown"
 * for a value outside the enum. */
const char *mode_name(enum gw_mode m);

/* The mode named exactly s (case matters): 0 and *out, or -1. */
int mode_from_name(const char *s, enum gw_mode *out);

/* The name of l ("zh", "en"); "unknown" outside the enum. */
const char *lang_name(enum gw_lang l);

/* The language named exactly s: 0 and *out, or -1. */
int lang_from_name(const char *s, enum gw_lang *out);

#endif
