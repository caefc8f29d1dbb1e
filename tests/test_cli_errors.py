"""Every command, given nonsense: negative, zero, huge, NaN, inf and non-numeric values, and
missing, unwritable or wrong-kind paths. Each must end with one line on stderr that names the
option (or argument), exit status 2, no traceback, and before any real work (no training log,
no file written). All in-process, on a tiny data directory: the whole file runs in seconds."""
import os

import pytest

from rnncap.cli import main
from test_cli_sample_evaluate import chain_model
from test_cli_train import make_data_dir

HUGE = str(10 ** 12)
BIG_WORDS = str(10 ** 9)


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """Names used in the argument lists below -> real paths."""
    from rnncap.checkpoint import save_model

    root = tmp_path_factory.mktemp("nonsense")
    data = make_data_dir(root / "data")
    ckpt = save_model(str(root / "chain.npz"), chain_model(), extra_meta={"train": {"data": data}})
    (root / "file.txt").write_text("not a directory\n")
    (root / "dir").mkdir()
    return {"DATA": data, "CKPT": ckpt, "FILE": str(root / "file.txt"), "DIR": str(root / "dir"),
            "MISSING": str(root / "missing"), "UNDER_FILE": str(root / "file.txt" / "sub"),
            "READ_ONLY": "/proc/rnncap-cannot-write-here", "OUT": str(root / "fresh_out")}


T = ["train", "--data", "{DATA}", "--out", "{OUT}", "--no-progress"]
S = ["sample", "{CKPT}", "--data", "{DATA}"]
E = ["evaluate", "{CKPT}", "--data", "{DATA}"]
O = ["overfit", "--data", "{DATA}"]
D = ["data", "shapes", "--out", "{OUT}"]
M = ["exercise", "make", "{OUT}"]
C = ["exercise", "check", "{DIR}"]
G = ["gradcheck", "--layers-only"]

