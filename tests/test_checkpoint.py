"""Checkpoints that a crash, a kill or a damaged file leave behind: the whole JSON document is
checked on load (naming the field), only the arrays the format names are read (each checked
against the model config from its header first), killed saves' temporary files are cleaned up,
best.npz is repaired from last.npz after a crash between the two, and files get the umask's
mode."""
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from rnncap import CaptioningSolver, captioning_solver
from rnncap.checkpoint import load_checkpoint, load_model, save_checkpoint, save_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_solver import make_model, tiny_data, train_solver  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(path, solver): a solver checkpoint after 2 epochs of adam."""
    solver = train_solver(2)
    path = solver.save(str(tmp_path_factory.mktemp("ckpt") / "ckpt.npz"))
    return path, solver


def _arrays_and_meta(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(str(arrays.pop("__meta__")[()]))


def _rewrite(src, dst, change_meta=None, change_arrays=None):
    arrays, meta = _arrays_and_meta(src)
    if change_meta:
        change_meta(meta)
    if change_arrays:
        change_arrays(arrays)
    np.savez(dst, __meta__=np.array(json.dumps(meta)), **arrays)
    return str(dst)


def _delete(*keys):
    def change(d):
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return change


def _set(value, *keys):
    def change(d):
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return change


# Each damage, the field its error must name. Before, these gave KeyError, IndexError,
# TypeError or ufunc tracebacks (or trained on silently).
DAMAGED_DOCUMENTS = [
    (_delete("model", "dtype"), "model.dtype"),
    (_delete("model", "word_to_idx"), "model.word_to_idx"),
    (_set("gru", "model", "cell_type"), "params/Wx"),
    (_set("float3", "model", "dtype"), "model.dtype"),
    (_set({"a": 0, "b": 0}, "model", "word_to_idx"), "model.word_to_idx"),
    (_delete("state", "global_rng"), "state.global_rng"),
    (_set("x", "state", "global_rng", "pos"), "state.global_rng.pos"),
    (_set(700, "state", "global_rng", "pos"), "state.global_rng.pos"),
    (_set("PCG64", "state", "global_rng", "name"), "state.global_rng.name"),
    (_delete("state", "optim_scalars"), "state.optim_scalars"),
    (_delete("state", "optim_scalars", "W_embed"), "state.optim_scalars.W_embed"),
    (_set("0.01", "state", "optim_scalars", "Wx", "learning_rate"),
     "state.optim_scalars.Wx.learning_rate"),
    (_set("3", "state", "optim_scalars", "Wx", "t"), "state.optim_scalars.Wx.t"),
    (_set("2", "state", "epoch"), "state.epoch"),
    (_set(-1, "state", "iteration"), "state.iteration"),
    (_set([1.0, "x"], "state", "loss_history"), "state.loss_history[1]"),
    (_set(9, "state", "best_epoch"), "state.best_epoch"),
    (_set("0.9", "solver", "lr_decay"), "solver.lr_decay"),
    (_set(0, "solver", "batch_size"), "solver.batch_size"),
    (_set(1, "solver", "bogus_option"), "solver.bogus_option"),
    (_set("yes", "solver", "verbose"), "solver.verbose"),
]


@pytest.mark.parametrize("damage, field", DAMAGED_DOCUMENTS,
                         ids=[f for _, f in DAMAGED_DOCUMENTS])
def test_damaged_document_names_the_field(trained, tmp_path, damage, field):
    path = _rewrite(trained[0], tmp_path / "bad.npz", change_meta=damage)
    for load in (load_checkpoint, load_model,
                 lambda p: CaptioningSolver.from_checkpoint(p, tiny_data())):
        with pytest.raises(ValueError) as e:
            load(path)
        assert field in str(e.value) and path in str(e.value), str(e.value)


DAMAGED_ARRAYS = [
    ("rng/keys", lambda a: a.pop("rng/keys"), "rng/keys"),
    ("rng/keys shape", lambda a: a.update({"rng/keys": a["rng/keys"][:10]}), "rng/keys"),
    ("optimizer m", lambda a: a.pop("optim/Wh/m"), "optim/Wh/m"),
    ("optimizer v shape", lambda a: a.update({"optim/b/v": np.zeros(3, np.float32)}),
     "optim/b/v"),
    ("best params", lambda a: a.pop("best/b_vocab"), "best/b_vocab"),
    ("param dtype", lambda a: a.update({"params/b": a["params/b"].astype(np.float64)}),
     "params/b"),
    ("param shape", lambda a: a.update({"params/Wh": a["params/Wh"][:, :4]}), "params/Wh"),
    ("param missing", lambda a: a.pop("params/W_vocab"), "params/W_vocab"),
]


@pytest.mark.parametrize("what, damage, name", DAMAGED_ARRAYS, ids=[w for w, _, _ in DAMAGED_ARRAYS])
def test_damaged_arrays_are_named(trained, tmp_path, what, damage, name):
    path = _rewrite(trained[0], tmp_path / "bad.npz", change_arrays=damage)
    with pytest.raises(ValueError) as e:
        CaptioningSolver(make_model(cell="lstm"), tiny_data(), update_rule="adam").load(path)
    assert name in str(e.value) and path in str(e.value), str(e.value)


def _add_member(path, name, shape, dtype="<f8", data=b""):
    """Append an .npy member whose header declares shape; only `data` bytes follow it."""
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(name + ".npy", header.getvalue() + data)


def test_unnamed_arrays_are_never_read(trained, tmp_path):
    # An 800 MB array (declared) rides along; its data is cut off, so reading it would fail.
    path = _rewrite(trained[0], tmp_path / "extra.npz")
    _add_member(path, "extra", (100_000_000,), data=b"\0" * 64)
    arrays, _ = load_checkpoint(path)
    assert "extra" not in arrays
    model = load_model(path)
    np.testing.assert_array_equal(model.params["Wh"], trained[1].model.params["Wh"])


def test_oversized_named_array_is_refused_before_reading(trained, tmp_path):
    def drop(a):
        del a["params/W_embed"]
    path = _rewrite(trained[0], tmp_path / "big.npz", change_arrays=drop)
    _add_member(path, "params/W_embed", (8, 10 ** 8), dtype="<f4", data=b"\0" * 64)
    with pytest.raises(ValueError, match=r"'params/W_embed' has shape \(8, 100000000\)") as e:
        load_model(path)
    assert path in str(e.value)


def test_huge_meta_document_is_refused(tmp_path):
    path = str(tmp_path / "meta.npz")
    np.savez(path, a=np.zeros(2))
    with zipfile.ZipFile(path, "w") as z:
        pass
    _add_member(path, "__meta__", (), dtype="<U100000000", data=b"{}")
    with pytest.raises(ValueError, match="no valid __meta__"):
        load_checkpoint(path)


# ----------------------------------------------------------------------------- temporary files

def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_killed_saves_leave_no_temporary_files_behind(tmp_path):
    stale = [".last.npz.%d.k2j3h4g5.tmp" % _dead_pid(), ".best.npz.%d.a1b2c3d4.tmp" % _dead_pid(),
             ".last.npz.zx81qwer.tmp"]  # the last: the older name, without a process id
    kept = [".last.npz.%d.live0001.tmp" % os.getppid(),  # a live process may still be saving
            ".best.npz.fresh123.tmp", "notes.tmp", ".hidden"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x" * 100)
    old = time.time() - 2 * 3600
    os.utime(str(tmp_path / ".last.npz.zx81qwer.tmp"), (old, old))
    save_checkpoint(str(tmp_path / "last.npz"), {"a": np.zeros(2)}, {})
    assert sorted(os.listdir(str(tmp_path))) == sorted(kept + ["last.npz"])


def test_resume_cleans_the_checkpoint_directory(tmp_path):
    solver = train_solver(1, checkpoint_dir=str(tmp_path))
    name = ".last.npz.%d.k2j3h4g5.tmp" % _dead_pid()
    (tmp_path / name).write_bytes(b"x")
    CaptioningSolver.from_checkpoint(str(tmp_path / "last.npz"), tiny_data())
    assert name not in os.listdir(str(tmp_path))
    assert solver.epoch == 1


def test_checkpoints_get_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = save_model(str(tmp_path / "m.npz"), make_model())
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o640


# ----------------------------------------------------------------------------- best.npz

def _scores():
    """metrics_fn whose score rises every epoch, so every epoch is the best so far."""
    calls = []

    def metrics(model):
        calls.append(1)
        return {"score": float(len(calls))}
    return metrics


def _crash_on_best_save(monkeypatch, nth):
    """Make the nth save of a best.npz die like a killed process (after last.npz was saved)."""
    real = captioning_solver.save_checkpoint
    count = []

    def save(path, arrays, meta):
        if os.path.basename(path) == "best.npz":
            count.append(1)
            if len(count) == nth:
                raise KeyboardInterrupt("killed")
        return real(path, arrays, meta)
    monkeypatch.setattr(captioning_solver, "save_checkpoint", save)


@pytest.mark.parametrize("how", ["stale", "missing"])
def test_resume_repairs_best_after_a_crash(tmp_path, monkeypatch, how):
    out = str(tmp_path / "run")
    _crash_on_best_save(monkeypatch, nth=2)
    with pytest.raises(KeyboardInterrupt):
        train_solver(3, checkpoint_dir=out, metrics_fn=_scores(), best_metric="score")
    monkeypatch.undo()
    if how == "missing":
        os.remove(os.path.join(out, "best.npz"))
    _, last = load_checkpoint(os.path.join(out, "last.npz"))
    assert last["state"]["best_epoch"] == 2
    resumed = CaptioningSolver.from_checkpoint(os.path.join(out, "last.npz"), tiny_data(),
                                               metrics_fn=_scores())
    best = os.path.join(out, "best.npz")
    assert resumed.repaired_best == best
    arrays, meta = load_checkpoint(best)
    assert meta["best_copy"]["epoch"] == 2
    for p, w in resumed.best_params.items():
        np.testing.assert_array_equal(arrays["params/" + p], w)
    # A consistent pair is left alone.
    again = CaptioningSolver.from_checkpoint(os.path.join(out, "last.npz"), tiny_data(),
                                             metrics_fn=_scores())
    assert again.repaired_best is None
    with pytest.raises(ValueError, match="without training state"):
        CaptioningSolver(make_model(cell="lstm"), tiny_data()).load(best)
