"""Run the RNN, LSTM and Transformer notebooks top to bottom, offline, and check what they print
(the attention notebook runs in tests/test_attention_notebook.py); check every committed notebook.

Each notebook is executed once (nbclient, kernel python3, working directory notebooks/,
MPLBACKEND=Agg, one BLAS thread unless set); any cell error fails. The notebooks pick COCO
when it is present; here RNNCAP_DATA points at an empty directory so that they always use the
built-in shapes data, which makes the printed numbers comparable from machine to machine. The built-in data is
generated (once, cached) before the notebooks run, so that cost is not part of their run time.
"""
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
RNN_NOTEBOOKS = ["RNN_Captioning.ipynb", "LSTM_Captioning.ipynb"]
TRANSFORMER_NOTEBOOK = "Transformer_Captioning.ipynb"
NOTEBOOKS = RNN_NOTEBOOKS + [TRANSFORMER_NOTEBOOK]
ALL_NOTEBOOKS = NOTEBOOKS + ["Attention_Captioning.ipynb"]
CELL_TIMEOUT = 600  # seconds; a whole notebook takes well under a minute of CPU time
# One BLAS thread in the kernel: on a busy machine (other test processes, a parallel pytest)
# OpenBLAS threads spin against each other and the notebooks ran 7x slower; one thread costs
# little here, since most matrices are small (25 x 512 by 512 x 2048 per step).
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


def execute(name, tmp_path_factory):
    """(name, executed notebook, seconds): run one notebook as described above."""
    from rnncap import shapes

    shapes.ensure_shapes()
    nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")
        for var in BLAS_THREAD_VARS:  # unless the caller chose
            mp.setenv(var, os.environ.get(var, "1"))
        mp.setenv("RNNCAP_DATA", str(tmp_path_factory.mktemp("no_coco")))
        start = time.time()
        try:
            client.execute()
        except CellExecutionError as e:
            pytest.fail("%s: a cell failed:\n%s" % (name, str(e)[-3000:]))
    seconds = time.time() - start
    sys.stderr.write("\n%s executed in %.1f s\n" % (name, seconds))
    return name, nb, seconds