# (argv, the text its error line must contain)
CASES = [
    # train: numbers
    (T + ["--epochs", "-1"], "--epochs"), (T + ["--epochs", "two"], "--epochs"),
    (T + ["--epochs", "1e3"], "--epochs"), (T + ["--epochs", HUGE + "000"], "--epochs"),
    (T + ["--batch-size", "0"], "--batch-size"), (T + ["--batch-size", "-5"], "--batch-size"),
    (T + ["--batch-size", "1e12"], "--batch-size"), (T + ["--batch-size", HUGE], "--batch-size"),
    (T + ["--batch-size", "nan"], "--batch-size"),
    (T + ["--lr", "nan"], "--lr"), (T + ["--lr", "inf"], "--lr"), (T + ["--lr", "0"], "--lr"),
    (T + ["--lr", "-0.1"], "--lr"), (T + ["--lr", "fast"], "--lr"), (T + ["--lr", "1e400"], "--lr"),
    (T + ["--lr-decay", "inf"], "--lr-decay"), (T + ["--lr-decay", "0"], "--lr-decay"),
    (T + ["--lr-decay", "nan"], "--lr-decay"),
    (T + ["--clip", "-1"], "--clip"), (T + ["--clip", "nan"], "--clip"),
    (T + ["--clip", "inf"], "--clip"),
    (T + ["--hidden-dim", "0"], "--hidden-dim"), (T + ["--hidden-dim", "1e6"], "--hidden-dim"),
    (T + ["--hidden-dim", "10000000"], "--hidden-dim"),
    (T + ["--wordvec-dim", BIG_WORDS], "--wordvec-dim"), (T + ["--wordvec-dim", "-2"], "--wordvec-dim"),
    (T + ["--max-train", "0"], "--max-train"), (T + ["--max-train", "1e12"], "--max-train"),
    (T + ["--max-train", HUGE], "--max-train"),
    (T + ["--val-images", "0"], "--val-images"), (T + ["--print-every", "0"], "--print-every"),
    (T + ["--seed", "-1"], "--seed"), (T + ["--seed", str(2 ** 32)], "--seed"),
    (T + ["--seed", "x"], "--seed"),
    # train: paths
    (T + ["--out", "{FILE}"], "--out"), (T + ["--out", "{UNDER_FILE}"], "--out"),
    (T + ["--out", "{READ_ONLY}"], "--out"), (T + ["--out", ""], "--out"),
    (["train", "--data", "{MISSING}", "--out", "{OUT}"], "--data {MISSING}"),
    (["train", "--data", "{FILE}", "--out", "{OUT}"], "--data {FILE}"),
    (["train", "--resume", "{MISSING}", "--out", "{OUT}"], "checkpoint {MISSING}"),
    (["train", "--resume", "{FILE}", "--out", "{OUT}"], "checkpoint {FILE}"),
    # sample
    (S + ["--num", "0"], "--num"), (S + ["--num", "-3"], "--num"), (S + ["--num", "x"], "--num"),
    (S + ["--index", "-1"], "--index"), (S + ["--index", "999"], "--index"),
    (S + ["--index", "x"], "--index"),
    (S + ["--max-length", "0"], "--max-length"), (S + ["--max-length", HUGE], "--max-length"),
    (S + ["--beam-size", "0"], "--beam-size"), (S + ["--beam-size", BIG_WORDS], "--beam-size"),
    (S + ["--temperature", "0"], "--temperature"), (S + ["--temperature", "nan"], "--temperature"),
    (S + ["--temperature", "inf"], "--temperature"), (S + ["--temperature", "-1"], "--temperature"),
    (S + ["--seed", "-1"], "--seed"),
    (S + ["--out", "{DIR}"], "--out"), (S + ["--out", "{UNDER_FILE}"], "--out"),
    (S + ["--out", "{READ_ONLY}"], "--out"),
    (["sample", "{MISSING}"], "checkpoint {MISSING}"), (["sample", "{DIR}"], "checkpoint {DIR}"), (["sample", "{FILE}"], "checkpoint {FILE}"),
    (["sample", "{CKPT}", "--data", "{MISSING}"], "--data {MISSING}"),
    # evaluate
    (E + ["--beam-size", "0"], "--beam-size"), (E + ["--beam-size", "-1"], "--beam-size"),
    (E + ["--beam-size", BIG_WORDS], "--beam-size"),
    (E + ["--num-images", "0"], "--num-images"), (E + ["--num-images", "nan"], "--num-images"),
    (E + ["--max-length", "0"], "--max-length"), (E + ["--max-length", HUGE], "--max-length"),
    (["evaluate", "{MISSING}"], "checkpoint {MISSING}"), (["evaluate", "{DIR}"], "checkpoint {DIR}"),
    (["evaluate", "{CKPT}", "--data", "{FILE}"], "--data {FILE}"),
    # overfit
    (O + ["--seed", "-1"], "--seed"), (O + ["--seed", "nan"], "--seed"),
    (O + ["--plot", "{DIR}"], "--plot"), (O + ["--plot", "{UNDER_FILE}"], "--plot"),
    (O + ["--plot", "{READ_ONLY}"], "--plot"), (O + ["--plot", ""], "--plot"),
    (["overfit", "--data", "{MISSING}"], "--data {MISSING}"), (["overfit", "--data", "{FILE}"], "--data {FILE}"),
    # data
    (D + ["--num-train", "0"], "--num-train"), (D + ["--num-train", "1"], "--num-train"),
    (D + ["--num-train", "-1"], "--num-train"), (D + ["--num-train", "1e9"], "--num-train"),
    (D + ["--num-train", BIG_WORDS], "--num-train"), (D + ["--num-train", "x"], "--num-train"),
    (D + ["--num-val", "0"], "--num-val"), (D + ["--num-val", HUGE], "--num-val"),
    (D + ["--seed", "-1"], "--seed"),
    (["data", "shapes", "--out", "{FILE}"], "--out"), (["data", "shapes", "--out", "{UNDER_FILE}"], "--out"),
    (["data", "shapes", "--out", "{READ_ONLY}"], "--out"),
    (["data", "--num-train", "5"], "--num-train"),
    # exercise
    (["exercise", "make", "{FILE}"], "OUT_DIR"), (["exercise", "make", "{UNDER_FILE}"], "OUT_DIR"),
    (["exercise", "make", "{READ_ONLY}"], "OUT_DIR"),
    (M + ["--source", "{MISSING}"], "--source"), (M + ["--source", "{FILE}"], "--source"),
    (C + ["--timeout", "nan"], "--timeout"), (C + ["--timeout", "inf"], "--timeout"),
    (C + ["--timeout", "0"], "--timeout"), (C + ["--timeout", "-1"], "--timeout"),
    (C + ["--seed", "-1"], "--seed"),
    (["exercise", "check", "{MISSING}"], "DIR {MISSING}"), (["exercise", "check", "{FILE}"], "DIR {FILE}"),
    (C + ["--json", "{DIR}"], "--json"), (C + ["--json", "{UNDER_FILE}"], "--json"),
    (["exercise", "grade", "{MISSING}", "--out", "{OUT}.csv"], "SUBMISSION {MISSING}"),
    (["exercise", "grade", "{DIR}", "--out", "{DIR}"], "--out"),
    (["exercise", "grade", "{DIR}", "--out", "{READ_ONLY}"], "--out"),
    (["exercise", "grade", "{DIR}", "--out", "{OUT}.csv", "--jobs", "0"], "--jobs"),
    (["exercise", "grade", "{DIR}", "--out", "{OUT}.csv", "--timeout", "nan"], "--timeout"),
    (["exercise", "gradescope", "{DIR}"], "OUT.zip"), (["exercise", "gradescope", "{FILE}"], "OUT.zip"),
    (["exercise", "gradescope", "{OUT}.zip", "--source", "{FILE}"], "--source"),
    # gradcheck
    (G + ["--seed", "-1"], "--seed"), (G + ["--seed", "x"], "--seed"),
    (G + ["--seed", str(2 ** 40)], "--seed"),
]


@pytest.mark.parametrize("argv, names", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_nonsense_is_one_line_naming_the_option(paths, argv, names, capsys, tmp_path):
    argv = [a.format(**paths) for a in argv]
    names = names.format(**paths)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse refuses while parsing
        code = e.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert names.lower() in lines[0].lower(), lines[0]
    assert "(Iteration" not in out and "Epoch" not in out  # refused before any training
    assert not os.path.exists(paths["OUT"]) or not os.listdir(paths["OUT"])
