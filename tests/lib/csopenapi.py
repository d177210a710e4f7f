"""The OpenAPI contract (docs/openapi.json) as the end-to-end tests hold
the server to it: every JSON (and problem+json) answer a test sees is
validated against the documented schema of its operation and status
(Debian's python3-jsonschema, Draft 2020-12, `#/components/...` refs
resolved against the whole document).  cshttp.call and
cstest.Server.request call mismatch() on each answer and make a non-None
result a check() failure.

Answers of paths or methods the document does not have are skipped here:
tests/openapi_test.py's coverage check catches undocumented routes.  A
documented operation answering a 4xx it does not list (`default` covers
only 5xx), or a JSON media type its response does not list, is a
mismatch.  Formats ("date", "date-time") are annotations, not checked."""
import json
import os
import re
import threading

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("CS_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
DOC_PATH = os.path.join(SOURCE_DIR, "docs", "openapi.json")

JSON_TYPES = ("application/json", "application/problem+json")

_lock = threading.Lock()
_state = {}


def document():
    """docs/openapi.json, parsed (once)."""
    with _lock:
        if "doc" not in _state:
            with open(DOC_PATH, encoding="utf-8") as f:
                _state["doc"] = json.load(f)
            _state["routes"] = _compile(_state["doc"])
            _state["validators"] = {}
        return _state["doc"]


def _compile(doc):
    """[(regex, template)] of the document's paths, literal ones first so
    that /v never reads as a template's value."""
    out = []
    for template in doc.get("paths", {}):
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((re.compile(rx), template))
    out.sort(key=lambda t: "{" in t[1])
    return out


def operation(method, path):
    """(template, operation object) of a request, or (None, None) when the
    document does not have it.  path may hold a query string."""
    doc = document()
    if isinstance(path, bytes):
        path = path.decode("latin-1")
    path = path.split("?", 1)[0].split("#", 1)[0]
    for rx, template in _state["routes"]:
        if rx.match(path):
            op = doc["paths"][template].get(method.lower())
            return (template, op) if op is not None else (None, None)
    return None, None


def _resolve(doc, obj):
    """obj with a top-level $ref (a response) followed."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


def _validator(key, schema):
    with _lock:
        v = _state["validators"].get(key)
        if v is None:
            # The schema is checked inside the whole document, so its
            # "#/components/schemas/..." refs resolve there.
            resolver = jsonschema.RefResolver("", _state["doc"])
            v = jsonschema.Draft202012Validator(schema, resolver=resolver)
            _state["validators"][key] = v
        return v


def mismatch(method, path, status, ctype, body):
    """None when the answer fits the document (or is not JSON, or its
    operation is not documented); otherwise what is wrong, naming the
    route, the status and the schema error."""
    if method.upper() == "HEAD":
        return None
    media = (ctype or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        return None
    template, op = operation(method, path)
    if op is None:
        return None
    doc = document()
    what = "%s %s answered %d (%s)" % (method.upper(), template, status, media)
    responses = op.get("responses", {})
    key = str(status)
    if key not in responses:
        key = "%dXX" % (status // 100) if "%dXX" % (status // 100) in responses else "default"
    # A caller's mistake is part of the contract: each 4xx an operation
    # answers is listed with it; `default` covers the server's own
    # failures (500, 503) only.
    if key not in responses or (key == "default" and status < 500):
        return "%s: the document has no response %d for it" % (what, status)
    resp = _resolve(doc, responses[key])
    content = resp.get("content", {})
    if media not in content:
        return "%s: its documented response %s has no %s content (only %s)" % (
            what, key, media, ", ".join(sorted(content)) or "none")
    schema = content[media].get("schema")
    if schema is None:
        return None
    try:
        value = json.loads(body)
    except ValueError as e:
        return "%s: the body is not JSON (%s)" % (what, e)
    v = _validator((template, method.lower(), key, media), schema)
    err = jsonschema.exceptions.best_match(v.iter_errors(value))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(the body)"
    return "%s does not fit the document's schema (response %s): at %s: %s" % (
        what, key, where, err.message[:400])
