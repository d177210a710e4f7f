"""Reads of the audit log are themselves audited (issue 18): an admin's
GET /api/v1/audit leaves an audit_read record (its filter as target, the
holder filter as holder, the records answered as result_count), shown by
the next read; a client that is not an admin is refused and leaves a denied
audit_read record.  Paging until an empty page still ends: a read that
shows nothing but the reader's own reads of the log is not recorded.  The
other refusals that leave a trace (a 403, a lookup without X-Purpose) are
here too, as the issue lists them."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import (T_RAD, Deployment, audit_records, audit_synced, call, is_json,  # noqa: E402
                    is_problem, org_code, request_for)
from cstest import check, done  # noqa: E402

d = Deployment()
s = d.start("--rate-limit", "0")
T = d.tokens
HOLDER = org_code(7)

is_json(call(s, "POST", "/api/v1/certificates", request_for(T_RAD, "AR-1", HOLDER),
             token=T["env"]), 201, "setup: issue")
# Refusals: an issuer and a reader at the audit log, a lookup without purpose.
is_problem(call(s, "GET", "/api/v1/audit", token=T["env"]), 403, what="env reads the audit log")
is_problem(call(s, "GET", "/api/v1/audit?holder=" + HOLDER, token=T["rd_rad"]), 403,
           what="a reader reads the audit log")
is_problem(call(s, "GET", "/api/v1/holders/%s/certificates" % HOLDER, token=T["rd_rad"]), 400,
           what="a lookup without X-Purpose")

# An admin's read with filters, then one more to see its record.
r = call(s, "GET", "/api/v1/audit?action=issue&holder=" + HOLDER, token=T["admin"])
is_json(r, 200, "admin reads the issuance records of a holder")
n_first = len((r.doc or {}).get("records", []))
audit_synced(s, T["admin"])
reads = audit_records(s, T["admin"], "action=audit_read")
mine = [x for x in reads if x.get("client") == "admin" and x.get("result") == "ok"]
check(any(x.get("target") == "action=issue" and x.get("holder") == HOLDER and
          x.get("result_count") == n_first for x in mine),
      "the admin's filtered read is recorded: target action=issue, holder, count %d (%s)"
      % (n_first, mine))
denied = [(x.get("client"), x.get("holder")) for x in reads if x.get("result") == "denied"]
check(sorted(denied, key=str) == sorted([("env", None), ("rd_rad", HOLDER)], key=str),
      "each refused read of the log is a denied audit_read record (%s)" % denied)
lookups = audit_records(s, T["admin"], "action=holder_lookup&result=denied")
check(any(x.get("client") == "rd_rad" and x.get("holder") == HOLDER for x in lookups),
      "the lookup without X-Purpose is a denied holder_lookup record (%s)" % lookups)

# Paging to the end terminates, and a caught-up read is not recorded.
everything = audit_records(s, T["admin"], "", reads_of_the_log=True)
last = max(x["seq"] for x in everything)
audit_synced(s, T["admin"])
r = call(s, "GET", "/api/v1/audit?after=%d" % last, token=T["admin"])
page = (r.doc or {}).get("records", [])
check(all(x.get("action") == "audit_read" and x.get("client") == "admin" for x in page),
      "after the end: only the admin's own reads (%s)" % page)
r2 = call(s, "GET", "/api/v1/audit?after=%d" % (page[-1]["seq"] if page else last),
          token=T["admin"])
check((r2.doc or {}).get("records") == [],
      "a read that showed only the reader's own reads left no record: the next is empty (%s)"
      % (r2.doc or {}).get("records"))
d.stop()
d.cleanup()
done()
