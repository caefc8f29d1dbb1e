"""`rnncap train`: files written, checkpoint contents, resume, progress bar, errors.

Runs on a tiny hand-built data directory in the COCO layout (12 train / 6 val images of 16-d
features, 3 captions each), so each training run takes well under a second.
"""
import json
import os

import numpy as np
import pytest

from rnncap.cli import main

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "big", "small", "red", "blue", "circle",
         "square", "there", "is"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_captions(i):
    """The 3 reference captions of image i (the first is shared by every image)."""
    colour, shape = ("red", "blue")[i % 2], ("circle", "square")[i % 3 == 0]
    return ["a big red circle", "there is a %s %s" % (colour, shape),
            "a small %s %s" % (colour, shape)]


def make_data_dir(root, num_train=12, num_val=6, dim=16, T=17):
    """Write a tiny dataset in the COCO layout into root; return root as str.

    Only val image 0 has a real PNG; every other URL names a missing file."""
    import h5py
    from matplotlib.image import imsave

    root = str(root)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    w2i = {w: i for i, w in enumerate(WORDS)}
    with open(os.path.join(root, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": WORDS, "word_to_idx": w2i}, f)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", num_train), ("val", num_val)):
        texts = [c for i in range(n) for c in image_captions(i)]
        rows = np.zeros((len(texts), T), np.int32)  # <NULL> padding
        for r, text in enumerate(texts):
            ids = [1] + [w2i[w] for w in text.split()] + [2]
            rows[r, :len(ids)] = ids
        arrays[split + "_captions"] = rows
        arrays[split + "_image_idxs"] = np.repeat(np.arange(n, dtype=np.int32), 3)
        with h5py.File(os.path.join(root, "%s2014_vgg16_fc7_pca.h5" % split), "w") as f:
            f["features"] = rng.standard_normal((n, dim)).astype(np.float32)
        with open(os.path.join(root, "%s2014_urls.txt" % split), "w") as f:
            f.write("".join("images/%s_%d.png\n" % (split, i) for i in range(n)))
    imsave(os.path.join(root, "images", "val_0.png"), np.full((8, 8, 3), 200, np.uint8))
    with h5py.File(os.path.join(root, "coco2014_captions.h5"), "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("tinydata"))


def train(data_dir, out, *extra):
    """Run `rnncap train` on the tiny data (GRU, H=8, batch 12 -> 3 iterations per epoch)."""
    argv = ["train", "--data", data_dir, "--out", str(out), "--cell", "gru", "--hidden-dim", "8",
            "--wordvec-dim", "6", "--batch-size", "12", "--lr", "0.02", "--print-every", "1"]
    return main(argv + list(extra))


def read_history(out):
    with open(os.path.join(str(out), "history.json")) as f:
        return json.load(f)


def one_error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_train_writes_checkpoints_history_and_plots(data_dir, tmp_path, capsys):
    from rnncap.commands.common import load_model

    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "3") == 0
    captured = capsys.readouterr()
    for name in ("best.npz", "last.npz", "history.json", "loss.png", "captions.png"):
        assert (out / name).is_file(), name
    for name in ("loss.png", "captions.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert "100%" in captured.err and "training" in captured.err  # the tqdm progress bar
    assert "(Epoch 3 / 3)" in captured.out

    h = read_history(out)
    iterations_per_epoch = (12 * 3) // 12
    assert h["iterations_per_epoch"] == iterations_per_epoch
    assert len(h["loss_history"]) == 3 * iterations_per_epoch
    assert len(h["val_loss_history"]) == 3 and len(h["val_metrics_history"]) == 3
    bleu4 = [m["BLEU-4"] for m in h["val_metrics_history"]]
    assert h["best_epoch"] == 1 + int(np.argmax(bleu4))  # first epoch with the highest BLEU-4

    model, meta = load_model(str(out / "best.npz"))
    assert (model.cell_type, model.hidden_dim, model.wordvec_dim) == ("gru", 8, 6)
    assert meta["train"]["data"] == data_dir


def test_best_checkpoint_reproduces_its_recorded_val_scores(data_dir, tmp_path, capsys):
    from rnncap.coco_utils import load_coco_data
    from rnncap.metrics import evaluate_model
    from rnncap.commands.common import load_model

    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "2", "--no-progress") == 0
    h = read_history(out)
    model, _ = load_model(str(out / "best.npz"))
    scores = evaluate_model(model, load_coco_data(data_dir), split="val")
    recorded = h["val_metrics_history"][h["best_epoch"] - 1]
    for name in ("BLEU-1", "BLEU-4", "CIDEr-D"):
        assert scores[name] == pytest.approx(recorded[name], abs=1e-12)

    # evaluate finds the data the checkpoint was trained on without --data
    assert main(["evaluate", str(out / "best.npz")]) == 0
    assert capsys.readouterr().out.count("\nBLEU-") == 4


