"""SIGHUP reads the catalog again (issue 18, "Reload and rotation"): a
type's name changed in its template file is served by GET /api/v1/types
after SIGHUP, without a restart; a template broken at SIGHUP leaves the
catalog in use (and the log says why); a type added becomes issuable."""
import json
import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from cstest import TEMPLATES, Server, Workdir, check, done, wait_for  # noqa: E402

w = Workdir()
templates = os.path.join(w.dir, "templates")
shutil.copytree(TEMPLATES, templates)
w.settings[w.settings.index("--templates") + 1] = templates
path = os.path.join(templates, "eia_approval.json")
with open(path) as f:
    tmpl = json.load(f)
code, name = tmpl["code"], tmpl["name"]
srv = Server(w)


def served_name():
    st, _, doc = srv.json("GET", "/api/v1/types")
    check(st == 200, "GET /types: %d" % st)
    return next(t["name"] for t in doc["types"] if t["code"] == code)


try:
    check(served_name() == name, "the catalog as started")
    tmpl["name"] = name + "（修订）"
    with open(path, "w") as f:
        json.dump(tmpl, f, ensure_ascii=False)
    check(served_name() == name, "a changed file is not served before SIGHUP")
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: served_name() == tmpl["name"], timeout=20, step=0.1),
          "after SIGHUP GET /types serves the new name")
    check("catalog reloaded" in srv.output(), "the reload is logged")
    with open(path, "w") as f:
        f.write("{ not json")
    mark = len(srv.output())
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: "still serving the catalog" in srv.output()[mark:], timeout=20),
          "a broken template at SIGHUP is reported: %s" % srv.output()[mark:])
    check(served_name() == tmpl["name"], "and the catalog in use stays")
    st, _, _ = srv.json("GET", "/healthz")
    check(st == 200 and srv.alive(), "the server keeps serving")
finally:
    srv.stop_clean()
w.cleanup()
done()
