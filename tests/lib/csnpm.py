"""npm packages for the tests, pinned by a package-lock.json in the source
tree (tests/browser/: playwright-core; tests/openapi/: @redocly/cli) and
installed with `npm ci` into the build tree only when the lock file
changed, so a warm build tree does not touch the network."""
import fcntl
import filecmp
import os
import shutil
import subprocess

import cstest


def build_dir():
    """The build tree: where $CERTSVC is (ctest gives its absolute path),
    else the current directory."""
    return os.path.dirname(os.path.abspath(cstest.CERTSVC)) if os.path.isabs(cstest.CERTSVC) \
        else os.getcwd()


def npm_ci(src, dest_name, probe):
    """The packages of src (a directory with package.json and
    package-lock.json) in <build>/dest_name; probe, a path under its
    node_modules, says whether an earlier install is complete.  Returns
    that node_modules directory.  Tests running at once wait on a lock."""
    dest = os.path.join(build_dir(), dest_name)
    os.makedirs(dest, exist_ok=True)
    mods = os.path.join(dest, "node_modules")
    with open(os.path.join(dest, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = all(os.path.exists(os.path.join(dest, f)) and
                    filecmp.cmp(os.path.join(src, f), os.path.join(dest, f), shallow=False)
                    for f in ("package.json", "package-lock.json"))
        if not fresh or not os.path.exists(os.path.join(mods, probe)):
            for f in ("package.json", "package-lock.json"):
                shutil.copyfile(os.path.join(src, f), os.path.join(dest, f))
            # --ignore-scripts: no install script may fetch anything (a
            # browser above all); what the tests use needs none.
            r = subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund",
                                "--ignore-scripts"], cwd=dest, capture_output=True,
                               text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError("npm ci failed: " + r.stdout[-2000:] + r.stderr[-2000:])
    return mods
