"""Exercise mode: turn the full library into a student copy (the grader lives in grader.py).

A solution region is a block of lines between a line that is exactly `# BEGIN SOLUTION` and one
that is exactly `# END SOLUTION` (indented like the code), in any .py file or notebook code cell;
its first or last line may be a `# HINT: ...` for the student. Notebook markdown cells use
`<!-- BEGIN SOLUTION -->` / `<!-- END SOLUTION -->` around a written answer.

make_student_copy(src, out) writes a complete, installable student copy of the checkout `src`:
  - each code region becomes `# TODO: <hint>` + `raise NotImplementedError("implement <name>")`
    at the region's indentation; each markdown region becomes "*Your answer here.*";
  - notebook outputs are cleared (they are the solution's results);
  - README.md's "## Exercise mode" section becomes a students section, and STUDENTS.md is
    rendered from exercise/STUDENTS.md;
  - left out: .git, virtual environments, caches, build outputs, gitignored files, the exercise
    templates and tests, and files outside the package that reveal solutions (plan_copy): Python
    files that use a module or function with regions (instructor tests and benchmarks, whose
    expected values come from reference code written in them), files importing those, and files
    containing a solution line.
Everything else is copied byte for byte. The copy is then checked: every module imports, and no
solution line survives anywhere in it (see solution_lines for which lines are searched).
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

BEGIN, END, HINT = "# BEGIN SOLUTION", "# END SOLUTION", "# HINT:"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
MD_ANSWER = "*Your answer here.*"
PACKAGE = "rnncap"
TEMPLATE = "exercise/STUDENTS.md"
MIN_LEAK_LINE = 10  # shorter solution lines (return, pass, else:, dx = 0) occur everywhere

# Never copied: path components (anywhere), top-level entries, and instructor-only paths.
SKIP_PARTS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ipynb_checkpoints",
              ".mypy_cache", ".ruff_cache", ".tox", ".eggs", "build", "dist"}
SKIP_TOP = {"out", "datasets"}
INSTRUCTOR_ONLY = ("exercise/", "tests/test_exercise",  # test_exercise*.py
                   "tests/test_grading.py",
                   "rnncap/kernels/")  # the fast path: the student copy runs its own code

STUDENT_README_SECTION = """## Exercise (students)

This is the student copy of rnncap. The functions you write raise
`NotImplementedError("implement <name>")` until you do; [STUDENTS.md](STUDENTS.md) lists them in
order, with hints, and explains how to check your work.
"""

# begin, end: line indices of the markers; name: enclosing function ("" at top level).
Region = namedtuple("Region", "begin end indent hint name")


# ----------------------------------------------------------------------------- regions

def _indent(line):
    return line[:len(line) - len(line.lstrip())]


def _enclosing_name(lines, i, indent):
    """Qualified name (Class.method) of the def around line i, found by indentation; "" if none."""
    names, limit = [], len(indent)
    for line in reversed(lines[:i]):
        text = line.strip()
        if not text or text.startswith("#") or len(_indent(line)) >= limit:
            continue
        limit = len(_indent(line))
        m = re.match(r"(?:async\s+def|def|class)\s+(\w+)", text)
        if m:
            names.append(m.group(1))
        if limit == 0:
            break
    return ".".join(reversed(names))


def find_regions(lines, where, begin=BEGIN, end=END):
    """Solution regions in a list of lines (with or without line endings).

    Inputs:
    - lines: the text, split into lines
    - where: "file" or "file, cell 3", used in error messages
    - begin, end: the marker lines (compared after stripping whitespace)

    Returns a list of Region; raises ValueError on unmatched, nested, misindented or empty regions.
    """
    regions, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise ValueError("%s:%d: %r inside the region opened at line %d"
                                 % (where, i + 1, begin, start + 1))
            start = i
        elif text == end:
            if start is None:
                raise ValueError("%s:%d: %r without a %r before it" % (where, i + 1, end, begin))
            if _indent(line) != _indent(lines[start]):
                raise ValueError("%s:%d: %r must be indented like its %r at line %d"
                                 % (where, i + 1, end, begin, start + 1))
            body = [l.strip() for l in lines[start + 1:i]]
            hints = [t for t in (body[:1] + body[-1:]) if t.startswith(HINT)]
            if not [t for t in body if t and not t.startswith(HINT)]:
                raise ValueError("%s:%d: empty solution region" % (where, start + 1))
            hint = hints[0][len(HINT):].strip() if hints else ""
            indent = _indent(lines[start])
            regions.append(Region(start, i, indent, hint, _enclosing_name(lines, start, indent)))
            start = None
    if start is not None:
        raise ValueError("%s:%d: %r is never closed by %r" % (where, start + 1, begin, end))
    return regions


def _ending(line):
    return line[len(line.rstrip("\r\n")):]


def stub_lines(region, lines):
    """The two lines that replace a code region, with the markers' own line endings."""
    todo = region.hint or "implement this"
    name = region.name or "this cell"
    return [region.indent + "# TODO: " + todo + _ending(lines[region.begin]),
            region.indent + 'raise NotImplementedError("implement %s")' % name
            + _ending(lines[region.end])]


