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


class Cluster:
    def __init__(self, root=None):
        self.root = root or tempfile.mkdtemp(prefix="certsvc-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = None

    def _run(self, argv, **kw):
        return subprocess.run(_as_owner(argv), check=True, capture_output=True,
                              text=True, **kw)

    def start(self, settings=None):
        """initdb, then pg_ctl start; returns once the server accepts
        connections.  settings: extra postgresql.conf lines."""
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
                   "--pwfile", pwfile])
        os.unlink(pwfile)
        self.port = free_port()
        conf = ["listen_addresses = '127.0.0.1'", "port = %d" % self.port,
                "unix_socket_directories = '%s'" % self.root,
                "max_connections = 200", "shared_buffers = 64MB",
                "fsync = on", "synchronous_commit = on",
                "logging_collector = off"] + list(settings or [])
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(conf) + "\n")
        self._run([BIN + "/pg_ctl", "-D", self.data, "-l",
                   os.path.join(self.root, "server.log"), "-w", "-t", "60", "start"])
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

    def kill(self):
        """SIGKILL the postmaster: the crash a failover test needs."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pid = int(f.readline())
        os.kill(pid, 9)

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
            c._run([BIN + "/pg_ctl", "-D", c.data, "-l",
                    os.path.join(root, "server.log"), "-w", "-t", "60", "start"])
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
