"""`rnncap gradcheck` and the checks behind it (rnncap.checks, also the grader's inputs)."""
import importlib

import numpy as np
import pytest

from rnncap import checks
from rnncap.cli import main
from rnncap.teaching import grader


def test_every_layer_check_passes_and_prints_a_table(capsys):
    assert main(["gradcheck", "--layers-only"]) == 0
    out = capsys.readouterr().out
    for check in checks.LAYER_CHECKS + checks.TRANSFORMER_LAYER_CHECKS:
        assert check.name in out
    assert "16 passed, 0 failed" in out


def test_a_broken_transformer_backward_is_reported_and_fails(monkeypatch, capsys):
    from rnncap import transformer_layers

    real = transformer_layers.multihead_attention_backward

    def wrong(dout, cache):
        dq, dk, dv, dp = real(dout, cache)
        return dq, dk, dv, dict(dp, Wo=-dp["Wo"])

    monkeypatch.setattr(transformer_layers, "multihead_attention_backward", wrong)
    assert main(["gradcheck", "--layers-only"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "FAIL" in [l for l in lines if l.startswith("multihead_attention ")][0]
    assert "FAIL" in [l for l in lines if l.startswith("transformer_decoder_layer ")][0]


def test_a_broken_backward_is_reported_and_fails(monkeypatch, capsys):
    from rnncap import rnn_layers

    real = rnn_layers.rnn_step_backward

    def wrong(dnext_h, cache):
        dx, dprev_h, dWx, dWh, db = real(dnext_h, cache)
        return dx, dprev_h, dWx, dWh, 2 * db  # db off by a factor of 2

    monkeypatch.setattr(rnn_layers, "rnn_step_backward", wrong)
    assert main(["gradcheck", "--layers-only"]) == 1
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("rnn_step ")][0]
    assert "FAIL" in line


def test_results_are_deterministic_for_a_seed():
    first = checks.run_checks(checks.LAYER_CHECKS[:3], seed=3)
    second = checks.run_checks(checks.LAYER_CHECKS[:3], seed=3)
    assert first == second
    assert all(ok for _, _, ok in first)


def test_unknown_option_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["gradcheck", "--bogus"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--bogus" in err


def test_full_gradcheck_includes_the_captioning_model(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for cell in ("rnn", "lstm", "gru"):
        assert "CaptioningRNN[%s]" % cell in out
    assert "CaptioningTransformer[grid, gelu]" in out
    assert "20 passed, 0 failed" in out


def test_an_unimplemented_layer_is_a_row_not_a_traceback(monkeypatch, capsys):
    from rnncap import rnn_layers

    def todo(*args):
        raise NotImplementedError("implement gru_forward")

    monkeypatch.setattr(rnn_layers, "gru_forward", todo)
    assert main(["gradcheck", "--layers-only"]) == 1
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("gru ")][0]
    assert "not implemented" in line


def same(a, b):
    """Equal nested lists / tuples / dicts of arrays, dtype and all."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and np.array_equal(a, b)


def test_the_grader_grades_the_registry_inputs():
    # Each grader row draws its inputs first from its Generator, so for the same seed the
    # student's calls must start with exactly the arrays the registry builds.
    for check in checks.LAYER_CHECKS:
        name = check.name if check.backward is None else check.forward
        build = [b for _, row, b in grader.CHECKS if row == name][0]
        calls, _ = build(importlib.import_module, np.random.default_rng(5))
        assert same(calls[0]["args"], check.inputs(np.random.default_rng(5))), name
    build = [b for _, row, b in grader.CHECKS if row == "CaptioningRNN.loss"][0]
    calls, _ = build(importlib.import_module, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for call, cell_type in zip(calls, checks.CELL_TYPES):  # one Generator for the three cells
        model, features, captions = checks.model_inputs(rng, cell_type)
        assert call["init_kwargs"]["cell_type"] == cell_type
        assert same(call["params"], model.params) and same(call["args"], (features, captions))
    for check in checks.TRANSFORMER_LAYER_CHECKS:
        build = [b for _, row, b in grader.CHECKS if row == check.forward][0]
        calls, _ = build(importlib.import_module, np.random.default_rng(5))
        args = check.inputs(np.random.default_rng(5))
        assert same([a for a in calls[0]["args"] if not isinstance(a, np.random.Generator)],
                    [a for a in args if not isinstance(a, np.random.Generator)]), check.name
    build = [b for _, row, b in grader.CHECKS if row == "CaptioningTransformer.loss"][0]
    (call,), _ = build(importlib.import_module, np.random.default_rng(5))
    model, features, captions = checks.transformer_model_inputs(np.random.default_rng(5), grid=2)
    assert same(call["params"], model.params) and same(call["args"], (features, captions))

