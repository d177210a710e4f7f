"""Verify's fast path (docs/design.md, "Verify's fast path"): a text that
carries, byte for byte, the token stored for its licence is answered
without a signature check (certsvc_verify_fast_total counts it); every
other text is checked in full and answered as before.  Each case reads the
counter before and after one verification: the stored token in the url
form, the compact form and bare takes the fast path and gets the
licence's status (suspended too); a token with one changed byte, the same
COSE message compressed again, an uncompressed one, the same claims
signed again with the same key, claims naming the licence's id signed
over other content, and, after a restart without it, a token of a
retired key are each checked in full and answered correctly."""
import glob
import os
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import cbor2  # noqa: E402
from cshttp import (T_RAD, Deployment, call, is_json, issue, metrics, org_code,  # noqa: E402
                    request_for, verify)
from cstest import check, done  # noqa: E402
from cstoken import (b64url_decode, b64url_encode, base45, cose_parts, sign1,  # noqa: E402
                     signing_key, token_bytes, token_of)

d = Deployment()
s = d.start("--rate-limit", "0")
lic = issue(s, request_for(T_RAD, "FAST-1", org_code(1)), d.tokens["env"]).doc or {}
TOKEN = lic.get("token", "")
URL = "https://lic.example.gov.cn/v/" + TOKEN
COMPACT = "EL1:" + base45(b64url_decode(TOKEN))   # the stored zlib bytes, as certsvc prints them
key = signing_key(d.work.keys)
PROT, _, PAYLOAD, SIG = cose_parts(TOKEN)


def fast_count(server):
    return metrics(server).get("certsvc_verify_fast_total", -1)


def verified(server, text, what, fast, result="valid"):
    """Verify text once; check its result, and whether the fast path
    answered it.  The verdict."""
    before = fast_count(server)
    v = verify(server, text, what)
    taken = fast_count(server) - before
    if result is not None:
        check(v.get("result") == result, "%s: %s (%s)" % (what, result, v.get("result")))
    check(taken == (1 if fast else 0), "%s: %s (fast-path hits %s)"
          % (what, "the fast path" if fast else "the full check", taken))
    return v


def same_answer(a, b, what):
    check(a.get("result") == b.get("result") and a.get("reason") == b.get("reason") and
          a.get("certificate") == b.get("certificate"),
          "%s: the same answer as the full check: %s / %s" % (what, a, b))


# --- the stored token, in every form: the fast path --------------------------------

check(fast_count(s) == 0, "the counter starts at 0")
fast_url = verified(s, URL, "the stored token, url form", True)
check((fast_url.get("certificate") or {}).get("id") == lic.get("id"), "the licence's own view")
verified(s, COMPACT, "the stored token, compact form", True)
verified(s, TOKEN, "the stored token, bare", True)
verified(s, URL + "\r\n", "the url form with a scanner's line end", True)
check(verified(s, {"qr": COMPACT}, "the compact form in JSON", True).get("certificate") ==
      fast_url.get("certificate"), "JSON and text answers alike")

# --- every other text: the full check ---------------------------------------------

stored = b64url_decode(TOKEN)
cose = token_bytes(TOKEN)

# One changed byte of the text, of the zlib stream, of the signature.
pos = len(TOKEN) // 2
other = "A" if TOKEN[pos] != "A" else "B"
v = verified(s, URL[:-len(TOKEN)] + TOKEN[:pos] + other + TOKEN[pos + 1:],
             "one changed character of the token text", False, result=None)
check(v.get("result") in ("malformed", "invalid_signature") and v.get("certificate") is None,
      "one changed character: malformed or invalid_signature, nothing shown (%s)" % v.get("result"))
flipped = bytearray(stored)
flipped[-5] ^= 1          # inside the adler32 trailer or the last deflate bytes
v = verified(s, "EL1:" + base45(bytes(flipped)), "one changed byte of the zlib stream, compact",
             False, result=None)
