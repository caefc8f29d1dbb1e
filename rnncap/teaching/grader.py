"""Grade student copies: one row per graded function, and a total.

The rows come from the registry, rnncap.checks.GRADED_CHECKS (see its docstring to add one): a
row is graded when its function holds a solution region in this, the instructor's, rnncap. This
process builds the seeded float64 inputs and the expected values with its own reference code;
the student's code runs in a sandbox (sandbox.py), one group of calls per forked process, and
only plain arrays come back. Expected values never leave this process.

- forwards, losses, update rules: values against the reference (relative error <= VALUE_TOL);
- backwards: called on the cache returned by the student's own forward (same process, same
  group), against centred differences of the reference forward (<= GRAD_TOL); without a working
  forward the row says so; a dict of parameter gradients is compared entry by entry;
- a model's loss: the loss value, and every gradient against centred differences;
- a model's sample: the words up to and including each row's first <END>.
Every call gets fresh copies of its inputs. An output with NaN or inf fails, so does a float32
output for float64 inputs; the row names the output.

The relative error of an output is max |got - want| / max(|got| + |want|) over the array (entry
by entry, a correct gradient's near-zero entries would fail against centred differences).
"""
import copy
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections import namedtuple
from pathlib import Path

import numpy as np

from . import DEFAULT_TIMEOUT, exercise, runner, sandbox
from .. import checks
from .sandbox import GraderError, escape
from .submissions import SubmissionError, open_submission

VALUE_TOL = 1e-6
GRAD_TOL = 1e-6
MAX_NOTE = 160  # characters of a note in the table (the JSON has all of it)

# status: "pass", "FAIL" or "not implemented"; error: max relative error or None
Result = namedtuple("Result", "name status error note")
# One expected output of a row: call index, path of the output in the call's result ("0",
# "1/Wx", "" for a bare array), its name in messages, the value, the tolerance (None: words).
Expect = namedtuple("Expect", "call path label value tol")
# One row: its name, the (module, qualified name) holding its region, the calls it grades,
# its expected outputs, and the call (a forward) it needs a working result from, if any.
Row = namedtuple("Row", "name module function calls expects needs")
# One group: the calls one process makes (runner._child's specs), and the rows they grade.
Group = namedtuple("Group", "name calls rows")


class Mismatch(Exception):
    """An output cannot be compared (missing, wrong shape or dtype, not finite, wrong words)."""


class GraderTampered(RuntimeError):
    """The grader's files or expected values changed while a submission ran."""


# ----------------------------------------------------------------------------- the groups

def _call(module, func, args, send=None):
    return {"module": module, "func": func, "args": list(args), "kwargs": {}, "send": send}


def _method(check, model, method, args, kwargs=None):
    return {"module": check.module, "cls": check.cls, "init_args": [checks.WORDS],
            "init_kwargs": checks.model_init(check), "params": copy.deepcopy(model.params),
            "method": method, "args": list(args), "kwargs": kwargs or {}, "send": None}


def _label(path, names):
    """The name of an output: names[k] for path "k", names[k]['key'] for "k/key"."""
    if path == "":
        return names[0]
    first, _, rest = path.partition("/")
    name = names[int(first)] if first.isdigit() and int(first) < len(names) else "output " + first
    for key in rest.split("/") if rest else []:
        name += "[%r]" % key
    return name


def _leaves(value):
    out = {}
    runner._leaves(np, value, "", out)
    return out


