"""CaptioningTransformer outside the model: checkpoints record the model kind, the solver resumes
it exactly, and `rnncap train / evaluate / sample / overfit --model transformer` run.

The command-line runs use the tiny data directory of test_cli_train.py (12 train / 6 val images
of 16-d features) and a small model, so that each takes a second or two.
"""
import json
import os
import re

import numpy as np
import pytest

from rnncap import CaptioningSolver, CaptioningTransformer
from rnncap.checkpoint import load_checkpoint, load_model, save_checkpoint, save_model
from rnncap.cli import main

from test_cli_train import make_data_dir, one_error_line
from test_solver import D, WORD_TO_IDX, tiny_data


def small_model(grid=None, activation="relu", dropout=0.0, seed=231):
    np.random.seed(seed)
    return CaptioningTransformer(WORD_TO_IDX, input_dim=D, wordvec_dim=8, num_heads=2,
                                 num_layers=2, dim_feedforward=12, max_length=12,
                                 activation=activation, grid_size=grid, dropout=dropout)


# ----------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("grid, activation", [(None, "relu"), (3, "gelu")])
def test_save_and_load_model_round_trip(tmp_path, grid, activation):
    model = small_model(grid, activation, dropout=0.1)
    path = save_model(str(tmp_path / "m.npz"), model)
    _, meta = load_checkpoint(path)
    assert meta["model"]["kind"] == "transformer" and "cell_type" not in meta["model"]
    assert {k: meta["model"][k] for k in ("num_heads", "num_layers", "max_length", "activation",
                                          "grid_size", "dropout")} == \
        {"num_heads": 2, "num_layers": 2, "max_length": 12, "activation": activation,
         "grid_size": grid, "dropout": 0.1}
    state = np.random.get_state()
    loaded = load_model(path)
    assert np.random.get_state()[2] == state[2]  # draws nothing
    assert isinstance(loaded, CaptioningTransformer)
    assert (loaded.grid_size, loaded.activation, loaded.dropout, loaded.dtype) == \
        (grid, activation, 0.1, np.float32)
    assert list(loaded.params) == list(model.params)
    for k, v in model.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)


def rewrite(path, meta=None, arrays=None):
    """Write the checkpoint at path again with some meta fields or arrays changed."""
    with np.load(path) as f:
        stored = {k: f[k] for k in f.files if k != "__meta__"}
        document = json.loads(str(f["__meta__"][()]))
    for k in ("format", "version"):
        document.pop(k)
    document["model"].update(meta or {})
    stored.update(arrays or {})
    save_checkpoint(path, stored, document)


@pytest.mark.parametrize("meta, arrays, match", [
    ({"kind": "lstm"}, None, r"field model.kind must be one of rnn, transformer"),
    ({"num_layers": 0}, None, r"field model.num_layers must be a positive integer"),
    ({"num_layers": 3}, None, r"array 'params/layers.2.self_attn.Wq' is missing"),
    ({"activation": "tanh"}, None, r"field model.activation must be one of relu, gelu"),
    ({"dropout": 1.0}, None, r"field model.dropout must be a probability"),
    (None, {"params/layers.1.ffn.W1": np.zeros((8, 13), np.float32)},
     r"array 'params/layers.1.ffn.W1' has shape \(8, 13\), but the model config \(V=8, D=6, "
     r"W=8, F=12, 2 layers\) needs \(8, 12\)"),
    (None, {"params/W_vocab": np.zeros((8, 9), np.float32)}, r"'params/W_vocab' has shape"),
])
def test_damaged_transformer_checkpoints_are_named(tmp_path, meta, arrays, match):
    path = save_model(str(tmp_path / "m.npz"), small_model())
    rewrite(path, meta, arrays)
    with pytest.raises(ValueError, match=match):
        load_model(path)


def test_a_checkpoint_without_a_kind_is_a_captioning_rnn(tmp_path):
    from rnncap import CaptioningRNN
    np.random.seed(0)
    rnn = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=4, hidden_dim=5, cell_type="gru")
    path = save_model(str(tmp_path / "r.npz"), rnn)
    _, meta = load_checkpoint(path)
    assert "kind" not in meta["model"]  # as every checkpoint written before transformers
    assert isinstance(load_model(path), CaptioningRNN)


