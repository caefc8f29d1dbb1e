"""Grade a student copy: one row per function with a solution region, and a total.

The student's code runs in a subprocess with PYTHONPATH=DIR, so that DIR's `rnncap` is the one
imported. This process (the instructor's full rnncap) builds seeded float64 inputs, computes the
expected values with its own reference implementation, and sends the inputs to the subprocess;
the student's outputs come back in an .npz file (plain arrays only) and are compared here:

- forward functions, temporal_softmax_loss's loss, CaptioningRNN.loss's loss and the update
  rules: value checks against the reference (relative error <= VALUE_TOL);
- backward functions, temporal_softmax_loss's dx and CaptioningRNN.loss's grads: gradient checks
  against centred differences of the reference forward (relative error <= GRAD_TOL). Backward
  passes get the reference forward's cache, whose layout is fixed by the code outside the regions,
  so each row is graded on its own;
- CaptioningRNN.sample: the captions must equal the reference's word for word.

The Transformer's rows (rnncap.transformer_layers, CaptioningTransformer) are graded the same
way, with the inputs of checks.TRANSFORMER_*; parameters whose gradient is exactly zero (an
attention's key bias) must be zero.

A row is graded only when the reference source holds a solution region in that function.
"""
import copy
import importlib
import json
import pickle
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path

import numpy as np

from . import exercise
from .. import checks
from ..checks import CELL_TYPES, MODEL_SIZES, WORDS

VALUE_TOL = 1e-6
GRAD_TOL = 1e-6
LAYERS, MODEL, OPTIM = "rnncap.rnn_layers", "rnncap.classifiers.rnn", "rnncap.optim"
TLAYERS, TMODEL = "rnncap.transformer_layers", "rnncap.classifiers.transformer"

# status: "pass", "FAIL" or "not implemented"; error: max relative error or None
Result = namedtuple("Result", "name status error note")


class Mismatch(Exception):
    """The student's output cannot be compared (missing, wrong shape, wrong words)."""


# ----------------------------------------------------------------------------- inputs
# Every input, and the model's words and sizes, come from the registry in rnncap.checks.

# layer name -> its checks.LayerCheck, for the layers with a forward and a backward
LAYER_SPECS = {c.name: c for c in checks.LAYER_CHECKS if c.backward is not None}
SOFTMAX_LOSS = next(c for c in checks.LAYER_CHECKS if c.name == "temporal_softmax_loss")


def _call(module, func, *args, **kwargs):
    """A call for the student process: module.func(*args, **kwargs)."""
    return dict(module=module, func=func, args=args, kwargs=kwargs)


def _method(cell_type, params, method, *args, **kwargs):
    """A call for the student process: CaptioningRNN(WORDS, ...).method(...) with these params."""
    return dict(module=MODEL, cls="CaptioningRNN", init=(WORDS,),
                init_kwargs=dict(MODEL_SIZES, cell_type=cell_type, dtype=np.float64),
                params=params, func=method, args=args, kwargs=kwargs)


def compare(got, want, what):
    """Relative error of the student's `got` against `want`, on the scale of the whole array:
    max |got - want| / max(|got| + |want|). (Entry by entry, a correct gradient's near-zero
    entries would fail against centred differences now and then.) Mismatch if shapes differ."""
    want = np.asarray(want, dtype=np.float64)
    if np.shape(got) != want.shape:
        raise Mismatch("%s has shape %s, expected %s" % (what, np.shape(got), want.shape))
    got = np.asarray(got, dtype=np.float64)
    if want.size == 0:
        return 0.0
    scale = max(1e-8, float(np.max(np.abs(got) + np.abs(want))))
    return float(np.max(np.abs(got - want))) / scale


# ----------------------------------------------------------------------------- checks
# A check is build(ref, rng) -> (calls, judge): `ref` gives the reference modules, `calls` run in
# the student's process, and judge(out) -> (max relative error or None, note, tolerance) where
# out(i, key, ...) is the student's output of call i at that path (Mismatch when missing).

def layer_forward(layer):
    spec = LAYER_SPECS[layer]
    n_out = spec.n_out

    def build(ref, rng):
        args = spec.inputs(rng)
        expected = getattr(ref(LAYERS), spec.forward)(*args)[:n_out]
        calls = [_call(LAYERS, spec.forward, *args)]

        def judge(out):
            err = max(compare(out(0, k), expected[k], "output %d" % k) for k in range(n_out))
            return err, "", VALUE_TOL
        return calls, judge
    return build