def layer_group(check, seed):
    rng = np.random.default_rng(seed)
    args = check.inputs(rng)
    forward = checks.function(check, check.forward)
    names = checks.output_names(check)
    if check.backward is None:  # a loss: (loss, dx)
        loss, dx = forward(*args)[:2]
        dx_num = checks.loss_numeric_grad(check, args)
        expects = [Expect(0, "0", names[0], loss, VALUE_TOL),
                   Expect(0, "1", names[1], dx_num, GRAD_TOL)]
        return Group(check.forward, [_call(check.module, check.forward, args)],
                     [Row(check.forward, check.module, check.forward, [0], expects, None)])
    result = forward(*checks.fresh(args))
    outs = result[:check.n_out]
    douts = [rng.standard_normal(np.shape(o)) for o in outs[:checks.n_douts(check)]]
    numeric = checks.numeric_grads(forward, args, check.wrt, douts, check.zero)
    calls = [_call(check.module, check.forward, args, send=list(range(check.n_out))),
             _call(check.module, check.backward,
                   douts + [{"__result__": [0, check.n_out]}])]
    grads = checks.grad_names(check)
    forward_row = Row(check.forward, check.module, check.forward, [0],
                      [Expect(0, str(k), names[k], o, VALUE_TOL) for k, o in enumerate(outs)],
                      None)
    paths = [""] if check.bare else [str(j) for j in range(len(check.wrt))]
    expects = []
    for p, g, n in zip(paths, grads, numeric):
        if isinstance(n, dict):  # a dict of parameters: one expected array per entry
            expects += [Expect(1, "%s/%s" % (p, k), "%s[%r]" % (g, k), v, GRAD_TOL)
                        for k, v in n.items()]
        else:
            expects.append(Expect(1, p, g, n, GRAD_TOL))
    backward_row = Row(check.backward, check.module, check.backward, [1], expects, 0)
    return Group(check.name, calls, [forward_row, backward_row])


def model_group(check, seed):
    rng = np.random.default_rng(seed)
    model = checks.build_model(check, rng, 0.5)
    args = (check.inputs or checks.loss_inputs)(rng, model)
    loss = model.loss(*args)[0]
    numeric = checks.model_numeric_grads(model, *args, zero=check.zero)
    row = checks.method_row(check, "loss")
    expects = [Expect(0, "0", "loss", loss, VALUE_TOL)]
    expects += [Expect(0, "1/" + k, "grads[%r]" % k, numeric[k], GRAD_TOL) for k in sorted(numeric)]
    return Group(row, [_method(check, model, "loss", args)],
                 [Row(row, check.module, check.cls + ".loss", [0], expects, None)])


def sample_group(check, seed):
    rng = np.random.default_rng(seed)
    model = checks.build_model(check, rng, 1.0)
    args = checks.sample_args(check, rng, model)
    kwargs = {"max_length": check.max_length}
    captions = model.sample(*args, **kwargs)
    row = checks.method_row(check, "sample")
    return Group(row, [_method(check, model, "sample", args, kwargs)],
                 [Row(row, check.module, check.cls + ".sample", [0],
                      [Expect(0, "", "captions", captions, None)], None)])


def value_group(check, seed):
    rng = np.random.default_rng(seed)
    fn = getattr(importlib.import_module(check.module), check.name)
    calls, expects = [], []
    for i, arglist in enumerate(check.calls(rng)):
        want = fn(*copy.deepcopy(arglist))
        calls.append(_call(check.module, check.name, arglist))
        suffix = "" if i == 0 else " (call %d)" % (i + 1)
        expects += [Expect(i, p, _label(p, check.outputs) + suffix, v, VALUE_TOL)
                    for p, v in _leaves(want).items()]
    return Group(check.name, calls, [Row(check.name, check.module, check.name,
                                         list(range(len(calls))), expects, None)])


BUILDERS = {checks.LayerCheck: layer_group, checks.ModelCheck: model_group,
            checks.SampleCheck: sample_group, checks.ValueCheck: value_group}


def reference_root():
    """The directory of the rnncap running the grader (the reference)."""
    return Path(__file__).resolve().parents[1]


def graded_rows():
    """(rows, unchecked): the registry's rows whose function holds a solution region in the
    reference source, as (row name, module, function) in table order; and the public functions
    with regions that no row covers."""
    functions = exercise.package_functions(reference_root())
    rows = []
    for check in checks.GRADED_CHECKS:
        for name, module, function in _row_names(check):
            if (module, function) in functions:
                rows.append((name, module, function))
    covered = {(m, f) for c in checks.GRADED_CHECKS for _, m, f in _row_names(c)}
    unchecked = sorted(q for m, q in functions - covered if not q.split(".")[-1].startswith("_"))
    return rows, unchecked


