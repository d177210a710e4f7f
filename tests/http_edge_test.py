"""The edge of the network (issue 18, "Behind a proxy"): the client's own
address behind a trusted reverse proxy, CORS on the public API, and who may
read /metrics.

- trusted_proxies: a request from a trusted proxy is the client its
  X-Forwarded-For names (the rightmost address that is not itself a trusted
  proxy; an entry that is not an address stops the walk), or X-Real-IP.
  That address is in the audit record and is what the rate limit counts.
  From anyone else the headers are ignored: a client cannot choose its own
  address.
- cors_origins: the public API (verify, types, trust list) answers other
  origins' pages, "*" by default or the configured origins only; a
  preflight (OPTIONS) says what may be sent; authenticated endpoints never
  carry CORS headers.
- metrics_allow: /metrics is open to the configured addresses only.
- Bad values of the three settings stop the server at start, named."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, audit_synced, call, is_json, is_problem, issue, org_code, request_for  # noqa: E402
from cstest import check, done, run_tests  # noqa: E402

ORIGIN = "https://portal.example.gov.cn"
d = Deployment()
lic = {}


def holder_lookup_remote(server, headers):
    """The remote address the audit record of one holder lookup shows."""
    h = dict({"X-Purpose": "edge test"}, **headers)
    r = call(server, "GET", "/api/v1/holders/%s/certificates" % org_code(1), token=d.tokens["rd_all"],
             headers=h)
    is_json(r, 200, "holder lookup with %s" % headers)
    audit_synced(server, d.tokens["admin"])
    rec = call(server, "GET", "/api/v1/audit?action=holder_lookup&after=0&limit=1000",
               token=d.tokens["admin"]).doc or {}
    recs = rec.get("records", [])
    return recs[-1].get("remote") if recs else None


def trusted_proxy_names_the_client():
    s = d.start("--trusted-proxies", "127.0.0.1", "--rate-limit", "3")
    issue(s, request_for(T_RAD, "EDGE-1", org_code(1)), d.tokens["env"])
    for xff, want in (("203.0.113.9", "203.0.113.9"),
                      ("198.51.100.1, 203.0.113.9", "203.0.113.9"),
                      ("203.0.113.9, 127.0.0.1", "203.0.113.9"),
                      ("not-an-ip, 203.0.113.10", "203.0.113.10"),
                      ("203.0.113.11, 10.0.0.1:80", "127.0.0.1"),
                      ("2001:db8::5", "2001:db8::5")):
        got = holder_lookup_remote(s, {"X-Forwarded-For": xff})
        check(got == want, "X-Forwarded-For %r from a trusted proxy: audited as %s (want %s)" % (xff, got, want))
    got = holder_lookup_remote(s, {"X-Real-IP": "203.0.113.12"})
    check(got == "203.0.113.12", "X-Real-IP from a trusted proxy: audited as %s" % got)
    # The rate limit counts each citizen, not the proxy: one address spends
    # its 3 requests a second, another is still served.
    statuses = [call(s, "GET", "/api/v1/types", headers={"X-Forwarded-For": "203.0.113.20"}).status
                for _ in range(8)]
    check(429 in statuses, "one client behind the proxy is rate-limited: %s" % statuses)
    r = call(s, "GET", "/api/v1/types", headers={"X-Forwarded-For": "203.0.113.21"})
    check(r.status == 200, "another client behind the same proxy is served: %d" % r.status)
    # metrics_allow is * by default (SPEC §5: anyone on the listen address).
    r = call(s, "GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.22"})
    check(r.status == 200, "/metrics with the default metrics_allow, from an outside client: %d" % r.status)
    d.stop()


def untrusted_peer_cannot_choose_its_address():
    s = d.start("--rate-limit", "0")
    got = holder_lookup_remote(s, {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"})
    check(got == "127.0.0.1", "without trusted_proxies the headers are ignored: audited as %s" % got)
    r = call(s, "GET", "/metrics")
    check(r.status == 200, "/metrics from loopback with the default metrics_allow: %d" % r.status)
    d.stop()


def metrics_only_for_listed_addresses():
    s = d.start("--metrics-allow", "10.0.0.0/8")
    is_problem(call(s, "GET", "/metrics"), 403, what="/metrics from an address not in metrics_allow")
    d.stop()
    s = d.start("--metrics-allow", "10.0.0.0/8", "--trusted-proxies", "127.0.0.1")
    r = call(s, "GET", "/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    check(r.status == 200, "/metrics for a listed address behind a trusted proxy: %d" % r.status)
    r = call(s, "GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.22"})
    is_problem(r, 403, what="/metrics asked through the proxy by a client not listed")
    d.stop()


def cors_on_the_public_api():
    s = d.start("--rate-limit", "0")
    t = issue(s, request_for(T_RAD, "EDGE-C", org_code(2)), d.tokens["env"]).doc or {}
    for method, path, body in (("POST", "/api/v1/verify", t.get("qr_text", "")),
                               ("GET", "/api/v1/types", None), ("GET", "/api/v1/trust-list", None),
                               ("GET", "/api/v1/status-list", None)):
        r = call(s, method, path, body, ctype="text/plain" if body else None, headers={"Origin": ORIGIN})
        check(r.status == 200 and r.headers.get("access-control-allow-origin") == "*",
              "%s %s from another origin: Access-Control-Allow-Origin * (%d, %s)"
              % (method, path, r.status, r.headers.get("access-control-allow-origin")))
        check("x-request-id" in r.headers.get("access-control-expose-headers", "").lower(),
              "%s: the request id is readable by the page" % path)
    r = call(s, "POST", "/api/v1/verify", b"", headers={"Origin": ORIGIN}, ctype="text/plain")
    check(r.headers.get("access-control-allow-origin") == "*",
          "an error answer of the public API carries CORS too, so the page can read it (%d)" % r.status)
    r = call(s, "OPTIONS", "/api/v1/verify", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    check(r.status == 204 and "POST" in r.headers.get("access-control-allow-methods", "") and
          "content-type" in r.headers.get("access-control-allow-headers", "").lower() and
          r.headers.get("access-control-allow-origin") == "*",
          "a preflight of POST /api/v1/verify: 204 with what may be sent (%d %s)" % (r.status, dict(r.headers)))
    r = call(s, "GET", "/api/v1/certificates/" + t.get("id", "?"), token=d.tokens["rd_all"],
             headers={"Origin": ORIGIN})
    check(r.status == 200 and "access-control-allow-origin" not in r.headers,
          "an authenticated endpoint carries no CORS header")
    r = call(s, "OPTIONS", "/api/v1/certificates", headers={"Origin": ORIGIN})
    check(r.status == 405, "no preflight for an authenticated endpoint: %d" % r.status)
    r = call(s, "GET", "/api/v1/types")
    check("access-control-allow-origin" not in r.headers, "no Origin, no CORS header")
    d.stop()
    s = d.start("--cors-origins", ORIGIN + ", https://other.example.gov.cn")
    r = call(s, "GET", "/api/v1/types", headers={"Origin": ORIGIN})
    check(r.headers.get("access-control-allow-origin") == ORIGIN and r.headers.get("vary") == "Origin",
          "a listed origin is echoed, with Vary: Origin: %s" % dict(r.headers))
    r = call(s, "GET", "/api/v1/types", headers={"Origin": "https://evil.example"})
    check(r.status == 200 and "access-control-allow-origin" not in r.headers,
          "an origin not listed gets no CORS header")
    d.stop()


def bad_settings_stop_the_server():
    for flag, value, named in (("--trusted-proxies", "10.0.0.0/33", "trusted_proxies"),
                               ("--trusted-proxies", "proxy.example", "trusted_proxies"),
                               ("--metrics-allow", "300.1.1.1", "metrics_allow"),
                               ("--cors-origins", "https://a.example/path", "cors_origins"),
                               ("--cors-origins", "a.example", "cors_origins")):
        r = d.work.cli("serve", "--check", flag, value, check_rc=False)
        check(r.returncode != 0 and named in r.stderr,
              "%s %s is refused at start, naming %s: %s" % (flag, value, named, r.stderr.strip()))


run_tests([trusted_proxy_names_the_client, untrusted_peer_cannot_choose_its_address,
           metrics_only_for_listed_addresses, cors_on_the_public_api, bad_settings_stop_the_server])
d.cleanup()
done()
