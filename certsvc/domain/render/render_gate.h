/*
 * render_gate: the bound on full-page drawings running at once in this
 * process (a face drawn as a PNG, an annotated copy's PDF page).
 *
 * Each such drawing holds a large buffer while it runs (a face at the
 * default scale is a 2246 x 1588 image, about 14 MB), and it is CPU-bound:
 * with more drawings than cores running, none finishes sooner, but each
 * holds its buffer for longer, so the memory grows with the HTTP worker
 * threads and not with the work done.  The gate lets at most `limit`
 * drawings run (the config key render_concurrency; by default the online
 * CPUs this process may run on); the others wait their turn, up to
 * wait_ms, and are then refused with CS_EUNAVAIL (503 with Retry-After at
 * the HTTP layer).  The small QR images (qr.c) are not gated: one is a
 * few kB.
 *
 * Drawings also free their buffers back to the system: configuring the
 * gate fixes glibc's mmap threshold (docs/operations.md, "Memory"), so a
 * buffer above it is mmap'd and unmapped when freed instead of kept in a
 * thread's arena after the drawing.
 *
 * The gate is one per process (every drawing in the process shares the
 * same cores).  Threads: every function may be called from any thread.
 */
#ifndef CS_RENDER_GATE_H
#define CS_RENDER_GATE_H

/* What a gate waits at most before CS_EUNAVAIL, unless configured. */
#define CS_RENDER_WAIT_MS_DEFAULT 10000
/* Allocations from this size on are mmap'd (and unmapped when freed). */
#define CS_RENDER_MMAP_THRESHOLD (256 * 1024)

typedef struct cs_render_gate_stats {
	long limit;           /* drawings allowed at once */
	long in_flight;       /* drawing now */
	long max_in_flight;   /* the most at once since start */
	unsigned long waits;    /* drawings that found every slot taken */
	unsigned long refusals; /* of those, refused after wait_ms */
} cs_render_gate_stats;

/* Set the limit (0: the online CPUs this process may run on, at least 1)
 * and the wait, and fix the mmap threshold.  Call before serving;
 * drawings running already keep their slots.  Without a call the limit is
 * the CPUs and the wait CS_RENDER_WAIT_MS_DEFAULT (certsvc copy-of). */
void cs_render_gate_configure(long limit, long wait_ms);

/* Take a slot, waiting for one up to the configured wait: 0, or
 * CS_EUNAVAIL with nothing taken.  Each 0 is paired with one
 * cs_render_gate_leave(). */
int cs_render_gate_enter(void);
void cs_render_gate_leave(void);

void cs_render_gate_stats_get(cs_render_gate_stats *out);

#endif