def _row_names(check):
    if isinstance(check, checks.LayerCheck):
        names = [check.forward] + ([check.backward] if check.backward else [])
        return [(n, check.module, n) for n in names]
    if isinstance(check, checks.ModelCheck):
        return [(checks.method_row(check, "loss"), check.module, check.cls + ".loss")]
    if isinstance(check, checks.SampleCheck):
        return [(checks.method_row(check, "sample"), check.module, check.cls + ".sample")]
    return [(check.name, check.module, check.name)]


_GROUPS = {}


def build_groups(seed=0):
    """The graded groups for `seed`, with the reference's expected values (cached per process).
    ValueError when the rnncap running the grader is itself a student copy."""
    if seed not in _GROUPS:
        wanted = {name for name, _, _ in graded_rows()[0]}
        groups = []
        for check in checks.GRADED_CHECKS:
            if not any(n in wanted for n, _, _ in _row_names(check)):
                continue
            try:
                group = BUILDERS[type(check)](check, seed)
            except NotImplementedError as e:
                raise ValueError("the rnncap running the grader (%s) is itself a student copy "
                                 "(%s); grade with the instructor's full library"
                                 % (reference_root(), e))
            groups.append(group._replace(rows=[r for r in group.rows if r.name in wanted]))
        _GROUPS[seed] = groups
    return _GROUPS[seed]


# ----------------------------------------------------------------------------- judging

def compare(got, want, label):
    """Relative error of `got` against `want` (see the module docstring); Mismatch when the
    shape differs, when a float `want` gets another dtype, or when `got` is not finite."""
    want = np.asarray(want)
    if got.shape != want.shape:
        raise Mismatch("%s has shape %s, expected %s" % (label, got.shape, want.shape))
    if want.dtype.kind == "f" and got.dtype != want.dtype:
        raise Mismatch("%s is %s: %s inputs need %s results"
                       % (label, got.dtype, want.dtype, want.dtype))
    if got.dtype.kind in "fc":
        bad = ~np.isfinite(got)
        if bad.any():
            what = "NaN" if np.isnan(got).any() else "inf"
            raise Mismatch("%s contains %s (%d of %d entries)" % (label, what, int(bad.sum()),
                                                                 got.size))
    if want.size == 0:
        return 0.0
    got, want = got.astype(np.float64), want.astype(np.float64)
    scale = max(1e-8, float(np.max(np.abs(got) + np.abs(want))))
    return float(np.max(np.abs(got - want))) / scale


def compare_words(got, want, end, label):
    """Mismatch unless every row of `got` equals `want` up to and including the row's first
    `end` word in `want` (the whole row when it has none)."""
    if got.shape != want.shape:
        raise Mismatch("%s have shape %s, expected %s" % (label, got.shape, want.shape))
    if got.dtype.kind not in "iu":
        raise Mismatch("%s are %s, expected integer word indices" % (label, got.dtype))
    wrong = []
    for n, row in enumerate(want):
        stops = np.flatnonzero(row == end)
        upto = stops[0] + 1 if stops.size else row.size
        diff = np.flatnonzero(got[n, :upto] != row[:upto])
        if diff.size:
            wrong.append((n, int(diff[0])))
    if wrong:
        raise Mismatch("%s: %d of %d rows differ from the reference before <END> (row %d, "
                       "word %d first)" % (label, len(wrong), len(want), *wrong[0]))


def _note(text):
    return text if len(text) <= MAX_NOTE else text[:MAX_NOTE - 3] + "..."


