"""`rnncap gradcheck` and the checks behind it."""
import numpy as np
import pytest

from rnncap import checks
from rnncap.cli import main


def test_every_layer_check_passes_and_prints_a_table(capsys):
    assert main(["gradcheck", "--layers-only"]) == 0
    out = capsys.readouterr().out
    for name, _ in checks.LAYER_CHECKS:
        assert name in out
    assert "10 passed, 0 failed" in out


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
    assert "13 passed, 0 failed" in out


def test_an_unimplemented_layer_is_a_row_not_a_traceback(monkeypatch, capsys):
    from rnncap import rnn_layers

    def todo(*args):
        raise NotImplementedError("implement gru_forward")

    monkeypatch.setattr(rnn_layers, "gru_forward", todo)
    assert main(["gradcheck", "--layers-only"]) == 1
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("gru ")][0]
    assert "not implemented" in line