def layer_backward(layer):
    spec = LAYER_SPECS[layer]
    n_out, wrt, bare = spec.n_out, spec.wrt, spec.bare

    def build(ref, rng):
        args = spec.inputs(rng)
        forward = getattr(ref(LAYERS), spec.forward)
        result = forward(*args)
        douts = [rng.standard_normal(np.shape(o)) for o in result[:n_out]]
        numeric = checks.numeric_grads(forward, args, wrt, douts)
        calls = [_call(LAYERS, spec.backward, *douts, result[n_out])]

        def judge(out):
            got = [out(0)] if bare else [out(0, j) for j in range(len(wrt))]
            err = max(compare(g, n, "gradient %d" % j)
                      for j, (g, n) in enumerate(zip(got, numeric)))
            return err, "vs numeric gradient", GRAD_TOL
        return calls, judge
    return build


def softmax_loss(ref, rng):
    x, y, mask = SOFTMAX_LOSS.inputs(rng)
    loss = getattr(ref(LAYERS), SOFTMAX_LOSS.forward)(x, y, mask)[0]
    dx = checks.loss_numeric_grad(SOFTMAX_LOSS, [x, y, mask])
    calls = [_call(LAYERS, SOFTMAX_LOSS.forward, x, y, mask)]

    def judge(out):
        err = max(compare(out(0, 0), loss, "loss"), compare(out(0, 1), dx, "dx"))
        return err, "loss value, dx vs numeric", max(VALUE_TOL, GRAD_TOL)
    return calls, judge


def model_loss(ref, rng):
    calls, expected = [], []
    for cell_type in CELL_TYPES:
        model, features, captions = checks.model_inputs(rng, cell_type)
        loss = model.loss(features, captions)[0]
        grads = checks.model_numeric_grads(model, features, captions)
        calls.append(_method(cell_type, copy.deepcopy(model.params), "loss", features, captions))
        expected.append((loss, grads))

    def judge(out):
        errs = []
        for i, (loss, grads) in enumerate(expected):
            errs.append(compare(out(i, 0), loss, "%s loss" % CELL_TYPES[i]))
            errs += [compare(out(i, 1, name), g, "%s grads[%r]" % (CELL_TYPES[i], name))
                     for name, g in grads.items()]
        return max(errs), "loss value, grads vs numeric (%s)" % ", ".join(CELL_TYPES), \
            max(VALUE_TOL, GRAD_TOL)
    return calls, judge


def model_sample(ref, rng):
    calls, expected = [], []
    for cell_type in CELL_TYPES:
        model = checks.seeded_model(rng, cell_type, 1.0)
        features = rng.standard_normal((4, MODEL_SIZES["input_dim"]))
        expected.append(model.sample(features, max_length=6))
        calls.append(_method(cell_type, copy.deepcopy(model.params), "sample", features,
                             max_length=6))

    def judge(out):
        for i, want in enumerate(expected):
            got = out(i)
            if got.shape != want.shape:
                raise Mismatch("%s captions have shape %s, expected %s"
                               % (CELL_TYPES[i], got.shape, want.shape))
            wrong = int((got != want).sum())
            if wrong:
                raise Mismatch("%s: %d of %d words differ from the reference"
                               % (CELL_TYPES[i], wrong, want.size))
        return None, "captions equal the reference (%s)" % ", ".join(CELL_TYPES), None
    return calls, judge


OPTIM_CONFIGS = {
    "sgd": lambda rng, w: {"learning_rate": 0.05},
    "sgd_momentum": lambda rng, w: {"learning_rate": 0.05, "momentum": 0.8,
                                    "velocity": rng.standard_normal(w.shape)},
    "rmsprop": lambda rng, w: {"learning_rate": 0.05, "decay_rate": 0.9, "epsilon": 1e-8,
                               "cache": rng.random(w.shape)},
    "adam": lambda rng, w: {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-8,
                            "m": rng.standard_normal(w.shape), "v": rng.random(w.shape), "t": 3},
}


