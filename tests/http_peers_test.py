"""Two libraries that trust each other (SPEC §11, issue 16: 通办).

Two data directories, two key sets, two servers: library-a and
library-b.  Each adds the other as a peer (one over POST /api/v1/peers,
the other with `certsvc peer add`).  A licence from B then verifies in A
online (POST /api/v1/verify and the /v/ page) and offline (`certsvc
verify` with both trust lists, as files or as a directory), named as B's;
without B's status list A says status_unknown; after B revokes it and A
imports B's new list, A says revoked.  Refused: a trust list holding A's
own key or another peer's, B's list of another iss, a flipped byte, a
non-admin.  A peer key never signs here: A's trust list and A's tokens
stay A's.  Removing the peer makes B's tokens unknown_key again."""
import base64
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_RAD, Deployment, call, is_json, is_problem, issue, org_code, request_for, verify  # noqa: E402
from cstest import CERTSVC, check, done, run_tests, wait_for  # noqa: E402


def library(name):
    d = Deployment()
    d.work.settings += ["--library-name", name]
    d.start("--rate-limit", "0")
    return d


A = library("library-a")
B = library("library-b")
sa, sb = A.server, B.server
jwks_a = json.loads(A.work.cli("trust-list").stdout)
jwks_b = json.loads(B.work.cli("trust-list").stdout)
path_a = A.work.write("library-a.json", jwks_a)
path_b = A.work.write("library-b.json", jwks_b)
lic_b = issue(sb, request_for(T_RAD, "PEER-B-1", org_code(1)), B.tokens["env"]).doc or {}
lic_a = issue(sa, request_for(T_RAD, "PEER-A-1", org_code(2)), A.tokens["env"]).doc or {}


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def status_list(d, *extra):
    """The library's status list now, from `certsvc status-list`."""
    r = subprocess.run([CERTSVC, "status-list"] + d.work.settings + list(extra),
                       capture_output=True, timeout=120)
    check(r.returncode == 0, "certsvc status-list: %s" % r.stderr.decode(errors="replace"))
    return r.stdout


def add_peer(server, token, name, trust, sl=None):
    body = {"name": name, "trust_list": trust}
    if sl is not None:
        body["status_list"] = b64url(sl)
    return call(server, "POST", "/api/v1/peers", body, token=token)


def offline(*args):
    r = subprocess.run([CERTSVC, "verify"] + list(args), capture_output=True, text=True,
                       timeout=120)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, {"stderr": r.stderr}


def before_peering():
    v = verify(sa, lic_b["qr_text"], "B's licence in A before peering")
    check(v.get("result") == "unknown_key", "not a peer yet: unknown_key (%s)" % v.get("result"))


def each_adds_the_other():
    r = add_peer(sa, A.tokens["admin"], "library-b", jwks_b)
    if is_json(r, 201, "A adds B over HTTP"):
        check(r.doc["name"] == "library-b" and r.doc["status_list"] is None and
              sorted(r.doc["keys"]) == sorted(k["kid"] for k in jwks_b["keys"]),
              "the answer names B and its keys: %s" % r.doc)
    path = B.work.write("library-a.json", jwks_a)
    r = B.work.cli("peer add", "library-a", path, check_rc=False)
    check(r.returncode == 0 and '"library-a"' in r.stdout, "B adds A with certsvc peer add: %s%s"
          % (r.stdout, r.stderr))
    # B's server reads its peers again within PEERS_TTL (10 s).
    check(wait_for(lambda: verify(sb, lic_a["qr_text"]).get("library") == "library-a",
                   timeout=60, step=0.5), "A's licence verifies in B, named as A's")
    r = B.work.cli("peer list", check_rc=False)
    check(r.returncode == 0 and json.loads(r.stdout)["peers"][0]["name"] == "library-a",
          "certsvc peer list shows A: %s" % r.stdout)


def online_without_list():
    v = verify(sa, lic_b["qr_text"], "B's licence in A")
    check(v.get("result") == "status_unknown" and v.get("library") == "library-b",
          "genuine, B's, status unknown without B's list: %s" % v)
    check((v.get("certificate") or {}).get("id") == lic_b["id"], "the licence as signed")
    r = call(sa, "GET", "/v/" + lic_b["qr_text"].rsplit("/v/", 1)[1])
    page = r.body.decode()
    check(r.status == 200 and 'data-result="status_unknown"' in page and "library-b" in page,
          "the /v/ page says so and names library-b")


