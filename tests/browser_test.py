#!/usr/bin/env python3
"""The verification page and the licence faces in a real browser.

This script sets the stage: a key, clients, the real `certsvc serve` on
loopback (its public URL is its own address, so the URL in a QR code opens
this server), a licence in every state, tokens that fail in every way, and
every type of the catalog issued twice (its sample, and every text field at
its longest).  tests/browser/check.js then drives Debian's /usr/bin/chromium
headless through playwright-core (installed from npm into the build tree,
never a browser of its own) and asserts what a person would see; see the
top of check.js for the list.  Screenshots go to $CS_ARTIFACTS, or
<build>/test-artifacts/browser.
"""
import datetime
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cshttp  # noqa: E402
import csnpm  # noqa: E402
import cstest  # noqa: E402
from cstest import Server, Workdir, check, done, run_tests  # noqa: E402
from cstoken import tamper_signature  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
CHROMIUM = "/usr/bin/chromium"
BUILD = csnpm.build_dir()
ARTIFACTS = os.environ.get("CS_ARTIFACTS") or os.path.join(BUILD, "test-artifacts", "browser")

# Faces with every text at its catalog maximum must stay inside their rows,
# clear of the QR code and of other text (templates give each value text a
# data-wrap width and a data-lines budget; face.c shrinks to fit).
# CS_FACE_STRICT=0 reports overflows as KNOWN instead of failing, for
# working on a new layout.
FACE_FIT_FIXED = os.environ.get("CS_FACE_STRICT", "1") == "1"

ISSUER_CODE = "11440000006939756B"
ISSUER_NAME = "广东省生态环境厅"


def npm_deps():
    """playwright-core, pinned by tests/browser/package-lock.json, in
    <build>/browser-node (csnpm.py).  Returns NODE_PATH."""
    return csnpm.npm_ci(BROWSER_DIR, "browser-node", os.path.join("playwright-core", "package.json"))


# Faces at their limits: every text field at its max_length (CJK, the
# widest characters), list fields with a pattern filled as far as the
# pattern and max_length allow, the longest option of every enum, integers
# of max_length digits, a caller-supplied number of the API's maximum
# (issue.c: 64 characters), a holder name of its maximum (200), and a long
# issuing-authority name (the "long" issuer client below).
NUMBER_MAX = 64
HOLDER_NAME_MAX = 200
LONG_ISSUER_CODE = cstest.uscc("11450000MB1234567")
LONG_ISSUER_NAME = "广西壮族自治区防城港市东兴市生态环境局行政审批与综合执法服务中心辐射安全管理科"


def list_value(items, sep, max_length, count=None):
    """items joined by sep, cycling, as long as max_length allows (and at
    most count items when the pattern bounds them)."""
    out = []
    i = 0
    while count is None or len(out) < count:
        nxt = out + [items[i % len(items)]]
        if len(sep.join(nxt)) > max_length:
            break
        out = nxt
        i += 1
    return sep.join(out)


# Realistic values for the fields with a pattern, at their longest.  A
# pattern field the catalog gains without an entry here fails the test
# rather than being left short.
PATTERN_VALUES = {
    # 危险废物类别 HW01-HW50, every one, then around again: the pattern
    # allows repeats, and max_length is what the face must hold.
    "waste_categories": lambda f: list_value(
        ["HW%02d" % k for k in range(1, 51)], "、", f["max_length"]),
    "business_mode": lambda f: list_value(["收集", "贮存", "利用", "处置"], "、",
                                          f["max_length"], 4),
    "main_pollutant_categories": lambda f: list_value(
        ["固体废物", "废气", "废水", "噪声"], "、", f["max_length"], 4),
    "diagnosis_scope": lambda f: list_value(
        ["X射线影像诊断", "介入放射学", "放射治疗", "核医学"], "、", f["max_length"], 4),
    "medical_licence_code": lambda f: ("PDY60212144030519A" * 5)[:f["max_length"]],
    "exam_score": lambda f: "100",
}


