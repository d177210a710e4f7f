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
	/*
	 * glibc gives threads up to 8 heaps a core, and each keeps its own
	 * free memory (up to the 8 MiB above): with 16 request threads that
	 * was 25-35 MiB of the server's peak RSS at 1M licences (106-117 MiB
	 * against 81 MiB with two heaps), at the same rates (bench/README.md).
	 */
	mallopt(M_ARENA_MAX, 2);
	return cs_cli_main(argc, argv);
}
