"""The small-data overfit run: a reduced configuration that runs in well under a second, and
`rnncap overfit` itself (the classic protocol) on the built-in data, with its global-RNG draws."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from rnncap import CaptioningRNN, CaptioningSolver
from rnncap.cli import main

from test_solver import D, WORD_TO_IDX, tiny_data

ITERATION_LINE = re.compile(r"\(Iteration (\d+) / 100\) loss: (\d+\.\d{6})")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reduced_overfit_memorises_the_captions(cell):
    """10 captions, hidden 64, 100 adam steps: the loss falls below 0.1 and greedy sampling
    gives back every training caption."""
    data = tiny_data(num_images=10, captions_per_image=1)
    np.random.seed(231)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=32, hidden_dim=64, cell_type=cell)
    solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                              num_epochs=100, batch_size=10, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 100
    assert solver.loss_history[0] > 5 and solver.loss_history[-1] < 0.1
    sampled = model.sample(data["train_features"][data["train_image_idxs"]], max_length=6)
    np.testing.assert_array_equal(sampled, data["train_captions"][:, 1:])


def check_overfit_output(out, plot):
    """The log of `rnncap overfit` on the built-in data; returns the final loss."""
    lines = out.splitlines()
    assert lines[0].startswith("Data: the built-in shapes dataset in ")
    iterations = [ITERATION_LINE.fullmatch(line) for line in lines[1:11]]
    assert all(iterations), lines[1:11]
    assert [int(m.group(1)) for m in iterations] == list(range(1, 100, 10))
    final = re.fullmatch(r"Final loss: (\d+\.\d{6})", lines[11])
    assert final, lines[11]
    examples = lines[12:24]
    assert [line.split()[0] for line in examples[::2]] == ["train"] * 3 + ["val"] * 3
    assert all(line.lstrip().startswith("truth:") for line in examples[1::2])
    assert lines[24] == "Loss curve: %s" % plot
    with open(plot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return float(final.group(1))


# Runs `python -m rnncap overfit ...` after wrapping every global np.random function that draws,
# and writes the calls [name, args, kwargs] as JSON to argv[1]. A subprocess with one BLAS thread
# keeps the run fast and independent of other tests (and of BLAS oversubscription).
RECORDING_RUN = r"""
import json, sys
import numpy as np
calls, global_rng = [], np.random.mtrand._rand
for name in dir(np.random):
    f = getattr(np.random, name)
    if getattr(f, "__self__", None) is global_rng and name not in (
            "seed", "get_state", "set_state", "get_bit_generator", "set_bit_generator"):
        def wrapper(*args, _name=name, _f=f, **kwargs):
            calls.append([_name, list(args), kwargs])
            return _f(*args, **kwargs)
        setattr(np.random, name, wrapper)
from rnncap.cli import main
status = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(calls, out)
sys.exit(status)
"""


def run_overfit(cell, tmp_path):
    """Run the overfit command on the built-in data; return (stdout, plot path, draws)."""
    plot, draws = str(tmp_path / ("%s.png" % cell)), str(tmp_path / "draws.json")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", RECORDING_RUN, draws, "overfit", "--cell", cell,
                             "--data", "shapes", "--plot", plot],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(draws) as f:
        return result.stdout, plot, json.load(f)


@pytest.fixture(scope="module")
def builtin_sizes():
    """(train captions, val captions, vocabulary size) of the built-in data (generated on
    first use into the cache)."""
    from rnncap.coco_utils import load_coco_data
    data = load_coco_data("shapes")
    return data["train_captions"].shape[0], data["val_captions"].shape[0], len(data["word_to_idx"])


@pytest.mark.parametrize("cell,k", [("rnn", 1), ("lstm", 4)])
def test_overfit_on_builtin_data(cell, k, builtin_sizes, tmp_path):
    num_train, num_val, V = builtin_sizes
    out, plot, draws = run_overfit(cell, tmp_path)
    final = check_overfit_output(out, plot)

    # The classic protocol, draw for draw: data subsample, parameters, one choice per iteration;
    # then the examples shown after training.
    assert draws == ([["randint", [num_train], {"size": 50}]]
                     + [["randn", list(shape), {}] for shape in
                        [(V, 256), (512, 512), (256, k * 512), (512, k * 512), (512, V)]]
                     + [["choice", [50, 25], {}]] * 100
                     + [["choice", [50, 3], {}], ["choice", [num_val, 3], {}]])
    assert final < 0.1


def test_missing_data_is_one_line_and_exit_status_2(tmp_path, capsys):
    missing = str(tmp_path / "no_such_dir")
    assert main(["overfit", "--data", missing]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert missing in err and err.startswith("rnncap overfit: error: ")


def test_bad_cell_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["overfit", "--cell", "transformer"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_attention_overfit_on_builtin_grid(builtin_sizes, tmp_path):
    """The attention model memorises the 50 captions from the built-in grid features in its 200
    epochs (400 iterations), drawing the subsample, its parameters (Wattn right after Wh) and
    one minibatch per iteration from the global RNG."""
    from rnncap.coco_utils import load_coco_data

    num_train, num_val, V = builtin_sizes
    C = load_coco_data("shapes", grid_features=True, lazy=True)["train_grid"].shape[1]
    out, plot, draws = run_overfit("attention", tmp_path)
    lines = out.splitlines()
    logged = [re.fullmatch(r"\(Iteration (\d+) / 400\) loss: (\d+\.\d{6})", line)
              for line in lines[1:21]]
    assert all(logged), lines[1:21]
    assert [int(m.group(1)) for m in logged] == list(range(1, 400, 20))
    final = re.fullmatch(r"Final loss: (\d+\.\d{6})", lines[21])
    assert final, lines[21]
    assert draws == ([["randint", [num_train], {"size": 50}]]
                     + [["randn", list(shape), {}] for shape in
                        [(V, 256), (C, 512), (256, 4 * 512), (512, 4 * 512), (512, 4 * 512),
                         (512, V)]]
                     + [["choice", [50, 25], {}]] * 400
                     + [["choice", [50, 3], {}], ["choice", [num_val, 3], {}]])
    assert float(logged[0].group(2)) > 20 and float(final.group(1)) < 0.1
    train_lines = [l for l in lines[22:34] if l.startswith("train")]
    truths = [l for l in lines[22:34] if l.lstrip().startswith("truth:")][:3]
    for sampled, truth in zip(train_lines, truths):  # the train captions come back word for word
        assert sampled.split("sampled:")[1].split() == truth.split()[2:]
