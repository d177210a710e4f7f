"""SIGHUP reopens the log file (issue 18: "the log file is never
reopened"): logrotate moves the file away and signals the server; the lines
after the signal go to a new file at the configured path, the lines before
stay in the moved one, no line is lost or split, and the server keeps
serving.  Before, SIGHUP's default action ended the server."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import Server, Workdir, check, done, wait_for  # noqa: E402


def lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def request_lines(path):
    return [line for line in lines(path) if "/healthz" in line]


w = Workdir()
log = os.path.join(w.dir, "requests.log")
srv = Server(w, "--log-file", log)
for _ in range(3):
    st, _, _ = srv.request("GET", "/healthz")
    check(st == 200, "healthz before the rotation")
check(wait_for(lambda: len(request_lines(log)) >= 3, timeout=10), "three request lines in the log")
os.rename(log, log + ".1")
srv.proc.send_signal(signal.SIGHUP)
check(wait_for(lambda: os.path.exists(log), timeout=10), "SIGHUP makes a new file at the log path")
for _ in range(2):
    st, _, _ = srv.request("GET", "/healthz")
    check(st == 200, "healthz after SIGHUP: the server keeps serving")
check(wait_for(lambda: len(request_lines(log)) >= 2, timeout=10),
      "the requests after SIGHUP are in the new file: %s" % lines(log))
old = request_lines(log + ".1")
check(len(old) == 3, "the rotated file keeps the three earlier lines, no later one: %d" % len(old))
check(any("log file reopened" in line for line in lines(log)), "the reopen is logged in the new file")
check(all(line.count("/healthz") == 1 for line in request_lines(log) + old), "no line is split or joined")
check(srv.proc.poll() is None, "SIGHUP does not stop the server")
check(srv.stop() == 0, "the server exits 0 after SIGTERM")
w.cleanup()
done()
