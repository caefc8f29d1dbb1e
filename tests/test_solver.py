"""CaptioningSolver on a tiny hand-built dataset: the classic loop (iterations, printing, lr
decay, the global-RNG protocol), validation and best parameters, checkpoints and resuming,
gradient clipping and non-finite losses."""
import os
import re

import numpy as np
import pytest

from rnncap import CaptioningRNN, CaptioningSolver, optim
from rnncap.captioning_solver import NonFiniteLossError
from rnncap.checkpoint import load_checkpoint, load_model, save_model

VOCAB = ["<NULL>", "<START>", "<END>", "w3", "w4", "w5", "w6", "w7"]
WORD_TO_IDX = {w: i for i, w in enumerate(VOCAB)}
D, T = 6, 6


def tiny_data(num_images=12, num_val_images=4, captions_per_image=3, seed=0):
    """A dataset in the load_coco_data layout: random captions of 1..T-1 words per image."""
    rng = np.random.default_rng(seed)
    data = {"word_to_idx": WORD_TO_IDX, "idx_to_word": list(VOCAB)}
    for split, n_img in (("train", num_images), ("val", num_val_images)):
        n = n_img * captions_per_image
        captions = np.zeros((n, T + 1), dtype=np.int32)
        captions[:, 0] = 1
        for i, length in enumerate(rng.integers(1, T, size=n)):
            captions[i, 1:length + 1] = rng.integers(3, len(VOCAB), size=length)
            captions[i, length + 1] = 2
        data[split + "_captions"] = captions
        data[split + "_image_idxs"] = np.repeat(np.arange(n_img), captions_per_image)
        data[split + "_features"] = rng.normal(size=(n_img, D)).astype(np.float32)
        data[split + "_urls"] = np.array(["%s%d.png" % (split, i) for i in range(n_img)])
    return data


def make_model(cell="rnn", seed=231, hidden_dim=8):
    np.random.seed(seed)
    return CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=5, hidden_dim=hidden_dim,
                         cell_type=cell)


def recording_rule(log):
    """An sgd update rule that logs (learning_rate, dw) of every call."""
    def rule(w, dw, config=None):
        config = {} if config is None else config
        log.append((config.get("learning_rate", 1e-2), dw.copy()))
        return optim.sgd(w, dw, config)
    return rule


def same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# ----------------------------------------------------------------------------- the classic loop

def test_iterations_and_print_format(capsys):
    data = tiny_data()   # 36 train captions, batch 10 -> 3 iterations per epoch
    solver = CaptioningSolver(make_model(), data, update_rule="adam", num_epochs=4,
                              batch_size=10, print_every=5, optim_config={"learning_rate": 1e-2})
    solver.train()
    assert len(solver.loss_history) == 12 and solver.epoch == 4
    expected = ["(Iteration %d / 12) loss: %f" % (t + 1, solver.loss_history[t])
                for t in (0, 5, 10)]
    assert capsys.readouterr().out.splitlines() == expected
    assert re.fullmatch(r"\(Iteration 1 / 12\) loss: \d+\.\d{6}", expected[0])


def test_iterations_per_epoch_is_at_least_one(capsys):
    solver = CaptioningSolver(make_model(), tiny_data(), batch_size=1000, num_epochs=3,
                              verbose=False)
    solver.train()
    assert len(solver.loss_history) == 3
    assert capsys.readouterr().out == ""


def test_learning_rate_decays_once_per_epoch_and_configs_are_per_parameter():
    log = []
    config = {"learning_rate": 0.5}
    model = make_model()
    solver = CaptioningSolver(model, tiny_data(), update_rule=recording_rule(log),
                              optim_config=config, lr_decay=0.9, num_epochs=3, batch_size=10,
                              verbose=False)
    solver.train()
    per_iteration = [lr for lr, _ in log[::len(model.params)]]
    assert per_iteration == [0.5] * 3 + [0.5 * 0.9] * 3 + [0.5 * 0.9 * 0.9] * 3
    assert all(c["learning_rate"] == 0.5 * 0.9 * 0.9 * 0.9 for c in solver.optim_configs.values())
    assert config == {"learning_rate": 0.5}   # the caller's dict is untouched
    ids = {id(c) for c in solver.optim_configs.values()}
    assert len(ids) == len(model.params)

    solver = CaptioningSolver(make_model(), tiny_data(), update_rule="adam", num_epochs=1,
                              batch_size=10, verbose=False)
    solver.train()
    for p, w in solver.model.params.items():
        assert solver.optim_configs[p]["m"].shape == w.shape
        assert solver.optim_configs[p]["t"] == 3
        assert w.dtype == np.float32