def judge(row, outcomes, call_names):
    """The Result of one row from its group's CallOutcomes."""
    if row.needs is not None:
        first = outcomes[row.needs]
        own = outcomes[row.calls[0]]
        if first.status != "ok" or own.fallback:
            if own.status == "not implemented":
                return Result(row.name, "not implemented", None, own.message)
            why = first.message or "it returned %s" % first.kind
            return Result(row.name, "FAIL", None, "needs a working %s (%s)"
                          % (call_names[row.needs], why))
    for i in row.calls:
        o = outcomes[i]
        if o.status == "not implemented":
            return Result(row.name, "not implemented", None, o.message)
        if o.status != "ok":
            where = "" if len(row.calls) == 1 else " (call %d)" % (i + 1)
            return Result(row.name, "FAIL", None, o.message + where)
    worst, failed = 0.0, None
    try:
        for e in row.expects:
            o = outcomes[e.call]
            if e.path not in o.arrays:
                raise Mismatch("%s is missing: %s returned %s"
                               % (e.label, call_names[e.call], o.kind))
            if e.tol is None:
                compare_words(o.arrays[e.path], e.value, checks.WORDS["<END>"], e.label)
                continue
            err = compare(o.arrays[e.path], e.value, e.label)
            if err > e.tol and failed is None:
                failed = (e, err)
            worst = max(worst, err)
    except Mismatch as m:
        return Result(row.name, "FAIL", None, str(m))
    if not any(e.tol is not None for e in row.expects):
        return Result(row.name, "pass", None, "")
    if failed:
        e, err = failed
        return Result(row.name, "FAIL", worst, "%s: rel. error %.1e (tolerance %g)"
                      % (e.label, err, e.tol))
    return Result(row.name, "pass", worst, "")


def _call_names(group):
    return [c.get("func") or "%s.%s" % (c["cls"], c["method"]) for c in group.calls]


# ----------------------------------------------------------------------------- integrity

def _digest(obj, h):
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        a = np.asarray(obj)
        h.update(b"a" + a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes())
    elif isinstance(obj, dict):
        h.update(b"d%d" % len(obj))
        for k in sorted(obj, key=repr):
            _digest(k, h)
            _digest(obj[k], h)
    elif isinstance(obj, (list, tuple)):
        h.update(b"l%d" % len(obj))
        for v in obj:
            _digest(v, h)
    else:
        h.update(b"v" + repr(obj).encode())


def digest(groups):
    """A hash of every input and expected value of the groups."""
    h = hashlib.sha256()
    _digest([(g.name, g.calls, [tuple(r) for r in g.rows]) for g in groups], h)
    return h.hexdigest()