def update_rule(rule):
    def build(ref, rng):
        w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
        configs = [OPTIM_CONFIGS[rule](rng, w), None]  # with state, then the defaults
        calls, expected = [], []
        for config in configs:
            calls.append(_call(OPTIM, rule, w, dw, copy.deepcopy(config)))
            expected.append(getattr(ref(OPTIM), rule)(w.copy(), dw.copy(), copy.deepcopy(config)))

        def judge(out):
            errs = []
            for i, (next_w, config) in enumerate(expected):
                errs.append(compare(out(i, 0), next_w, "next_w"))
                errs += [compare(out(i, 1, key), value, "config[%r]" % key)
                         for key, value in config.items()
                         if isinstance(value, (np.ndarray, int, float))]
            return max(errs), "next_w and config state", VALUE_TOL
        return calls, judge
    return build


def _layer_rows():
    rows = []
    for layer in LAYER_SPECS:
        rows.append((LAYERS, layer + "_forward", layer_forward(layer)))
        rows.append((LAYERS, layer + "_backward", layer_backward(layer)))
    return rows


# ----------------------------------------------------------------------------- the Transformer

TSPECS = {c.name: c for c in checks.TRANSFORMER_LAYER_CHECKS}


def _transformer_method(grid, activation, params, method, *args, **kwargs):
    """A call for the student process: CaptioningTransformer(...).method(...) with params."""
    return dict(module=TMODEL, cls="CaptioningTransformer", init=(checks.TRANSFORMER_WORDS,),
                init_kwargs=dict(checks.TRANSFORMER_SIZES, grid_size=grid, activation=activation,
                                 dtype=np.float64),
                params=params, func=method, args=args, kwargs=kwargs)


def transformer_forward(layer):
    spec = TSPECS[layer]

    def build(ref, rng):
        args = spec.inputs(rng)
        expected = getattr(ref(TLAYERS), spec.forward)(*checks.fresh(args))[:spec.n_out]
        calls = [_call(TLAYERS, spec.forward, *args)]

        def judge(out):
            err = max(compare(out(0, k), expected[k], "output %d" % k)
                      for k in range(spec.n_out))
            return err, "", VALUE_TOL
        return calls, judge
    return build


def transformer_backward(layer):
    spec = TSPECS[layer]

    def build(ref, rng):
        _, douts, result, grads, pgrads = checks.transformer_expected(spec, rng, ref(TLAYERS))
        calls = [_call(TLAYERS, spec.backward, *douts, result[spec.n_out])]
        n = len(spec.wrt)

        def judge(out):
            got = [out(0) if n == 1 and spec.params_arg is None else out(0, j) for j in range(n)]
            got_params = {k: out(0, n, k) for k in pgrads}

            def named(g, want, what="gradient"):
                return compare(g, want, what)
            err = checks.compare_gradients(got, got_params, grads, pgrads, spec.zero, named)
            return err, "vs numeric gradient", GRAD_TOL
        return calls, judge
    return build


def value_row(func, inputs, reference):
    """A function graded on its value: inputs(rng) -> args; reference(*args) -> expected."""
    def build(ref, rng):
        args = inputs(rng)
        expected = reference(ref(TLAYERS), *args)
        calls = [_call(TLAYERS, func, *args)]

        def judge(out):
            return compare(out(0), expected, "output"), "", VALUE_TOL
        return calls, judge
    return build


def erf_inputs(rng):
    return [np.concatenate([4 * rng.standard_normal(40), [0.0, -2.0, 2.0, 7.0, -30.0]])]


def transformer_loss(ref, rng):
    model, features, captions = checks.transformer_model_inputs(rng, grid=2)
    loss = model.loss(features, captions)[0]
    grads = checks.model_numeric_grads(model, features, captions)
    zero = checks.transformer_zero_grads(model)
    calls = [_transformer_method(2, "gelu", copy.deepcopy(model.params), "loss", features,
                                 captions)]

    def judge(out):
        errs = [compare(out(0, 0), loss, "loss")]
        for name, g in grads.items():
            got = out(0, 1, name)
            if name in zero:
                errs.append(0.0 if np.abs(got).max() <= checks.ZERO_TOL else float("inf"))
            else:
                errs.append(compare(got, g, "grads[%r]" % name))
        return max(errs), "loss value, grads vs numeric", max(VALUE_TOL, GRAD_TOL)
    return calls, judge


