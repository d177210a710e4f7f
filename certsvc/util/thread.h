/*
 * thread: the server's own background threads (the writers of audit_queue
 * and tx_queue).
 */
#ifndef CS_THREAD_H
#define CS_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg) for a thread that takes no signals:
 * SIGTERM and SIGINT are for the main thread, which stops the server.  The
 * faults stay deliverable (blocking them, POSIX leaves them undefined).
 * 0 or pthread_create's error. */
int cs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* A writer thread's way out: set *stopping under mu, wake the thread where
 * it waits on cv, and join it (it finishes what is queued first). */
void cs_thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv,
    int *stopping);

#endif