def test_resume_continues_exactly_like_an_uninterrupted_run(data_dir, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert train(data_dir, full, "--epochs", "2", "--no-progress") == 0
    assert train(data_dir, part, "--epochs", "1", "--no-progress") == 0
    assert len(read_history(part)["loss_history"]) == 3
    assert main(["train", "--out", str(part), "--resume", "--epochs", "2", "--no-progress"]) == 0

    resumed, uninterrupted = read_history(part), read_history(full)
    assert resumed["epochs_done"] == 2
    # Same minibatches, same optimizer state: the losses agree step for step.
    np.testing.assert_allclose(resumed["loss_history"], uninterrupted["loss_history"],
                               rtol=1e-6)
    assert len(resumed["val_metrics_history"]) == 2


def test_resume_without_a_checkpoint_names_it(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    err = one_error_line(capsys)
    assert os.path.join(str(tmp_path / "empty"), "last.npz") in err


def test_missing_data_directory_is_one_line_naming_it(tmp_path, capsys):
    missing = str(tmp_path / "no_such_data")
    assert main(["train", "--data", missing, "--out", str(tmp_path / "o")]) == 2
    assert missing in one_error_line(capsys)


@pytest.mark.parametrize("argv", [["--epochs", "two"], ["--cell", "transformer"],
                                  ["--bogus"]])
def test_usage_errors_are_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train"] + argv)
    assert e.value.code == 2
    one_error_line(capsys)


@pytest.mark.parametrize("argv", [["--epochs", "-1"], ["--lr", "0"], ["--clip", "-1"],
                                  ["--batch-size", "0"]])
def test_impossible_values_are_one_line_exit_2(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:  # refused by the option's type, while parsing
        main(["train", "--out", str(tmp_path)] + argv)
    assert e.value.code == 2
    assert argv[0] in one_error_line(capsys)


@pytest.mark.parametrize("command", ["train", "sample", "evaluate"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: rnncap %s" % command in capsys.readouterr().out


def test_out_that_is_a_file_is_one_line(data_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert train(data_dir, blocker, "--epochs", "1", "--no-progress") == 2
    assert str(blocker) in one_error_line(capsys)


def test_a_non_finite_loss_stops_with_one_line_and_status_1(data_dir, tmp_path, capsys,
                                                            monkeypatch):
    from rnncap import captioning_solver
    from rnncap.classifiers.rnn import CaptioningRNN

    real_batch, real_loss = captioning_solver.sample_coco_minibatch, CaptioningRNN.loss
    draws = []  # training minibatches drawn so far; val-loss calls draw none

    def batch(*a, **k):
        draws.append(True)
        return real_batch(*a, **k)

    def loss(self, features, captions):
        value, grads = real_loss(self, features, captions)
        if len(draws) == 5 and draws[-1]:  # the 5th step: epoch 2 (3 steps each)
            draws[-1] = False
            value = float("nan")
        return value, grads

    monkeypatch.setattr(captioning_solver, "sample_coco_minibatch", batch)
    monkeypatch.setattr(CaptioningRNN, "loss", loss)
    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "3", "--no-progress") == 1
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if "error" in l]
    assert len(lines) == 1 and "iteration 5" in lines[0] and "Traceback" not in err
    assert (out / "last.npz").is_file()  # epoch 1 was saved


def test_data_shapes_says_when_it_generates_the_built_in_data(data_dir, tmp_path, capsys,
                                                              monkeypatch):
    from rnncap import shapes

    # Pretend the built-in data is absent and make "generating" it return the tiny directory.
    monkeypatch.setattr(shapes, "is_complete", lambda *a, **k: False)
    monkeypatch.setattr(shapes, "ensure_shapes", lambda *a, **k: data_dir)
    assert train("shapes", tmp_path / "run", "--epochs", "1", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "generating the built-in dataset" in out and "data: shapes (%s)" % data_dir in out


def test_a_relative_data_path_is_recorded_absolute(data_dir, tmp_path, monkeypatch):
    from rnncap.commands.common import load_model

    monkeypatch.chdir(os.path.dirname(data_dir))
    out = tmp_path / "run"
    assert train(os.path.basename(data_dir), out, "--epochs", "1", "--no-progress") == 0
    _, meta = load_model(str(out / "best.npz"))
    assert meta["train"]["data"] == data_dir  # evaluate/sample work from any directory


# ----------------------------------------------------------------------------- runs that collide

def test_a_fresh_run_refuses_a_directory_that_holds_a_run(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "1", "--no-progress") == 0
    before = (out / "last.npz").read_bytes()
    capsys.readouterr()
    assert train(data_dir, out, "--epochs", "1", "--no-progress", "--seed", "5") == 2
    err = one_error_line(capsys)
    assert "--out %s already holds a run" % out in err and "--overwrite" in err
    assert (out / "last.npz").read_bytes() == before
    assert train(data_dir, out, "--epochs", "1", "--no-progress", "--seed", "5",
                 "--overwrite") == 0
    assert (out / "last.npz").read_bytes() != before
    assert read_history(out)["options"]["seed"] == 5


def test_a_second_concurrent_run_fails_at_once(data_dir, tmp_path, capsys):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "run"
    out.mkdir()
    with open(str(out / ".rnncap-train.lock"), "a+") as other:  # what a running train holds
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert train(data_dir, out, "--epochs", "1", "--no-progress") == 2
        err = one_error_line(capsys)
        assert "another `rnncap train`" in err and str(out) in err
        assert not (out / "last.npz").exists()
    assert train(data_dir, out, "--epochs", "1", "--no-progress") == 0  # free again


def test_resume_refuses_data_with_another_vocabulary(data_dir, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "1", "--no-progress") == 0
    permuted = str(tmp_path / "permuted")
    shutil.copytree(data_dir, permuted)
    words = list(WORDS)
    words[4], words[5] = words[5], words[4]  # "a" and "big" trade places
    with open(os.path.join(permuted, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}, f)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--data", permuted, "--epochs", "2",
                 "--no-progress"]) == 2
    err = one_error_line(capsys)
    assert "another vocabulary" in err and str(out / "last.npz") in err and permuted in err
    assert len(read_history(out)["loss_history"]) == 3  # nothing was trained


def test_resuming_a_finished_run_elsewhere_names_only_files_that_exist(data_dir, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert train(data_dir, first, "--epochs", "1", "--no-progress") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(first / "last.npz"), "--out", str(second),
                 "--epochs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    (wrote,) = [line for line in out.splitlines() if line.startswith("wrote ")]
    paths = wrote[len("wrote "):].split(", ")
    assert all(os.path.isfile(p) for p in paths), paths
    assert str(second / "history.json") in paths
    # The best model of the run is in the new directory too, rebuilt from last.npz.
    assert str(second / "best.npz") in paths and "rewrote" in out


def test_empty_out_is_refused(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    assert train(data_dir, "", "--epochs", "1", "--no-progress") == 2
    assert "--out" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("option, value", [("batch_size", "12"), ("hidden_dim", -3),
                                           ("lr", None), ("cell", "cnn"), ("seed", 1.5)])
def test_damaged_stored_options_are_named(data_dir, tmp_path, capsys, option, value):
    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "1", "--no-progress") == 0
    path = str(out / "last.npz")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("__meta__")[()]))
    meta["train"]["options"][option] = value
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 2
    err = one_error_line(capsys)
    assert "--" + option.replace("_", "-") in err and path in err


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_checkpoint(data_dir, tmp_path,
                                                                          capsys, monkeypatch):
    import errno

    from rnncap import checkpoint

    out = tmp_path / "run"
    assert train(data_dir, out, "--epochs", "1", "--no-progress") == 0
    before = (out / "last.npz").read_bytes()
    real_savez = np.savez

    def full_disk(f, **arrays):
        real_savez(f, **arrays)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", full_disk)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--no-progress"]) == 2
    assert "No space left on device" in one_error_line(capsys)
    assert (out / "last.npz").read_bytes() == before
    assert not [f for f in os.listdir(str(out)) if f.endswith(".tmp")]


