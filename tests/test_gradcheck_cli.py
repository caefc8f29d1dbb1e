"""`rnncap gradcheck` and the checks behind it (rnncap.checks, also the grader's inputs)."""
import numpy as np
import pytest

from rnncap import checks
from rnncap.cli import main
from rnncap.teaching import grader


def test_every_layer_check_passes_and_prints_a_table(capsys):
    assert main(["gradcheck", "--layers-only"]) == 0
    out = capsys.readouterr().out
    for check in checks.LAYER_CHECKS:
        assert check.name in out
    assert "19 passed, 0 failed" in out


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
    for cell in ("rnn", "lstm", "gru", "attention"):
        assert "CaptioningRNN[%s]" % cell in out
    assert "CaptioningTransformer[grid]" in out
    assert "24 passed, 0 failed" in out


def test_an_unimplemented_layer_is_a_row_not_a_traceback(monkeypatch, capsys):
    from rnncap import rnn_layers

    def todo(*args):
        raise NotImplementedError("implement gru_forward")

    monkeypatch.setattr(rnn_layers, "gru_forward", todo)
    assert main(["gradcheck", "--layers-only"]) == 1
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("gru ")][0]
    assert "not implemented" in line


def same(a, b):
    """Equal nested lists / tuples / dicts of arrays, dtype and all (Generators: same state)."""
    if isinstance(a, np.random.Generator):
        return isinstance(b, np.random.Generator) and \
            a.bit_generator.state == b.bit_generator.state
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and np.array_equal(a, b)


def test_the_grader_grades_the_registry_inputs():
    # Each grader group draws its inputs first from its own Generator, so for the same seed the
    # student's first call must get exactly the arrays the registry builds.
    groups = {g.name: g for g in grader.build_groups(seed=5)}
    for check in checks.LAYER_CHECKS:
        call = groups[check.name].calls[0]
        assert call["func"] == check.forward
        assert same(call["args"], check.inputs(np.random.default_rng(5))), check.name
    for check in checks.MODEL_CHECKS:
        call = groups[checks.method_row(check, "loss")].calls[0]
        if check.cls != "CaptioningRNN":
            rng = np.random.default_rng(5)  # the Transformer: built as the registry builds it
            model = checks.build_model(check, rng, 0.5)
            assert call["init_kwargs"] == checks.model_init(check) and call["method"] == "loss"
            assert same(call["params"], model.params)
            assert same(call["args"], list(check.inputs(rng, model)))
            continue
        model, features, captions = checks.model_inputs(np.random.default_rng(5), check.cell_type)
        assert call["init_kwargs"]["cell_type"] == check.cell_type and call["method"] == "loss"
        assert same(call["params"], model.params) and same(call["args"], [features, captions])
