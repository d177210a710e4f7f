"""Helpers for certsvc's end-to-end tests: a fresh directory per test, the
real certsvc binary, and small assertions that say what went wrong.

A test script is a list of named test functions that run_tests() runs,
each even if an earlier one failed; done() then exits non-zero if any
check failed.  Names given on the command line run only those tests (in
the script's order, after its fixtures are built), for example

    python3 tests/hostile_test.py issue13_numbers

and an unknown name prints the script's test names and exits 2."""
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

import csdb
import csopenapi

CERTSVC = os.environ.get("CERTSVC", "certsvc")
SOURCE = os.environ.get("CS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
VECTORS = os.environ.get("CS_VECTORS_DIR", os.path.join(SOURCE, "..", "shared", "vectors"))
TEMPLATES = os.path.join(SOURCE, "templates")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def fits_contract(method, path, status, ctype, body):
    """Check an answer against docs/openapi.json (csopenapi.py): a JSON
    answer that does not fit its operation's documented schema is a
    failure naming the route, the status and the schema error."""
    why = csopenapi.mismatch(method, path, status, ctype, body)
    return check(why is None, "OpenAPI contract: %s" % why)


def run_tests(tests, names=None):
    """Run every test of a list of (name, function) (or functions, named
    after themselves), each even if an earlier one raised: an exception
    counts as a failure, with its traceback.  done() then exits non-zero if
    any check or test failed.

    names (by default the command line, sys.argv[1:]): run only the tests
    named, in the list's order; an unknown name prints the names of the
    list and exits 2.  Returns the names of the tests run."""
    tests = [t if isinstance(t, tuple) else (t.__name__, t) for t in tests]
    names = sys.argv[1:] if names is None else list(names)
    known = [name for name, _ in tests]
    unknown = [name for name in names if name not in known]
    if unknown:
        print("unknown test(s): %s\nthe tests of %s:\n  %s" % (
            " ".join(unknown), os.path.basename(sys.argv[0]), "\n  ".join(known)), flush=True)
        for srv in list(Server.running):
            srv.stop()
        for work in Workdir.made:
            work.cleanup()
        sys.exit(2)
    ran = []
    for name, fn in tests:
        if names and name not in names:
            continue
        ran.append(name)
        before = len(failures)
        try:
            fn()
        except Exception:  # noqa: BLE001 - any exception fails this test only
            failures.append("%s raised" % name)
            print("FAIL: %s raised:" % name, flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
        print("%s %s" % ("ok  " if len(failures) == before else "FAIL", name), flush=True)
    return ran


def done():
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


class Workdir:
    """A fresh directory with a key directory, a database and settings."""

    made = []   # every one, for run_tests to remove when it runs nothing

    def __init__(self, alg="ES256", keygen=True):
        self.dir = tempfile.mkdtemp(prefix="certsvc-test-")
        Workdir.made.append(self)
        self.keys = os.path.join(self.dir, "keys")
        self.db = csdb.new_db(self.dir)   # a SQLite file, or a PostgreSQL URI
        self.settings = ["--keys", self.keys, "--db", self.db, "--templates", TEMPLATES,
                         "--public-url", "https://lic.example.gov.cn"]
        if keygen:
            self.run("keygen", "--alg", alg, "--keys", self.keys)

    def run(self, *args, check_rc=True, stdin=None):
        """Run certsvc; returns CompletedProcess (text)."""
        cmd = [CERTSVC] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=120)
        if check_rc and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr))
        return r

    def cli(self, verb, *args, **kw):
        """A command that takes the common settings."""
        words = verb.split()
        return self.run(*(words + self.settings + list(args)), **kw)

    def client(self, name, role, types="*", issuer_code=None, issuer_name=None):
        args = ["--name", name, "--role", role, "--types", types]
        if issuer_code:
            args += ["--issuer-code", issuer_code, "--issuer-name", issuer_name]
        out = self.cli("client add", *args).stdout
        return out.strip().splitlines()[-1]

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        if isinstance(content, (dict, list)):
            content = json.dumps(content, ensure_ascii=False)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return path

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def catalog():
    """Every type of the shipped catalog with its sample request."""
    types = []
    for name in sorted(os.listdir(TEMPLATES)):
        if name.endswith(".json"):
            with open(os.path.join(TEMPLATES, name)) as f:
                types.append(json.load(f))
    return types