# ------------------------------------------------------------- the kept epoch on the built-in data

@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    from rnncap import shapes

    d = str(tmp_path_factory.mktemp("tinyshapes") / "shapes")
    shapes.generate_shapes(d, num_train=40, num_val=8, seed=5)
    return d


class ReferenceModel:
    """Captions the first `right` images it is given with one of their own references and every
    other image with a reference of an image that shows something else."""

    def __init__(self, data, records, right):
        self.data, self.records, self.right = data, records, right

    def sample(self, features, max_length=30):
        from rnncap.shapes import scene_facts

        facts = [scene_facts(r) for r in self.records]
        rows = []
        for k, f in enumerate(features):
            i = int(np.flatnonzero((self.data["val_features"] == f).all(axis=1))[0])
            if k >= self.right:
                i = next(j for j in range(len(facts)) if facts[j] != facts[i])
            first = np.flatnonzero(self.data["val_image_idxs"] == i)[0]
            rows.append(self.data["val_captions"][first, 1:1 + max_length])
        return np.array(rows)


def test_val_scores_count_the_fully_correct_captions(shapes_dir, data_dir):
    from rnncap.coco_utils import load_coco_data, load_objects
    from rnncap.commands.train import _val_scores, val_records

    data = load_coco_data(shapes_dir)
    records = val_records(shapes_dir, data)
    assert records == load_objects(shapes_dir, "val")
    for right in (0, 3, 8):
        scores = _val_scores(ReferenceModel(data, records, right), data, 8, records)
        assert scores["accuracy"] == right / 8 and scores["num_images"] == 8
        assert 0 < scores["BLEU-4"] <= 1
    assert "accuracy" not in _val_scores(ReferenceModel(data, records, 8), data, 8, None)
    assert val_records(data_dir, load_coco_data(data_dir)) is None  # COCO-like: no records