def offline_two_libraries():
    rc, v = offline("--trust-list", path_a, "--trust-list", path_b, lic_b["qr_text"])
    check(rc == 0 and v.get("result") == "valid" and v.get("library") == "library-b",
          "offline with both trust lists: valid, named library-b (%d %s)" % (rc, v))
    rc, v = offline("--trust-list", path_a, "--trust-list", path_b, lic_a["qr_text"])
    check(rc == 0 and v.get("library") == "library-a", "and A's own named library-a: %s" % v)
    tdir = os.path.join(A.work.dir, "trust")
    os.mkdir(tdir)
    for p in (path_a, path_b):
        with open(p) as f, open(os.path.join(tdir, os.path.basename(p)), "w") as g:
            g.write(f.read())
    rc, v = offline("--trust-list", tdir, lic_b["qr_text"])
    check(rc == 0 and v.get("library") == "library-b", "a directory of trust lists: %s" % v)
    rc, v = offline("--trust-list", path_a, lic_b["qr_text"])
    check(rc == 1 and v.get("result") == "unknown_key", "A's trust list alone: unknown_key")


def revoked_after_import():
    sl1 = status_list(B)
    r = add_peer(sa, A.tokens["admin"], "library-b", jwks_b, sl1)
    if is_json(r, 201, "A imports B's list"):
        check(r.doc["status_list"] is not None and r.doc["status_list"]["stale"] is False,
              "the peer shows its list's age: %s" % r.doc)
    v = verify(sa, lic_b["qr_text"])
    check(v.get("result") == "valid" and v.get("library") == "library-b" and
          (v.get("status_list") or {}).get("state") == "in_force",
          "with B's list: valid, in force on it: %s" % v)
    r = call(sb, "POST", "/api/v1/certificates/%s/revoke" % lic_b["id"], {"reason": "test"},
             token=B.tokens["env"])
    check(r.status == 200, "B revokes it: %r" % r)
    v = verify(sa, lic_b["qr_text"])
    check(v.get("result") == "valid", "A still holds the list from before: %s" % v.get("result"))
    sl2 = status_list(B)
    lp = A.work.write("b2.cose", sl2)
    rc, v = offline("--trust-list", path_a, "--trust-list", path_b, "--status-list", lp,
                    lic_b["qr_text"])
    check(rc == 1 and v.get("result") == "revoked" and v.get("library") == "library-b",
          "offline with B's new list: revoked (%d %s)" % (rc, v))
    r = A.work.cli("peer add", "library-b", path_b, "--status-list", lp, check_rc=False)
    check(r.returncode == 0, "A imports B's new list with certsvc peer add: %s" % r.stderr)
    check(wait_for(lambda: verify(sa, lic_b["qr_text"]).get("result") == "revoked",
                   timeout=60, step=0.5), "A says revoked once it holds B's new list")
    r = call(sa, "GET", "/v/" + lic_b["qr_text"].rsplit("/v/", 1)[1])
    check('data-result="revoked"' in r.body.decode(), "and so does A's page")


