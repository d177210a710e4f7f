"""Idempotency compares requests after normalisation (issue 13, item 11),
and licences stored before keep answering their replays.

The hash stored with a licence is now of the request with its codes in
upper case (SPEC §2 normalises them), so a replay in lower case is the
same request: tests/hostile_test.py has those rows.  A licence stored
before this change holds the hash of its request as sent; this test makes
one (the hash rewritten in the database file, the server stopped) and
checks that a byte-identical replay of it still answers 200 with the same
licence, as before.  A replay that differs from such an old request only
in the case of a code cannot be recognised (the old request is kept only
as its hash): it stays the 409 it was.
"""
import hashlib
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cshttp import ENV, T_RAD  # noqa: E402
from cstest import Server, Workdir, check, done, sample_request  # noqa: E402


def request_hash(req):
    """cs_json_hash: SHA-256 over the JSON with sorted keys, compact."""
    text = json.dumps(req, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def stored_hash(db, lid):
    return db.execute("SELECT request_hash FROM licences WHERE id = ?", (lid,)).fetchone()[0]


w = Workdir()
token = w.client("env", "issuer", "*", ENV, "广东省生态环境厅")
sent = sample_request(T_RAD, "OLD-1")
sent["holder"]["code"] = sent["holder"]["code"].lower()
sent["issuer"] = {"code": ENV.lower()}
normalised = json.loads(json.dumps(sent))
normalised["holder"]["code"] = sent["holder"]["code"].upper()
normalised["issuer"]["code"] = ENV

srv = Server(w)
status, _, lic = srv.json("POST", "/api/v1/certificates", sent, token)
check(status == 201, "issued with the codes in lower case (%s)" % status)
lid = (lic or {}).get("id")
srv.stop_clean()

db = sqlite3.connect(w.db)
check(stored_hash(db, lid) == request_hash(normalised),
      "the hash stored is of the normalised request (and this test computes it alike)")
# What a licence issued before held: the hash of the request as sent.
db.execute("DROP TRIGGER licences_no_update")
db.execute("UPDATE licences SET request_hash = ? WHERE id = ?", (request_hash(sent), lid))
db.commit()
db.close()

srv = Server(w)
status, _, again = srv.json("POST", "/api/v1/certificates", sent, token)
check(status == 200 and (again or {}).get("id") == lid,
      "a byte-identical replay of a licence stored with the old hash: 200, the same "
      "licence (%s)" % status)
status, _, _ = srv.json("POST", "/api/v1/certificates", normalised, token)
check(status == 409, "its replay in upper case cannot be recognised: 409 as before (%s)" % status)
changed = json.loads(json.dumps(sent))
changed["fields"]["remarks"] = "另一份"
status, _, _ = srv.json("POST", "/api/v1/certificates", changed, token)
check(status == 409, "other content under its approval_ref: 409 (%s)" % status)
srv.stop_clean()
w.cleanup()
done()