def test_train_on_the_built_in_data_keeps_the_epoch_with_the_most_correct_captions(shapes_dir,
                                                                                  tmp_path, capsys):
    from rnncap.checkpoint import read_meta
    from rnncap.coco_utils import load_coco_data, load_objects
    from rnncap.commands.common import load_model
    from rnncap.metrics import evaluate_model
    from rnncap.shapes import caption_accuracy

    out = tmp_path / "run"
    assert main(["train", "--data", shapes_dir, "--out", str(out), "--hidden-dim", "16",
                 "--wordvec-dim", "8", "--batch-size", "50", "--lr", "0.02", "--epochs", "3",
                 "--val-images", "8", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(by greedy val caption accuracy on 8 images)" in printed
    assert "fully correct" in printed
    h = read_history(out)
    accuracy = [m["accuracy"] for m in h["val_metrics_history"]]
    assert len(accuracy) == 3
    assert h["best_epoch"] == 1 + int(np.argmax(accuracy))
    assert read_meta(str(out / "best.npz"))["solver"]["best_metric"] == "accuracy"
    # the recorded figure is the best checkpoint's, counted by caption_accuracy
    model, _ = load_model(str(out / "best.npz"))
    data = load_coco_data(shapes_dir)
    captions = evaluate_model(model, data, split="val", num_images=8, return_captions=True)["captions"]
    records = load_objects(shapes_dir, "val")
    assert accuracy[h["best_epoch"] - 1] == caption_accuracy(
        [captions[i] for i in range(8)], records)["fully_correct"]


def test_train_refuses_an_objects_file_shorter_than_the_val_split(shapes_dir, tmp_path, capsys):
    import shutil

    d = str(tmp_path / "shapes")
    shutil.copytree(shapes_dir, d)
    path = os.path.join(d, "val2014_objects.json")
    with open(path) as f:
        records = json.load(f)
    with open(path, "w") as f:
        json.dump(records[:3], f)
    code = main(["train", "--data", d, "--out", str(tmp_path / "run"), "--hidden-dim", "8",
                 "--wordvec-dim", "6", "--epochs", "1", "--val-images", "8", "--no-progress"])
    assert code != 0
    err = one_error_line(capsys)
    assert "val objects file records 3 images, but the val captions describe 8" in err, err
    assert not (tmp_path / "run").exists()  # refused before any training
