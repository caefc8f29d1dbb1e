"""Grading real submissions: `rnncap exercise check|grade|gradescope`.

Correct code in another style passes; a hostile submission gets the grade it earns and no more;
a whole class is graded in parallel; the Gradescope bundle works. As root (CI) the sandbox runs
the student's code as its own user; as an ordinary user it runs as that user; the assertions
that differ say so.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnncap.cli import main
from rnncap.teaching import grader, sandbox
from rnncap.teaching.submissions import SubmissionError, extract_zip, find_package

ROOT = Path(__file__).resolve().parents[1]
AS_ROOT = os.geteuid() == 0
STUB = re.compile(r'^(\s*)# TODO: .*\n\1raise NotImplementedError\("implement ([\w.]+)"\)\n', re.M)
BEGIN, END = "# BEGIN " + "SOLUTION", "# END " + "SOLUTION"  # split: this file has no regions
GRU_ROWS = {"gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
            "CaptioningRNN.loss[gru]", "CaptioningRNN.sample[gru]"}
ATTENTION_ROWS = {"dot_product_attention_forward", "dot_product_attention_backward",
                  "attention_step_forward", "attention_step_backward", "attention_forward",
                  "attention_backward", "CaptioningRNN.loss[attention]",
                  "CaptioningRNN.sample[attention]"}
# The Transformer's rows (a classic RNN solution leaves them as stubs)
TRANSFORMER_ROWS = {"relu_forward", "relu_backward", "gelu_forward", "gelu_backward",
                    "dropout_forward", "dropout_backward", "layernorm_forward",
                    "layernorm_backward", "multihead_attention_forward",
                    "multihead_attention_backward", "transformer_decoder_layer_forward",
                    "transformer_decoder_layer_backward", "CaptioningTransformer.loss[grid]",
                    "CaptioningTransformer.sample[vector]", "CaptioningTransformer.sample[grid]",
                    "erf", "positional_encoding"}


# ----------------------------------------------------------------------------- submissions

def solution(dest):
    """A submission holding the reference package (what a perfect student writes)."""
    shutil.copytree(ROOT / "rnncap", dest / "rnncap",
                    ignore=shutil.ignore_patterns("__pycache__", "kernels"))
    return dest


def stub_copy(student, dest):
    """A submission holding the untouched student package."""
    shutil.copytree(student / "rnncap", dest / "rnncap",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def append(path, code):
    with open(path, "a") as f:
        f.write("\n\n" + textwrap.dedent(code))


def shared_dir():
    """A directory the sandbox user can write into (tmp_path is private to the test's user)."""
    d = tempfile.mkdtemp(prefix="rnncap-test-")
    os.chmod(d, 0o777)
    return Path(d)


def with_functions(student, dest, functions):
    """A submission: the student package with the reference body pasted back into exactly the
    named functions (by the region's stub), everything else left a stub."""
    stub_copy(student, dest)
    for path in (ROOT / "rnncap").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if "kernels" in rel.parts or not (dest / rel).is_file():
            continue
        original = path.read_text().splitlines(keepends=True)
        bodies = []
        for i, line in enumerate(original):
            if line.strip() == BEGIN:
                j = next(k for k in range(i, len(original)) if original[k].strip() == END)
                bodies.append("".join(original[i + 1:j]))
        text = (dest / rel).read_text()
        pieces = STUB.split(text)  # text, indent, name, text, ...
        out = pieces[0]
        for k in range(len(bodies)):
            name = pieces[3 * k + 2]
            stub = '%s# TODO\n%sraise NotImplementedError("implement %s")\n' % (
                pieces[3 * k + 1], pieces[3 * k + 1], name)
            out += (bodies[k] if name in functions else stub) + pieces[3 * k + 3]
        (dest / rel).write_text(out)
    return dest


def rows_of(report):
    return {r.name: r for r in report.results}


# ----------------------------------------------------------------------------- right grades

CS231N_LAYERS = '''
# --- a classic solution, in its own style: its own cache layouts, no GRU ---
import numpy as np


def _sig(x):
    return 1 / (1 + np.exp(-x))


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    return dx, dw, np.sum(dout, axis=0)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)
    return next_h, (next_h, x, prev_h, Wx, Wh)


def rnn_step_backward(dnext_h, cache):
    next_h, x, prev_h, Wx, Wh = cache
    da = dnext_h * (1 - next_h ** 2)
    return da.dot(Wx.T), da.dot(Wh.T), x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, prev = np.zeros((N, T, h0.shape[1])), [], h0
    for t in range(T):
        prev, c = rnn_step_forward(x[:, t, :], prev, Wx, Wh, b)
        h[:, t, :] = prev
        caches.append(c)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][1].shape[1]
    dx, dprev = np.zeros((N, T, D)), np.zeros((N, H))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    for t in reversed(range(T)):
        dx[:, t, :], dprev, a, c, d = rnn_step_backward(dh[:, t, :] + dprev, cache[t])
        dWx, dWh, db = dWx + a, dWh + c, db + d
    return dx, dprev, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = {"x": x, "prev_h": prev_h, "prev_c": prev_c, "Wx": Wx, "Wh": Wh, "i": i, "f": f,
             "o": o, "g": g, "next_c": next_c}
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g = cache["i"], cache["f"], cache["o"], cache["g"]
    tc = np.tanh(cache["next_c"])
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * cache["prev_c"] * f * (1 - f),
                    dnext_h * tc * o * (1 - o), dc * i * (1 - g ** 2)])
    return (da.dot(cache["Wx"].T), da.dot(cache["Wh"].T), dc * f, cache["x"].T.dot(da),
            cache["prev_h"].T.dot(da), da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, prev_h, prev_c = np.zeros((N, T, h0.shape[1])), [], h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, c = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(c)
    return h, (caches, x.shape[2])


def lstm_backward(dh, cache):
    caches, D = cache
    N, T, H = dh.shape
    dx, dprev_h, dprev_c = np.zeros((N, T, D)), np.zeros((N, H)), np.zeros((N, H))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, a, c, d = lstm_step_backward(dh[:, t, :] + dprev_h,
                                                                    dprev_c, caches[t])
        dWx, dWh, db = dWx + a, dWh + c, db + d
    return dx, dprev_h, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x, :], (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    out = x.reshape(N * T, D).dot(w).reshape(N, T, b.shape[0]) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(N * T, M).dot(w.T).reshape(N, T, D)
    dw = dout.reshape(N * T, M).T.dot(x.reshape(N * T, D)).T
    return dx, dw, dout.sum(axis=(0, 1))


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    x_flat, y_flat, mask_flat = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    return loss, dx_flat.reshape(N, T, V)
'''

CS231N_MODEL = '''
# --- a classic solution: if/elif over the cells it knows (no GRU), sampling keeps writing ---
from .. import rnn_layers as _L


def _classic_loss(self, features, captions):
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != self._null
    p, grads = self.params, {}
    h0, cache_h0 = _L.affine_forward(features, p["W_proj"], p["b_proj"])
    x, cache_x = _L.word_embedding_forward(captions_in, p["W_embed"])
    if self.cell_type == "rnn":
        h, cache_cell = _L.rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    elif self.cell_type == "lstm":
        h, cache_cell = _L.lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    scores, cache_scores = _L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = _L.temporal_softmax_loss(scores, captions_out, mask)
    dh, grads["W_vocab"], grads["b_vocab"] = _L.temporal_affine_backward(dscores, cache_scores)
    backward = _L.rnn_backward if self.cell_type == "rnn" else _L.lstm_backward
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cache_cell)
    grads["W_embed"] = _L.word_embedding_backward(dx, cache_x)
    _, grads["W_proj"], grads["b_proj"] = _L.affine_backward(dh0, cache_h0)
    return loss, grads


def _classic_sample(self, features, max_length=30):
    p, N = self.params, features.shape[0]
    captions = self._null * np.ones((N, max_length), dtype=np.int32)
    h, _ = _L.affine_forward(features, p["W_proj"], p["b_proj"])
    c = np.zeros_like(h)
    word = self._start * np.ones(N, dtype=np.int32)
    for t in range(max_length):
        x = p["W_embed"][word]
        if self.cell_type == "rnn":
            h, _ = _L.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
        elif self.cell_type == "lstm":
            h, c, _ = _L.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
        else:
            raise ValueError('Invalid cell_type "%s"' % self.cell_type)
        scores, _ = _L.affine_forward(h, p["W_vocab"], p["b_vocab"])
        word = np.argmax(scores, axis=1)
        captions[:, t] = word  # also after <END>
    return captions


CaptioningRNN.loss = _classic_loss
CaptioningRNN.sample = _classic_sample
'''

CS231N_OPTIM = '''
# --- classic update rules: sgd updates w in place ---
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999),
                       ("epsilon", 1e-8), ("m", np.zeros_like(w)), ("v", np.zeros_like(w)),
                       ("t", 0)):
        config.setdefault(key, value)
    config["t"] += 1
    b1, b2, t = config["beta1"], config["beta2"], config["t"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw ** 2
    mt, vt = config["m"] / (1 - b1 ** t), config["v"] / (1 - b2 ** t)
    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"]), config
'''


def test_a_classic_solution_passes_every_row_but_the_gru_and_attention_it_lacks(student,
                                                                                tmp_path):
    sub = stub_copy(student, tmp_path / "classic")
    append(sub / "rnncap" / "rnn_layers.py", CS231N_LAYERS)
    append(sub / "rnncap" / "classifiers" / "rnn.py", CS231N_MODEL)
    append(sub / "rnncap" / "optim.py", "import numpy as np\n" + CS231N_OPTIM)
    # The inputs exercise what the solution does differently: some reference captions end
    # before the last word (the classic sampler keeps writing after <END>).
    end = grader.checks.WORDS["<END>"]
    for group in grader.build_groups(0):
        if group.name in ("CaptioningRNN.sample[rnn]", "CaptioningRNN.sample[lstm]"):
            words = group.rows[0].expects[0].value
            assert ((words[:, :-1] == end).any(axis=1)).any(), group.name

    report = grader.grade(sub)
    rows = rows_of(report)
    assert len(rows) == 54
    for name, r in rows.items():
        if name in TRANSFORMER_ROWS:
            assert r.status == "not implemented", name
        elif name in GRU_ROWS | ATTENTION_ROWS:
            assert r.status != "pass", name
        else:
            assert r.status == "pass", (name, r)
    assert rows["gru_step_backward"].status == "not implemented"
    assert rows["CaptioningRNN.loss[gru]"].note.startswith("UnboundLocalError")
    assert rows["CaptioningRNN.loss[lstm]"].status == "pass"


def test_a_backward_without_a_working_forward_says_so_and_a_stub_reads_not_implemented(
        student, tmp_path):
    sub = with_functions(student, tmp_path / "half", {"affine_backward", "rnn_step_forward"})
    append(sub / "rnncap" / "rnn_layers.py", """
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return np.tanh(x @ Wx + prev_h @ Wh + b)  # no cache
    """)
    rows = rows_of(grader.grade(sub))
    assert rows["affine_forward"].status == "not implemented"
    assert rows["affine_backward"].status == "FAIL"
    assert rows["affine_backward"].note.startswith("needs a working affine_forward "
                                                   "(NotImplementedError: implement affine_forward")
    assert rows["rnn_step_forward"].status == "FAIL"
    assert rows["rnn_step_forward"].note == "next_h is missing: rnn_step_forward returned ndarray"
    assert rows["rnn_step_backward"].status == "not implemented"
    assert rows["lstm_step_backward"].status == "not implemented"


# ----------------------------------------------------------------------------- comparisons

def test_an_output_with_nan_or_the_wrong_dtype_fails_and_is_named():
    want = np.arange(6.0).reshape(2, 3)
    assert grader.compare(want.copy(), want, "dx") == 0.0
    late_nan = want.copy()
    late_nan[1, 2] = np.nan  # not first: max() would skip it
    with pytest.raises(grader.Mismatch, match=r"^dx contains NaN \(1 of 6 entries\)$"):
        grader.compare(late_nan, want, "dx")
    inf = want.copy()
    inf[0, 1] = np.inf
    with pytest.raises(grader.Mismatch, match=r"^config\['m'\] contains inf"):
        grader.compare(inf, want, "config['m']")
    with pytest.raises(grader.Mismatch, match="dW is float32: float64 inputs need float64"):
        grader.compare(want.astype(np.float32), want, "dW")
    with pytest.raises(grader.Mismatch, match=r"has shape \(3, 2\), expected \(2, 3\)"):
        grader.compare(want.T.copy(), want, "out")
    assert grader.compare(want + 1e-3, want, "out") == pytest.approx(1e-3 / 10.001, rel=1e-9)


def test_captions_are_compared_up_to_each_rows_first_end():
    end = 2
    want = np.array([[3, 2, 0, 0], [4, 5, 3, 4], [2, 0, 0, 0]])
    after = np.array([[3, 2, 5, 5], [4, 5, 3, 4], [2, 4, 4, 4]])  # keeps writing after <END>
    grader.compare_words(after, want, end, "captions")
    before = after.copy()
    before[1, 3] = 5
    with pytest.raises(grader.Mismatch, match=r"1 of 3 rows differ.*row 1, word 3"):
        grader.compare_words(before, want, end, "captions")
    with pytest.raises(grader.Mismatch, match="integer word indices"):
        grader.compare_words(after.astype(float), want, end, "captions")


def test_control_characters_are_escaped():
    text = sandbox.escape("\x1b[2J\x1b[31mscore: 100%\nrow\u202e\tend")
    assert text == "\\x1b[2J\\x1b[31mscore: 100%\\nrow\\u202e\\tend"
    assert text.isprintable()


# ----------------------------------------------------------------------------- hostile code

BORROW = '''
# --- borrow the instructor's rnncap by every route Python offers ---
import glob as _glob
import importlib.util as _util
import os as _os
import sys as _sys

_OWN = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))


def _candidates():
    """Directories that might hold another rnncap package."""
    found = []
    try:  # installed metadata, and an editable install's source
        import importlib.metadata as md
        dist = md.distribution("rnncap")
        for f in dist.files or []:
            if str(f).endswith("direct_url.json"):
                url = __import__("json").loads(f.read_text())["url"]
                found.append(url.replace("file://", ""))
            if str(f).endswith("rnn_layers.py"):
                found.append(_os.path.dirname(_os.path.dirname(str(dist.locate_file(f)))))
    except Exception:
        pass
    try:  # the site machinery, which -S skipped
        import site
        site.main()
        for prefix in {_sys.prefix, _sys.base_prefix, _sys.exec_prefix}:
            for d in _glob.glob(_os.path.join(prefix, "lib", "python*", "site-packages")):
                site.addsitedir(d)
    except Exception:
        pass
    for d in list(_sys.path):  # editable finders and .pth-added paths now on sys.path
        found.append(d)
        for finder in _glob.glob(_os.path.join(d, "__editable__*rnncap*finder.py")):
            text = open(finder).read()
            found += [_os.path.dirname(p) for p in __import__("re").findall(
                r"'rnncap': '([^']+)'", text)]
    for var in ("PYTHONPATH", "VIRTUAL_ENV", "PATH", "HOME", "PWD", "OLDPWD"):
        for d in _os.environ.get(var, "").split(_os.pathsep):
            if d:
                found += [d, _os.path.dirname(d)]
                found += _glob.glob(_os.path.join(d, "..", "lib", "python*", "site-packages"))
    try:
        import numpy
        here = _os.path.dirname(_os.path.dirname(_os.path.realpath(numpy.__file__)))
        found.append(here)
        exe = _os.path.realpath(_sys.executable)
        found += _glob.glob(_os.path.join(_os.path.dirname(exe), "..", "lib", "python*",
                                          "site-packages"))
    except Exception:
        pass
    cwd = _os.getcwd()
    found += [cwd] + [str(p) for p in __import__("pathlib").Path(cwd).parents]
    found += [str(p) for p in __import__("pathlib").Path(_OWN).parents]
    return found


def _borrow():
    for d in _candidates():
        init = _os.path.join(d, "rnncap", "__init__.py")
        try:
            if _os.path.realpath(_os.path.join(d, "rnncap")) == _os.path.realpath(
                    _os.path.join(_OWN)) or not _os.path.isfile(init):
                continue
            spec = _util.spec_from_file_location(
                "borrowed", init, submodule_search_locations=[_os.path.join(d, "rnncap")])
            module = _util.module_from_spec(spec)
            _sys.modules["borrowed"] = module
            spec.loader.exec_module(module)
            import importlib
            return importlib.import_module("borrowed.rnn_layers"), d
        except Exception:
            continue
    return None, None


_OTHER, BORROWED_FROM = _borrow()
if _OTHER is not None:
    for _name in _OTHER.__all__:
        globals()[_name] = getattr(_OTHER, _name)
'''


def test_stubs_that_borrow_the_instructors_package_score_nothing(student, tmp_path):
    sub = stub_copy(student, tmp_path / "borrower")
    append(sub / "rnncap" / "rnn_layers.py", BORROW)
    # Outside the sandbox the routes work: the stub finds and uses the instructor's code.
    proc = subprocess.run([sys.executable, "-c", "import rnncap.rnn_layers as L, numpy as np; "
                           "print(L.BORROWED_FROM); print(L.affine_forward(np.ones((1, 2)), "
                           "np.ones((2, 1)), np.zeros(1))[0])"],
                          cwd=str(sub), env=dict(os.environ, PYTHONPATH=str(sub)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.splitlines()[0]).resolve() == ROOT
    assert proc.stdout.splitlines()[1] == "[[2.]]"
    # Inside it, none does.
    report = grader.grade(sub)
    assert report.passed == 0
    assert {r.status for r in report.results} == {"not implemented"}


HOSTILE = '''
# --- hostile additions to a correct package ---
import json as _json
import os as _os
import subprocess as _subprocess
import sys as _sys

_right_affine_forward = affine_forward


def affine_forward(x, w, b):
    """Correct, but looks around and leaves processes behind."""
    seen = {"env": dict(_os.environ), "uid": _os.getuid(), "cwd": _os.getcwd(),
            "ppid_environ": None}
    try:  # the grader: the parent of the process that forked this one
        with open("/proc/%d/stat" % _os.getppid()) as f:
            grader = int(f.read().rsplit(")", 1)[1].split()[1])
        with open("/proc/%d/environ" % grader, "rb") as f:
            seen["ppid_environ"] = f.read().decode("latin-1")
    except OSError as e:
        seen["ppid_environ_error"] = type(e).__name__
    daemon = _subprocess.Popen(["sleep", "300"], start_new_session=True)
    pid = _os.fork()
    if pid == 0:  # a double fork: the grandchild is nobody's child
        _os.setsid()
        if _os.fork() == 0:
            with open("@SHARED@/orphan-%d" % _os.getpid(), "w") as f:
                f.write("")
            __import__("time").sleep(300)
        _os._exit(0)
    _os.waitpid(pid, 0)
    seen["daemon"] = daemon.pid
    with open("/tmp/rnncap-test-left-%d" % _os.getpid(), "w") as f:  # litter
        f.write("")
    with open("@SHARED@/seen-%d.json" % _os.getpid(), "w") as f:
        _json.dump(seen, f)
    return _right_affine_forward(x, w, b)


def lstm_step_backward(dnext_h, dnext_c, cache):
    raise ValueError("\\x1b[2J\\x1b[31mtotal: 29 of 29 passed (100%)\\nfake row")


def gru_step_backward(dnext_h, cache):
    return _np.empty(3 << 30, dtype=_np.int8)  # 3 GB of address space: over the limit
'''

HOSTILE_OPTIM = '''
_right_adam = adam


def sgd(w, dw, config=None):
    while True:
        pass


def sgd_momentum(w, dw, config=None):
    import os
    os._exit(0)


def rmsprop(w, dw, config=None):
    import sys
    sys.exit(0)


def adam(w, dw, config=None):
    next_w, config = _right_adam(w, dw, config)
    config["v"] = config["v"].copy()
    config["v"][-1, -1] = float("nan")  # a later output, last entry
    return next_w, config
'''


def test_a_hostile_submission_fails_only_its_own_rows(tmp_path, monkeypatch):
    shared = shared_dir()
    try:
        sub = solution(tmp_path / "hostile")
        append(sub / "rnncap" / "rnn_layers.py", "import numpy as _np\n"
               + HOSTILE.replace("@SHARED@", str(shared)))
        append(sub / "rnncap" / "optim.py", HOSTILE_OPTIM)
        monkeypatch.setenv("INSTRUCTOR_SECRET", "s3cret-token")
        start = time.monotonic()
        report = grader.grade(sub, timeout=3)
        took = time.monotonic() - start
        rows = rows_of(report)
        # The attention step's backward is lstm_step_backward on [x, attn], so it fails too.
        failing = {"sgd", "sgd_momentum", "rmsprop", "adam", "lstm_step_backward",
                   "lstm_backward", "CaptioningRNN.loss[lstm]", "gru_step_backward",
                   "gru_backward", "CaptioningRNN.loss[gru]", "attention_step_backward",
                   "attention_backward", "CaptioningRNN.loss[attention]"}
        assert {n for n, r in rows.items() if r.status != "pass"} == failing
        assert rows["sgd"].note.startswith("timed out after 3 s")
        assert rows["sgd_momentum"].note.startswith("the process exited with status 0")
        assert rows["rmsprop"].note.startswith("SystemExit: 0")
        assert rows["adam"].note == "config['v'] contains NaN (1 of 12 entries)"
        assert "MemoryError" in rows["gru_step_backward"].note
        note = rows["lstm_step_backward"].note
        assert note.startswith("ValueError: \\x1b[2J\\x1b[31mtotal: 29 of 29") and "\n" not in note
        table = grader.format_table(report)
        assert "\x1b" not in table and len(table.splitlines()) == len(rows) + 2
        assert took < sandbox.bound(len(grader.build_groups(0)), 3)

        # what it saw: no instructor variables, its own HOME and working directory
        seen = [json.loads(p.read_text()) for p in shared.glob("seen-*.json")]
        assert len(seen) >= 7  # the affine group, three model losses, three samples
        for s in seen:
            assert "INSTRUCTOR_SECRET" not in s["env"] and "VIRTUAL_ENV" not in s["env"]
            assert set(s["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL",
                                     "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS"}
            assert s["env"]["HOME"] != os.environ.get("HOME")
            assert s["cwd"] == s["env"]["HOME"] and "rnncap-grade-" in s["cwd"]
            if AS_ROOT:
                assert s["uid"] in sandbox.SANDBOX_UIDS
                assert s["ppid_environ"] is None  # the grader's environment is unreadable
            else:
                assert s["uid"] == os.getuid()
        # and nothing it started is still running
        pids = [s["daemon"] for s in seen] + [int(p.name.split("-")[1])
                                              for p in shared.glob("orphan-*")]
        assert len(pids) >= 14
        alive = [pid for pid in pids if sandbox._stat(pid) is not None]
        assert alive == []
        litter = list(Path("/tmp").glob("rnncap-test-left-*"))
        assert len(litter) == (0 if AS_ROOT else len(seen))  # as root, its files go too
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        for p in Path("/tmp").glob("rnncap-test-left-*"):
            p.unlink()


TAMPER = '''
def affine_forward(x, w, b):
    import os
    for rel in ("teaching/grader.py", "checks.py"):
        try:
            with open(os.path.join("@REF@", "rnncap", rel), "a") as f:
                f.write("\\nGRADE = 100  # overwritten\\n")
        except OSError:
            pass
    try:
        with open(os.path.join("@REF@", "rnncap", "teaching", "evil.py"), "w") as f:
            f.write("x = 1\\n")
    except OSError:
        pass
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)
'''


def test_a_submission_cannot_change_the_grader(student, tmp_path):
    # The instructor's rnncap, installed in its own directory (readable, as a package is).
    ref = Path(tempfile.mkdtemp(prefix="rnncap-ref-"))
    try:
        os.chmod(ref, 0o755)
        shutil.copytree(ROOT / "rnncap", ref / "rnncap",
                        ignore=shutil.ignore_patterns("__pycache__"))
        before = {p: p.read_bytes() for p in (ref / "rnncap").rglob("*.py")}
        sub = stub_copy(student, tmp_path / "tamper")
        append(sub / "rnncap" / "rnn_layers.py", TAMPER.replace("@REF@", str(ref)))
        env = dict(os.environ, PYTHONPATH=str(ref))
        proc = subprocess.run([sys.executable, "-m", "rnncap", "exercise", "check", str(sub)],
                              cwd=str(ref), env=env, capture_output=True, text=True, timeout=600)
        after = {p: p.read_bytes() for p in (ref / "rnncap").rglob("*.py")}
        assert after == before  # intact either way
        if AS_ROOT:  # it could not write
            assert proc.returncode == 1, proc.stderr
            assert re.search(r"^affine_forward\s+pass", proc.stdout, re.M)
        else:  # it wrote; the grader noticed, put the files back and reports no grade
            assert proc.returncode == 2
            assert "total:" not in proc.stdout
            assert "changed while" in proc.stderr and "teaching/grader.py" in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1
    finally:
        shutil.rmtree(ref, ignore_errors=True)


def test_changed_grader_files_are_found_and_put_back(tmp_path):
    pkg = tmp_path / "rnncap"
    (pkg / "teaching").mkdir(parents=True)
    files = {"__init__.py": b"", "checks.py": b"A = 1\n", "teaching/grader.py": b"G = 2\n",
             "teaching/runner.py": b"R = 3\n"}
    for rel, data in files.items():
        (pkg / rel).write_bytes(data)
    snap = grader.snapshot(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "checks.cpython-311.pyc").write_bytes(b"cache")  # not a change
    assert grader.verify(pkg, snap) == []
    (pkg / "checks.py").write_bytes(b"A = 100\n")
    (pkg / "teaching" / "evil.py").write_bytes(b"x = 1\n")
    (pkg / "teaching" / "grader.py").unlink()
    (pkg / "teaching" / "runner.py").unlink()
    (pkg / "teaching" / "runner.py").mkdir()
    (pkg / "__init__.py").unlink()
    (pkg / "__init__.py").symlink_to(tmp_path / "elsewhere.py")
    changed = grader.verify(pkg, snap)
    assert changed == ["__init__.py", "checks.py", "teaching/evil.py", "teaching/grader.py",
                       "teaching/runner.py"]
    assert grader.snapshot(pkg) == snap and not (pkg / "__init__.py").is_symlink()
    assert not (pkg / "__pycache__").exists()  # caches written meanwhile are dropped


# ----------------------------------------------------------------------------- the command line

@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeout_must_be_a_positive_finite_number(value, capsys):
    with pytest.raises(SystemExit) as e:
        main(["exercise", "check", ".", "--timeout", value])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--timeout: expected a finite number > 0, got" in err and value in err


def zip_of(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            if isinstance(data, zipfile.ZipInfo):
                z.writestr(data, "target")
            else:
                z.writestr(name, data)
    return path


def test_zips_are_unpacked_safely(tmp_path, monkeypatch):
    good = zip_of(tmp_path / "good.zip", [("alice/rnncap/__init__.py", ""),
                                          ("alice/.venv/bin/python", "x"),
                                          ("__MACOSX/alice/._x", "x"),
                                          ("alice/notes.txt", "hi")])
    out = extract_zip(good, tmp_path / "good")
    assert find_package(out) == out / "alice" / "rnncap"
    assert not (out / "alice" / ".venv").exists() and not (out / "__MACOSX").exists()
    link = zipfile.ZipInfo("alice/rnncap/link.py")
    link.external_attr = (0o120777 << 16)
    for name, members, message in [
            ("up", [("../evil.py", "x")], "outside the archive"),
            ("abs", [("/etc/evil.py", "x")], "outside the archive"),
            ("link", [("alice/rnncap/link.py", link)], "is a link")]:
        bad = zip_of(tmp_path / (name + ".zip"), members)
        with pytest.raises(SubmissionError, match=message):
            extract_zip(bad, tmp_path / name)
    assert not (tmp_path / "evil.py").exists()
    monkeypatch.setattr("rnncap.teaching.submissions.MAX_ZIP_BYTES", 1000)
    big = zip_of(tmp_path / "big.zip", [("rnncap/__init__.py", "#" * 2000)])
    with pytest.raises(SubmissionError, match="more than 0 MB"):
        extract_zip(big, tmp_path / "big")
    with pytest.raises(SubmissionError, match="several rnncap packages"):
        two = tmp_path / "two"
        for d in ("a", "b"):
            (two / d / "rnncap").mkdir(parents=True)
            (two / d / "rnncap" / "__init__.py").write_text("")
        find_package(two)


# ----------------------------------------------------------------------------- a class at once

# Units a generated submission implements whole, and the rows each makes pass (the model's
# methods stay stubs, so no model row passes).
UNITS = {
    "affine": (["affine_forward", "affine_backward"], 2),
    "rnn": (["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"], 4),
    "lstm": (["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"], 4),
    "gru": (["gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward"], 4),
    "word_embedding": (["word_embedding_forward", "word_embedding_backward"], 2),
    "temporal_affine": (["temporal_affine_forward", "temporal_affine_backward"], 2),
    "temporal_softmax_loss": (["temporal_softmax_loss"], 1),
    "sgd": (["sgd"], 1), "sgd_momentum": (["sgd_momentum"], 1), "rmsprop": (["rmsprop"], 1),
    "adam": (["adam"], 1),
}


def test_a_class_is_graded_in_parallel_and_agrees_with_check(student, tmp_path, capsys):
    rng = np.random.default_rng(7)
    paths, expected = [], {}
    for k in range(20):
        units = [u for u in UNITS if rng.random() < 0.5]
        functions = {f for u in units for f in UNITS[u][0]}
        sub = with_functions(student, tmp_path / "class" / ("s%02d" % k), functions)
        name = "s%02d" % k
        if k % 7 == 3:  # some hand in a zip of their directory
            shutil.make_archive(str(tmp_path / "class" / name), "zip",
                                root_dir=str(tmp_path / "class"), base_dir=name)
            shutil.rmtree(sub)
            sub = tmp_path / "class" / (name + ".zip")
        paths.append(str(sub))
        expected[name] = sum(UNITS[u][1] for u in units)
    empty = tmp_path / "class" / "empty"
    empty.mkdir()
    paths.append(str(empty))
    out = tmp_path / "grades.csv"
    code = main(["exercise", "grade", *paths, "--out", str(out), "--jobs", "2"])
    captured = capsys.readouterr()
    assert code == 1  # one submission could not be graded
    assert "warning: empty was not graded: " in captured.err
    assert "100%" in captured.err  # the progress bar finished
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert [row["submission"] for row in table] == list(expected) + ["empty"]
    assert list(table[0]) == ["submission"] + [r.name for g in grader.build_groups(0)
                                               for r in g.rows] + ["total", "error"]
    for row in table[:-1]:
        assert int(row["total"]) == expected[row["submission"]], row["submission"]
        assert sum(int(v) for k, v in row.items() if k not in ("submission", "total", "error")) \
            == int(row["total"])
        assert row["error"] == ""
    assert table[-1]["total"] == "0" and "no rnncap package" in table[-1]["error"]
    # `check` gives the same results, to the JSON, for a directory and for a zip
    for name in ("s00", "s03"):
        path = next(p for p in paths if Path(p).name.startswith(name))
        mine = tmp_path / (name + ".json")
        main(["exercise", "check", path, "--json", str(mine)])
        assert json.loads(mine.read_text()) == json.loads(
            (tmp_path / "grades" / (name + ".json")).read_text())
        assert json.loads(mine.read_text())["score"] == expected[name]


# ----------------------------------------------------------------------------- Gradescope

def valid_results(data):
    """Gradescope's results.json: a numeric score and tests with the documented fields."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["tests"], list) and data["tests"]
    for test in data["tests"]:
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and test["max_score"] == 1
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
    assert data["score"] == sum(t["score"] for t in data["tests"])


def test_the_gradescope_bundle_grades_the_solution_and_the_stub_copy(student, tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["exercise", "gradescope", str(bundle), "--timeout", "20"]) == 0
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(tmp_path / "unpacked")
    assert {"setup.sh", "run_autograder", "rnncap-src/pyproject.toml",
            "rnncap-src/rnncap/rnn_layers.py"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    setup = (tmp_path / "unpacked" / "setup.sh").read_text()
    assert 'chmod -R go-rwx "$PREFIX"' in setup and 'pip" install' in setup
    assert subprocess.run(["bash", "-n", str(tmp_path / "unpacked" / "setup.sh")]).returncode == 0
    scores = {}
    for kind in ("solution", "stub"):
        autograder = tmp_path / kind
        shutil.copytree(tmp_path / "unpacked", autograder / "source")
        if kind == "solution":
            solution(autograder / "submission")
        else:
            stub_copy(student, autograder / "submission")
        run = autograder / "source" / "run_autograder"
        os.chmod(run, 0o755)
        env = dict(os.environ, AUTOGRADER_ROOT=str(autograder), RNNCAP_PYTHON=sys.executable)
        proc = subprocess.run([str(run)], env=env, capture_output=True, text=True, timeout=600)
        data = json.loads((autograder / "results" / "results.json").read_text())
        valid_results(data)
        scores[kind] = (data["score"], len(data["tests"]), proc.stdout)
    assert scores["solution"][:2] == (54, 54), scores["solution"][2]
    assert scores["stub"][:2] == (0, 54)