check(v.get("result") in ("malformed", "invalid_signature") and v.get("certificate") is None,
      "one changed zlib byte: refused, nothing shown (%s)" % v.get("result"))
bad_sig = bytearray(cose)
bad_sig[-1] ^= 1
bad_z = zlib.compress(bytes(bad_sig), 9)
verified(s, "https://lic.example.gov.cn/v/" + b64url_encode(bad_z),
         "one changed signature byte, url form", False, result="invalid_signature")
verified(s, "EL1:" + base45(bad_z), "one changed signature byte, compact form", False,
         result="invalid_signature")
v = verified(s, TOKEN + "AA", "the stored token with bytes after it", False, result=None)
check(v.get("result") in ("malformed", "valid"), "bytes after the token: %s" % v.get("result"))

# The same COSE message, compressed again (where that gives other bytes)
# or not at all: genuine, checked in full, the same answer.
again = zlib.compress(cose, 1)
if again != stored:
    same_answer(verified(s, "https://lic.example.gov.cn/v/" + b64url_encode(again),
                         "the same COSE message compressed again", False), fast_url,
                "compressed again")
same_answer(verified(s, b64url_encode(cose), "the COSE message uncompressed", False), fast_url,
            "uncompressed")

# The same claims signed again with the same key (ECDSA signs with a
# fresh nonce, so another signature): genuine, checked in full.
resigned = sign1(key, PROT, PAYLOAD)
check(resigned != cose, "signing again gives other bytes")
for form, text in (("url", "https://lic.example.gov.cn/v/" + token_of(resigned)),
                   ("compact", "EL1:" + base45(zlib.compress(resigned, 9)))):
    same_answer(verified(s, text, "re-signed with the same key, %s form" % form, False), fast_url,
                "re-signed, " + form)

# Claims naming the licence's id over other content, signed with the key:
# the id steers the comparison only, so the full check finds them another
# licence.
claims = cbor2.loads(PAYLOAD)
claims[-65537] = dict(claims[-65537], no=claims[-65537]["no"] + "9")
v = verified(s, token_of(sign1(key, PROT, cbor2.dumps(claims))),
             "the licence's id over another number", False, result="not_found")
check("another one" in (v.get("reason") or ""), "not_found, another licence: %s" % v.get("reason"))

# --- the licence's status decides on the fast path too ---------------------------

r = call(s, "POST", "/api/v1/certificates/%s/suspend" % lic.get("id"), {"reason": "限期整改"},
         token=d.tokens["env"])
is_json(r, 200, "suspend")
verified(s, URL, "the stored token of a suspended licence, url form", True, result="suspended")
verified(s, COMPACT, "the stored token of a suspended licence, compact form", True,
         result="suspended")
r = call(s, "POST", "/api/v1/certificates/%s/reinstate" % lic.get("id"), {"reason": "整改完成"},
         token=d.tokens["env"])
is_json(r, 200, "reinstate")
verified(s, URL, "reinstated", True)

# --- a retired key: its files removed, the server restarted ----------------------

d.stop()
d.work.run("keygen", "--alg", "EdDSA", "--keys", d.work.keys)
old = [f for f in glob.glob(os.path.join(d.work.keys, "*")) if "-es256-" in os.path.basename(f)]
check(len(old) >= 2, "the old key's files: %s" % old)
for f in old:
    os.remove(f)
s = d.start("--rate-limit", "0")
for form, text in (("url", URL), ("compact", COMPACT)):
    v = verified(s, text, "the stored token of a retired key, %s form" % form, False,
                 result="unknown_key")
    check(v.get("certificate") is None, "a retired key's token shows nothing")
new = issue(s, request_for(T_RAD, "FAST-2", org_code(2)), d.tokens["env"]).doc or {}
verified(s, new.get("qr_text", ""), "a token of the new key (EdDSA)", True)

check(d.stop() == 0, "the server exits 0")
d.cleanup()
done()
