/*
 * LD_PRELOAD shim for http_shutdown: epoll_ctl(EPOLL_CTL_DEL) on a listening
 * socket waits 30 ms before it runs.  libmicrohttpd 0.9.75 removes the
 * listening socket from a worker's epoll set both in MHD_quiesce_daemon()
 * (the main thread) and in the worker's own loop once it sees the daemon
 * quiesced, without a lock, and aborts when its removal finds the entry
 * gone.  The delay widens that window from nanoseconds to one a test hits:
 * a server that quiesces aborts under it, one that does not is unaffected
 * (MHD_stop_daemon() closes the socket without removing it first).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	static int (*real)(int, int, int, struct epoll_event *);
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (real == NULL)
		real = (int (*)(int, int, int, struct epoll_event *))
		    dlsym(RTLD_NEXT, "epoll_ctl");
	if (op == EPOLL_CTL_DEL &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
	    listening) {
		struct timespec ts = {0, 30 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	return real(epfd, op, fd, ev);
}
