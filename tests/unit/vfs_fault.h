/*
 * vfs_fault: a SQLite VFS named "fault" that forwards everything to the
 * default VFS and injects disk faults on demand: the I/O seam through which
 * tests make the disk full or fsync fail (SQLite's own test_vfs idea, small).
 * Process-global state; tests are single-threaded.
 */
#ifndef GW_VFS_FAULT_H
#define GW_VFS_FAULT_H

#define VFS_FAULT_NAME "fault"

enum vfs_fault {
    VFS_FAULT_FULL,  /* a write that grows a file fails with SQLITE_FULL (ENOSPC) */
    VFS_FAULT_FSYNC, /* xSync fails with SQLITE_IOERR_FSYNC */
    VFS_FAULT_NKINDS
};

/* Register the VFS (idempotent, not as the default).  Returns a SQLite code. */
int vfs_fault_register(void);

/* Fail the next n operations of kind f; n = -1: every one until cleared. */
void vfs_fault_arm(enum vfs_fault f, int n);
void vfs_fault_clear(void);

/* A disk with bytes of free space left: writes that grow files use it up,
 * the first one that does not fit fails with SQLITE_FULL (counted as a
 * VFS_FAULT_FULL hit).  -1 = unlimited (also after vfs_fault_clear). */
void vfs_fault_space(long long bytes);

/* How many operations of kind f were failed since the last clear. */
int vfs_fault_hits(enum vfs_fault f);

#endif