def test_options_are_checked():
    model, data = make_model(), tiny_data()
    with pytest.raises(ValueError, match='Unrecognized arguments "learning_rate"'):
        CaptioningSolver(model, data, learning_rate=1e-3)
    with pytest.raises(ValueError, match='Invalid update_rule "adamw"'):
        CaptioningSolver(model, data, update_rule="adamw")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        CaptioningSolver(model, data, batch_size=0)
    with pytest.raises(ValueError, match="lr_decay must be a positive number"):
        CaptioningSolver(model, data, lr_decay=-1)
    with pytest.raises(ValueError, match="clip_norm must be None or a positive number"):
        CaptioningSolver(model, data, clip_norm=0)
    with pytest.raises(ValueError, match="best_metric 'bleu' needs a metrics_fn"):
        CaptioningSolver(model, data, best_metric="bleu")
    with pytest.raises(ValueError, match="needs data\\['val_captions'\\]"):
        CaptioningSolver(model, {"train_captions": data["train_captions"]}, num_val=5)


# ----------------------------------------------------------------------------- RNG protocol

def record_global_draws(monkeypatch):
    """Wrap every function of the global np.random that draws; return the list of calls."""
    calls = []
    global_rng = np.random.mtrand._rand
    for name in dir(np.random):
        attr = getattr(np.random, name)
        if getattr(attr, "__self__", None) is global_rng and name not in (
                "seed", "get_state", "set_state", "get_bit_generator", "set_bit_generator"):
            def wrapper(*args, _name=name, _f=attr, **kwargs):
                calls.append((_name, args, kwargs))
                return _f(*args, **kwargs)
            monkeypatch.setattr(np.random, name, wrapper)
    return calls


@pytest.mark.parametrize("cell,k", [("rnn", 1), ("lstm", 4)])
def test_global_draws_are_exactly_the_classic_ones(monkeypatch, cell, k):
    data = tiny_data()
    calls = record_global_draws(monkeypatch)
    np.random.seed(231)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=5, hidden_dim=8, cell_type=cell)
    solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=2, batch_size=10,
                              verbose=False, optim_config={"learning_rate": 5e-3})
    solver.train()
    V, W, H = len(VOCAB), 5, 8
    assert calls == [("randn", (V, W), {}), ("randn", (D, H), {}), ("randn", (W, k * H), {}),
                     ("randn", (H, k * H), {}), ("randn", (H, V), {})] \
        + [("choice", (36, 10), {})] * 6


def test_replay_with_the_same_seed():
    """The classic protocol written out by hand gives the solver's run bit for bit."""
    data = tiny_data()
    np.random.seed(231)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=5, hidden_dim=8, cell_type="lstm")
    solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=3, batch_size=10,
                              lr_decay=0.95, optim_config={"learning_rate": 5e-3}, verbose=False)
    solver.train()
    state_after = np.random.get_state()

    np.random.seed(231)
    ref = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=5, hidden_dim=8, cell_type="lstm")
    configs = {p: {"learning_rate": 5e-3} for p in ref.params}
    losses = []
    for t in range(9):
        mask = np.random.choice(36, 10)
        captions = data["train_captions"][mask]
        features = data["train_features"][data["train_image_idxs"][mask]]
        loss, grads = ref.loss(features, captions)
        losses.append(loss)
        for p in ref.params:
            ref.params[p], configs[p] = optim.adam(ref.params[p], grads[p], configs[p])
        if (t + 1) % 3 == 0:
            for c in configs.values():
                c["learning_rate"] *= 0.95
    assert solver.loss_history == losses
    for p in ref.params:
        np.testing.assert_array_equal(solver.model.params[p], ref.params[p])
    assert same_state(state_after, np.random.get_state())


def test_validation_uses_a_private_generator():
    data = tiny_data()
    runs = []
    for options in ({}, {"num_val": 100, "metrics_fn": lambda m: {"x": 1.0}, "seed": 7}):
        solver = CaptioningSolver(make_model(), data, update_rule="adam", num_epochs=2,
                                  batch_size=10, verbose=False, restore_best=False, **options)
        solver.train()
        runs.append((solver, np.random.get_state()))
    (plain, state_plain), (validated, state_validated) = runs
    assert same_state(state_plain, state_validated)
    assert plain.loss_history == validated.loss_history
    # num_val exceeds the 12 val captions, so the sample is all of them: an independent loss
    val_features = data["val_features"][data["val_image_idxs"]]
    expected, _ = validated.model.loss(val_features, data["val_captions"])
    assert len(validated.val_loss_history) == 2
    assert abs(validated.val_loss_history[-1] - expected) < 1e-5 * expected
    assert validated.val_metrics_history == [{"x": 1.0}, {"x": 1.0}]
    assert len(validated.train_loss_history) == 2
    assert validated.train_loss_history[-1] == pytest.approx(np.mean(validated.loss_history[-3:]))


