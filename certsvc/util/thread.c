/* thread.c: the server's own background threads (thread.h). */
#include "thread.h"

#include <signal.h>

int
cs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	/* The new thread inherits the mask in force when it is created. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void
cs_thread_stop(pthread_t t, pthread_mutex_t *mu, pthread_cond_t *cv,
    int *stopping)
{
	pthread_mutex_lock(mu);
	*stopping = 1;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(mu);
	pthread_join(t, NULL);
}
