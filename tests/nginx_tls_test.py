"""nginx with TLS in front of certsvc (issue 18, the operator guide): the
shipped docs/nginx-certsvc.conf, run by Debian's nginx with only its listen
port, upstream addresses and file paths changed, in front of a real
`certsvc serve --trusted-proxies 127.0.0.1`, reached over HTTPS with a
self-signed certificate (made here with openssl) as the only trusted CA.

- an issuance and a holder lookup go through; the lookup's audit record
  names the client's own address (127.0.0.2, a second loopback address the
  client binds to), not nginx's 127.0.0.1, also when the client sends an
  X-Forwarded-For of its own;
- a verification with an Origin header gets CORS through nginx;
- /metrics through nginx is 403 from 127.0.0.2 (metrics_allow 127.0.0.1/32)
  and 200 from 127.0.0.1;
- a body over max_body is 413;
- the upstream's second node is a node that drops every request it reads
  (a node dying mid-request): a GET that met it is answered by the other
  node, a POST that met it is a 502 and is never sent to the other node
  (proxy_next_upstream without non_idempotent);
- nginx and certsvc stop at the end.

Skipped (exit 77) only when there is no nginx binary (Debian nginx-light,
scripts/deps.sh test)."""
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, is_json, is_problem, org_code, request_for  # noqa: E402
from cstest import SOURCE, check, done, free_port, run_tests, wait_for  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
if NGINX is None:
    print("skipped: no nginx (apt-get install nginx-light; scripts/deps.sh test)")
    sys.exit(77)

SHIPPED = os.path.join(SOURCE, "docs", "nginx-certsvc.conf")
CLIENT = "127.0.0.2"     # the citizen: a loopback address that is not nginx's
ORIGIN = "https://portal.example.gov.cn"
MAX_BODY = 65536         # certsvc's default max_body, the shipped client_max_body_size

tmp = tempfile.mkdtemp(prefix="certsvc-nginx-")
d = Deployment()
state = {}


