"""Annotated copies (加注件, SPEC §12, issue 21), checked with outside tools.

A reader makes a copy of a licence (POST .../copies) and downloads its PDF
(GET /api/v1/copies/{id}.pdf).  Poppler's pdfsig finds one PAdES signature,
valid, signed by the library's certificate, which an NSS database trusts
once certutil adds it from the trust list's x5c; one byte changed in the
signed range is reported.  pdftotext finds the annotation, the copy id and
the face's values; pdffonts shows the CJK fonts embedded; pdftoppm draws
the page and zbarimg reads the QR code from its pixels, which verifies.
qpdf --check passes on hostile purposes, which stay text.  Bad requests
are 422 naming the member, 403 without the grant.  POST /api/v1/verify
{"copy"} gives the copy's terms; past its term a copy of a licence in
force verifies as expired.  `certsvc copy-of` writes the same PDF."""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import T_DIAG, T_RAD, Deployment, call, issue, org_code, request_for  # noqa: E402
from cstest import check, done, run_tests, zbar  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
TMP = tempfile.mkdtemp(prefix="certsvc-copies-")
LIC = issue(s, request_for(T_RAD, "CP-1", org_code(1)), T["env"]).doc or {}


def make_copy(token, body, lic=None):
    return call(s, "POST", "/api/v1/certificates/%s/copies" % (lic or LIC)["id"], body,
                token=token)


def download(made, name, token=None):
    r = call(s, "GET", made["pdf"], token=token or T["rd_rad"])
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(r.body)
    return r, path


def tool(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)


def text_of(path):
    """The page's text with line breaks and spaces dropped: the diagonal
    annotation wraps where its width says."""
    return re.sub(r"\s+", "", tool("pdftotext", "-raw", path, "-").stdout)