def snapshot(package_dir):
    """{relative path: bytes} of the reference package's files (caches aside)."""
    package_dir = Path(package_dir)
    return {p.relative_to(package_dir).as_posix(): p.read_bytes()
            for p in sorted(package_dir.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def verify(package_dir, snap):
    """Relative paths of the reference package's files that changed since `snap` (added,
    removed or rewritten); each is put back as it was. Compiled caches written since are
    deleted (Python rebuilds them)."""
    package_dir = Path(package_dir)
    changed = []
    now = {}
    for p in sorted(package_dir.rglob("*")):
        rel = p.relative_to(package_dir).as_posix()
        if "__pycache__" in p.parts:
            continue
        if p.is_symlink() or p.is_file():
            now[rel] = p
    for rel in sorted(set(now) | set(snap)):
        p = package_dir / rel
        if rel not in snap:
            changed.append(rel)
            p.unlink()
        elif rel not in now or p.is_symlink() or p.read_bytes() != snap[rel]:
            changed.append(rel)
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.is_symlink() or p.exists():
                p.unlink()
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(snap[rel])
    if changed:
        for cache in package_dir.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    return changed


# ----------------------------------------------------------------------------- grading

class Report:
    """One submission's grade: results (list of Result), seconds it took, bound (the longest
    it could have taken), and error (why it could not be graded, else None)."""

    def __init__(self, name, results, seconds=0.0, bound=0.0, error=None):
        self.name, self.results, self.seconds, self.bound, self.error = \
            name, results, seconds, bound, error

    @property
    def passed(self):
        return sum(r.status == "pass" for r in self.results)

    def to_json(self):
        """Gradescope's results.json: one test per row, 1 point each."""
        tests = [{"name": r.name, "score": 1.0 if r.status == "pass" else 0.0,
                  "max_score": 1.0, "status": "passed" if r.status == "pass" else "failed",
                  "output": "%s: %s" % (r.status, r.note) if r.note else r.status,
                  "visibility": "visible",
                  "extra_data": {"result": r.status, "rel_error": r.error}}
                 for r in self.results]
        summary = "%d of %d functions pass." % (self.passed, len(self.results))
        if self.error:
            summary = "Not graded: %s" % self.error
        return {"score": float(self.passed), "output": summary, "tests": tests,
                "extra_data": {"submission": self.name, "error": self.error}}


_RUNTIME = {}


def _runtime():
    """This process's sandbox.Runtime (made on first use, removed when the process exits)."""
    if "runtime" not in _RUNTIME or not os.path.isdir(_RUNTIME["runtime"].path):
        import atexit

        parent = tempfile.mkdtemp(prefix="rnncap-runtime-")
        os.chmod(parent, 0o711)
        atexit.register(shutil.rmtree, parent, True)
        _RUNTIME["dir"] = parent
        copy_stdlib = os.geteuid() == 0 and not sandbox.readable_by_all(os.__file__)
        _RUNTIME["runtime"] = sandbox.make_runtime(parent, copy_stdlib)
    return _RUNTIME["runtime"]


def _remove_runtime():
    if "dir" in _RUNTIME:
        shutil.rmtree(_RUNTIME.pop("dir"), ignore_errors=True)
        _RUNTIME.pop("runtime", None)


class Session:
    """Grading state shared by the submissions one process grades: the expected values, a
    numpy copy for the sandboxes, a sandbox user id (as root), and snapshots of the grader's
    own files and expected values. Use as a context manager.

    Inputs:
    - seed: seed of the check inputs
    - timeout: seconds each group of calls may run
    - groups: build_groups(seed), when the caller has it already
    """

    def __init__(self, seed=0, timeout=DEFAULT_TIMEOUT, groups=None):
        self.seed, self.timeout = seed, float(timeout)
        self.groups = groups if groups is not None else build_groups(seed)
        self.digest = digest(self.groups)
        self.package = reference_root()
        self.files = snapshot(self.package)
        self.tmp = Path(tempfile.mkdtemp(prefix="rnncap-grade-"))
        os.chmod(self.tmp, 0o711)
        self.slot = None
        try:
            if os.geteuid() == 0 and not sandbox.reachable_by_all(self.tmp):
                raise GraderError("the sandbox user cannot reach the temporary directory %s; set "
                                  "TMPDIR to one every user can (e.g. /tmp)" % self.tmp.parent)
            self.runtime = _runtime()
            if os.geteuid() == 0:
                self.slot = sandbox.UidSlot()
        except BaseException:
            self.close()
            raise

    @property
    def rows(self):
        return [r.name for g in self.groups for r in g.rows]

    def bound(self):
        return sandbox.bound(len(self.groups), self.timeout)

    def grade(self, path, name=None):
        """Grade the submission at `path` (a directory or a .zip); returns a Report. Raises
        GraderTampered when the grader's files or expected values changed meanwhile."""
        name = name or submission_names([path])[0]
        scratch = Path(tempfile.mkdtemp(prefix="unzip-", dir=self.tmp))
        try:
            try:
                package = open_submission(path, scratch)
                box = sandbox.Sandbox(package, self.tmp, self.runtime,
                                      self.slot.uid if self.slot else None, self.timeout)
            except (SubmissionError, ValueError) as e:
                results = [Result(n, "FAIL", None, "not graded") for n in self.rows]
                return Report(name, results, 0.0, self.bound(), escape(str(e)))
            try:
                outcomes, seconds = box.run(self.groups)
            finally:
                shutil.rmtree(box.work, ignore_errors=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            self.check_integrity(name)
        results = [judge(row, outcomes[g.name], _call_names(g))
                   for g in self.groups for row in g.rows]
        results = [r._replace(note=escape(r.note)) for r in results]
        return Report(name, results, seconds, self.bound())

    def check_integrity(self, name):
        changed = verify(self.package, self.files)
        if digest(self.groups) != self.digest:
            changed.append("(the expected values in memory)")
        if changed:
            raise GraderTampered("the grader's own files changed while %s was graded: %s "
                                 "(put back); no grade is reported"
                                 % (name, ", ".join(changed[:5])))

    def close(self):
        if self.slot is not None:
            self.slot.close()
            self.slot = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def grade(path, seed=0, timeout=DEFAULT_TIMEOUT):
    """Grade the submission at `path` (a directory or a .zip holding an rnncap package).

    Inputs:
    - path: the submission
    - seed: seed of the check inputs (each check draws from its own Generator)
    - timeout: seconds each group of calls (a forward and its backward, a model's loss for one
      cell, ...) may run

    Returns a Report (.results, one Result per graded row in table order; .error when the
    submission could not be graded at all).
    """
    with Session(seed, timeout) as session:
        return session.grade(path)


def warnings_for_root():
    """Warnings about what the sandbox user could read (as root): the reference itself."""
    if os.geteuid() != 0:
        return []
    if sandbox.readable_by_all(reference_root() / "rnn_layers.py"):
        return ["the reference rnncap at %s is readable by every user, so a submission could "
                "read it by its path; for untrusted code install it where only root can read "
                "(the Gradescope bundle does)" % reference_root()]
    return []


# ----------------------------------------------------------------------------- many at once

def format_table(report):
    """The score table: function, result, relative error, note; then the total."""
    results = report.results
    width = max([len("function")] + [len(r.name) for r in results])
    lines = ["%-*s  %-15s  %-10s  %s" % (width, "function", "result", "rel. error", "note")]
    for r in results:
        err = "-" if r.error is None else "%.2e" % r.error
        lines.append(("%-*s  %-15s  %-10s  %s" % (width, r.name, r.status, err,
                                                   _note(r.note))).rstrip())
    n = len(results)
    lines.append("total: %d of %d passed (%.0f%%)" % (report.passed, n,
                                                      100.0 * report.passed / n if n else 0))
    return "\n".join(lines)


_WORKER = {}


def _worker_init(seed, timeout, groups):
    from multiprocessing.util import Finalize

    session = Session(seed, timeout, groups)
    _WORKER["session"] = session
    Finalize(session, session.close, exitpriority=10)
    Finalize(session, _remove_runtime, exitpriority=9)  # atexit does not run in workers


def _worker_grade(path, name):
    return _WORKER["session"].grade(path, name)


def submission_names(paths):
    """A distinct, file-name-safe name per submission (its base name, .zip stripped)."""
    names, seen = [], {}
    for p in paths:
        p = Path(p)
        base = p.stem if p.suffix.lower() == ".zip" else p.name
        base = "".join(c if c.isalnum() or c in "._-" else "_" for c in base) or "submission"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else "%s-%d" % (base, seen[base]))
    return names


def grade_many(paths, jobs=1, seed=0, timeout=DEFAULT_TIMEOUT, progress=None):
    """Grade several submissions, `jobs` at a time in worker processes.

    Returns (rows, reports): the row names, and a Report per path in the given order.
    progress: a file for the progress bar (None: none). Raises GraderTampered (nothing is
    reported then) and GraderError.
    """
    groups = build_groups(seed)
    names = submission_names(paths)
    package, files, before = reference_root(), snapshot(reference_root()), digest(groups)
    reports = [None] * len(paths)
    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), file=progress, unit="submission", desc="grading")
    try:
        if jobs == 1:
            with Session(seed, timeout, groups) as session:
                for i, (p, n) in enumerate(zip(paths, names)):
                    reports[i] = session.grade(p, n)
                    if bar:
                        bar.update(1)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                     initargs=(seed, timeout, groups)) as pool:
                futures = {pool.submit(_worker_grade, str(p), n): i
                           for i, (p, n) in enumerate(zip(paths, names))}
                try:
                    for future in as_completed(futures):
                        reports[futures[future]] = future.result()
                        if bar:
                            bar.update(1)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        if bar:
            bar.close()
    changed = verify(package, files)
    if changed or digest(groups) != before:
        raise GraderTampered("the grader's own files changed during grading: %s (put back); "
                             "no grade is reported" % ", ".join(changed[:5] or ["expected values"]))
    return [r.name for g in groups for r in g.rows], reports


def write_csv(path, rows, reports):
    """One line per submission: its name, 1 or 0 per row, the total, and why it could not be
    graded (empty when it was)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["submission"] + rows + ["total", "error"])
        for report in reports:
            name = report.name if not report.name.startswith(("=", "+", "-", "@")) \
                else "'" + report.name
            cells = ([""] * len(rows) if report.error else
                     [int(r.status == "pass") for r in report.results])
            out.writerow([name] + cells + [report.passed, report.error or ""])


def write_json(path, report):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report.to_json(), f, indent=1)
        f.write("\n")