def refusals():
    admin = A.tokens["admin"]
    r = add_peer(sa, admin, "library-x", jwks_a)
    is_problem(r, 422, "trust_list", "a trust list of A's own key")
    check("own" in r.body.decode(), "says the key is this library's own: %s" % r.body)
    r = add_peer(sa, admin, "library-c", jwks_b)
    is_problem(r, 422, "trust_list", "a trust list of B's key under another name")
    check("library-b" in r.body.decode(), "names the peer holding it: %s" % r.body)
    r = add_peer(sa, admin, "library-b", jwks_b, status_list(B, "--library-name", "imposter"))
    is_problem(r, 422, "status_list", "B's key, another iss")
    check("wrong iss" in r.body.decode(), "says wrong iss: %s" % r.body)
    sl = bytearray(status_list(B))
    sl[-1] ^= 1
    r = add_peer(sa, admin, "library-b", jwks_b, bytes(sl))
    is_problem(r, 422, "status_list", "a flipped byte")
    r = add_peer(sa, admin, "library-b", jwks_b, status_list(A))
    is_problem(r, 422, "status_list", "A's own list as B's")
    r = call(sa, "POST", "/api/v1/peers", {"name": "library-b", "trust_list": jwks_b,
                                          "status_list": "!!"}, token=admin)
    is_problem(r, 422, "status_list", "not base64url")
    r = call(sa, "POST", "/api/v1/peers", {"name": "../etc", "trust_list": jwks_b}, token=admin)
    is_problem(r, 422, "name", "a name that is no library name")
    r = call(sa, "POST", "/api/v1/peers", {"name": "library-d", "trust_list": {"keys": []}},
             token=admin)
    is_problem(r, 422, "trust_list", "a trust list with no key")
    r = add_peer(sa, A.tokens["rd_all"], "library-e", jwks_b)
    is_problem(r, 403, None, "a reader adding a peer")
    is_problem(call(sa, "GET", "/api/v1/peers", token=A.tokens["env"]), 403, None,
               "an issuer listing peers")
    r = call(sa, "GET", "/api/v1/peers", token=admin)
    if is_json(r, 200, "GET /api/v1/peers"):
        check([p["name"] for p in r.doc["peers"]] == ["library-b"],
              "nothing refused was added: %s" % r.doc)


def peer_keys_never_sign():
    tl = json.loads(A.work.cli("trust-list").stdout)
    check(tl == jwks_a, "A's trust list holds A's keys only")
    r = call(sa, "GET", "/api/v1/trust-list")
    kids = {k["kid"] for k in (r.doc or {}).get("keys", [])}
    check(kids == {k["kid"] for k in jwks_a["keys"]}, "GET /api/v1/trust-list too: %s" % kids)
    lic = issue(sa, request_for(T_RAD, "PEER-A-2", org_code(3)), A.tokens["env"]).doc or {}
    v = verify(sa, lic.get("qr_text", ""))
    check(v.get("result") == "valid" and "library" not in v,
          "a licence A issues now is A's own: %s" % v)


def metrics():
    body = call(sa, "GET", "/metrics").body.decode()
    check("\ncertsvc_peers 1\n" in body, "/metrics counts the peer")
    m = re.search(r'^certsvc_verifications_total\{result="status_unknown"\} (\d+)$', body, re.M)
    check(m is not None and int(m.group(1)) >= 1, "and the status_unknown answers")
    m = re.search(r"^certsvc_status_list_builds_total (\d+)$", body, re.M)
    check(m is not None and int(m.group(1)) >= 1, "and the status lists built")
    m = re.search(r"^certsvc_status_list_age_seconds (-?\d+)$", body, re.M)
    check(m is not None and 0 <= int(m.group(1)) < 3600, "and the served list's age")


def audited_and_removed():
    admin = A.tokens["admin"]
    r = call(sa, "GET", "/api/v1/audit?action=peer_add", token=admin)
    check(is_json(r, 200, "audit") and len(r.doc["records"]) >= 2 and
          r.doc["records"][0]["target"] == "library-b", "peer_add is audited: %s" % r.doc)
    r = call(sa, "DELETE", "/api/v1/peers/library-b", token=admin)
    check(r.status == 204, "DELETE removes the peer: %r" % r)
    v = verify(sa, lic_b["qr_text"])
    check(v.get("result") == "unknown_key", "B's licence is unknown_key again: %s" % v)
    is_problem(call(sa, "DELETE", "/api/v1/peers/library-b", token=admin), 404, None,
               "removing it again")
    r = call(sa, "GET", "/api/v1/audit?action=peer_remove", token=admin)
    check(is_json(r, 200, "audit") and len(r.doc["records"]) == 1, "peer_remove is audited")
    # Added back, with the key it had: allowed (its own key, its own name).
    check(add_peer(sa, admin, "library-b", jwks_b).status == 201, "added again")


run_tests([("before_peering", before_peering), ("each_adds_the_other", each_adds_the_other),
           ("online_without_list", online_without_list),
           ("offline_two_libraries", offline_two_libraries),
           ("revoked_after_import", revoked_after_import), ("refusals", refusals),
           ("peer_keys_never_sign", peer_keys_never_sign), ("metrics", metrics),
           ("audited_and_removed", audited_and_removed)])

for d in (A, B):
    check(d.server.stop() == 0, "the server exits 0 after SIGTERM")
    d.cleanup()
done()