def transformer_sample(ref, rng):
    calls, expected = [], []
    for grid, activation in ((None, "relu"), (2, "gelu")):
        model = checks.seeded_transformer(rng, grid, activation, scale=1.0, qk_scale=1.0)
        D = checks.TRANSFORMER_SIZES["input_dim"]
        features = rng.standard_normal((4, D) if grid is None else (4, D, grid, grid))
        expected.append(model.sample(features, max_length=6))
        calls.append(_transformer_method(grid, activation, copy.deepcopy(model.params),
                                         "sample", features, max_length=6))

    def judge(out):
        for i, want in enumerate(expected):
            got = out(i)
            if got.shape != want.shape:
                raise Mismatch("captions have shape %s, expected %s" % (got.shape, want.shape))
            wrong = int((got != want).sum())
            if wrong:
                raise Mismatch("%d of %d words differ from the reference" % (wrong, want.size))
        return None, "captions equal the reference (vector and grid features)", None
    return calls, judge


def _transformer_rows():
    rows = [(TLAYERS, "erf", value_row("erf", erf_inputs, lambda L, x: L.erf(x)))]
    for layer in TSPECS:
        rows.append((TLAYERS, layer + "_forward", transformer_forward(layer)))
        rows.append((TLAYERS, layer + "_backward", transformer_backward(layer)))
    rows.append((TLAYERS, "positional_encoding",
                 value_row("positional_encoding", lambda rng: [7, 6],
                           lambda L, n, e: L.positional_encoding(n, e))))
    rows += [(TMODEL, "CaptioningTransformer.loss", transformer_loss),
             (TMODEL, "CaptioningTransformer.sample", transformer_sample)]
    return rows


# (module, qualified name, build), in the order of the score table
CHECKS = (_layer_rows() + [(LAYERS, "temporal_softmax_loss", softmax_loss),
                           (MODEL, "CaptioningRNN.loss", model_loss),
                           (MODEL, "CaptioningRNN.sample", model_sample)]
          + _transformer_rows()
          + [(OPTIM, rule, update_rule(rule)) for rule in OPTIM_CONFIGS])


# ----------------------------------------------------------------------------- the student process

RUNNER = r'''
import importlib, json, pickle, sys
import numpy as np

def leaves(x, key, out):
    """Numeric leaves of nested tuples / lists / dicts, keyed by their path."""
    if isinstance(x, dict):
        for k, v in x.items():
            leaves(v, key + "/" + str(k), out)
    elif isinstance(x, (tuple, list)):
        for k, v in enumerate(x):
            leaves(v, key + "/" + str(k), out)
    elif isinstance(x, (np.ndarray, np.generic, int, float)) and np.asarray(x).dtype.kind in "biuf":
        out[key] = np.asarray(x)

def run(spec):
    module = importlib.import_module(spec["module"])
    if "cls" in spec:
        obj = getattr(module, spec["cls"])(*spec["init"], **spec["init_kwargs"])
        obj.params = spec["params"]
        return getattr(obj, spec["func"])(*spec["args"], **spec["kwargs"])
    fn = module
    for part in spec["func"].split("."):
        fn = getattr(fn, part)
    return fn(*spec["args"], **spec["kwargs"])

cases_path, out_path = sys.argv[1], sys.argv[2]
import rnncap
with open(cases_path, "rb") as f:
    cases = pickle.load(f)
status, arrays = {"__file__": rnncap.__file__}, {}
for row, calls in cases.items():
    try:
        for i, spec in enumerate(calls):
            leaves(run(spec), "%s/%d" % (row, i), arrays)
        status[row] = ["ok", ""]
    except NotImplementedError as e:
        status[row] = ["not implemented", str(e)]
    except Exception as e:
        status[row] = ["error", "%s: %s" % (type(e).__name__, e)]
np.savez(out_path + ".npz", **arrays)
with open(out_path + ".json", "w") as f:
    json.dump(status, f)
'''