def longest(type_doc, req):
    """The sample request with every field at its longest, to make the face
    wrap or shrink."""
    import re
    req = json.loads(json.dumps(req))
    for f in type_doc["fields"]:
        n = f.get("max_length")
        if "pattern" in f:
            if f["name"] not in PATTERN_VALUES:
                check(False, "longest(): no value for the pattern field %s.%s" %
                      (type_doc["code"], f["name"]))
                continue
            v = PATTERN_VALUES[f["name"]](f)
            check(re.fullmatch(f["pattern"], v) is not None and len(v) <= n,
                  "longest(): %s is %r, not its pattern or over %d" % (f["name"], v, n))
            req["fields"][f["name"]] = int(v) if f["kind"] == "integer" else v
        elif f["kind"] == "text" and n:
            req["fields"][f["name"]] = ("辐射安全许可证核技术利用" * (n // 10 + 1))[:n]
        elif f["kind"] == "enum":
            req["fields"][f["name"]] = max(f["options"], key=len)
        elif f["kind"] == "integer":
            req["fields"][f["name"]] = int("9" * (n or 9))
    req["holder"]["name"] = ("深圳市第一人民医院放射科附属" * 15)[:HOLDER_NAME_MAX] \
        if "USCC" in type_doc["holder_code_types"] else \
        ("阿卜杜热合曼·买买提依明·欧阳娜娜" * 12)[:HOLDER_NAME_MAX]
    req["number"] = ("粤环审〔2026〕第%s号" % type_doc["code"][-3:] +
                     "深圳市生态环境局南山管理局核技术利用辐射安全许可证副本" * 3)[:NUMBER_MAX]
    return req


FIX = {}   # the stage: the server, its tokens, and what check.js is given


def main():
    if not os.path.exists(CHROMIUM):
        check(False, "%s is missing: scripts/deps.sh test installs chromium" % CHROMIUM)
        done()
    FIX["node_path"] = npm_deps()
    os.makedirs(ARTIFACTS, exist_ok=True)
    for f in os.listdir(ARTIFACTS):
        if f.endswith(".png"):
            os.unlink(os.path.join(ARTIFACTS, f))

    work = Workdir()
    port = cstest.free_port()
    base = "http://127.0.0.1:%d" % port
    work.settings[work.settings.index("--public-url") + 1] = base
    issuer = work.client("env", "issuer", "*", ISSUER_CODE, ISSUER_NAME)
    reader = work.client("reader", "reader", "*")
    long_issuer = work.client("long", "issuer", "*", LONG_ISSUER_CODE, LONG_ISSUER_NAME)
    portal = work.client("portal", "portal", "*")
    srv = Server(work, "--listen", "127.0.0.1:%d" % port, "--rate-limit", "0")
    try:
        check(srv.base == base, "the server listens on %s (got %s)" % (base, srv.base))
        fixtures = stage(work, srv, issuer, long_issuer)
        fixtures.update({"base": base, "issuer_token": issuer, "reader_token": reader,
                         "portal_token": portal,
                         "artifacts": ARTIFACTS, "chromium": CHROMIUM})
        FIX.update(srv=srv, reader=reader, fixtures=fixtures,
                   path=work.write("fixtures.json", fixtures))
        run_tests([browser_shows_pages_and_faces, face_png_scales_and_errors])
    finally:
        # Exit 0 after SIGTERM, and no sanitizer report on stderr.
        srv.stop_clean()
    if not cstest.failures:
        work.cleanup()
    done()


def browser_shows_pages_and_faces():
    """tests/browser/check.js in chromium: what a person sees (its top
    lists the checks)."""
    env = dict(os.environ, NODE_PATH=FIX["node_path"])
    t0 = time.time()
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "check.js"), FIX["path"]],
                       env=env, timeout=300)
    print("browser checks: %.1f s; screenshots in %s" % (time.time() - t0, ARTIFACTS))
    check(r.returncode == 0, "tests/browser/check.js passed (exit %d)" % r.returncode)