# ----------------------------------------------------------------------------- extras

def test_best_parameters_are_kept_and_restored(capsys):
    snapshots, scores = [], iter([0.1, 0.5, 0.3])

    def metrics(model):
        snapshots.append({p: w.copy() for p, w in model.params.items()})
        return {"score": next(scores)}

    solver = CaptioningSolver(make_model(), tiny_data(), update_rule="adam", num_epochs=3,
                              batch_size=10, metrics_fn=metrics, best_metric="score",
                              num_val=5, print_every=100)
    solver.train()
    assert solver.best_epoch == 2
    for p, w in solver.model.params.items():
        np.testing.assert_array_equal(w, snapshots[1][p])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("(Epoch 1 / 3) train loss: ") and "val loss: " in lines[1]
    assert lines[1].endswith("score: 0.100000")


def test_lowest_val_loss_is_best_by_default():
    solver = CaptioningSolver(make_model(), tiny_data(), update_rule="adam", num_epochs=4,
                              batch_size=10, num_val=12, verbose=False,
                              optim_config={"learning_rate": 5e-2})
    solver.train()
    assert solver.best_val_loss == min(solver.val_loss_history)
    assert solver.best_epoch == 1 + int(np.argmin(solver.val_loss_history))


def test_gradient_clipping_rescales_the_global_norm():
    logs = []
    for clip in (None, 0.05):
        log = []
        solver = CaptioningSolver(make_model(), tiny_data(), update_rule=recording_rule(log),
                                  optim_config={"learning_rate": 0.0}, num_epochs=1,
                                  batch_size=10, clip_norm=clip, verbose=False)
        solver.train()
        logs.append([dw for _, dw in log])
    n = len(solver.model.params)
    for it in range(3):
        plain = logs[0][it * n:(it + 1) * n]
        clipped = logs[1][it * n:(it + 1) * n]
        norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in plain))
        assert norm > 0.05
        for g, c in zip(plain, clipped):
            np.testing.assert_allclose(c, g * (0.05 / norm), rtol=1e-5, atol=1e-9)


def test_progress_bar(capsys):
    solver = CaptioningSolver(make_model(), tiny_data(), num_epochs=1, batch_size=10,
                              progress=True, print_every=1)
    solver.train()
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "(Iteration 1 / 3) loss: %f" % solver.loss_history[0]
    assert "3/3" in err


# ----------------------------------------------------------------------------- non-finite losses

def test_nonfinite_loss_stops_with_parameters_from_before_the_step():
    model = make_model()
    real_loss, calls, snapshot = model.loss, [], {}

    def loss(features, captions):
        calls.append(1)
        value, grads = real_loss(features, captions)
        if len(calls) == 3:
            snapshot.update({p: w.copy() for p, w in model.params.items()})
            return np.float32(np.nan), grads
        return value, grads

    model.loss = loss
    solver = CaptioningSolver(model, tiny_data(), update_rule="adam", num_epochs=2,
                              batch_size=10, verbose=False)
    with pytest.raises(NonFiniteLossError) as info:
        solver.train()
    message = str(info.value)
    assert "iteration 3 / 6" in message and "the loss is nan" in message
    assert "last finite loss %f at iteration 2" % solver.loss_history[-1] in message
    assert len(solver.loss_history) == 2
    for p, w in model.params.items():
        np.testing.assert_array_equal(w, snapshot[p])
    assert all(c["t"] == 2 for c in solver.optim_configs.values())


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.parametrize("learning_rate,match", [(1e39, "the update of .* is not finite"),
                                                 (1e38, "the loss is nan")])
def test_diverging_training_stops_before_parameters_become_infinite(learning_rate, match):
    # 1e39 overflows float32 in the update itself; 1e38 gives huge but finite parameters and
    # then a NaN loss (the activations overflow) at the next iteration.
    model = make_model()
    solver = CaptioningSolver(model, tiny_data(), update_rule="sgd",
                              optim_config={"learning_rate": learning_rate}, num_epochs=5,
                              batch_size=10, verbose=False)
    with pytest.raises(NonFiniteLossError, match=match):
        solver.train()
    assert all(np.isfinite(w).all() for w in model.params.values())


