/* paths: where installed data lives.  Any thread. */
#ifndef GW_PATHS_H
#define GW_PATHS_H
#include <stddef.h>

/* The device-model directory to use when the config names none: the source
 * tree's sensors/models when the program runs from build/ (so a fresh
 * checkout works without installing), else GW_MODELS_DIR.  Returns buf. */
const char *paths_models_dir_default(char *buf, size_t len);
#endif
