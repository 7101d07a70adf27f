/*
 * vfs_fault: see vfs_fault.h.  Each file is the real VFS's file placed
 * right after our header (szOsFile covers both); every method forwards,
 * xWrite and xSync first consult the armed faults.
 */
#include "vfs_fault.h"

#include <sqlite3.h>
#include <string.h>

struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* points just past this struct */
};

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *real_vfs;
static int armed[VFS_FAULT_NKINDS];
static int hits[VFS_FAULT_NKINDS];
static long long space = -1;

void vfs_fault_arm(enum vfs_fault f, int n)
{
    armed[f] = n;
}

void vfs_fault_clear(void)
{
    memset(armed, 0, sizeof(armed));
    memset(hits, 0, sizeof(hits));
    space = -1;
}

void vfs_fault_space(long long bytes)
{
    space = bytes;
}

int vfs_fault_hits(enum vfs_fault f)
{
    return hits[f];
}

/* Consume one armed fault of kind f; 1 when this operation must fail. */
static int fire(enum vfs_fault f)
{
    if (armed[f] == 0)
        return 0;
    if (armed[f] > 0)
        armed[f]--;
    hits[f]++;
    return 1;
}

#define REAL(p) (((struct fault_file *)(p))->real)

static int f_close(sqlite3_file *p)
{
    return REAL(p)->pMethods->xClose(REAL(p));
}

static int f_read(sqlite3_file *p, void *buf, int amt, sqlite3_int64 off)
{
    return REAL(p)->pMethods->xRead(REAL(p), buf, amt, off);
}

static int f_write(sqlite3_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    sqlite3_int64 size;

    if ((armed[VFS_FAULT_FULL] != 0 || space >= 0) &&
        REAL(p)->pMethods->xFileSize(REAL(p), &size) == SQLITE_OK && off + amt > size) {
        if (fire(VFS_FAULT_FULL))
            return SQLITE_FULL;
        if (space >= 0 && off + amt - size > space) {
            hits[VFS_FAULT_FULL]++;
            return SQLITE_FULL;
        }
        if (space >= 0)
            space -= off + amt - size;
    }
    return REAL(p)->pMethods->xWrite(REAL(p), buf, amt, off);
}

static int f_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    return REAL(p)->pMethods->xTruncate(REAL(p), size);
}

static int f_sync(sqlite3_file *p, int flags)
{
    if (fire(VFS_FAULT_FSYNC))
        return SQLITE_IOERR_FSYNC;
    return REAL(p)->pMethods->xSync(REAL(p), flags);
}

static int f_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    return REAL(p)->pMethods->xFileSize(REAL(p), size);
}

static int f_lock(sqlite3_file *p, int lock)
{
    return REAL(p)->pMethods->xLock(REAL(p), lock);
}

static int f_unlock(sqlite3_file *p, int lock)
{
    return REAL(p)->pMethods->xUnlock(REAL(p), lock);
}

static int f_check_reserved(sqlite3_file *p, int *out)
{
    return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

static int f_file_control(sqlite3_file *p, int op, void *arg)
{
    return REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

static int f_sector_size(sqlite3_file *p)
{
    return REAL(p)->pMethods->xSectorSize(REAL(p));
}

static int f_device_chars(sqlite3_file *p)
{
    return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

static int f_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **out)
{
    return REAL(p)->pMethods->xShmMap(REAL(p), pg, pgsz, extend, out);
}

static int f_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    return REAL(p)->pMethods->xShmLock(REAL(p), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *p)
{
    REAL(p)->pMethods->xShmBarrier(REAL(p));
}

static int f_shm_unmap(sqlite3_file *p, int del)
{
    return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

static int f_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **out)
{
    return REAL(p)->pMethods->xFetch(REAL(p), off, amt, out);
}

static int f_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr)
{
    return REAL(p)->pMethods->xUnfetch(REAL(p), off, ptr);
}

static const sqlite3_io_methods fault_methods = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_file_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_reserved,
    .xFileControl = f_file_control,
    .xSectorSize = f_sector_size,
    .xDeviceCharacteristics = f_device_chars,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    struct fault_file *ff = (struct fault_file *)file;
    int rc;

    (void)vfs;
    ff->real = (sqlite3_file *)(ff + 1);
    rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* SQLite calls xClose iff pMethods is set, so mirror the real file. */
    file->pMethods = ff->real->pMethods != NULL ? &fault_methods : NULL;
    return rc;
}

static int f_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int f_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int f_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *f_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void f_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*f_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void f_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, h);
}

static int f_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int f_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int f_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int f_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int f_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

int vfs_fault_register(void)
{
    if (real_vfs != NULL)
        return SQLITE_OK;
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL)
        return SQLITE_ERROR;
    fault_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = VFS_FAULT_NAME,
        .xOpen = f_open,
        .xDelete = f_delete,
        .xAccess = f_access,
        .xFullPathname = f_full_pathname,
        .xDlOpen = f_dlopen,
        .xDlError = f_dlerror,
        .xDlSym = f_dlsym,
        .xDlClose = f_dlclose,
        .xRandomness = f_randomness,
        .xSleep = f_sleep,
        .xCurrentTime = f_current_time,
        .xGetLastError = f_get_last_error,
        .xCurrentTimeInt64 = f_current_time64,
    };
    return sqlite3_vfs_register(&fault_vfs, 0);
}
