"""1,000 licences issued from the CLI are all there, and verify, when a new
process reads them; the same approval_ref again returns the first licence."""
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import independent  # noqa: E402
from cstest import Workdir, catalog, check, done, sample_request, uscc  # noqa: E402

N = 1000
w = Workdir("ES256")
issuer = uscc("11440000MB2C93651")
w.client("bureau", "issuer", "*", issuer, "广东省生态环境厅")
jwks_path = w.write("trust.json", w.cli("trust-list").stdout)
org_type = next(t for t in catalog() if "USCC" in t["holder_code_types"])


def request(i):
    return sample_request(org_type["code"], "CASE-%05d" % i, uscc("91440300%09d" % (708461000 + i)))


def issue_batch(first, count):
    """One CLI process issuing count requests, while others do the same."""
    paths = [w.write("req-%d.json" % i, request(i)) for i in range(first, first + count)]
    out = json.loads(w.cli("issue", "--client", "bureau", *paths).stdout)
    for p in paths:
        os.unlink(p)
    return out if isinstance(out, list) else [out]


PROCS = 4
with ThreadPoolExecutor(PROCS) as pool:
    batches = list(pool.map(lambda k: issue_batch(k * N // PROCS, N // PROCS), range(PROCS)))
issued = [l for b in batches for l in b]
check(len(issued) == N, "%d licences issued by %d concurrent CLI processes" % (len(issued), PROCS))
ids = [l["id"] for l in issued]
check(len(set(ids)) == N, "%d distinct identifiers (got %d)" % (N, len(set(ids))))
check(len({l["number"] for l in issued}) == N, "%d distinct licence numbers" % N)


# A new process reads them all back; each token is verified by the
# independent verifier against the exported trust list, and a sample also
# by `certsvc verify` (one process each).
shown = json.loads(w.cli("show", *ids).stdout)
by_id = {l["id"]: l for l in shown}
same = sum(1 for l in issued if by_id.get(l["id"], {}).get("token") == l["token"])
check(same == N, "every licence is read back unchanged by a new process (%d of %d)" % (same, N))
jwks = json.load(open(jwks_path))
verified = sum(1 for l in shown if independent.verify(l["qr_text"], jwks)[0])
check(verified == N, "every licence read back verifies independently (%d of %d)" % (verified, N))
sample = shown[::50]
with ThreadPoolExecutor(2) as pool:
    rcs = list(pool.map(lambda l: w.run("verify", "--trust-list", jwks_path, l["qr_text"],
                                        check_rc=False).returncode, sample))
check(all(rc == 0 for rc in rcs), "certsvc verify says valid for a sample of %d" % len(sample))

again = issue_batch(7, 1)[0]
check(again["id"] == issued[7]["id"], "the same approval_ref returns the first licence")
changed = sample_request(org_type["code"], "CASE-00007", uscc("91440300999999999"))
r = w.cli("issue", "--client", "bureau", w.write("changed.json", changed), check_rc=False)
check(r.returncode == 1 and "approval_ref" in r.stderr,
      "the same approval_ref with other content is refused: %s" % r.stderr.strip())
print("issued %d, read back %d, verified %d" % (N, same, verified))
w.cleanup()
done()
