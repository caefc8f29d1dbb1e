"""Finding the rnncap package in a handed-in directory or .zip, and unpacking a .zip safely."""
import os
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_ZIP_BYTES = 200 << 20  # uncompressed, in all
MAX_ZIP_MEMBERS = 20000
# Skipped when unpacking or searching: environments, caches, version control, macOS extras.
SKIP_PARTS = {".git", ".venv", "venv", "__pycache__", "__MACOSX", ".ipynb_checkpoints",
              ".mypy_cache", ".pytest_cache", "node_modules", ".tox"}
SEARCH_DEPTH = 3  # rnncap/ may sit this many directories down


class SubmissionError(ValueError):
    """A submission that cannot be graded (no package, an unsafe or oversized zip)."""


def _skipped(parts):
    return any(p in SKIP_PARTS for p in parts)


def extract_zip(path, target):
    """Unpack the .zip at `path` into directory `target`, refusing absolute paths, `..`,
    links and more than MAX_ZIP_BYTES or MAX_ZIP_MEMBERS (SubmissionError). Environments and
    caches (SKIP_PARTS) are left out."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionError("%s is not a readable .zip (%s)" % (path, e))
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise SubmissionError("%s has %d members, more than %d"
                                  % (path, len(members), MAX_ZIP_MEMBERS))
        total = 0
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if (not parts or name.startswith("/") or ".." in parts
                    or re.match(r"^[A-Za-z]:", name)):
                raise SubmissionError("%s: member %r lies outside the archive" % (path, name))
            if _skipped(parts):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SubmissionError("%s: member %r is a link" % (path, name))
            dest = target.joinpath(*parts)
            if not dest.resolve().is_relative_to(root):
                raise SubmissionError("%s: member %r lies outside the archive" % (path, name))
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(dest, "wb") as out:
                while True:
                    chunk = src.read(1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > MAX_ZIP_BYTES:
                        raise SubmissionError("%s unpacks to more than %d MB"
                                              % (path, MAX_ZIP_BYTES >> 20))
                    out.write(chunk)
    return target


def find_package(directory):
    """The rnncap package directory (holding __init__.py) in a submission: directory/rnncap, or
    one found up to SEARCH_DEPTH levels down. SubmissionError if there is none or several."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SubmissionError("%s is not a directory or a .zip" % directory)
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        rel = Path(dirpath).relative_to(directory).parts
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_PARTS
                             and not os.path.islink(os.path.join(dirpath, d)))
        if rel and rel[-1] == "rnncap" and "__init__.py" in filenames:
            found.append(Path(dirpath))
            dirnames[:] = []
        elif len(rel) >= SEARCH_DEPTH:
            dirnames[:] = []
    if not found:
        raise SubmissionError("%s holds no rnncap package (rnncap/__init__.py)" % directory)
    top = min(len(p.parts) for p in found)
    found = [p for p in found if len(p.parts) == top]
    if len(found) > 1:
        raise SubmissionError("%s holds several rnncap packages: %s"
                              % (directory, ", ".join(str(p.relative_to(directory))
                                                      for p in found)))
    return found[0]


def open_submission(path, scratch):
    """The rnncap package of a submission at `path` (a directory or a .zip, unpacked under the
    directory `scratch`)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return find_package(extract_zip(path, scratch))
    if not path.exists():
        raise SubmissionError("%s does not exist" % path)
    return find_package(path)
