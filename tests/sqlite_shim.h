/*
 * sqlite_shim: a pass-through SQLite VFS that counts what the store asks
 * of its files, for test_store_sqlite.c: the syncs of WAL files
 * (durable_commit) and the reads of every file (lookups_read_pages).
 * shim_install() makes it the default VFS for the stores opened until
 * shim_remove().  Include check.h first.
 */
#ifndef CS_TEST_SQLITE_SHIM_H
#define CS_TEST_SQLITE_SHIM_H

#include <sqlite3.h>
#include <stdatomic.h>

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
	int is_wal;
	int is_db;  /* a main database file */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static atomic_int wal_syncs;
static atomic_int file_reads;  /* xRead calls, of every file */
/* Syncs of main database files (checkpoints) made by the calling thread. */
static _Thread_local int db_syncs_here;

#define REAL(f) (((struct shim_file *)(f))->real)
#define FWD(f, m) REAL(f)->pMethods->m

static int
shim_close(sqlite3_file *f)
{
	return FWD(f, xClose)(REAL(f));
}

static int
shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	atomic_fetch_add(&file_reads, 1);
	return FWD(f, xRead)(REAL(f), b, n, o);
}

static int
shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return FWD(f, xWrite)(REAL(f), b, n, o);
}

static int
shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return FWD(f, xTruncate)(REAL(f), size);
}

static int
shim_sync(sqlite3_file *f, int flags)
{
	if (((struct shim_file *)f)->is_wal)
		atomic_fetch_add(&wal_syncs, 1);
	if (((struct shim_file *)f)->is_db)
		db_syncs_here++;
	return FWD(f, xSync)(REAL(f), flags);
}

static int
shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return FWD(f, xFileSize)(REAL(f), size);
}

static int
shim_lock(sqlite3_file *f, int l)
{
	return FWD(f, xLock)(REAL(f), l);
}

static int
shim_unlock(sqlite3_file *f, int l)
{
	return FWD(f, xUnlock)(REAL(f), l);
}

static int
shim_reserved(sqlite3_file *f, int *out)
{
	return FWD(f, xCheckReservedLock)(REAL(f), out);
}

static int
shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return FWD(f, xFileControl)(REAL(f), op, arg);
}

static int
shim_sector(sqlite3_file *f)
{
	return FWD(f, xSectorSize)(REAL(f));
}

static int
shim_devchar(sqlite3_file *f)
{
	return FWD(f, xDeviceCharacteristics)(REAL(f));
}

static int
shim_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return FWD(f, xShmMap)(REAL(f), pg, sz, ext, pp);
}

static int
shim_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return FWD(f, xShmLock)(REAL(f), off, n, flags);
}

static void
shim_shmbarrier(sqlite3_file *f)
{
	FWD(f, xShmBarrier)(REAL(f));
}

static int
shim_shmunmap(sqlite3_file *f, int del)
{
	return FWD(f, xShmUnmap)(REAL(f), del);
}

static int
shim_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
	return FWD(f, xFetch)(REAL(f), o, n, pp);
}

static int
shim_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return FWD(f, xUnfetch)(REAL(f), o, p);
}

static const sqlite3_io_methods shim_io = {
	3, shim_close, shim_read, shim_write, shim_truncate, shim_sync,
	shim_size, shim_lock, shim_unlock, shim_reserved, shim_fcntl,
	shim_sector, shim_devchar, shim_shmmap, shim_shmlock, shim_shmbarrier,
	shim_shmunmap, shim_fetch, shim_unfetch,
};

static int
shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	sf->real = (sqlite3_file *)(sf + 1);
	sf->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
	sf->is_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
	rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out);
	sf->base.pMethods = sf->real->pMethods != NULL ? &shim_io : NULL;
	return rc;
}

/* The shim becomes the default VFS, for the stores opened until
 * shim_remove(). */
static void
shim_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	CHECK(real_vfs != NULL && real_vfs->iVersion >= 1);
	shim_vfs = *real_vfs;
	shim_vfs.zName = "test-shim";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.pNext = NULL;
	CHECK_INT_EQ(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void
shim_remove(void)
{
	CHECK_INT_EQ(sqlite3_vfs_unregister(&shim_vfs), SQLITE_OK);
	CHECK(sqlite3_vfs_find(NULL) == real_vfs);
}

#endif