def run_student(root, cases, timeout):
    """Run the calls {row: [call, ...]} with the rnncap under `root`.

    Returns (status, arrays): status {row: [state, message]} with state "ok", "not implemented"
    or "error"; arrays {"row/call/path": array} of every numeric output.
    """
    with tempfile.TemporaryDirectory(prefix="rnncap-grade-") as tmp:
        cases_path, out_path = Path(tmp) / "cases.pkl", str(Path(tmp) / "out")
        with open(cases_path, "wb") as f:
            pickle.dump(cases, f)
        try:
            proc = subprocess.run([sys.executable, "-c", RUNNER, str(cases_path), out_path],
                                  cwd=tmp, env=exercise.copy_env(root), capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {row: ["error", "timed out after %g s" % timeout] for row in cases}, {}
        if proc.returncode != 0 or not Path(out_path + ".json").is_file():
            last = (proc.stderr.strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
            return {row: ["error", "the student process failed: " + last] for row in cases}, {}
        with open(out_path + ".json") as f:
            status = json.load(f)
        with np.load(out_path + ".npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    where = Path(status.pop("__file__")).resolve()
    if not where.is_relative_to(Path(root).resolve()):
        raise ValueError("grading %s imported rnncap from %s instead" % (root, where))
    return status, arrays


# ----------------------------------------------------------------------------- grading

def graded_checks():
    """The CHECKS rows whose function holds a solution region in the reference source, and the
    public functions with regions that no check covers."""
    functions = exercise.package_functions(Path(__file__).resolve().parents[1])
    rows = [c for c in CHECKS if (c[0], c[1]) in functions]
    covered = {(c[0], c[1]) for c in CHECKS}
    unchecked = sorted(q for m, q in functions - covered if not q.split(".")[-1].startswith("_"))
    return rows, unchecked


def _judge(judge, status, arrays, row):
    """Result for one row from the student process's status and outputs."""
    state, message = status.get(row, ["error", "no result"])
    if len(message) > 100:  # one table line per row
        message = message[:97] + "..."
    if state == "not implemented":
        return Result(row, "not implemented", None, message)
    if state == "error":
        return Result(row, "FAIL", None, message)

    def out(*path):
        key = "/".join([row] + [str(p) for p in path])
        if key not in arrays:
            raise Mismatch("no output at %s" % key.split("/", 1)[1])
        return arrays[key]
    try:
        err, note, tol = judge(out)
    except Mismatch as e:
        return Result(row, "FAIL", None, str(e))
    ok = tol is None or bool(err <= tol)
    return Result(row, "pass" if ok else "FAIL", err, note if ok else "%s (tolerance %g)"
                  % (note, tol))


def grade(root, seed=0, timeout=300):
    """Grade the student copy at directory `root`.

    Inputs:
    - root: a directory holding the student's rnncap package (rnncap/__init__.py)
    - seed: seed of the check inputs (each row draws from its own Generator)
    - timeout: seconds the student process may run

    Returns a tuple of:
    - results: list of Result, one per graded function, in table order
    - unchecked: qualified names of public functions with regions that no check covers
    """
    root = Path(root).resolve()
    if not (root / "rnncap" / "__init__.py").is_file():
        raise FileNotFoundError("%s holds no rnncap package (rnncap/__init__.py)" % root)
    rows, unchecked = graded_checks()
    ref = importlib.import_module  # the reference: this process's own rnncap
    cases, judges = {}, {}
    for module, name, build in rows:
        try:
            cases[name], judges[name] = build(ref, np.random.default_rng(seed))
        except NotImplementedError as e:
            raise ValueError("the rnncap running the grader (%s) is itself a student copy (%s); "
                             "grade with the instructor's full library"
                             % (Path(__file__).resolve().parents[1], e))
    status, arrays = run_student(root, cases, timeout)
    results = [_judge(judges[name], status, arrays, name) for _, name, _ in rows]
    return results, unchecked


def score(results):
    """Percentage of rows that pass (0 for no rows)."""
    return 100.0 * sum(r.status == "pass" for r in results) / len(results) if results else 0.0


def format_table(results):
    """The score table: function, result, relative error, note; then the total."""
    width = max([len("function")] + [len(r.name) for r in results])
    lines = ["%-*s  %-15s  %-10s  %s" % (width, "function", "result", "rel. error", "note")]
    for r in results:
        err = "-" if r.error is None else "%.2e" % r.error
        lines.append(("%-*s  %-15s  %-10s  %s" % (width, r.name, r.status, err, r.note)).rstrip())
    passed = sum(r.status == "pass" for r in results)
    lines.append("total: %d of %d passed (%.0f%%)" % (passed, len(results), score(results)))
    return "\n".join(lines)
