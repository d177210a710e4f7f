"""The OpenAPI document (docs/openapi.json) against the server it describes:

- every route of cs_routes[] (certsvc/http/http_routes.c) is an operation
  of the document, and every operation is a route: adding a route fails
  here until it is documented;
- an /api/ operation documents exactly the query parameters its route
  takes (the table's sixth field): the others are a 400;
- GET /api/v1/openapi.json serves the file byte for byte, as JSON, with a
  strong ETag that a conditional request matches (304), public and CORS;
- every $ref resolves and every example fits its schema (python3-jsonschema);
- every operation shows an example (of its request or a successful answer);
- `@redocly/cli lint` (pinned by tests/openapi/package-lock.json, installed
  with `npm ci` into the build tree) passes with tests/openapi/redocly.yaml.

The answers themselves are validated against the document in every
end-to-end test (tests/lib/csopenapi.py)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import jsonschema  # noqa: E402

import csnpm  # noqa: E402
import csopenapi  # noqa: E402
from cshttp import Deployment, call, check, is_problem  # noqa: E402
from cstest import done, run_tests  # noqa: E402

SOURCE = csopenapi.SOURCE_DIR
ROUTES_C = os.path.join(SOURCE, "certsvc", "http", "http_routes.c")
LINT_DIR = os.path.join(SOURCE, "tests", "openapi")
BUILD = csnpm.build_dir()
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ROUTE = re.compile(r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*[^,]+,\s*(?:NULL|"[^"]*"),\s*'
                   r'(NULL|"[^"]*")\s*\}', re.S)


def routes():
    """{(method, path): [query names]} of cs_routes[], read from the source."""
    with open(ROUTES_C, encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("const cs_route cs_routes[]"):]
    table = table[:table.index("};")]
    out = {}
    for m in ROUTE.finditer(table):
        q = m.group(3)
        out[(m.group(1), m.group(2))] = [] if q == "NULL" else q.strip('"').split()
    check(len(out) == table.count("{\""), "every entry of cs_routes[] was read (%d of %d)" % (
        len(out), table.count("{\"")))
    return out


def operations(doc):
    return {(m.upper(), path): op for path, item in doc["paths"].items()
            for m, op in item.items() if m in METHODS}


def every_route_is_documented():
    doc = csopenapi.document()
    rts, ops = routes(), operations(doc)
    check(len(rts) > 20, "cs_routes[] read from %s (%d routes)" % (ROUTES_C, len(rts)))
    missing = sorted(set(rts) - set(ops))
    extra = sorted(set(ops) - set(rts))
    check(not missing, "routes of cs_routes[] missing from docs/openapi.json: %s" % missing)
    check(not extra, "operations of docs/openapi.json that are no route: %s" % extra)


def query_parameters_are_the_routes():
    doc = csopenapi.document()
    rts, ops = routes(), operations(doc)
    for (method, path), names in sorted(rts.items()):
        op = ops.get((method, path))
        if op is None or not path.startswith("/api/"):
            continue
        params = [csopenapi._resolve(doc, p) for p in op.get("parameters", [])]
        documented = sorted(p["name"] for p in params if p["in"] == "query")
        check(documented == sorted(names), "%s %s: documented query parameters %s, the route "
              "takes %s" % (method, path, documented, sorted(names)))
        for p in params:
            if p["in"] == "path":
                check("{%s}" % p["name"] in path, "%s %s: path parameter %s is in the path" % (
                    method, path, p["name"]))


def refs_resolve_and_examples_fit():
    doc = csopenapi.document()
    resolver = jsonschema.RefResolver("", doc)
    jsonschema.Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
    seen = [0]

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                try:
                    resolver.resolve(node["$ref"])
                except jsonschema.exceptions.RefResolutionError as e:
                    check(False, "%s: $ref %s does not resolve: %s" % (where, node["$ref"], e))
            if isinstance(node.get("schema"), dict):
                v = jsonschema.Draft202012Validator(node["schema"], resolver=resolver)
                values = [("example", node["example"])] if "example" in node else []
                values += [("examples/" + k, e.get("value")) for k, e in
                           node.get("examples", {}).items() if isinstance(e, dict)]
                for name, value in values:
                    seen[0] += 1
                    err = jsonschema.exceptions.best_match(v.iter_errors(value))
                    check(err is None, "%s/%s does not fit its schema: %s" % (
                        where, name, err and err.message[:300]))
            for k, v in node.items():
                walk(v, where + "/" + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))

    walk(doc, "#")
    check(seen[0] >= 15, "the document's examples were checked (%d)" % seen[0])
    # The verify results and audit actions are named in full.
    results = doc["components"]["schemas"]["VerifyResult"]["properties"]["result"]["enum"]
    check(set(results) == {"valid", "not_yet_valid", "expired", "suspended", "revoked",
                           "superseded", "invalid_signature", "unknown_key", "malformed",
                           "not_found", "presentation", "presentation_expired",
                           "status_unknown"},
          "the verify results of SPEC §5, §10 and §11 (a peer's licence without its list): %s"
          % results)
    with open(os.path.join(SOURCE, "certsvc", "domain", "service.c"), encoding="utf-8") as f:
        m = re.search(r'cs_audit_actions\[\] = ((?:\s*"[^"]*")+);', f.read())
    actions = " ".join(re.findall(r'"([^"]*)"', m.group(1))).split() if m else []
    documented = doc["components"]["schemas"]["AuditRecord"]["properties"]["action"]["enum"]
    check(actions and sorted(actions) == sorted(documented),
          "the audit actions are cs_audit_actions: documented %s, the server's %s" % (
              sorted(documented), sorted(actions)))


def every_operation_has_an_example():
    """Issue 18: one example per endpoint.  Following $ref into
    components, an operation shows an example of its request body or of a
    successful answer; one whose successful answers carry no body (a 204)
    shows one of an answer written for it (not a shared component), e.g.
    its 404.  CORS preflights (OPTIONS) carry nothing to show."""
    doc = csopenapi.document()

    def shown(node):
        content = csopenapi._resolve(doc, node).get("content", {})
        return any("example" in m or "examples" in m for m in content.values())

    missing = []
    for (method, path), op in sorted(operations(doc).items()):
        if method == "OPTIONS":
            continue
        answers = op.get("responses", {})
        ok = [r for code, r in answers.items() if code.startswith("2")]
        if "requestBody" in op and shown(op["requestBody"]):
            continue
        if any(shown(r) for r in ok):
            continue
        bodiless = all(not csopenapi._resolve(doc, r).get("content") for r in ok)
        if bodiless and any("$ref" not in r and shown(r) for r in answers.values()):
            continue
        missing.append("%s %s" % (method, path))
    check(not missing, "operations without an example: %s" % missing)


def served_document_is_the_file():
    d = Deployment(clients=False)
    try:
        s = d.start()
        with open(csopenapi.DOC_PATH, "rb") as f:
            want = f.read()
        r = call(s, "GET", "/api/v1/openapi.json", headers={"Origin": "https://verifier.example"})
        check(r.status == 200 and r.body == want, "GET /api/v1/openapi.json serves "
              "docs/openapi.json byte for byte (%d, %d bytes of %d)" % (r.status, len(r.body), len(want)))
        check(r.ctype == "application/json; charset=utf-8", "as JSON: %s" % r.ctype)
        check(r.doc is not None and r.doc.get("openapi", "").startswith("3.1"), "an OpenAPI 3.1 document")
        tag = r.headers.get("etag", "")
        check(re.fullmatch(r'"[0-9a-f]{32}"', tag) is not None, "a strong ETag: %r" % tag)
        check(r.headers.get("access-control-allow-origin") == "*", "CORS like /api/v1/types: %s" % r.headers)
        r2 = call(s, "GET", "/api/v1/openapi.json", headers={"If-None-Match": tag})
        check(r2.status == 304 and r2.body == b"" and r2.headers.get("etag") == tag,
              "If-None-Match with its ETag: 304 (%r)" % r2)
        r3 = call(s, "GET", "/api/v1/openapi.json", headers={"If-None-Match": '"0000", W/' + tag})
        check(r3.status == 304, "its ETag in a list, weak: 304 (%r)" % r3)
        r4 = call(s, "GET", "/api/v1/openapi.json", headers={"If-None-Match": '"%s"' % ("0" * 32)})
        check(r4.status == 200 and r4.body == want, "another ETag: the document (%r)" % r4)
        r5 = call(s, "OPTIONS", "/api/v1/openapi.json", headers={
            "Origin": "https://verifier.example", "Access-Control-Request-Method": "GET"})
        check(r5.status == 204 and r5.headers.get("access-control-allow-origin") == "*",
              "a CORS preflight: %r" % r5)
        is_problem(call(s, "GET", "/api/v1/openapi.json?v=2"), 400, "v", "a query parameter")
    finally:
        d.cleanup()


def npm_deps():
    """@redocly/cli, pinned by tests/openapi/package-lock.json, in
    <build>/openapi-node (csnpm.py, as tests/browser_test.py installs
    playwright-core).  Returns the redocly executable."""
    mods = csnpm.npm_ci(LINT_DIR, "openapi-node", os.path.join(".bin", "redocly"))
    return os.path.join(mods, ".bin", "redocly")


def lint(exe, path):
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               NO_COLOR="1")
    return subprocess.run([exe, "lint", "--config", os.path.join(LINT_DIR, "redocly.yaml"),
                           path], capture_output=True, text=True, timeout=300, env=env)


def redocly_lint_passes():
    exe = npm_deps()
    r = lint(exe, csopenapi.DOC_PATH)
    out = r.stdout + r.stderr
    check(r.returncode == 0 and "valid" in out and "error" not in out.lower().replace(
        "0 errors", ""), "redocly lint docs/openapi.json passes: rc %d\n%s" % (r.returncode, out[-3000:]))
    # The control: the linter does fail a broken document (an operation
    # without responses, a $ref to nothing), so the pass above means
    # something.
    doc = csopenapi.document()
    broken = json.loads(json.dumps(doc))
    del broken["paths"]["/api/v1/me"]["get"]["responses"]
    broken["paths"]["/healthz"]["get"]["responses"]["200"] = {"$ref": "#/components/responses/Nope"}
    path = os.path.join(BUILD, "openapi-node", "broken.json")
    with open(path, "w") as f:
        json.dump(broken, f)
    r = lint(exe, path)
    check(r.returncode != 0, "redocly lint fails a broken document: rc %d\n%s" % (
        r.returncode, (r.stdout + r.stderr)[-1500:]))


run_tests([every_route_is_documented, query_parameters_are_the_routes,
           refs_resolve_and_examples_fit, every_operation_has_an_example,
           served_document_is_the_file, redocly_lint_passes])
done()