def strip_code(text, where):
    """Replace every code region of `text`; returns (student_text, regions)."""
    lines = text.splitlines(keepends=True)
    regions = find_regions(lines, where)
    for r in reversed(regions):
        lines[r.begin:r.end + 1] = stub_lines(r, lines)
    return "".join(lines), regions


def strip_markdown(text, where):
    """Replace every markdown answer region of `text` by MD_ANSWER; returns (text, regions)."""
    lines = text.splitlines(keepends=True)
    regions = find_regions(lines, where, MD_BEGIN, MD_END)
    for r in reversed(regions):
        lines[r.begin:r.end + 1] = [MD_ANSWER + _ending(lines[r.end])]
    return "".join(lines), regions


def _cell_source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_notebook(nb, where):
    """Student version of a notebook (a dict as in the .ipynb JSON): regions replaced in code and
    markdown cells, code outputs cleared. Returns (new_nb, [(cell_index, Region), ...])."""
    nb = json.loads(json.dumps(nb))  # deep copy
    found = []
    for k, cell in enumerate(nb.get("cells", [])):
        here = "%s, cell %d" % (where, k)
        if cell.get("cell_type") == "code":
            text, regions = strip_code(_cell_source(cell), here)
            cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":
            text, regions = strip_markdown(_cell_source(cell), here)
        else:
            continue
        if regions:
            keep_list = isinstance(cell.get("source"), list)
            cell["source"] = text.splitlines(keepends=True) if keep_list else text
        found += [(k, r) for r in regions]
    return nb, found


