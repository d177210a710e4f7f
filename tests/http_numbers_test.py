"""Licence numbers are unique per type and issuing authority (issue 13,
item 1): a number given by the caller that is taken is a 409 naming
`number` (in a single issuance, between the members of a bundle, in an
amendment and under concurrency); the numbering rule skips numbers already
given by hand; an amendment may keep its licence's number; and the
paper-copy check by number answers for the licence that carries it, never
for another one."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (T_HAZ, T_RAD, Deployment, call, is_json, is_problem, issue,  # noqa: E402
                    org_code, request_for)
from cstest import check, done, in_parallel, run_tests  # noqa: E402

RAD_NO = "粤环辐证[%05d]"  # the numbering rule of T_RAD: 粤环辐证[{seq:5}]
HOLDER = org_code(1)

d = Deployment()
T = d.tokens
s = d.start("--rate-limit", "0")


def issue_as_env(ref, holder=HOLDER, type_code=T_RAD, **extra):
    """env's issuance request (its answer unchecked: the test says what it must be)."""
    return issue(s, request_for(type_code, ref, holder, **extra), T["env"], expect=None)


def paper(number, holder=HOLDER):
    r = call(s, "POST", "/api/v1/verify", {"number": number, "holder_code": holder})
    doc = r.doc or {}
    return doc.get("result"), (doc.get("certificate") or {}).get("id")


# A number given by hand that the rule reaches later: sequence 1 is the
# given one's, 2 is numbered 00002 by the rule, 3 would be 00003: taken.
def rule_skips_given():
    global GIVEN, ruled
    given = issue_as_env("n-given", number=RAD_NO % 3)
    is_json(given, 201, "a given number")
    GIVEN = (given.doc or {}).get("id")
    ruled = [issue_as_env("n-rule-%d" % i) for i in range(2)]
    numbers = [(r.doc or {}).get("number") for r in ruled]
    check(numbers == [RAD_NO % 2, RAD_NO % 4], "the numbering rule skips the number given by hand "
          "(got %s, want %s)" % (numbers, [RAD_NO % 2, RAD_NO % 4]))


# The same number given again: 409 naming number, nothing stored.
def number_given_twice():
    before = d.count()
    r = issue_as_env("n-again", number=RAD_NO % 3)
    is_problem(r, 409, "number", "a number already given")
    r = issue_as_env("n-again-rule", number=RAD_NO % 2)
    is_problem(r, 409, "number", "a number the rule already gave")
    check(d.count() == before, "a refused number stores nothing (%d -> %d)" % (before, d.count()))


# Another type, or another authority, may use the same text.  A holder
# with two such licences gets no answer by number (the paper copy names no
# type or authority): the check never picks one of them.
def number_elsewhere():
    TWICE = org_code(5)
    r = issue_as_env("n-other-type", holder=TWICE, type_code=T_HAZ, number=RAD_NO % 3)
    is_json(r, 201, "the same number for another type")
    r = call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "n-other-auth", TWICE,
             number=RAD_NO % 3), token=T["other"])
    is_json(r, 201, "the same number under another issuing authority")
    check(paper(RAD_NO % 3, TWICE) == ("not_found", None), "a number two licences of one holder "
          "carry matches neither (got %s)" % (paper(RAD_NO % 3, TWICE),))


# The paper copy of a revoked licence stays revoked: the check by number
# cannot answer for another licence.
def revoked_paper_copy():
    r = call(s, "POST", "/api/v1/certificates/%s/revoke" % GIVEN, {"reason": "test"},
             token=T["env"])
    is_json(r, 200, "revoke the licence with the given number")
    check(paper(RAD_NO % 3) == ("revoked", GIVEN), "the paper copy of the revoked licence checks "
          "out as revoked, and as that licence (got %s)" % (paper(RAD_NO % 3),))


# A bundle whose two members give one number: 409 naming the second, and
# none of the bundle is stored.
def bundle_number_twice():
    before = d.count()
    one = request_for(T_RAD, "-", org_code(2), number="粤环辐证[B0001]")
    two = request_for(T_RAD, "-", org_code(3), number="粤环辐证[B0001]")
    for m in (one, two):
        del m["approval_ref"]
    r = call(s, "POST", "/api/v1/bundles", {"approval_ref": "n-bundle", "certificates": [one, two]},
             token=T["env"])
    is_problem(r, 409, "certificates.1.number", "a bundle giving one number twice")
    check(d.count() == before, "the refused bundle stores nothing (%d -> %d)" % (before, d.count()))


# An amendment keeps its licence's number (a number belongs to a licence
# and its versions); it cannot take another licence's.
def amendment_keeps_number():
    first = ruled[0].doc or {}
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % first.get("id"),
             {"approval_ref": "n-amend", "fields": {"remarks": "变更"}}, token=T["env"])
    is_json(r, 201, "an amendment keeping the number")
    amended = r.doc or {}
    check(amended.get("number") == first.get("number"), "the amendment carries the same number")
    check(paper(RAD_NO % 2) == ("valid", amended.get("id")), "the paper check by that number answers "
          "for the newest version (got %s)" % (paper(RAD_NO % 2),))
    r = call(s, "POST", "/api/v1/certificates/%s/amend" % amended.get("id"),
             {"approval_ref": "n-amend-2", "number": RAD_NO % 4}, token=T["env"])
    is_problem(r, 409, "number", "an amendment taking another licence's number")


# Concurrent requests giving one number: one licence, the others 409.
def concurrent_number():
    out = in_parallel(8, lambda i: issue_as_env("n-race-%d" % i, holder=org_code(10 + i),
                                                number="粤环辐证[R0001]"), timeout=60)
    statuses = sorted(r.status for r in out if hasattr(r, "status"))
    check(statuses == [201] + [409] * (len(out) - 1), "8 concurrent issuances of one number: one "
          "201, seven 409 (got %s)" % statuses)


run_tests([(f.__name__, f) for f in (
    rule_skips_given,
    number_given_twice,
    number_elsewhere,
    revoked_paper_copy,
    bundle_number_twice,
    amendment_keeps_number,
    concurrent_number,
)])

s.stop_clean()
d.cleanup()
done()
