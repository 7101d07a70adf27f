/*
 * secret: see secret.h.  Moved here from gateway/influx.c when shelter-report
 * became the second program to send an InfluxDB token.
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int secret_read_token(const char *path, char *token, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    size_t len = 0;

    if (fd == -1)
        return -1;
    while (len < size - 1 && (n = read(fd, token + len, size - 1 - len)) != 0) {
        if (n == -1) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        len += (size_t)n;
    }
    close(fd);
    if (len == size - 1) {
        errno = EINVAL; /* not a token: real ones are under 100 bytes */
        return -1;
    }
    while (len > 0 && (unsigned char)token[len - 1] <= ' ')
        len--; /* trailing newline of the file */
    token[len] = '\0';
    /* Anything else below ' ' would end up inside an HTTP header. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)token[i] < ' ' || token[i] == 0x7F)
            len = 0;
    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}
