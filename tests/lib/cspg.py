"""A throwaway PostgreSQL 15 cluster for certsvc's tests.

Tests assume no server is running: this starts one from Debian's
postgresql-15 binaries (scripts/deps.sh test installs them) in a temporary
directory, on a port of its own on 127.0.0.1, as an unprivileged user (the
"postgres" account when the tests run as root: initdb refuses root), and
stops it at the end.  Host connections need a password (scram-sha-256), so
the tests see what a deployment sees, a secret in the URI.

As a module:  c = Cluster(); c.start(); c.uri(db) ...; c.stop()
As a command (the ctest fixtures of tests/CMakeLists.txt):
    cspg.py start DIR    start a new cluster in DIR, write DIR/uri (the
                         admin URI, database "postgres") and DIR/port
    cspg.py stop DIR     stop it and remove DIR
and for scripts/run.sh --postgres, a cluster that outlives the demo:
    cspg.py up DIR DB    start the cluster in DIR (made the first time) and
                         make database DB if missing; print DB's URI
    cspg.py down DIR     stop it, keeping DIR

A primary and a synchronous standby (tests/failover_test.py):
    p = Cluster().start(); s = p.standby()   # pg_basebackup -R, started
    p.sync_replication(); p.wait_sync()      # commits wait for s's flush
    p.kill()                                 # the primary's machine dies
    s.promote()                              # the failover manager's part
"""
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("CS_PG_BIN", "/usr/lib/postgresql/15/bin")
PASSWORD = "pg-test-secret"   # the superuser's; tests look for it in logs
USER = "certsvc"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _as_owner(argv):
    """argv run as the cluster's owner: "postgres" when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def _children(pid):
    """The processes whose parent is pid (from /proc)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            kids.append(int(name))
    return kids