# ----------------------------------------------------------------------------- checkpoints

def train_solver(num_epochs, **options):
    options = dict(dict(update_rule="adam", batch_size=10, lr_decay=0.9, num_val=6,
                        optim_config={"learning_rate": 2e-2}, verbose=False), **options)
    solver = CaptioningSolver(make_model(cell="lstm"), tiny_data(), num_epochs=num_epochs,
                              **options)
    solver.train()
    return solver


def test_checkpoint_round_trip(tmp_path):
    solver = train_solver(2, restore_best=False, metrics_fn=lambda m: {"x": np.float32(0.5)})
    path = solver.save(tmp_path / "ckpt.npz", extra_meta={"note": "hello"})
    assert load_checkpoint(path)[1]["note"] == "hello"
    with pytest.raises(ValueError, match="reserved key 'state'"):
        solver.save(tmp_path / "other.npz", extra_meta={"state": 1})
    assert path == str(tmp_path / "ckpt.npz")
    with np.load(path, allow_pickle=False) as f:    # no pickled objects inside
        assert all(f[k].dtype.kind != "O" for k in f.files)
    model = load_model(path)
    assert (model.cell_type, model.dtype, model.word_to_idx) == ("lstm", np.float32, WORD_TO_IDX)
    for p, w in solver.model.params.items():
        np.testing.assert_array_equal(model.params[p], w)
        assert model.params[p].dtype == np.float32

    other = CaptioningSolver(make_model(cell="lstm", seed=1), tiny_data(), update_rule="adam")
    other.load(path)
    assert other.loss_history == [float(x) for x in solver.loss_history]
    assert other.val_loss_history == solver.val_loss_history
    assert other.val_metrics_history == [{"x": 0.5}, {"x": 0.5}]
    assert other.epoch == 2 and other.best_epoch == solver.best_epoch
    for p, config in solver.optim_configs.items():
        assert sorted(other.optim_configs[p]) == sorted(config)
        for k, v in config.items():
            np.testing.assert_array_equal(other.optim_configs[p][k], v)
    assert sorted(other.best_params) == sorted(solver.best_params)
    assert not [f for f in os.listdir(tmp_path) if f != "ckpt.npz"]   # no temporary files


def test_save_model_and_load_model(tmp_path):
    model = make_model(cell="gru")
    path = save_model(tmp_path / "model", model)
    assert path.endswith("model.npz")
    clone = load_model(path)
    features = tiny_data()["val_features"]
    np.testing.assert_array_equal(clone.sample(features), model.sample(features))


def test_resume_gives_the_uninterrupted_run(tmp_path, capsys):
    full = train_solver(4)
    half = train_solver(2, checkpoint_dir=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz"]
    np.random.seed(999)   # a new process would start from some other state
    capsys.readouterr()
    resumed = CaptioningSolver.from_checkpoint(tmp_path / "last.npz", tiny_data(), num_epochs=4,
                                               verbose=True, print_every=1)
    resumed.train()
    assert resumed.loss_history == pytest.approx([float(x) for x in full.loss_history], abs=0)
    assert resumed.val_loss_history == full.val_loss_history
    assert resumed.best_epoch == full.best_epoch
    for p, w in full.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[p], w)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "(Iteration 7 / 12) loss: %f" % full.loss_history[6]
    assert half.epoch == 2


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    solver = train_solver(1)
    path = solver.save(tmp_path / "ckpt.npz")
    before = open(path, "rb").read()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        solver.save(path)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_load_errors(tmp_path):
    solver = train_solver(1)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        solver.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        solver.load(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(ValueError, match="no valid __meta__"):
        load_model(plain)
    model_only = save_model(tmp_path / "model.npz", solver.model)
    with pytest.raises(ValueError, match="without training state"):
        solver.load(model_only)
    path = solver.save(tmp_path / "ckpt.npz")
    np.random.seed(0)
    small = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=5, hidden_dim=4, cell_type="lstm")
    with pytest.raises(ValueError, match=r"params\['W_embed'\]|params\['W_proj'\]"):
        CaptioningSolver(small, tiny_data()).load(path)
    with pytest.raises(ValueError, match="holds a 'lstm' model"):
        CaptioningSolver(make_model(cell="rnn"), tiny_data()).load(path)