class DroppingNode:
    """The second node.  Until armed it refuses connections (a node that is
    down, which nginx skips); armed, it reads each request whole and closes the connection without
    answering, as a node killed while working on it would."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))     # bound, not listening: refused
        self.port = self.sock.getsockname()[1]
        self.requests = []     # request lines seen
        self.lock = threading.Lock()

    def arm(self):
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.drop, args=(c,), daemon=True).start()

    def drop(self, c):
        c.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            while len(body) < length:
                chunk = c.recv(65536)
                if not chunk:
                    break
                body += chunk
            with self.lock:
                self.requests.append(head.split(b"\r\n")[0].decode())
        except OSError:
            pass
        finally:
            c.close()

    def seen(self):
        with self.lock:
            return list(self.requests)


def make_certificate():
    """A self-signed P-256 certificate for 127.0.0.1 (the client's CA)."""
    cert, key = os.path.join(tmp, "fullchain.pem"), os.path.join(tmp, "privkey.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=certsvc nginx test",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert


def site_config(port, node_a, node_b):
    """docs/nginx-certsvc.conf with the test's port, nodes and paths: each
    replaced text must be in the shipped file, so the two cannot drift."""
    with open(SHIPPED) as f:
        text = f.read()
    for old, new in (("listen 443 ssl;", "listen 127.0.0.1:%d ssl;" % port),
                     ("server 127.0.0.1:8081 ", "server 127.0.0.1:%d " % node_a),
                     ("server 127.0.0.1:8082 ", "server 127.0.0.1:%d " % node_b),
                     ("/etc/ssl/certsvc/", tmp + "/"),
                     ("/var/log/nginx/", tmp + "/")):
        if old not in text:
            raise RuntimeError("docs/nginx-certsvc.conf no longer holds %r" % old)
        text = text.replace(old, new)
    path = os.path.join(tmp, "certsvc.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def main_config(site):
    """What /etc/nginx/nginx.conf gives a Debian site file, with every file
    nginx writes in the temp directory."""
    lines = ["daemon off;", "worker_processes 1;", "pid %s/nginx.pid;" % tmp,
             "error_log %s/nginx-error.log info;" % tmp]
    if os.geteuid() == 0:
        # As root nginx would run its worker as nobody, who cannot enter the
        # private temp directory; unprivileged, it runs as the caller.
        lines.append("user root;")
    lines += ["events { worker_connections 64; }", "http {"]
    lines += ["    %s_temp_path %s/%s;" % (t, tmp, t) for t in
              ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")]
    lines += ["    include %s;" % site, "}"]
    path = os.path.join(tmp, "nginx.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start():
    cert = make_certificate()
    s = d.start("--trusted-proxies", "127.0.0.1", "--metrics-allow", "127.0.0.1/32",
                "--max-body", str(MAX_BODY))
    node_a = int(s.base.rsplit(":", 1)[1])
    dropper = DroppingNode()
    port = free_port()
    conf = main_config(site_config(port, node_a, dropper.port))
    t = subprocess.run([NGINX, "-t", "-p", tmp, "-c", conf], capture_output=True, text=True)
    check(t.returncode == 0, "nginx -t accepts the shipped configuration: %s" % t.stderr)
    proc = subprocess.Popen([NGINX, "-p", tmp, "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "nginx.stderr"), "wb"))
    state.update(proc=proc, port=port, cert=cert, dropper=dropper)

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return proc.poll() is not None and None
    if not wait_for(listening, timeout=15, step=0.05) or proc.poll() is not None:
        with open(os.path.join(tmp, "nginx.stderr")) as f:
            raise RuntimeError("nginx did not start: " + f.read()[-2000:])


def https(method, path, body=None, source=CLIENT, **kw):
    """One request over TLS to nginx from a given local address, the
    self-signed certificate the only CA trusted."""
    ctx = ssl.create_default_context(cafile=state["cert"])
    c = http.client.HTTPSConnection("127.0.0.1", state["port"], timeout=30, context=ctx,
                                    source_address=(source, 0))
    try:
        return call(None, method, path, body, conn=c, **kw)
    finally:
        c.close()


def issuance_and_lookup_name_the_client():
    r = https("POST", "/api/v1/certificates", request_for(T_RAD, "NGINX-1", org_code(1)),
              token=d.tokens["env"])
    is_json(r, 201, "an issuance over HTTPS through nginx")
    state["qr_text"] = (r.doc or {}).get("qr_text", "")
    for spoof in (None, "203.0.113.9"):
        h = {"X-Purpose": "nginx test"}
        if spoof:
            h["X-Forwarded-For"] = spoof   # nginx appends the real peer after it
        r = https("GET", "/api/v1/holders/%s/certificates" % org_code(1), token=d.tokens["rd_all"],
                  headers=h)
        is_json(r, 200, "a holder lookup over HTTPS through nginx")
        check(len((r.doc or {}).get("certificates", [])) == 1, "the lookup finds the licence: %r" % r)
        a = https("GET", "/api/v1/audit?action=holder_lookup&after=0&limit=1000",
                  token=d.tokens["admin"], source="127.0.0.1")
        recs = (a.doc or {}).get("records", [])
        got = recs[-1].get("remote") if recs else None
        check(got == CLIENT, "the lookup's audit record names the client %s, not nginx "
              "(X-Forwarded-For sent by the client: %s): %s" % (CLIENT, spoof, got))


def cors_through_nginx():
    r = https("POST", "/api/v1/verify", state.get("qr_text", ""), ctype="text/plain",
              headers={"Origin": ORIGIN})
    is_json(r, 200, "a verification through nginx")
    check((r.doc or {}).get("result") == "valid", "the licence verifies: %r" % r)
    check(r.headers.get("access-control-allow-origin") == "*",
          "the verification carries CORS through nginx: %s" % r.headers)
    check("strict-transport-security" in r.headers, "nginx adds HSTS: %s" % r.headers)


def metrics_only_for_the_allowed_address():
    r = https("GET", "/metrics")
    is_problem(r, 403, what="/metrics through nginx from %s (metrics_allow 127.0.0.1/32)" % CLIENT)
    r = https("GET", "/metrics", source="127.0.0.1")
    check(r.status == 200 and b"certsvc_build_info{" in r.body,
          "/metrics through nginx from 127.0.0.1: %d" % r.status)


def every_metric_and_file_is_documented():
    """docs/operations.md's metrics table names every metric /metrics emits
    (and no other), and every repository path it names exists."""
    r = https("GET", "/metrics", source="127.0.0.1")
    emitted = set(re.findall(r"^# TYPE (\S+) ", r.body.decode(), re.M))
    with open(os.path.join(SOURCE, "docs", "operations.md")) as f:
        guide = f.read()
    table = set(re.findall(r"^\| `(certsvc_[a-z_]+)` \|", guide, re.M))
    check(emitted and emitted == table, "the guide's metrics table is what /metrics emits: "
          "undocumented %s, not emitted %s" % (sorted(emitted - table), sorted(table - emitted)))
    paths = set(re.findall(r"(?<![\w/])(?:\.\./)?((?:scripts|tests|docs|crypto|certsvc|keys\.example)/[\w./@-]+\w)",
                           guide))
    missing = [p for p in sorted(paths) if not os.path.exists(os.path.join(SOURCE, p))]
    check(paths and not missing, "every path docs/operations.md names exists: missing %s" % missing)


def oversized_body_is_413():
    req = request_for(T_RAD, "NGINX-BIG", org_code(2))
    req["remarks"] = "x" * (MAX_BODY + 100)
    r = https("POST", "/api/v1/certificates", req, token=d.tokens["env"])
    check(r.status == 413, "a body over max_body through nginx is 413: %r" % r)
    r = https("POST", "/api/v1/certificates", request_for(T_RAD, "NGINX-2", org_code(2)),
              token=d.tokens["env"])
    check(r.status == 201, "the next issuance is served: %r" % r)


def wait_node_back():
    """A node that failed is left out for the shipped fail_timeout (5 s),
    counted in nginx's whole seconds; wait that out so that round robin
    reaches it again."""
    time.sleep(6.5)


def only_idempotent_requests_are_retried():
    dropper = state["dropper"]
    dropper.arm()
    wait_node_back()
    # Round robin comes to the node within a few requests (its weight
    # recovers by steps after a failure); each GET must still be answered,
    # by the other node.
    before = len(dropper.seen())
    for i in range(8):
        r = https("GET", "/api/v1/types")
        check(r.status == 200, "GET %d answered although a node dropped it: %r" % (i, r))
        if len(dropper.seen()) > before:
            break
    check(len(dropper.seen()) > before and dropper.seen()[-1].startswith("GET "),
          "a GET met the dropping node: %s" % dropper.seen())
    wait_node_back()
    before, statuses = len(dropper.seen()), []
    for i in range(8):
        ref = "NGINX-RR-%d" % i
        r = https("POST", "/api/v1/certificates", request_for(T_RAD, ref, org_code(3 + i)),
                  token=d.tokens["env"])
        statuses.append((ref, r.status))
        if len(dropper.seen()) > before:
            break
    check(len(dropper.seen()) > before and dropper.seen()[-1].startswith("POST "),
          "a POST met the dropping node: %s" % dropper.seen())
    check(statuses and statuses[-1][1] == 502,
          "the POST the node dropped is a 502, not sent to the other node: %s" % statuses)
    # The other node never saw it: the same approval_ref sent again is new.
    ref = statuses[-1][0]
    r = https("POST", "/api/v1/certificates", request_for(T_RAD, ref, org_code(3 + len(statuses) - 1)),
              token=d.tokens["env"])
    check(r.status == 201, "the dropped issuance sent again is a new licence (201): %r" % r)


def stop():
    proc = state.get("proc")
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGQUIT)     # graceful: finish, then exit
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    check(proc is None or proc.returncode == 0, "nginx exits 0: %s" % (proc and proc.returncode))
    check(not os.path.exists(os.path.join(tmp, "nginx.pid")), "nginx removed its pid file")
    if "dropper" in state:
        state["dropper"].sock.close()
    rc = d.stop()
    check(rc == 0, "certsvc exits 0 after SIGTERM: %s" % rc)


try:
    start()
    run_tests([issuance_and_lookup_name_the_client, cors_through_nginx,
               metrics_only_for_the_allowed_address, every_metric_and_file_is_documented,
               oversized_body_is_413,
               only_idempotent_requests_are_retried])
finally:
    stop()
    d.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
done()
