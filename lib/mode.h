/* mode: the gateway's operating modes and message languages, shared by the
 * config and the alarm engine without either including the other. */
#ifndef GW_MODE_H
#define GW_MODE_H

enum gw_mode { MODE_PEACETIME, MODE_FLOOD_SEASON, MODE_PROTECTIVE };
enum gw_lang { LANG_ZH, LANG_EN };

#endif