def dump_notebook(nb):
    """The .ipynb text, formatted as nbformat writes it."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- the source tree

def source_root():
    """The checkout holding the imported rnncap (the parent of the package, with pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError("rnncap at %s is not a source checkout (no pyproject.toml next to "
                                "the package); pass --source CLONE" % root)
    return root


def _skipped(rel):
    parts = rel.split("/")
    return (parts[0] in SKIP_TOP or any(p in SKIP_PARTS or p.endswith(".egg-info") for p in parts)
            or rel.endswith((".pyc", ".pyo")) or parts[-1] == ".DS_Store"
            or rel.startswith(INSTRUCTOR_ONLY))


def list_files(src):
    """Relative posix paths of the files to consider: git's view (tracked + untracked, minus
    gitignored) when src is a git work tree, else every file; then the fixed skips above."""
    try:
        out = subprocess.run(["git", "-C", str(src), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        rels = [p for p in out.decode("utf-8").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        rels = [p.relative_to(src).as_posix() for p in src.rglob("*")]
    return sorted(r for r in set(rels) if not _skipped(r) and (src / r).is_file())  # skips first: .venv may hold unreadable links


def _module_name(rel):
    mod = rel[:-len(".py")].replace("/", ".")
    return mod[:-len(".__init__")] if mod.endswith(".__init__") else mod


def package_functions(package_dir):
    """{(module, qualname)} of the functions holding a code region in a package directory."""
    package_dir = Path(package_dir)
    found = set()
    for path in sorted(package_dir.rglob("*.py")):
        rel = (Path(package_dir.name) / path.relative_to(package_dir)).as_posix()
        if not _skipped(rel):
            found.update((_module_name(rel), r.name) for r in read_regions(package_dir.parent, rel))
    return found


def _references(path):
    """(imports, names) of a Python file: dotted imported modules (and `module.name` for
    from-imports, and the stem of a script named as "script.py"), and every imported, bare or
    attribute name."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return set(), set()
    imports, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module)
            imports.update(node.module + "." + a.name for a in node.names)
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.endswith(".py") and "/" not in node.value:
            imports.add(node.value[:-len(".py")])  # a script run by path (a benchmark's test)
    return imports, names


class Plan:
    """What make_student_copy does with a checkout; built by plan_copy.

    Attributes:
    - src: the checkout (Path)
    - files: relative paths to copy (regions and README.md are rewritten on the way)
    - instructor_only: {relative path: why it is left out}
    - regions: {relative path: [Region] (.py) or [(cell, Region)] (.ipynb)} for files with regions
    - functions: {(module, qualname)} of the package functions holding a code region
    - solution_lines: the lines a leak search looks for (see solution_lines)
    """

    def __init__(self, src):
        self.src = Path(src).resolve()
        self.files, self.instructor_only, self.regions, self.functions = [], {}, {}, set()
        self.solution_lines = []


def read_regions(src, rel):
    """The regions of one file: [Region] for .py, [(cell, Region)] for .ipynb, [] otherwise."""
    path = Path(src) / rel
    if rel.endswith(".py"):
        return find_regions(path.read_text(encoding="utf-8").splitlines(), rel)
    if rel.endswith(".ipynb"):
        return strip_notebook(json.loads(path.read_text(encoding="utf-8")), rel)[1]
    return []


def _reference_code(plan, refs):
    """{rel: why} for the Python files in refs ({rel: _references(...)}) that import a module with
    regions or name a public function with regions: instructor tests and benchmarks, whose
    expected values come from reference code written in them."""
    modules = {m for m, _ in plan.functions}
    names = {q.split(".")[0] for _, q in plan.functions if not q.startswith("_")}
    found = {}
    for rel, (imports, used) in refs.items():
        hit = sorted(imports & modules) or sorted(used & names)
        if hit:
            found[rel] = "reference code: uses %s" % hit[0]
    return found


def _importers(refs, left_out):
    """{rel: why} for the files in refs that import (directly or not) a file left out."""
    found = {}
    while True:
        stems = {Path(r).stem: r for r in list(left_out) + list(found) if r.endswith(".py")}
        more = {}
        for rel, (imports, _) in refs.items():
            late = sorted(i for i in imports if i.split(".")[-1] in stems)
            if late and rel not in left_out and rel not in found:
                more[rel] = "imports %s, which is left out" % stems[late[0].split(".")[-1]]
        if not more:
            return found
        found.update(more)


def is_public(rel):
    """Whether a file's text outside the regions is student material by design: the package and
    the notebooks. (Other files are searched for solution text; README.md always goes in and is
    searched by verify_copy.)"""
    return rel.startswith(PACKAGE + "/") or rel.endswith(".ipynb")


def _student_text(src, rel):
    """The text a student would get for `rel` (regions of a .py file cut out)."""
    text = _readable_text(Path(src) / rel)
    return strip_code(text, rel)[0] if rel.endswith(".py") else text


def plan_copy(src):
    """Decide, for a checkout `src`, what goes into the student copy (see Plan)."""
    plan = Plan(src)
    candidates = list_files(plan.src)
    for rel in candidates:
        regions = read_regions(plan.src, rel)
        if regions:
            plan.regions[rel] = regions
    plan.functions = package_functions(plan.src / PACKAGE)
    plan.solution_lines = solution_lines(plan.src, [r for r in candidates
                                                    if is_public(r) or r in plan.regions])
    refs = {r: _references(plan.src / r) for r in candidates
            if r.endswith(".py") and not is_public(r) and r not in plan.regions}
    left_out = {r: "exercise tooling" for r in INSTRUCTOR_ONLY if (plan.src / r).exists()}
    left_out.update(_reference_code(plan, refs))
    for rel in candidates:  # any other file that would still hold solution text
        if rel not in left_out and rel != "README.md" and not is_public(rel):
            text = _student_text(plan.src, rel)
            found = [line for line in plan.solution_lines if line in text]
            if found:
                left_out[rel] = "contains solution text: %r" % found[0]
    left_out.update(_importers(refs, left_out))
    plan.instructor_only = left_out
    plan.files = [r for r in candidates if r not in left_out]
    return plan


# ----------------------------------------------------------------------------- writing the copy

def student_readme(text):
    """README.md with its "## Exercise mode" section (up to the next ## heading) replaced by
    STUDENT_README_SECTION; appended when there is no such section."""
    m = re.search(r"^## Exercise mode.*?(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        return text.rstrip("\n") + "\n\n" + STUDENT_README_SECTION
    return text[:m.start()] + STUDENT_README_SECTION + "\n" + text[m.end():]


def _table_order(item):
    """Sort key of a (path, regions) item: the package first, its modules before subpackages."""
    rel = item[0]
    return (not rel.startswith(PACKAGE + "/"), rel.count("/"), rel)


def todo_table(plan):
    """Markdown table of what the student implements, file by file."""
    rows = ["| where | what | hint |", "|---|---|---|"]
    for rel, regions in sorted(plan.regions.items(), key=_table_order):
        if rel not in plan.files:
            continue
        for item in regions:
            cell, r = (None, item) if isinstance(item, Region) else item
            where = "`%s`" % rel if cell is None else "`%s`, cell %d" % (rel, cell)
            what = "`%s`" % r.name if r.name else "this cell"
            rows.append("| %s | %s | %s |" % (where, what, r.hint or ""))
    return "\n".join(rows)


def _write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _copy_one(src, out, rel):
    source, target = src / rel, out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if rel.endswith(".py"):
        with open(source, encoding="utf-8", newline="") as f:
            text = f.read()
        _write_text(target, strip_code(text, rel)[0])
    elif rel.endswith(".ipynb"):
        nb = json.loads(source.read_text(encoding="utf-8"))
        _write_text(target, dump_notebook(strip_notebook(nb, rel)[0]))
    elif rel == "README.md":
        with open(source, encoding="utf-8", newline="") as f:
            _write_text(target, student_readme(f.read()))
    else:
        shutil.copy2(source, target)


def _check_replaceable(out, src):
    """Raise ValueError unless directory `out` looks like a previous student copy that --force
    may delete: it holds STUDENTS.md, and it is not the source or a folder holding it, holds no
    .git anywhere (a checkout, or a student's own history), no students' guide template (an
    instructor checkout) and no mount point (whose files lie outside it)."""
    def refuse(why):
        raise ValueError("--force replaces only a previous student copy; %s %s, so nothing was "
                         "deleted" % (out, why))

    if out == src or out in src.parents:
        refuse("holds the source %s" % src)
    if not (out / "STUDENTS.md").is_file():
        refuse("has no STUDENTS.md")
    if (out / TEMPLATE).exists():
        refuse("holds %s (an instructor checkout)" % TEMPLATE)
    for root, dirs, files in os.walk(str(out)):  # never follows links
        if ".git" in dirs or ".git" in files:
            refuse("holds a .git (%s)" % os.path.join(root, ".git"))
        for d in dirs:
            if os.path.ismount(os.path.join(root, d)):
                refuse("holds a mount point (%s)" % os.path.join(root, d))


def _prepare_out(out, force, src):
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ValueError("OUT_DIR %s exists and is not empty (use --force to replace a "
                             "previous student copy)" % out)
        _check_replaceable(out, src)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def make_student_copy(src, out, force=False, verify=True):
    """Write the student copy of checkout `src` into directory `out`.

    Inputs:
    - src: the instructor's checkout (pyproject.toml, rnncap/, notebooks/, tests/, exercise/)
    - out: the target directory; must be absent or empty (or a previous copy, with force)
    - force: replace a previous student copy at `out`
    - verify: check that the copy imports and that no solution line survives (ValueError if not)

    Returns the Plan that was carried out.
    """
    if force and Path(out).is_symlink():  # deleting through a link deletes what it points to
        raise ValueError("--force does not replace a symbolic link: %s -> %s"
                         % (out, os.readlink(str(out))))
    src, out = Path(src).resolve(), Path(out).resolve()
    if not (src / PACKAGE / "__init__.py").is_file():
        raise FileNotFoundError("source %s has no %s package" % (src, PACKAGE))
    template = src / TEMPLATE
    if not template.is_file():
        raise FileNotFoundError("source %s has no %s (the students' guide template)"
                                % (src, TEMPLATE))
    if out == src or (src in out.parents and out.relative_to(src).parts[0] not in SKIP_TOP):
        raise ValueError("OUT_DIR %s must lie outside the source %s (or under its out/)"
                         % (out, src))
    plan = plan_copy(src)
    _prepare_out(out, force, src)
    for rel in plan.files:
        _copy_one(src, out, rel)
    guide = template.read_text(encoding="utf-8").replace("{{TODO_TABLE}}", todo_table(plan))
    _write_text(out / "STUDENTS.md", guide)
    if verify:
        try:
            verify_copy(plan, out)
        except ValueError:
            shutil.rmtree(out)  # never leave a leaking copy behind
            raise
    return plan


# ----------------------------------------------------------------------------- checking the copy

def _region_lines(lines, regions):
    """Lines strictly inside regions (markers and hints excluded), and the other lines."""
    inside, outside = [], []
    spans = [(r.begin, r.end) for r in regions]
    for i, line in enumerate(lines):
        if any(b <= i <= e for b, e in spans):
            text = line.strip()
            if not any(i in (b, e) for b, e in spans) and not text.startswith(HINT):
                inside.append(text)
        else:
            outside.append(line)
    return inside, outside


def _texts(path, rel):
    """[(lines, regions)] for one file: one entry per notebook cell, else the whole file."""
    if rel.endswith(".ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for k, cell in enumerate(nb.get("cells", [])):
            lines = _cell_source(cell).splitlines()
            kind = cell.get("cell_type")
            markers = (BEGIN, END) if kind == "code" else (MD_BEGIN, MD_END)
            out.append((lines, find_regions(lines, "%s, cell %d" % (rel, k), *markers)))
        return out
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [(lines, find_regions(lines, rel) if rel.endswith(".py") else [])]


def solution_lines(src, files):
    """The solution lines a leak search looks for, from `files` (paths relative to checkout
    `src`: those with regions, and the public ones).

    Every stripped line inside a region (markers and hints excluded: hints are meant for the
    student), except lines shorter than MIN_LEAK_LINE characters (`return`, `pass`, `else:`) and
    lines that also occur outside the regions of the package or the notebooks (they are in the
    copy by design, e.g. `H = prev_h.shape[1]` in a helper).
    """
    inside, public = set(), []
    for rel in files:
        for lines, regions in _texts(Path(src) / rel, rel):
            ins, outs = _region_lines(lines, regions)
            inside.update(ins)
            if is_public(rel):
                public.append("\n".join(outs))
    public = "\n".join(public)
    return sorted(t for t in inside if len(t) >= MIN_LEAK_LINE and t not in public)


def _readable_text(path):
    """A file's text as a reader sees it: notebooks also decoded cell by cell (JSON escapes
    quotes and newlines)."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(raw)
        except ValueError:
            return raw
        raw += "\n".join(_cell_source(c) for c in nb.get("cells", []))
    return raw


def find_leaks(out, lines):
    """[(line, relative path)] for every line of `lines` found anywhere under directory `out`."""
    out = Path(out)
    leaks = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = _readable_text(path)
        leaks += [(line, path.relative_to(out).as_posix()) for line in lines if line in text]
    return leaks


IMPORT_ALL = """
import importlib, json, pkgutil, sys
import rnncap
failed = {}
for m in pkgutil.walk_packages(rnncap.__path__, "rnncap."):
    if not m.name.endswith("__main__"):
        try:
            importlib.import_module(m.name)
        except Exception as e:
            failed[m.name] = "%s: %s" % (type(e).__name__, e)
print(json.dumps({"file": rnncap.__file__, "failed": failed}))
"""


def import_failures(root):
    """{module: error} for the modules of the rnncap under `root` that fail to import."""
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=str(root), env=copy_env(root),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {PACKAGE: last}
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if not Path(report["file"]).resolve().is_relative_to(Path(root).resolve()):
        return {PACKAGE: "imported from %s instead" % report["file"]}
    return report["failed"]


def copy_env(root):
    """Environment for a subprocess that must import the `rnncap` under directory `root`."""
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONHOME", None)
    return env


def verify_copy(plan, out):
    """Raise ValueError if a module of the copy fails to import (where the source's imports) or
    if a solution line survives anywhere in the copy."""
    failed = import_failures(out)
    if failed:
        already = import_failures(plan.src)  # a work-in-progress source is not the copy's fault
        failed = {m: e for m, e in failed.items() if m not in already}
    if failed:
        module, error = sorted(failed.items())[0]
        raise ValueError("the student copy does not import cleanly: %s: %s" % (module, error))
    leaks = find_leaks(out, plan.solution_lines)
    if leaks:
        shown = "; ".join("%r in %s" % leak for leak in leaks[:5])
        raise ValueError("solution text survives in the student copy (%d lines): %s"
                         % (len(leaks), shown))