def make_solver(model, data, tmp_path, epochs):
    return CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                            num_epochs=epochs, batch_size=6, num_val=6, verbose=False,
                            checkpoint_dir=str(tmp_path))


def test_solver_resumes_a_transformer_exactly(tmp_path):
    data = tiny_data(num_images=6, captions_per_image=2)
    whole = make_solver(small_model(), data, tmp_path / "whole", 4)
    whole.train()
    half = make_solver(small_model(), data, tmp_path / "half", 2)
    half.train()
    resumed = CaptioningSolver.from_checkpoint(str(tmp_path / "half" / "last.npz"), data,
                                               num_epochs=4)
    assert isinstance(resumed.model, CaptioningTransformer)
    resumed.train()
    assert resumed.loss_history == whole.loss_history
    for k, v in whole.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[k], v)
    rnn_solver = make_solver(small_model(), data, tmp_path / "x", 1)
    from rnncap import CaptioningRNN
    np.random.seed(0)
    rnn_solver.model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=4, hidden_dim=5)
    with pytest.raises(ValueError, match="holds a 'transformer' model, this solver's model is "
                                         "'rnn'"):
        rnn_solver.load(str(tmp_path / "half" / "last.npz"))


# ----------------------------------------------------------------------------- the command line

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("tinydata"))


def train(data_dir, out, *extra):
    argv = ["train", "--model", "transformer", "--data", data_dir, "--out", str(out),
            "--wordvec-dim", "8", "--heads", "2", "--ffn-dim", "16", "--batch-size", "12",
            "--lr", "0.01", "--print-every", "1", "--no-progress"]
    return main(argv + list(extra))


def test_train_evaluate_and_sample_a_transformer(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "2", "--activation", "gelu") == 0
    printed = capsys.readouterr().out
    assert "model: transformer, word vectors 8, 2 heads, 2 layers, feed-forward 16, gelu" \
        in printed
    model = load_model(str(out / "best.npz"))
    assert isinstance(model, CaptioningTransformer)
    assert (model.wordvec_dim, model.num_heads, model.dim_feedforward, model.activation) == \
        (8, 2, 16, "gelu")
    with open(out / "history.json") as f:
        options = json.load(f)["options"]
    assert (options["model"], options["heads"], options["ffn_dim"], options["lr"]) == \
        ("transformer", 2, 16, 0.01)

    assert main(["evaluate", str(out / "best.npz"), "--num-images", "3"]) == 0
    printed = capsys.readouterr().out
    assert "transformer, word vectors 8" in printed
    assert re.search(r"^BLEU-4\s+\d\.\d{3}\s+\d\.\d{3}$", printed, flags=re.M)
    png = tmp_path / "s.png"
    for extra in ([], ["--beam-size", "2"], ["--temperature", "0.5"]):
        assert main(["sample", str(out / "best.npz"), "--num", "2", "--out", str(png)]
                    + extra) == 0
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert "(transformer)" in capsys.readouterr().out


def test_resume_a_transformer_run(data_dir, tmp_path, capsys):
    assert train(data_dir, tmp_path / "whole", "--epochs", "2") == 0
    assert train(data_dir, tmp_path / "half", "--epochs", "1") == 0
    # the stored options (the model, its sizes) replace the command line's
    assert main(["train", "--resume", str(tmp_path / "half" / "last.npz"), "--epochs", "2",
                 "--no-progress"]) == 0
    capsys.readouterr()
    a, b = (load_checkpoint(str(tmp_path / d / "last.npz")) for d in ("whole", "half"))
    for name, value in a[0].items():
        if name.startswith("params/"):
            np.testing.assert_array_equal(b[0][name], value, name)


def test_transformer_defaults_differ_from_the_rnn_ones():
    from rnncap.commands.common import model_defaults
    rnn, transformer = model_defaults("rnn"), model_defaults("transformer")
    assert rnn["lr"] == 5e-3 and transformer["lr"] == 2e-3
    assert transformer["batch_size"] == rnn["batch_size"]
    grid = model_defaults("transformer", grid=True)
    assert (grid["epochs"], grid["lr_decay"]) == (20, 0.95)
    assert (transformer["epochs"], transformer["lr_decay"]) == (8, 0.9)
    assert dict(grid, epochs=8, lr_decay=0.9) == transformer
    assert model_defaults("rnn", grid=True) == rnn


