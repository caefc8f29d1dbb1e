"""`rnncap exercise gradescope OUT.zip`: a Gradescope autograder bundle.

Gradescope unpacks the bundle into /autograder/source, runs setup.sh once (as root) when it
builds the image, then runs run_autograder (as root) in a fresh container per submission, with
the submission in /autograder/submission; run_autograder must write
/autograder/results/results.json. Both scripts honour AUTOGRADER_ROOT (default /autograder), so
the bundle can be tried out in any directory.

setup.sh installs this rnncap (a regular install, solutions included) and its dependencies into a
virtual environment that only root can read (RNNCAP_PREFIX, default /opt/rnncap-grader); the
submission's code runs as another user (see sandbox.py) and cannot read it. run_autograder grades
with `rnncap exercise check ... --json` using that environment's python (RNNCAP_PYTHON overrides).
"""
import stat
import zipfile
from pathlib import Path


SETUP = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PREFIX="${RNNCAP_PREFIX:-/opt/rnncap-grader}"
if ! command -v python3 >/dev/null || ! python3 -m venv "$PREFIX"; then
    apt-get update && apt-get install -y python3 python3-venv python3-pip
    python3 -m venv "$PREFIX"
fi
"$PREFIX/bin/pip" install --no-cache-dir "$ROOT/source/rnncap-src"
# Readable by root only: the graded code runs as another user and must not read the reference.
chown -R root:root "$PREFIX"
chmod -R go-rwx "$PREFIX"
"""

RUN = r"""#!/usr/bin/env bash
# Gradescope runs this, as root, for every submission.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${RNNCAP_PYTHON:-${RNNCAP_PREFIX:-/opt/rnncap-grader}/bin/python}"
mkdir -p "$ROOT/results"
cd /
exec "$PYTHON" -I -m rnncap exercise check "$ROOT/submission" \
    --json "$ROOT/results/results.json" --seed @SEED@ --timeout @TIMEOUT@
"""

# What of the checkout goes into the bundle (under rnncap-src/): enough to pip install it.
BUNDLED = ("pyproject.toml", "README.md", "LICENSE")  # and the whole rnncap/ package


def make_bundle(out, src, seed=0, timeout=10.0):
    """Write the bundle to the .zip `out` from checkout `src`; returns the names written."""
    src, out = Path(src).resolve(), Path(out)
    if out.suffix.lower() != ".zip":
        raise ValueError("OUT must end in .zip, got %s" % out)
    if not (src / "pyproject.toml").is_file() or not (src / "rnncap" / "__init__.py").is_file():
        raise FileNotFoundError("%s is not an rnncap checkout (pyproject.toml, rnncap/)" % src)
    files = [rel for rel in BUNDLED if not rel.endswith("/") and (src / rel).is_file()]
    files += sorted(p.relative_to(src).as_posix() for p in (src / "rnncap").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    names = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP),
                           ("run_autograder", RUN.replace("@SEED@", str(int(seed)))
                            .replace("@TIMEOUT@", repr(float(timeout))))):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
            names.append(name)
        for rel in files:
            z.write(src / rel, "rnncap-src/" + rel)
            names.append("rnncap-src/" + rel)
    return names
