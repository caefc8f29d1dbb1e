"""Run notebooks/Attention_Captioning.ipynb top to bottom, offline, and check what it prints.

Executed like the other notebooks (tests/test_notebooks.py): nbclient, working directory
notebooks/, MPLBACKEND=Agg, one BLAS thread unless set, the built-in data generated first.
"""
import os
import re
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from test_notebooks import (BLAS_THREAD_VARS, CELL_TIMEOUT, NOTEBOOK_DIR, NUMBER, all_text,
                            cell_text, values)

NAME = "Attention_Captioning.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """(executed notebook, its printed text) for the attention notebook, run once."""
    from rnncap import shapes

    shapes.ensure_shapes()
    nb = nbformat.read(str(NOTEBOOK_DIR / NAME), as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")
        for var in BLAS_THREAD_VARS:
            mp.setenv(var, os.environ.get(var, "1"))
        start = time.time()
        try:
            client.execute()
        except CellExecutionError as e:
            pytest.fail("%s: a cell failed:\n%s" % (NAME, str(e)[-3000:]))
    sys.stderr.write("\n%s executed in %.1f s\n" % (NAME, time.time() - start))
    return nb, all_text(nb)


def test_every_cell_ran_and_the_maps_are_drawn(executed):
    nb, _ = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    figures = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 2  # the overfit loss curve and the attention maps


def test_forward_properties_hold(executed):
    _, text = executed
    # uniform (2), peaked (2), weight ratio, Wattn = 0 (2), as-a-bias (2), one step
    checks = values(r"(?m)^(?:uniform|peaked|weight ratio|Wattn = 0|as-a-bias|one step)"
                    r"[\w -]* relative error: " + NUMBER, text)
    assert len(checks) == 10, checks
    assert max(checks) < 1e-8, checks


def test_every_backward_matches_numeric_gradients(executed):
    _, text = executed
    rows = re.findall(r"(?m)^(attention|step|sequence) d(\w+)\s+relative error: " + NUMBER, text)
    names = [(kind, name) for kind, name, _ in rows]
    assert names == ([("attention", "prev_h"), ("attention", "A")]
                     + [("step", n) for n in ("x", "prev_h", "prev_c", "Wx", "Wh", "b", "attn",
                                              "Wattn")]
                     + [("sequence", n) for n in ("x", "A", "Wx", "Wh", "Wattn", "b")])
    errors = [float(e) for _, _, e in rows]
    assert max(errors) < 1e-6, rows  # a wrong backward pass gives 1e-2 or more


def test_model_gradients_match_numeric(executed):
    _, text = executed
    model_max = values(r"max relative error: " + NUMBER, text)
    model_whole = values(r"whole-gradient relative error: " + NUMBER, text)
    assert len(model_max) == len(model_whole) == 9  # the LSTM's eight and Wattn
    assert max(model_max) < 1e-4 and max(model_whole) < 1e-8, (model_max, model_whole)


def test_small_data_overfit_falls_far(executed):
    nb, _ = executed
    text = [cell_text(c) for c in nb.cells
            if c.cell_type == "code" and "small_solver.train()" in c.source][0]
    log = values(r"\(Iteration \d+ / 200\) loss: " + NUMBER, text)
    final = values(r"Final loss: " + NUMBER, text)
    assert len(log) == 10 and len(final) == 1, (log, final)
    assert log[0] > 30 and final[0] < 1.0, (log, final)


def test_short_run_localises_the_objects(executed):
    _, text = executed
    bleu4 = values(r"val, 500 images: BLEU-4 " + NUMBER, text)
    assert len(bleu4) == 1 and bleu4[0] > 0.35, bleu4
    assert re.search(r"caption accuracy: " + NUMBER + "% fully correct", text)
    loc = re.findall(r"attention localisation: " + NUMBER + r"% \(chance " + NUMBER + r"%\)",
                     text)
    assert len(loc) == 1, loc
    score, chance = map(float, loc[0])
    # After one epoch the maps already point at the object far more often than chance
    # (measured 49.5% against 4.0%; an untrained model's maps peak on the object by chance).
    assert chance < 10 and score > 30 and score > 5 * chance, loc