def pdf_checks():
    r = make_copy(T["rd_rad"], {"purpose": "企业开办登记核验", "used_by":
                                {"name": "深圳市市场监督管理局"}, "expires_in_days": 10})
    check(r.status == 201 and set(r.doc or {}) == {"copy_id", "expires_at", "pdf"},
          "a reader with the grant makes a copy: %r" % r)
    made = r.doc or {}
    check(re.fullmatch(r"[0-9A-Z]{24}", made.get("copy_id", "")) and
          made.get("pdf") == "/api/v1/copies/%s.pdf" % made.get("copy_id"),
          "the copy id and the PDF's address: %s" % made)
    g, path = download(made, "copy.pdf")
    check(g.status == 200 and g.headers.get("content-type") == "application/pdf" and
          g.body.startswith(b"%PDF-"), "the PDF downloads: %r" % g)
    sig = tool("pdfsig", path).stdout
    check(sig.count("Signature #") == 1 and "Signature is Valid" in sig and
          "Common Name: certsvc" in sig and "ETSI.CAdES.detached" in sig and
          "Total document signed" in sig, "pdfsig: one valid PAdES signature by certsvc:\n" + sig)
    text = text_of(path)
    # The day before which it is valid, in the deployment's time zone
    # (Asia/Shanghai): expires_at is that day's start, in UTC.
    exp = datetime.datetime.strptime(made.get("expires_at", "2000-01-01T00:00:00Z"),
                                     "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(hours=8)
    check(exp.time() == datetime.time(0), "a copy expires at the start of a day: %s" % exp)
    for want in ("仅供企业开办登记核验使用", made.get("copy_id", "?"), "深圳市市场监督管理局",
                 exp.strftime("%Y-%m-%d") + "前有效", LIC["number"],
                 LIC["holder"]["name"], LIC["holder"]["code"], LIC["issuer"]["name"],
                 LIC["id"], "样章"):
        check(want in text, "pdftotext finds %s" % want)
    fonts = tool("pdffonts", path).stdout
    cjk = [ln for ln in fonts.splitlines() if "CJK" in ln]
    check(cjk and all(ln.split()[-5:-3] == ["yes", "yes"] for ln in cjk),
          "pdffonts: the CJK fonts are embedded as subsets:\n" + fonts)
    check(tool("qpdf", "--check", path).returncode == 0, "qpdf --check passes")
    tool("pdftoppm", "-r", "200", "-png", "-singlefile", path, os.path.join(TMP, "page"))
    qr = zbar(os.path.join(TMP, "page.png"))
    check(qr == LIC["qr_text"], "zbarimg reads the QR code from the page: %r" % qr)
    v = call(s, "POST", "/api/v1/verify", {"qr": qr or ""})
    check((v.doc or {}).get("result") == "valid", "and it verifies: %r" % v)
    return path


def tampered(path):
    """One byte changed inside the signed range (the page's drawing)."""
    data = bytearray(open(path, "rb").read())
    at = data.index(b"/MediaBox")
    data[at + 2] ^= 0x20
    bad = os.path.join(TMP, "tampered.pdf")
    with open(bad, "wb") as f:
        f.write(bytes(data))
    sig = tool("pdfsig", bad).stdout
    check("Signature is Valid" not in sig and ("Digest Mismatch" in sig or "altered" in sig),
          "one changed byte: pdfsig reports the document altered:\n" + sig)


def trusted(path):
    """The library's certificate from the trust list into an NSS database:
    pdfsig then trusts the signer."""
    tl = call(s, "GET", "/api/v1/trust-list").doc or {}
    x5c = [k["x5c"][0] for k in tl.get("keys", []) if k.get("status") == "active"]
    check(len(x5c) == 1, "the active key carries its certificate in x5c")
    pem = os.path.join(TMP, "lib.pem")
    with open(pem, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % x5c[0])
    nss = os.path.join(TMP, "nss")
    os.mkdir(nss)
    tool("certutil", "-N", "-d", "sql:" + nss, "--empty-password")
    r = tool("certutil", "-A", "-d", "sql:" + nss, "-n", "certsvc", "-t", "CT,C,C",
             "-i", pem)
    check(r.returncode == 0, "certutil adds the certificate: %s" % r.stderr)
    sig = tool("pdfsig", "-nssdir", "sql:" + nss, path).stdout
    check("Certificate is Trusted" in sig, "pdfsig trusts the signer with it:\n" + sig)


def test_pdf():
    path = pdf_checks()
    tampered(path)
    trusted(path)


ACTION_KEYS = {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/URI", "/SubmitForm"}


def action_keys(path):
    """The action keys among every dictionary of the PDF's objects, as
    qpdf parses them.  Searching the raw bytes instead would also match
    compressed font data, which holds "/JS" now and then by chance."""
    doc = json.loads(tool("qpdf", "--json=2", "--json-key=qpdf", path).stdout)
    found = set()

    def walk(v):
        if isinstance(v, dict):
            found.update(k for k in v if k in ACTION_KEYS)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(doc["qpdf"][1])
    return found


def test_hostile():
    for i, purpose in enumerate(["<script>alert(1)</script>", ")/JS (app.alert(1))",
                                 "a) >> endobj trailer << /Root 1 0 R >>\\",
                                 "]]> <!ENTITY x \"y\"> &amp; %%EOF"]):
        r = make_copy(T["rd_rad"], {"purpose": purpose})
        check(r.status == 201, "hostile purpose %d accepted as text: %r" % (i, r))
        if r.status != 201:
            continue
        g, path = download(r.doc, "hostile%d.pdf" % i)
        check(tool("qpdf", "--check", path).returncode == 0,
              "qpdf --check passes with purpose %r" % purpose)
        found = action_keys(path)
        check(found == set(), "no JavaScript or action in the file (%r): %s" % (purpose, found))
        check(("仅供" + re.sub(r"\s+", "", purpose) + "使用") in text_of(path),
              "the purpose is shown as its characters: %r" % purpose)
        sig = tool("pdfsig", path).stdout
        check(sig.count("Signature #") == 1 and "Signature is Valid" in sig,
              "still one valid signature (%r)" % purpose)


def test_bad_requests():
    cases = [({"purpose": "x" * 201}, "purpose"), ({"purpose": ""}, "purpose"),
             ({}, "purpose"), ({"purpose": "核验\n伪造"}, "purpose"),
             ({"purpose": "核验\u0007"}, "purpose"),
             ({"purpose": "核验", "expires_in_days": 91}, "expires_in_days"),
             ({"purpose": "核验", "expires_in_days": 0}, "expires_in_days"),
             ({"purpose": "核验", "expires_in_days": "30"}, "expires_in_days"),
             ({"purpose": "核验", "used_by": "张三"}, "used_by"),
             ({"purpose": "核验", "used_by": {"name": "某局", "code": "123"}}, "used_by.code"),
             ({"purpose": "核验", "font": "/etc/passwd"}, "font")]
    for body, field in cases:
        r = make_copy(T["rd_rad"], body)
        fields = [e.get("field") for e in (r.doc or {}).get("errors", [])]
        check(r.status == 422 and field in fields, "%s: 422 naming %s: %r" % (body, field, r))
    check(make_copy(T["rd_rad"], {"purpose": "x" * 200}).status == 201,
          "a purpose of 200 characters is accepted")
    r = make_copy(T["rd_diag"], {"purpose": "核验"})
    check(r.status == 403, "a reader without the grant: 403: %r" % r)
    r = make_copy(None, {"purpose": "核验"})
    check(r.status == 401, "no token: 401: %r" % r)
    made = make_copy(T["rd_rad"], {"purpose": "核验"}).doc or {}
    g = call(s, "GET", made.get("pdf", "/x"), token=T["rd_diag"])
    check(g.status == 403, "nor may it download a copy: %r" % g)
    for bad in ("/api/v1/copies/NOSUCHCOPY.pdf", "/api/v1/copies/%s" % made.get("copy_id"),
                "/api/v1/copies/%s.pdf" % ("A" * 24)):
        check(call(s, "GET", bad, token=T["rd_rad"]).status == 404, "%s: 404" % bad)


def test_verify_and_audit():
    global s
    made = make_copy(T["rd_rad"], {"purpose": "招投标资格审查", "expires_in_days": 1}).doc or {}
    v = call(s, "POST", "/api/v1/verify", {"copy": made.get("copy_id")}).doc or {}
    copy = v.get("copy") or {}
    check(v.get("result") == "valid" and copy.get("purpose") == "招投标资格审查" and
          copy.get("expired") is False and copy.get("expires_at") == made.get("expires_at"),
          "verify {copy}: the licence's result and the copy's terms: %s" % v)
    check((v.get("certificate") or {}).get("id") == LIC["id"], "with the licence's public view")
    nf = call(s, "POST", "/api/v1/verify", {"copy": "Z" * 24}).doc or {}
    check(nf.get("result") == "not_found", "an unknown copy: not_found: %s" % nf)
    mf = call(s, "POST", "/api/v1/verify", {"copy": 12}).doc or {}
    check(mf.get("result") == "malformed", "a copy id that is not a string: malformed")
    audit = call(s, "GET", "/api/v1/audit?action=copy", token=T["admin"]).doc or {}
    recs = [a for a in audit.get("records", audit.get("audit", [])) if a.get("case_ref") ==
            made.get("copy_id")]
    check(len(recs) == 1 and recs[0].get("purpose") == "招投标资格审查" and
          recs[0].get("client") == "rd_rad", "the copy is audited: %s" % recs)
    # Two days on, the copy's term is over while the licence is in force.
    later = str(int(time.time()) + 2 * 86400)
    s2 = d.restart("--rate-limit", "0", env={"CERTSVC_NOW": later})
    v = call(s2, "POST", "/api/v1/verify", {"copy": made.get("copy_id")}).doc or {}
    check(v.get("result") == "expired" and (v.get("copy") or {}).get("expired") is True,
          "an expired copy of a licence in force verifies as expired: %s" % v)
    lic = call(s2, "POST", "/api/v1/verify", {"qr": LIC["qr_text"]}).doc or {}
    check(lic.get("result") == "valid", "while the licence itself is valid")
    s = d.restart("--rate-limit", "0")


def test_cli():
    out = os.path.join(TMP, "cli.pdf")
    d.stop()
    r = d.work.cli("copy-of", LIC["id"], "--purpose", "档案留存", "--out", out, "--days", "5",
                   check_rc=False)
    check(r.returncode == 0 and '"copy_id"' in r.stdout, "certsvc copy-of: %s" % r.stderr)
    sig = tool("pdfsig", out).stdout
    check("Signature is Valid" in sig, "its PDF carries a valid signature")
    check("仅供档案留存使用" in text_of(out), "and the purpose")
    r = d.work.cli("copy-of", LIC["id"], "--purpose", "x", "--out", out, "--days", "91",
                   check_rc=False)
    check(r.returncode != 0 and "expires_in_days" in r.stderr, "--days 91 is refused: %s" %
          r.stderr)
    start_again()


def start_again():
    global s
    s = d.start("--rate-limit", "0")


run_tests([test_pdf, test_hostile, test_bad_requests, test_verify_and_audit, test_cli])
d.stop()
shutil.rmtree(TMP, ignore_errors=True)
done()
