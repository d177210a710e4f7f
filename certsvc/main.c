/* certsvc: the one binary; everything it does is in the library. */
#include <malloc.h>

#include "cli.h"

int
main(int argc, char **argv)
{
	/*
	 * glibc hands memory back to the kernel whenever more than 128 KiB
	 * lies free at the top of a heap, and certsvc allocates and frees
	 * that much on every issuance (a deflate stream for the token is
	 * ~270 KB) and every QR image: each request then faults the pages in
	 * afresh, and the brk() that returned them flushes the TLB of every
	 * core.  Keeping up to 8 MiB free per heap (and serving blocks under
	 * 1 MiB from the heaps) took a bulk issuance from 225 to 1060
	 * licences/s here (bench/README.md); the memory kept is what the
	 * busiest request already used.
	 */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	return cs_cli_main(argc, argv);
}
