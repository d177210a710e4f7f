"""A genuine token whose id names another licence (SPEC §5 verify; verify.c
same_licence).  Serials are sequential, so a database restored from a backup
hands out again the ids of licences it lost, whose printed codes still
verify.  Tokens signed here with the library's own key, each differing from
the licence of its id in one claim the comparison reads (type, number,
holder name, code type or code, a holder member missing, a holder that is
not a map, the issue time), are not_found, "another one"; the genuine token,
and tokens differing only where it does not look (an extra holder member,
the expiry, the issuer's name), get the licence's own verdict."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import cbor2  # noqa: E402
from cshttp import T_RAD, Deployment, issue, org_code, request_for, verify  # noqa: E402
from cstest import check, done  # noqa: E402
from cstoken import cose_parts, sign1, signing_key, token_of  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
lic = issue(s, request_for(T_RAD, "LC-1", org_code(1)), d.tokens["env"]).doc or {}

key = signing_key(d.work.keys)
PROT, _, PAYLOAD, _ = cose_parts(lic.get("token", ""))
CLAIMS = cbor2.loads(PAYLOAD)
LIC = CLAIMS[-65537]


def token(claims):
    """The claims signed by the library's key, as a bare token."""
    return token_of(sign1(key, PROT, cbor2.dumps(claims)))


def with_licence(**over):
    lic_claim = dict(LIC)
    lic_claim.update(over)
    return {**CLAIMS, -65537: lic_claim}


def with_holder(drop=None, **over):
    h = {k: v for k, v in LIC["h"].items() if k != drop}
    h.update(over)
    return with_licence(h=h)


SAME = [
    ("the genuine claims", CLAIMS),
    ("an extra holder member", with_holder(x="extra")),
    ("another expiry", {**CLAIMS, 4: CLAIMS.get(4, 2000000000) + 86400}),
    ("another issuer name", with_licence(i={"n": "别的机关"})),
]
OTHER = [
    ("another type", with_licence(t="11100000000013338W044")),
    ("another number", with_licence(no=LIC["no"] + "9")),
    ("another holder name", with_holder(n=LIC["h"]["n"] + "分公司")),
    ("another code type", with_holder(ct="RID")),
    ("another holder code", with_holder(c=org_code(2))),
    ("no holder name", with_holder(drop="n")),
    ("no holder code", with_holder(drop="c")),
    ("a holder that is not a map", with_licence(h="x")),
    ("another issue time", {**CLAIMS, 6: CLAIMS[6] - 1}),
    ("an issue time that is text", {**CLAIMS, 6: str(CLAIMS[6])}),
]
for what, claims in SAME:
    v = verify(s, token(claims))
    check(v.get("result") == "valid" and (v.get("certificate") or {}).get("id") == lic.get("id"),
          "%s: the licence's own verdict: %s %s" % (what, v.get("result"), v.get("reason")))
for what, claims in OTHER:
    v = verify(s, token(claims))
    ok = v.get("result") == "not_found" and "another one" in (v.get("reason") or "")
    if what == "an issue time that is text":
        ok = v.get("result") == "malformed"
    check(ok, "%s: %s %s" % (what, v.get("result"), v.get("reason")))
check(d.stop() == 0, "the server exits 0")
d.cleanup()
done()