def face_png_scales_and_errors():
    """face.png's own rules: its scales, its authorisation, its errors."""
    import struct
    srv, lid, reader = FIX["srv"], FIX["fixtures"]["faces"][0]["id"], FIX["reader"]
    path = "/api/v1/certificates/%s/face.png" % lid
    for scale, want in ((None, 2), ("1", 1), ("3", 3)):
        st, h, png = srv.request("GET", path + ("?scale=" + scale if scale else ""),
                                 token=reader)
        ok = st == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
        check(ok and h.get("Content-Type") == "image/png", "face.png scale %s: %d" % (scale, st))
        if ok:
            w, hh = struct.unpack(">II", png[16:24])
            check((w, hh) == (1123 * want, 794 * want),
                  "face.png scale %s is %dx%d" % (scale, w, hh))
    for q in ("?scale=0", "?scale=4", "?scale=2.5", "?form=qr"):
        st, _, _ = srv.request("GET", path + q, token=reader)
        check(st == 400, "face.png%s: %d, want 400" % (q, st))
    st, _, _ = srv.request("GET", path)
    check(st == 401, "face.png without a token: %d, want 401" % st)
    st, _, _ = srv.request("GET", "/api/v1/certificates/1.2.156.3005.2."
                           "11100000000013338W032.11220000013544541J.2430599.001.F/face.png",
                           token=reader)
    check(st == 404, "face.png of an unknown licence: %d, want 404" % st)
    st, _, png = srv.request("GET", path + "?form=compact&scale=2", token=reader)
    check(st == 200 and png[:4] == b"\x89PNG", "face.png?form=compact: %d" % st)
    if st == 200:
        f = os.path.join(ARTIFACTS, "face-png-compact.png")
        with open(f, "wb") as out:
            out.write(png)
        text = cstest.zbar(f)
        check(text is not None and text.startswith("EL1:"),
              "face.png?form=compact carries the compact form: %r" % (text or "")[:20])


def issued(srv, token, req, what):
    """The licence issued (cshttp.issue); the stage cannot go on without it."""
    r = cshttp.issue(srv, req, token, what="issuing " + what)
    if r.status != 201:
        raise RuntimeError("issuing %s: %r" % (what, r))
    return r.doc


