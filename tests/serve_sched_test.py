"""sched_batch: `certsvc serve` runs every one of its threads under
SCHED_BATCH by default (the policy the kernel reports for each thread in
/proc), and under the usual policy with --sched-batch 0; both serve."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import Server, Workdir, check, done  # noqa: E402

SCHED_OTHER, SCHED_BATCH = 0, 3


def policies(pid):
    """The scheduling policy of each thread: field 41 of /proc/PID/task/TID/stat."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            stat = f.read()
        # The command name (field 2) may hold spaces: count after its ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = int(fields[41 - 3])
    return out


w = Workdir()
try:
    for extra, want, name in (((), SCHED_BATCH, "SCHED_BATCH"),
                              (("--sched-batch", "0"), SCHED_OTHER, "the usual policy")):
        s = Server(w, *extra)
        status, _, _ = s.request("GET", "/healthz")
        check(status == 200, "serve %s answers /healthz (got %s)" % (" ".join(extra), status))
        p = policies(s.proc.pid)
        # Listener, worker, writer, checkpointer threads: more than one.
        check(len(p) >= 4, "serve has its threads (%d)" % len(p))
        others = {tid: pol for tid, pol in p.items() if pol != want}
        check(not others, "every thread of serve %s runs under %s (not: %s)"
              % (" ".join(extra), name, others))
        s.stop_clean()
    r = w.run("serve", "--help", check_rc=False)
    check("--sched-batch" in r.stdout + r.stderr, "serve --help lists --sched-batch")
    r = w.run("serve", "--sched-batch", "2", "--check", check_rc=False)
    check(r.returncode != 0 and "sched_batch" in r.stderr,
          "--sched-batch 2 is refused, naming the setting (%r)" % r.stderr.strip())
finally:
    w.cleanup()
done()