def _alive(pid):
    """Whether pid still runs (a zombie has stopped running)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


class Cluster:
    def __init__(self, root=None):
        self.root = root or tempfile.mkdtemp(prefix="certsvc-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = None

    def _run(self, argv, **kw):
        return subprocess.run(_as_owner(argv), check=True, capture_output=True,
                              text=True, **kw)

    def start(self, settings=None, initdb_args=()):
        """initdb, then pg_ctl start; returns once the server accepts
        connections.  settings: extra postgresql.conf lines; initdb_args:
        more of initdb's options (--waldir, --wal-segsize)."""
        os.makedirs(self.root, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([BIN + "/initdb", "-D", self.data, "-U", USER, "-E", "UTF8",
                   "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                   "--pwfile", pwfile] + list(initdb_args))
        os.unlink(pwfile)
        self.port = free_port()
        conf = ["listen_addresses = '127.0.0.1'", "port = %d" % self.port,
                "unix_socket_directories = '%s'" % self.root,
                "max_connections = 200", "shared_buffers = 64MB",
                "fsync = on", "synchronous_commit = on",
                "logging_collector = off"] + list(settings or [])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(conf) + "\n")
        self._pg_ctl_start()
        return self

    def uri(self, db="postgres"):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (USER, PASSWORD, self.port, db)

    def psql(self, sql, db="postgres"):
        """Run sql through the local socket; its output, unaligned."""
        r = self._run([BIN + "/psql", "-h", self.root, "-p", str(self.port), "-U",
                       USER, "-d", db, "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql])
        return r.stdout

    def create_db(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return self.uri(name)

    def _pg_ctl_start(self):
        self._run([BIN + "/pg_ctl", "-D", self.data, "-l",
                   os.path.join(self.root, "server.log"), "-w", "-t", "60", "start"])

    def running(self):
        """Whether the server runs (pg_ctl status): a PANIC restarts it by
        itself, a failed crash recovery stops it."""
        return subprocess.run(_as_owner([BIN + "/pg_ctl", "-D", self.data, "status"]),
                              capture_output=True).returncode == 0

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def kill(self, children=True):
        """SIGKILL the postmaster: the crash a failover test needs.  With
        children (the default), its backends, WAL sender and other
        processes die in the same instant, as on a machine that lost its
        power; without, they notice the postmaster's death by themselves
        (and, as PostgreSQL does, acknowledge no commit after it)."""
        pid = self.postmaster_pid()
        kids = _children(pid) if children else []
        for p in [pid] + kids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        # SIGKILL is delivered at once but a process takes a moment to
        # go: until it has, a backend may still finish a commit.  Return
        # only when every one is dead (gone, or a zombie: not our child).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in [pid] + kids):
            time.sleep(0.002)

    def standby(self, root=None):
        """A new streaming standby of this (running) cluster: a base backup
        taken over 127.0.0.1 with the superuser's password (pg_basebackup
        -R writes primary_conninfo and standby.signal), on a port and in a
        directory of its own, started.  Returns its Cluster."""
        sb = Cluster(root)
        os.makedirs(sb.root, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(sb.root, pw.pw_uid, pw.pw_gid)
        os.chmod(sb.root, 0o700)
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        sb._run([BIN + "/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", USER, "-D", sb.data, "-R", "-X", "stream",
                 "-c", "fast", "--no-password"], env=env)
        sb.port = free_port()
        # The copy carries the primary's port and socket directory; later
        # lines win.  application_name names the standby in
        # pg_stat_replication (synchronous_standby_names = '*' takes any).
        with open(os.path.join(sb.data, "postgresql.auto.conf"), "a") as f:
            f.write("port = %d\nunix_socket_directories = '%s'\n" % (sb.port, sb.root))
        sb._pg_ctl_start()
        return sb

    def sync_replication(self):
        """Commits wait for a standby's flush: synchronous_standby_names =
        '*' (the first standby streaming), synchronous_commit = on."""
        self.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.psql("ALTER SYSTEM SET synchronous_commit = on")
        self.psql("SELECT pg_reload_conf()")

    def wait_sync(self, timeout=60):
        """Wait until a standby streams and is the synchronous one
        (pg_stat_replication.sync_state = 'sync')."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.psql("SELECT state || ' ' || sync_state FROM pg_stat_replication")
            if "streaming sync" in got.split("\n"):
                return
            time.sleep(0.1)
        raise RuntimeError("no synchronous standby streams after %d s: %r" % (timeout, got))

    def in_recovery(self):
        return self.psql("SELECT pg_is_in_recovery()").strip() == "t"

    def promote(self, timeout=60):
        """pg_ctl promote, waiting until the server accepts writes."""
        self._run([BIN + "/pg_ctl", "-D", self.data, "-w", "-t", str(timeout), "promote"])

    def stop(self, remove=True):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self._run([BIN + "/pg_ctl", "-D", self.data, "-m", "immediate",
                           "-w", "-t", "30", "stop"])
            except subprocess.CalledProcessError:
                pass
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def up(root, db):
    """The kept cluster of root running, with database db in it."""
    c = Cluster(root)
    if not os.path.exists(os.path.join(c.data, "PG_VERSION")):
        c.start()
        with open(os.path.join(root, "port"), "w") as f:
            f.write("%d\n" % c.port)
    else:
        with open(os.path.join(root, "port")) as f:
            c.port = int(f.read())
        if not os.path.exists(os.path.join(c.data, "postmaster.pid")):
            c._pg_ctl_start()
    if c.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % db).strip() != "1":
        c.create_db(db)
    print(c.uri(db))
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "up":
        return up(os.path.abspath(argv[2]), argv[3])
    if len(argv) == 3 and argv[1] == "down":
        Cluster(os.path.abspath(argv[2])).stop(remove=False)
        return 0
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__)
        return 2
    root = os.path.abspath(argv[2])
    if argv[1] == "start":
        shutil.rmtree(root, ignore_errors=True)
        c = Cluster(root).start()
        with open(os.path.join(root, "uri"), "w") as f:
            f.write(c.uri() + "\n")
        with open(os.path.join(root, "port"), "w") as f:
            f.write("%d\n" % c.port)
        print("PostgreSQL on 127.0.0.1:%d in %s" % (c.port, root))
        return 0
    c = Cluster(root)
    c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