def stage(work, srv, issuer, long_issuer):
    """Licences in every state, bad tokens, and the faces to look at."""
    def sample(type_code, ref, **over):
        req = cstest.sample_request(type_code, ref)
        req.update(over)
        return req

    today = datetime.date.today()
    w032 = "11100000000013338W032"
    valid = issued(srv, issuer, sample(w032, "B-VALID"), "valid")
    person = issued(srv, issuer, sample("11100000000013338W044", "B-PERSON"), "person")
    susp = issued(srv, issuer, sample(w032, "B-SUSP"), "suspended")
    srv.json("POST", "/api/v1/certificates/%s/suspend" % susp["id"],
             {"reason": "整改期间暂扣"}, token=issuer)
    expired = issued(srv, issuer, sample(w032, "B-EXP", valid_from="2015-01-01",
                                        valid_until="2020-12-31"), "expired")
    later = today.replace(year=today.year + 2).isoformat()
    nyv = issued(srv, issuer, sample(w032, "B-NYV", valid_from=later), "not yet valid")
    old = issued(srv, issuer, sample(w032, "B-OLD"), "to supersede")
    status, _, new = srv.json("POST", "/api/v1/certificates/%s/amend" % old["id"],
                              {"approval_ref": "B-NEW", "fields": {"remarks": "变更后"},
                               "reason": "变更备注"}, token=issuer)
    check(status in (200, 201), "amend: %d %s" % (status, new))
    rev = issued(srv, issuer, sample(w032, "B-REV"), "revoked")
    srv.json("POST", "/api/v1/certificates/%s/revoke" % rev["id"],
             {"reason": "以欺骗手段取得", "kind": "withdrawn"}, token=issuer)
    rt = issued(srv, issuer, sample(w032, "B-ROUNDTRIP"), "round trip")
    xss = issued(srv, issuer, sample(w032, "B-XSS", holder={
        "name": "<script>alert(1)</script>&\"'", "code_type": "USCC",
        "code": "91440300708461136T"}), "script-named holder")

    # Signed by a key this server does not hold; and by its own key, but
    # in another library (so: not found).  Serials are sequential, so the
    # other library's first licence has the id of this one's first (valid),
    # for another holder: the page must not show this library's licence.
    other = Workdir()
    other.client("env", "issuer", "*", ISSUER_CODE, ISSUER_NAME)
    stranger = json.loads(other.cli("issue", "--client", "env",
                                     other.write("r.json", sample(w032, "B-OTHER"))).stdout)
    elsewhere = Workdir(keygen=False)
    elsewhere.settings[elsewhere.settings.index("--keys") + 1] = work.keys
    elsewhere.client("env", "issuer", "*", ISSUER_CODE, ISSUER_NAME)
    unknown = json.loads(elsewhere.cli("issue", "--client", "env",
                                       elsewhere.write("r.json", sample(w032, "B-ELSE", holder={
                                           "name": "深圳市第二人民医院", "code_type": "USCC",
                                           "code": "91440300708461136T"}))).stdout)
    check(unknown["id"] == valid["id"], "the other library reuses the id %s" % valid["id"])
    other.cleanup()
    elsewhere.cleanup()

    def v(lic):
        return "/v/" + lic["token"]

    holder = valid["holder"]["name"]
    pages = [
        {"name": "valid", "path": v(valid), "result": "valid", "tone": "ok",
         "texts": ["有效", "Valid", holder, valid["number"], ISSUER_NAME,
                   valid["valid_from"], valid["valid_until"], valid["id"], "离线核验"]},
        {"name": "valid-person", "path": v(person), "result": "valid", "tone": "ok",
         "texts": [person["holder"]["name"], "110105********002X", "公民身份号码"],
         "absent": [person["holder"]["code"]]},
        {"name": "suspended", "path": v(susp), "result": "suspended", "tone": "warn",
         "texts": ["已暂扣", "Suspended", holder, "状态变更时间"], "absent": ["整改期间暂扣"]},
        {"name": "expired", "path": v(expired), "result": "expired", "tone": "warn",
         "texts": ["已过期", "Expired", "2015-01-01 至 2020-12-31"]},
        {"name": "not-yet-valid", "path": v(nyv), "result": "not_yet_valid", "tone": "warn",
         "texts": ["尚未生效", "Not yet valid", later]},
        {"name": "superseded", "path": v(old), "result": "superseded", "tone": "warn",
         "texts": ["已被新证照取代", "Superseded", new["id"] if new else "?"]},
        {"name": "revoked", "path": v(rev), "result": "revoked", "tone": "bad",
         "texts": ["已撤销", "Withdrawn", "状态变更时间"], "absent": ["以欺骗手段取得"]},
        {"name": "invalid-signature", "path": "/v/" + tamper_signature(valid["token"]),
         "result": "invalid_signature", "tone": "bad", "texts": ["签名无效", "Invalid signature"],
         "absent": [holder]},
        {"name": "unknown-key", "path": v(stranger), "result": "unknown_key", "tone": "bad",
         "texts": ["签发密钥未知"]},
        {"name": "not-found", "path": v(unknown), "result": "not_found", "tone": "bad",
         "texts": ["证照库中无此证照"]},
        {"name": "malformed", "path": "/v/this-is-not-a-licence", "result": "malformed",
         "tone": "bad", "texts": ["无法识别", "Not readable"]},
        {"name": "script-holder", "path": v(xss), "result": "valid", "tone": "ok",
         "texts": ["<script>alert(1)</script>&\"'"]},
    ]

    faces = []
    for t in cstest.catalog():
        for variant in ("sample", "longest"):
            req = sample(t["code"], "B-FACE-%s-%s" % (t["code"], variant))
            if variant == "longest":
                req = longest(t, req)
            lic = issued(srv, long_issuer if variant == "longest" else issuer, req,
                        "face of %s" % t["code"])
            # What was asked for, not what came back: a value cut on its
            # way to the face must not pass for the whole.
            for what, got, want in (("number", lic["number"], req.get("number")),
                                     ("holder name", lic["holder"]["name"],
                                      req["holder"]["name"])):
                check(want is None or got == want, "%s: the licence's %s is %r, not %r" %
                      (t["code"], what, got, want))
            shown = [lic["type_name"], req.get("number", lic["number"]),
                     req["holder"]["name"], lic["holder"]["code"],
                     LONG_ISSUER_NAME if variant == "longest" else ISSUER_NAME,
                     lic["valid_from"]]
            if lic.get("valid_until"):
                shown.append(lic["valid_until"])
            for f in t["fields"]:
                if f["required"]:
                    shown.append(str(req["fields"][f["name"]]))
            faces.append({"name": "%s-%s" % (t["code"], variant), "id": lic["id"],
                          "qr_text": lic["qr_text"], "shown": shown,
                          "known_overflow": variant == "longest" and not FACE_FIT_FIXED})

    return {"pages": pages, "faces": faces,
            "roundtrip": {"id": rt["id"], "token": rt["token"]},
            # A presentation (SPEC §10) of two of the holder's licences, one
            # valid and one suspended; check.js makes it, so that its ttl
            # starts when the browser is ready.
            "present": {"holder": valid["holder"]["code"], "ids": [valid["id"], susp["id"]],
                        "numbers": [valid["number"], susp["number"]], "holder_name": holder,
                        "not_shown": [expired["number"], rev["number"]]},
            "manual": {"number": valid["number"], "id": valid["id"],
                       "holder_code": valid["holder"]["code"],
                       "holder_name": holder}}


if __name__ == "__main__":
    main()
