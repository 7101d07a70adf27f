/*
 * mode: the names of the operating modes and languages.  See mode.h.
 *
 * Tables in enum order, searched linearly: three modes and two languages.
 */
#include "mode.h"

#include <string.h>

const struct name_value mode_names[] = {
    {"peacetime", MODE_PEACETIME},
    {"flood_season", MODE_FLOOD_SEASON},
    {"protective", MODE_PROTECTIVE},
    {NULL, 0},
};

const struct name_value lang_names[] = {
    {"zh", LANG_ZH},
    {"en", LANG_EN},
    {NULL, 0},
};

static const char *name_of(const struct name_value *names, int value)
{
    for (const struct name_value *nv = names; nv->name != NULL; nv++)
        if (nv->value == value)
            return nv->name;
    return "unknown";
}

static int value_of(const struct name_value *names, const char *s, int *out)
{
    for (const struct name_value *nv = names; nv->name != NULL; nv++) {
        if (strcmp(nv->name, s) == 0) {
            *out = nv->value;
            return 0;
        }
    }
    return -1;
}

const char *mode_name(enum gw_mode m)
{
    return name_of(mode_names, (int)m);
}

int mode_from_name(const char *s, enum gw_mode *out)
{
    int v;
    if (value_of(mode_names, s, &v) == -1)
        return -1;
    *out = (enum gw_mode)v;
    return 0;
}

const char *lang_name(enum gw_lang l)
{
    return name_of(lang_names, (int)l);
}

int lang_from_name(const char *s, enum gw_lang *out)
{
    int v;
    if (value_of(lang_names, s, &v) == -1)
        return -1;
    *out = (enum gw_lang)v;
    return 0;
}
