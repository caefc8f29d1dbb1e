"""`rnncap sample` and `rnncap evaluate` on a hand-built model whose captions are known.

The model is a vanilla RNN wired by hand so that each word's one-hot hidden state scores one
successor word far above all others: from <START> it always says "a big red circle" and then
<END>. Every image of the tiny data directory has "a big red circle" among its references, so
BLEU-1..4 are exactly 1 (up to the toolkit's 1e-9 smoothing) for greedy and beam decoding.
"""
import os

import numpy as np
import pytest

from rnncap.cli import main
from test_cli_train import PNG_MAGIC, WORDS, image_captions, make_data_dir, one_error_line

CHAIN = ["<START>", "a", "big", "red", "circle", "<END>"]


def chain_model(dim=16, sharpness=10.0, chain=CHAIN, words=WORDS):
    """A CaptioningRNN whose every decoder says the chain's words ('a big red circle')."""
    from rnncap.classifiers.rnn import CaptioningRNN

    V = len(words)
    w2i = {w: i for i, w in enumerate(words)}
    W_vocab = np.zeros((V, V))
    for word, nxt in zip(chain[:-1], chain[1:]):
        W_vocab[w2i[word], w2i[nxt]] = sharpness  # hidden ~ one-hot of the previous word
    params = {"W_embed": sharpness * np.eye(V), "W_proj": np.zeros((dim, V)),
              "b_proj": np.zeros(V), "Wx": np.eye(V), "Wh": np.zeros((V, V)), "b": np.zeros(V),
              "W_vocab": W_vocab, "b_vocab": np.zeros(V)}
    params = {k: v.astype(np.float32) for k, v in params.items()}
    return CaptioningRNN.from_params(w2i, params, cell_type="rnn")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(data_dir, checkpoint path) with the data directory recorded in the checkpoint."""
    from rnncap.checkpoint import save_model

    root = tmp_path_factory.mktemp("sample_eval")
    data_dir = make_data_dir(root / "data")
    ckpt = save_model(str(root / "chain.npz"), chain_model(),
                      extra_meta={"train": {"data": data_dir}})
    return data_dir, ckpt


def table(out):
    """metric name -> list of numbers on its line of the evaluate output."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"):
            rows[parts[0]] = [float(x) for x in parts[1:]]
    return rows