@pytest.mark.parametrize("argv, match", [
    (["--heads", "3"], "--heads must divide --wordvec-dim"),
    (["--dropout", "0.5", "--model", "rnn"], "--grid and --dropout apply to --model transformer"),
])
def test_train_errors_are_one_line(data_dir, tmp_path, capsys, argv, match):
    assert train(data_dir, tmp_path / "x", *argv) == 2
    assert match in one_error_line(capsys)


def test_grid_on_data_without_grid_features_is_one_line(data_dir, tmp_path, capsys):
    assert train(data_dir, tmp_path / "x", "--grid") == 2
    assert "grid features are absent" in one_error_line(capsys)


def test_overfit_transformer_prints_the_protocol(tmp_path, monkeypatch, capsys):
    """`rnncap overfit --model transformer` with the solver's training shortened: the output's
    shape (the full 200-iteration run is tests/test_transformer_model.py's overfit test)."""
    import rnncap.captioning_solver as solver_module

    original = solver_module.CaptioningSolver.__init__

    def short(self, model, data, **kwargs):
        assert kwargs["num_epochs"] == 100 and kwargs["batch_size"] == 25
        assert kwargs["optim_config"] == {"learning_rate": 1e-3}
        assert (model.num_heads, model.num_layers, model.wordvec_dim, model.max_length) == \
            (2, 2, 256, 30)
        original(self, model, data, **dict(kwargs, num_epochs=1))

    monkeypatch.setattr(solver_module.CaptioningSolver, "__init__", short)
    plot = tmp_path / "o.png"
    assert main(["overfit", "--model", "transformer", "--data", "shapes", "--plot",
                 str(plot)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("(Iteration 1 / 2) loss: ")
    assert re.fullmatch(r"Final loss: \d+\.\d{6}", out[2])
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_a_grid_transformer_reads_the_centred_grids(tmp_path, capsys):
    """--grid trains on the grids centred as for the attention LSTM, and evaluate and sample
    load a grid checkpoint's data the same way (reads_grid)."""
    from rnncap.coco_utils import load_coco_data
    from rnncap.commands.common import load_data, load_model, reads_grid
    from rnncap.metrics import evaluate_model
    from test_attention_cli import add_grids_and_objects

    data_dir = add_grids_and_objects(make_data_dir(tmp_path / "data"))
    out = tmp_path / "run"
    assert train(data_dir, out, "--grid", "--epochs", "1") == 0
    raw = load_coco_data(data_dir, grid_features=True)
    data, _, _ = load_data(data_dir, grid=True)
    mean = raw["train_grid"].mean(axis=(0, 2, 3), dtype=np.float64, keepdims=True)
    for split in ("train", "val"):
        np.testing.assert_allclose(data[split + "_features"], raw[split + "_grid"] - mean,
                                   rtol=1e-6, atol=1e-6)
    model, _ = load_model(str(out / "best.npz"))
    assert reads_grid(model) and model.grid_size == 4
    assert not reads_grid(small_model())
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.npz"), "--beam-size", "1"]) == 0
    bleu4 = re.search(r"^BLEU-4 +(\d\.\d{3})", capsys.readouterr().out, re.M).group(1)
    assert bleu4 == "%.3f" % evaluate_model(model, data, split="val")["BLEU-4"]


def test_a_grid_transformer_trains_20_epochs_by_default(tmp_path):
    from test_attention_cli import add_grids_and_objects

    data_dir = add_grids_and_objects(make_data_dir(tmp_path / "data"))
    assert train(data_dir, tmp_path / "grid", "--grid", "--val-images", "2") == 0
    with open(tmp_path / "grid" / "history.json") as f:
        h = json.load(f)
    assert (h["options"]["epochs"], h["options"]["lr_decay"], h["epochs_done"]) == (20, 0.95, 20)
