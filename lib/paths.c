/* paths: see paths.h.  The running program's location comes from
 * /proc/self/exe, so the answer does not depend on the working directory. */
#include "paths.h"

#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *paths_models_dir_default(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    struct stat st;

    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            /* build/shelter-gateway -> build/../sensors/models */
            snprintf(buf, len, "%s/../sensors/models", exe);
            if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
                return buf;
        }
    }
    snprintf(buf, len, "%s", GW_MODELS_DIR);
    return buf;
}