@pytest.fixture(scope="module", params=RNN_NOTEBOOKS)
def executed(request, tmp_path_factory):
    """(name, executed notebook, seconds) for one recurrent notebook, run once per module."""
    return execute(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def executed_transformer(tmp_path_factory):
    """(name, executed notebook, seconds) for the Transformer notebook."""
    return execute(TRANSFORMER_NOTEBOOK, tmp_path_factory)


def cell_text(cell):
    """Everything a code cell printed (stdout and stderr streams, text results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def all_text(nb):
    return "\n".join(cell_text(c) for c in nb.cells if c.cell_type == "code")


def values(pattern, text):
    return [float(v) for v in re.findall(pattern, text)]


# ----------------------------------------------------------------------------- execution

def test_every_cell_ran_without_error(executed):
    name, nb, seconds = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), name
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], name


def test_images_are_shown_and_a_dead_link_gives_a_placeholder(executed):
    name, nb, _ = executed
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "image/png" in o.get("data", {})]
    # data, dead link, loss curves, train/val captions, val captions of the trained model
    assert len(figures) >= 7, (name, len(figures))
    assert "image_from_url: cannot read file:///nonexistent" in all_text(nb)


# ----------------------------------------------------------------------------- printed numbers

def test_forward_and_gradient_checks_print_small_errors(executed):
    name, nb, _ = executed
    text = all_text(nb)
    # "next_h relative error: ...", "unit-vector out relative error: ...", but not the model
    # gradient lines ("Wx       max relative error: ...").
    layer = values(r"(?m)^[\w-]+(?: [\w-]+)? relative error: " + NUMBER, text)
    # Forward checks against the published CS231n values (rounded to 8 digits: ~1e-8) and
    # properties, the model loss against its published value (12 digits), and numeric gradient
    # checks of every layer; a wrong backward pass gives 1e-2 or more. The largest correct
    # ones are ~2e-6 (see the notebooks).
    assert len(layer) >= (22 if name.startswith("RNN") else 15), (name, len(layer))
    assert max(layer) < 1e-5, (name, layer)
    published = re.findall(r"loss: " + NUMBER + r"\s+expected loss: " + NUMBER, text)
    assert len(published) == 1, name
    assert abs(float(published[0][0]) - float(published[0][1])) < 1e-9, (name, published)
    # The whole model: near-zero entries inflate the element-wise maximum (~1e-6 to 1e-5),
    # the error relative to the whole gradient stays tiny.
    model_max = values(r"max relative error: " + NUMBER, text)
    model_whole = values(r"whole-gradient relative error: " + NUMBER, text)
    assert len(model_max) == len(model_whole) == 8, name
    assert max(model_max) < 1e-4 and max(model_whole) < 1e-8, (name, model_max, model_whole)


def test_softmax_loss_sanity_check_matches_log_v(executed):
    name, nb, _ = executed
    if not name.startswith("RNN"):
        pytest.skip("the temporal softmax loss is checked in the RNN notebook")
    rows = re.findall(r"loss " + NUMBER + r"\s+log\(V\) \* tokens / N = " + NUMBER, all_text(nb))
    assert len(rows) == 3
    for loss, expected in rows:
        assert abs(float(loss) - float(expected)) < 0.01 * float(expected)


def test_small_data_overfit_reaches_a_small_loss(executed):
    name, nb, _ = executed
    text = all_text(nb)
    log = values(r"\(Iteration \d+ / 100\) loss: " + NUMBER, text)
    assert len(log) == 10, name  # the classic protocol: 100 iterations, printed every 10
    final = values(r"Final loss: " + NUMBER, text)
    assert len(final) == 1, name
    # Memorised: from about 45 to below 0.1 on the built-in data.
    assert log[0] > 30 and final[0] < 0.1, (name, log, final)


def test_inline_vanishing_gradient_experiments_show_the_effect(executed):
    name, nb, _ = executed
    text = all_text(nb)
    if name.startswith("RNN"):
        norms = values(r"\|dL/dh0\| per sequence: " + NUMBER, text)
        assert len(norms) == 6 and norms[-1] < 1e-6 * norms[0], norms
    else:
        rows = re.findall(r"(?m)^\s*(\d+)\s+" + "\\s+".join([NUMBER] * 3) + r"\s*$", text)
        table = {int(t): [float(v) for v in vals] for t, *vals in rows}
        assert sorted(table) == [1, 5, 10, 20, 40, 80], table
        rnn, lstm0, lstm3 = table[80]
        assert rnn < 1e-10 and lstm0 < 1e-10 and lstm3 > 1e-2, table


def test_training_run_generalises_to_val_images(executed):
    name, nb, _ = executed
    text = all_text(nb)
    row = lambda label: values(NUMBER, re.search(r"(?m)^%s\s+(.*)$" % re.escape(label),
                                                 text).group(1))
    overfit, greedy, beam = (row("overfit model, greedy"), row("trained, greedy"),
                             row("trained, beam 3"))
    assert len(overfit) == len(greedy) == len(beam) == 5  # BLEU-1..4, CIDEr-D
    # BLEU-4 and CIDEr-D on 500 unseen val images: the short run learns, the overfit one did not.
    assert greedy[3] > 0.35 and greedy[3] > overfit[3] + 0.1, (name, overfit, greedy)
    assert greedy[4] > overfit[4] + 0.5, (name, overfit, greedy)
    assert beam[3] > 0.35, (name, beam)
    # Val loss after each epoch is far below an untrained model's loss (the overfit log's first
    # line, on captions of the same kind); epoch to epoch it may wobble, so no ordering is asserted.
    val_losses = values(r"val loss: " + NUMBER, text)
    untrained = values(r"\(Iteration 1 / \d+\) loss: " + NUMBER, text)[0]
    assert len(val_losses) == 2 and max(val_losses) < 0.4 * untrained, (val_losses, untrained)
    assert re.search(r"beam search and greedy differ on \d+ of 200 val images", text)


def test_caption_accuracy_shows_what_bleu_misses(executed):
    name, nb, _ = executed
    rows = re.findall(r"(?m)^(references|turned|greedy|beam 3)\s+BLEU-4 " + NUMBER
                      + r"\s+caption accuracy: " + NUMBER + r"% fully correct \(one object "
                      + NUMBER + r"%, two objects " + NUMBER + r"%; both objects right "
                      + NUMBER + r"%\)", all_text(nb))
    table = {label: [float(v) for v in rest] for label, *rest in rows}
    assert sorted(table) == ["beam 3", "greedy", "references", "turned"], (name, rows)
    bleu4, *accuracy = table["references"]
    assert accuracy == [100.0] * 4 and 0.6 < bleu4 < 0.8  # true captions; BLEU's ceiling here
    # one word turned around in each two-object reference: BLEU barely moves, most are false
    turned_bleu4, full, one, two, both = table["turned"]
    assert turned_bleu4 > 0.9 * bleu4 and full < 50 and (one, two, both) == (100, 0, 100)
    for label in ("greedy", "beam 3"):  # the short run: pairs are much harder than lone objects
        model_bleu4, full, one, two, both = table[label]
        assert model_bleu4 > 0.35 and full < 90 and two < one, (name, label, table[label])
    assert len(re.findall(r"(?m)^model: .*\ntruth: ", all_text(nb))) == 6



# ----------------------------------------------------------------------------- the Transformer

def test_transformer_notebook_ran_and_checks_print_small_errors(executed_transformer):
    _, nb, _ = executed_transformer
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    text = all_text(nb)
    # forward checks against PyTorch's values (8 digits), numeric gradients of every layer
    errors = values(r"(?m)relative error: " + NUMBER, text)
    assert len(errors) >= 22 and max(errors) < 1e-5, errors
    assert values(r"erf, largest absolute error: " + NUMBER, text)[0] < 1e-12
    loss = re.findall(r"loss: " + NUMBER + r"\s+expected loss: " + NUMBER, text)
    assert len(loss) == 1 and abs(float(loss[0][0]) - float(loss[0][1])) < 1e-9
    zero = values(r"exactly-zero gradients: largest entry " + NUMBER, text)
    assert len(zero) == 1 and zero[0] < 1e-9
    bk = values(r"dbk    largest entry: " + NUMBER, text)
    assert len(bk) == 1 and bk[0] < 1e-12
    assert "<NULL>'s word vector gets no gradient: True" in text


def test_transformer_notebook_overfits_and_trains(executed_transformer):
    _, nb, _ = executed_transformer
    text = all_text(nb)
    log = values(r"\(Iteration \d+ / 200\) loss: " + NUMBER, text)
    final = values(r"Final loss: " + NUMBER, text)
    assert len(log) == 10 and len(final) == 1
    assert log[0] > 2 and final[0] < 0.1, (log, final)
    scores = re.search(r"val, 200 images, greedy: BLEU-1 " + NUMBER + r"  BLEU-2 " + NUMBER
                       + r"  BLEU-3 " + NUMBER + r"  BLEU-4 " + NUMBER, text)
    assert scores and float(scores.group(4)) > 0.35, scores
    assert "fast and readable greedy captions equal: True" in text
    assert re.search(r"greedy caption accuracy: " + NUMBER + "% fully correct", text)
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "image/png" in o.get("data", {})]
    assert len(figures) >= 5, len(figures)


# ----------------------------------------------------------------------------- the files

def test_committed_notebooks_have_no_outputs():
    for name in ALL_NOTEBOOKS:
        nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


def test_committed_notebooks_match_their_generator():
    script = NOTEBOOK_DIR / "build_notebooks.py"
    if not script.is_file():
        pytest.skip("no generator (e.g. in a student copy)")
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    for name, text in build_notebooks.build().items():
        on_disk = (NOTEBOOK_DIR / name).read_text(encoding="utf-8")
        assert on_disk == text, "%s is out of date: run python notebooks/build_notebooks.py" % name


def without_solutions(source):
    """A code cell's text without its solution regions (what the student copy keeps)."""
    kept, inside = [], False
    for line in source.splitlines():
        if line.strip() == "# BEGIN SOLUTION":
            inside = True
        elif line.strip() == "# END SOLUTION":
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


# What a forward pass written out in the notebook would contain: the cell equations.
REFERENCE_CODE = ["np.tanh(", "sigmoid(", "np.exp(", ".dot(Wx", "@ Wx", "Wx[:", "1 / (1 +",
                  "1.0 / (1.0 +"]


def test_forward_checks_reveal_no_layer_code():
    """The student copy keeps every code cell outside the solution regions: those cells must
    check the layers against published values and properties, never compute them."""
    for name in ALL_NOTEBOOKS:
        nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
        code = "\n".join(without_solutions(c.source) for c in nb.cells if c.cell_type == "code")
        assert not [s for s in REFERENCE_CODE if s in code], name
        if name != "Attention_Captioning.ipynb":
            assert re.search(r"expected_loss = \d+\.\d{10}", code), name  # the model's loss check


def test_answers_sit_between_solution_markers():
    for name in NOTEBOOKS:
        nb = nbformat.read(str(NOTEBOOK_DIR / name), as_version=4)
        answers = 0
        for cell in nb.cells:
            lines = [line.strip() for line in cell.source.splitlines()]
            begin, end = (("# BEGIN SOLUTION", "# END SOLUTION") if cell.cell_type == "code"
                          else ("<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"))
            assert lines.count(begin) == lines.count(end), name
            if begin in lines:
                assert lines.index(begin) + 1 < lines.index(end), name  # a non-empty answer
                answers += lines.count(begin)
        assert answers >= 2, name