def sample_request(type_code, approval_ref, holder_code=None):
    """The catalog's sample issuance request for a type (docs/examples)."""
    path = os.path.join(SOURCE, "docs", "examples", "issue-%s.json" % type_code)
    with open(path) as f:
        req = json.load(f)
    req["approval_ref"] = approval_ref
    if holder_code:
        req["holder"]["code"] = holder_code
    return req


def zbar(png_path):
    # QR only: with every symbology on, zbar now and then also "finds" a
    # linear barcode among the QR modules and prints it as a second line.
    r = subprocess.run(["zbarimg", "--raw", "-q", "--nodbus", "-Sdisable", "-Sqrcode.enable",
                        png_path], capture_output=True, text=True)
    return r.stdout.rstrip("\n") if r.returncode == 0 else None


class Server:
    """The real `certsvc serve` on a free loopback port.  Whatever happens
    to the test script, no server it started outlives it (atexit)."""

    running = []

    def __init__(self, work, *extra, env=None):
        self.work = work
        self.log_path = os.path.join(work.dir, "serve.log")
        self.log = open(self.log_path, "ab")
        # A restart appends to the same log: look for this process's line only.
        self.log_start = self.log.tell()
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [CERTSVC, "serve"] + work.settings + ["--listen", "127.0.0.1:0"] + list(extra),
            stdout=self.log, stderr=self.log, env=e)
        Server.running.append(self)
        self.base = None

        def listening():
            with open(self.log_path, "rb") as f:
                f.seek(self.log_start)
                m = re.search(rb"listening on (http://[0-9.]+:[0-9]+)", f.read())
            if m:
                self.base = m.group(1).decode()
            return self.base is not None or self.proc.poll() is not None
        wait_for(listening, timeout=15, step=0.05)
        if self.base is None:
            self.stop()
            with open(self.log_path) as f:
                raise RuntimeError("certsvc serve did not start: " + f.read()[-2000:])

    def request(self, method, path, body=None, token=None, headers=None, ctype=None):
        """Returns (status, headers, body bytes); never raises on HTTP errors."""
        data = body
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        if ctype:
            h["Content-Type"] = ctype
        if token:
            h["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, headers, data = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, dict(e.headers), e.read()
        fits_contract(method, path, status, headers.get("Content-Type"), data)
        return status, headers, data

    def json(self, method, path, body=None, token=None, headers=None, ctype=None):
        status, h, raw = self.request(method, path, body, token, headers, ctype)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return status, h, doc

    def output(self):
        """What this process wrote to standard output and error."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

    def stop_clean(self, what="the server"):
        """SIGTERM; check that the server exits 0 and that no sanitizer
        (ASan, UBSan, LeakSanitizer) reported anything on its stderr."""
        rc = self.stop()
        # The end of its output says why when it did not (MHD prints its
        # fatal error before it aborts).
        check(rc == 0, "%s exits 0 after SIGTERM (got %s); its output ends: %s"
              % (what, rc, self.output()[-1500:]) if rc != 0 else "")
        sanitizer_clean(self.output(), what)
        return rc

    def stop(self, sig=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self in Server.running:
            Server.running.remove(self)
        return self.proc.returncode

    def alive(self):
        """Whether the process is still running."""
        return self.proc.poll() is None


@atexit.register
def _kill_servers():
    for srv in Server.running:
        if srv.proc.poll() is None:
            srv.proc.kill()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def sanitizer_clean(text, what="the server"):
    """Check that a process's stderr holds no sanitizer report."""
    ok = True
    for mark in SANITIZER_MARKS:
        i = text.find(mark)
        ok = check(i < 0, "%s: its stderr holds %r: %s" % (
            what, mark, text[max(0, i - 200):i + 800] if i >= 0 else "")) and ok
    return ok


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(first17):
    """A USCC with its GB 32100 check character (computed here, not by certsvc)."""
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return first17 + USCC_ALPHABET[(31 - s % 31) % 31]


def rid(first17):
    """A resident ID with its GB 11643 check character."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * x for c, x in zip(first17, w)) % 11]


def wait_for(cond, timeout=10.0, step=0.02):
    """Poll cond() every step seconds until it holds or timeout passes;
    returns its last value (a last try after the deadline)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def free_port():
    """A loopback TCP port free at the moment of asking (for a process that
    must be told its port in advance)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def in_parallel(n, fn, timeout=120):
    """fn(i) for i in range(n), each in a thread of its own, all started
    before any is waited for: the results in the order of i (an exception
    raised is the result of its call)."""
    out = [None] * n

    def run(i):
        try:
            out[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - the caller looks at it
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return out