def test_evaluate_prints_one_line_per_metric_greedy_and_beam(setup, capsys):
    data_dir, ckpt = setup
    assert main(["evaluate", ckpt, "--data", data_dir, "--beam-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "greedy" in out and "beam-2" in out and "6 images" in out
    rows = table(out)
    assert sorted(rows) == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"]
    for k in range(1, 5):
        assert rows["BLEU-%d" % k] == [1.0, 1.0]  # the hypothesis is one of every image's refs
    assert len(rows["CIDEr-D"]) == 2
    assert "caption accuracy" not in out  # this data does not record what its images show


def test_evaluate_uses_the_recorded_data_and_a_split_and_image_count(setup, capsys):
    _, ckpt = setup
    assert main(["evaluate", ckpt, "--split", "train", "--num-images", "4"]) == 0
    out = capsys.readouterr().out
    assert "split train, 4 images" in out
    assert table(out)["BLEU-4"] == [1.0, 1.0]


def test_sample_by_index_prints_captions_and_saves_a_figure(setup, tmp_path, capsys):
    data_dir, ckpt = setup
    fig = tmp_path / "fig.png"
    # val image 0 has a PNG, image 3's file is missing: drawn as a placeholder, no crash
    assert main(["sample", ckpt, "--data", data_dir, "--index", "0", "3", "--out", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "val image 0" in out and "val image 3" in out
    assert out.count("sampled: a big red circle") == 2
    assert "truth:   %s" % image_captions(0)[0] in out
    assert fig.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("decode", [["--beam-size", "3"], ["--decode", "beam"],
                                    ["--temperature", "0.5"]])
def test_sample_beam_and_low_temperature_give_the_chain(setup, tmp_path, capsys, decode):
    data_dir, ckpt = setup
    assert main(["sample", ckpt, "--index", "1", "--out", str(tmp_path / "f.png")] + decode) == 0
    assert "sampled: a big red circle\n" in capsys.readouterr().out


def sampled_lines(out):
    return [line for line in out.splitlines() if line.strip().startswith(("sampled:", "val image"))]


def test_random_images_and_temperature_are_seeded_and_leave_global_rng_alone(setup, tmp_path,
                                                                              capsys):
    _, ckpt = setup
    argv = ["sample", ckpt, "--num", "4", "--temperature", "30", "--out", str(tmp_path / "f.png")]
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    runs = []
    for seed in ("1", "1", "2"):
        assert main(argv + ["--seed", seed]) == 0
        runs.append(sampled_lines(capsys.readouterr().out))
    assert np.array_equal(np.random.get_state()[1], before)
    assert runs[0] == runs[1] and runs[0] != runs[2]
    ids = [int(l.split()[-1]) for l in runs[0] if l.startswith("val image")]
    assert len(ids) == 4 and len(set(ids)) == 4 and all(0 <= i < 6 for i in ids)


def test_missing_checkpoint_is_one_line_naming_it(tmp_path, capsys):
    missing = str(tmp_path / "nope.npz")
    for command in ("evaluate", "sample"):
        assert main([command, missing]) == 2
        assert missing in one_error_line(capsys)


def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip file")
    assert main(["evaluate", str(bad)]) == 2
    assert str(bad) in one_error_line(capsys)


def test_a_vocabulary_mismatch_is_one_line(setup, tmp_path, capsys):
    from rnncap.checkpoint import save_model
    from rnncap.classifiers.rnn import CaptioningRNN

    _, ckpt = setup
    other = CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 2, "<UNK>": 3, "dog": 4},
                          input_dim=16, hidden_dim=4, wordvec_dim=4)
    path = save_model(str(tmp_path / "other.npz"), other,
                      extra_meta={"train": {"data": setup[0]}})
    assert main(["evaluate", path]) == 2
    assert "vocabulary" in one_error_line(capsys)


@pytest.mark.parametrize("argv", [["--index", "6"], ["--beam-size", "2", "--temperature", "1"],
                                  ["--decode", "greedy", "--beam-size", "2"],
                                  ["--temperature", "0"], ["--num", "0"]])
def test_sample_bad_options_are_one_line_exit_2(setup, argv, capsys):
    try:
        code = main(["sample", setup[1]] + argv)
    except SystemExit as e:  # refused by the option's type, while parsing
        code = e.code
    assert code == 2
    one_error_line(capsys)


@pytest.mark.parametrize("argv", [["sample"], ["evaluate"],
                                  ["evaluate", "x.npz", "--split", "test"],
                                  ["sample", "x.npz", "--index", "one"]])
def test_usage_errors_are_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    one_error_line(capsys)


def test_evaluate_prints_caption_accuracy_where_the_data_records_the_scenes(tmp_path, capsys):
    """The model always says "a big red circle in the center"; the objects file (written here)
    makes that right for val images 0 and 4 only (one object each), so 2 of 6 are right."""
    import json

    from rnncap.checkpoint import save_model

    data_dir = make_data_dir(tmp_path / "data")
    words = WORDS + ["in", "the", "center"]  # appended: the caption file's indices stay valid
    with open(os.path.join(data_dir, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}, f)

    def obj(size, colour, row, col):
        return {"size": size, "colour": colour, "shape": "circle", "row": row, "col": col}

    lone = [obj("big", "red", 1, 1), obj("big", "red", 0, 0), obj("small", "red", 1, 1), None,
            obj("big", "red", 1, 1), None]
    records = [{"objects": [o]} if o else {"objects": [obj("big", "red", 1, 1),
                                                        obj("big", "blue", 1, 2)]} for o in lone]
    with open(os.path.join(data_dir, "val2014_objects.json"), "w") as f:
        json.dump(records, f)
    chain = ["<START>", "a", "big", "red", "circle", "in", "the", "center", "<END>"]
    ckpt = save_model(str(tmp_path / "center.npz"), chain_model(chain=chain, words=words),
                      extra_meta={"train": {"data": data_dir}})
    assert main(["evaluate", ckpt, "--beam-size", "2"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if "caption accuracy" in l]
    want = ("caption accuracy: 33.3% fully correct (one object 50.0%, two objects 0.0%; "
            "both objects right 0.0%)")
    assert lines == ["greedy  " + want, "beam-2  " + want]
    assert main(["evaluate", ckpt, "--num-images", "2"]) == 0
    assert ("greedy  caption accuracy: 50.0% fully correct (one object 50.0%, two objects -; "
            "both objects right -)") in capsys.readouterr().out
    with open(os.path.join(data_dir, "val2014_objects.json"), "w") as f:
        json.dump(records[:3], f)  # fewer records than images: one line naming the problem
    assert main(["evaluate", ckpt]) == 2
    assert "records 3 images" in one_error_line(capsys)
