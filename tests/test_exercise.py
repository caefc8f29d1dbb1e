"""Exercise mode: `rnncap exercise make` (the student copy) and `rnncap exercise check` (grader).

Expected values are computed here, independently of rnncap/teaching/exercise.py: solution
regions are found by the small parser below, function names by `ast`, and the student copy is
checked by pasting the original regions back in and by searching its files for every solution line.
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnncap.teaching import exercise, grader
from rnncap.cli import main

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "# BEGIN " + "SOLUTION", "# END " + "SOLUTION"  # split: this file has no regions
STUB = re.compile(r'^(\s*)# TODO: .*\n'
                  r'\1raise NotImplementedError\("implement ([\w.]+|this cell)"\)(?:\n|\Z)', re.M)
MD_BEGIN, MD_END = "<!-- BEGIN " + "SOLUTION -->", "<!-- END " + "SOLUTION -->"
MD_STUB = re.compile(r"^()()\*Your answer here\.\*(?:\n|\Z)", re.M)  # two empty groups, as STUB
ROWS = ["affine_forward", "affine_backward", "rnn_step_forward", "rnn_step_backward",
        "rnn_forward", "rnn_backward", "lstm_step_forward", "lstm_step_backward",
        "lstm_forward", "lstm_backward", "gru_step_forward", "gru_step_backward", "gru_forward",
        "gru_backward", "dot_product_attention_forward", "dot_product_attention_backward",
        "attention_step_forward", "attention_step_backward", "attention_forward",
        "attention_backward", "word_embedding_forward", "word_embedding_backward",
        "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss",
        "relu_forward", "relu_backward", "gelu_forward", "gelu_backward", "dropout_forward",
        "dropout_backward", "layernorm_forward", "layernorm_backward",
        "multihead_attention_forward", "multihead_attention_backward",
        "transformer_decoder_layer_forward", "transformer_decoder_layer_backward",
        "CaptioningRNN.loss[rnn]", "CaptioningRNN.loss[lstm]", "CaptioningRNN.loss[gru]",
        "CaptioningRNN.loss[attention]", "CaptioningTransformer.loss[grid]",
        "CaptioningRNN.sample[rnn]", "CaptioningRNN.sample[lstm]", "CaptioningRNN.sample[gru]",
        "CaptioningRNN.sample[attention]",
        "CaptioningTransformer.sample[vector]", "CaptioningTransformer.sample[grid]",
        "erf", "positional_encoding", "sgd", "sgd_momentum", "rmsprop", "adam"]


# ----------------------------------------------------------------------------- independent helpers

def spans(lines, begin=BEGIN, end=END):
    """(begin, end) line indices of every region, markers included."""
    starts = [i for i, l in enumerate(lines) if l.strip() == begin]
    stops = [i for i, l in enumerate(lines) if l.strip() == end]
    assert len(starts) == len(stops)
    return list(zip(starts, stops))


def package_files_with_regions():
    return sorted(p for p in (ROOT / "rnncap").rglob("*.py")
                  if spans(p.read_text().splitlines()))


def enclosing_function(source, lineno):
    """Class.method or function around 1-based line lineno, by the AST."""
    best = None

    def visit(node, prefix):
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if child.lineno <= lineno <= child.end_lineno:
                    if isinstance(child, ast.FunctionDef):
                        best = name
                    visit(child, name + ".")
    visit(ast.parse(source), "")
    return best


def paste_back(student_text, original_text, stub=STUB, markers=(BEGIN, END)):
    """The student text with each stub replaced by the original region (in order)."""
    lines = original_text.splitlines(keepends=True)
    regions = ["".join(lines[b:e + 1]) for b, e in spans(lines, *markers)]
    pieces = stub.split(student_text)  # text, indent, name, text, indent, name, ..., text
    assert len(pieces) == 3 * len(regions) + 1
    out = pieces[0]
    for k, region in enumerate(regions):
        out += region + pieces[3 * k + 3]
    return out


def run_in_copy(root, code):
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(root.parent),
                          env=env, capture_output=True, text=True, timeout=120)


def readable(path):
    """A file's text, with notebook cell sources decoded from the JSON."""
    text = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix == ".ipynb":
        text += "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    return text


# ----------------------------------------------------------------------------- the student copy

def test_copy_is_complete_and_leaves_out_instructor_files(student):
    for rel in ["pyproject.toml", "README.md", "STUDENTS.md", "rnncap/__init__.py",
                "rnncap/rnn_layers.py", "rnncap/cli.py", "tests/conftest.py"]:
        assert (student / rel).is_file(), rel
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert (student / "notebooks" / nb.name).is_file()
    names = {p.name for p in student.rglob("*")}
    assert not names & {".git", ".venv", "__pycache__", ".pytest_cache", "exercise",
                        "test_exercise.py", "test_rnn_layers.py"}
    assert not [n for n in names if n.endswith((".egg-info", ".pyc"))]
    readme = (student / "README.md").read_text()
    assert "## Exercise (students)" in readme and "## Exercise mode" not in readme
    guide = (student / "STUDENTS.md").read_text()
    assert "{{" not in guide and "`rnncap/rnn_layers.py` | `affine_forward`" in guide


def test_every_region_becomes_a_todo_and_a_raise_naming_its_function(student):
    for path in package_files_with_regions():
        original = path.read_text()
        copy = (student / path.relative_to(ROOT)).read_text()
        lines = original.splitlines()
        stubs = STUB.findall(copy)
        assert len(stubs) == len(spans(lines)), path
        for (b, _), (indent, name) in zip(spans(lines), stubs):
            assert indent == lines[b][:len(lines[b]) - len(lines[b].lstrip())]
            assert name == enclosing_function(original, b + 1)


def test_copy_imports_and_fails_with_the_clear_message(student):
    proc = run_in_copy(student, """
        import numpy as np
        import rnncap, rnncap.rnn_layers as L, rnncap.optim as O
        from rnncap.classifiers.rnn import CaptioningRNN
        print(rnncap.__file__)
        for call in (lambda: L.affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.ones(4)),
                     lambda: O.adam(np.ones(3), np.ones(3)),
                     lambda: CaptioningRNN({"<NULL>": 0, "a": 1}, 2, 2, 2).loss(
                         np.ones((1, 2)), np.zeros((1, 3), dtype=int))):
            try:
                call()
            except NotImplementedError as e:
                print(e)
    """)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert Path(lines[0]).resolve() == student / "rnncap" / "__init__.py"
    assert lines[1:] == ["implement affine_forward", "implement adam",
                         "implement CaptioningRNN.loss"]


def source_files(*suffixes):
    """The checkout's files with these suffixes, outside hidden directories (.git, .venv)."""
    return sorted(p for top in ROOT.iterdir() if not top.name.startswith(".")
                  for p in ([top] if top.is_file() else top.rglob("*"))
                  if p.suffix in suffixes and p.is_file())


def test_no_solution_line_survives_anywhere_in_the_copy(student):
    # Searched: every line inside a region of any .py file or notebook, except markers and hints
    # (hints are for students), lines under 10 characters (return, pass, else:) and lines that
    # also occur outside the regions of the package or the notebooks (in the copy by design).
    inside, outside = set(), []
    for path in source_files(".py", ".ipynb"):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            texts = [("".join(c["source"]).splitlines(),
                      (BEGIN, END) if c["cell_type"] == "code"
                      else (MD_BEGIN, MD_END)) for c in cells]
        else:
            texts = [(path.read_text(errors="ignore").splitlines(), (BEGIN, END))]
        public = path.suffix == ".ipynb" or path.relative_to(ROOT).parts[0] == "rnncap"
        for lines, markers in texts:
            regs = spans(lines, *markers)
            for i, line in enumerate(lines):
                if any(b < i < e for b, e in regs) and not line.strip().startswith("# HINT:"):
                    inside.add(line.strip())
                elif public and not any(b <= i <= e for b, e in regs):
                    outside.append(line)
    public = "\n".join(outside)
    searched = [l for l in inside if len(l) >= 10 and l not in public]
    assert len(searched) > 50
    found = [(line, p) for p in student.rglob("*") if p.is_file()
             for line in searched if line in readable(p)]
    assert found == []
    markers = [p for p in student.rglob("*") if p.is_file()
               for line in readable(p).splitlines() if line.strip() in (BEGIN, END)]
    assert markers == []


# ----------------------------------------------------------------------------- the grader

def table_rows(out):
    """{function: (result, error)} from the printed score table."""
    rows = {}
    for line in out.splitlines()[1:-1]:
        m = re.match(r"(\S+)\s+(pass|FAIL|not implemented)\s+(\S+)", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_fresh_copy_scores_zero(student, capsys):
    assert main(["exercise", "check", str(student)]) == 1
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert list(rows) == ROWS
    assert all(result == "not implemented" for result, _ in rows.values())
    assert "total: 0 of 54 passed (0%)" in out


def test_library_scores_100_percent(capsys):
    assert main(["exercise", "check", str(ROOT)]) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert list(rows) == ROWS and all(result == "pass" for result, _ in rows.values())
    assert all(float(err) < 1e-6 for result, err in rows.values() if err != "-")
    assert "\ntotal: 54 of 54 passed (100%)\n" in out


def test_round_trip_restores_the_library_and_grades_like_it(student, tmp_path, capsys):
    restored = tmp_path / "restored"
    shutil.copytree(student, restored)
    for path in package_files_with_regions():
        rel = path.relative_to(ROOT)
        text = paste_back((student / rel).read_text(), path.read_text())
        assert text == path.read_text(), rel
        (restored / rel).write_text(text)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):  # cell sources, likewise
        copy_cells = json.loads((student / "notebooks" / path.name).read_text())["cells"]
        for cell, copied in zip(json.loads(path.read_text())["cells"], copy_cells):
            code = cell["cell_type"] == "code"
            text = paste_back("".join(copied["source"]), "".join(cell["source"]),
                              *((STUB, (BEGIN, END)) if code else (MD_STUB, (MD_BEGIN, MD_END))))
            assert text == "".join(cell["source"]), path.name
    assert main(["exercise", "check", str(restored)]) == 0
    assert "total: 54 of 54 passed (100%)" in capsys.readouterr().out

    # Now break two functions: a wrong db (error 1/3), and one that raises.
    with open(restored / "rnncap" / "rnn_layers.py", "a") as f:
        f.write(textwrap.dedent("""
            _right_affine_backward = affine_backward

            def affine_backward(dout, cache):
                dx, dw, db = _right_affine_backward(dout, cache)
                return dx, dw, 2 * db

            def rnn_step_forward(x, prev_h, Wx, Wh, b):
                raise TypeError("broken on purpose")
        """))
    assert main(["exercise", "check", str(restored)]) == 1
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert rows["affine_backward"][0] == "FAIL"
    assert float(rows["affine_backward"][1]) == pytest.approx(1 / 3, rel=1e-2)
    assert rows["rnn_step_forward"] == rows["rnn_step_backward"] == ("FAIL", "-")
    # a backward is graded on its own forward's cache: without a forward it cannot be
    line = [l for l in out.splitlines() if l.startswith("rnn_step_backward ")][0]
    assert "needs a working rnn_step_forward (TypeError: broken on purpose" in line
    assert rows["affine_forward"][0] == rows["lstm_step_backward"][0] == rows["adam"][0] == "pass"


def test_model_skeleton_gives_students_the_public_cell_layers():
    # CaptioningRNN.loss sets cell_forward / cell_backward from _CELLS outside its region, so the
    # student copy keeps that line: it must name the layers students write, not a private fast
    # path that stays a stub in their copy.
    from rnncap import rnn_layers
    from rnncap.classifiers import rnn
    for cell in ("rnn", "lstm", "gru"):
        _, forward, backward = rnn._CELLS[cell]
        assert forward is getattr(rnn_layers, cell + "_forward")
        assert backward is getattr(rnn_layers, cell + "_backward")


def test_every_public_function_with_a_region_has_a_grader_row():
    rows, unchecked = grader.graded_rows()
    assert unchecked == []
    names = set()
    for path in package_files_with_regions():
        source = path.read_text()
        for b, _ in spans(source.splitlines()):
            name = enclosing_function(source, b + 1)
            if not name.split(".")[-1].startswith("_"):
                names.add(name)
    assert sorted({function for _, _, function in rows}) == sorted(names)


# ----------------------------------------------------------------------------- a small source tree

MOD = '''\
import numpy as np


def double(x):
    """Twice x."""
    x = np.asarray(x)
    @BEGIN@
    # HINT: one multiplication
    out = 2 * x  # the solution
    @END@
    return out


class Counter:
    def step(self, values):
        total = 0
        for v in values:
            @BEGIN@
            total = total + v * self.weight_of_v
            @END@
        return total

    def reset(self):
        @BEGIN@
        self.weight_of_v = 1.0
        # HINT: set the weight
        @END@
        return self
'''

MOD_STUDENT = '''\
import numpy as np


def double(x):
    """Twice x."""
    x = np.asarray(x)
    # TODO: one multiplication
    raise NotImplementedError("implement double")
    return out


class Counter:
    def step(self, values):
        total = 0
        for v in values:
            # TODO: implement this
            raise NotImplementedError("implement Counter.step")
        return total

    def reset(self):
        # TODO: set the weight
        raise NotImplementedError("implement Counter.reset")
        return self
'''


def small_tree(root):
    """A tiny checkout: package with regions, a notebook, tests, README, template."""
    files = {
        "pyproject.toml": "[project]\nname = 'rnncap'\n",
        "README.md": "# Title\n\n## Exercise mode (instructors)\n\nsecret notes\n\n"
                     "## Tests\n\nrun\n",
        "exercise/STUDENTS.md": "# Guide\n\n{{TODO_TABLE}}\n",
        "rnncap/__init__.py": "",
        "rnncap/mod.py": MOD.replace("@BEGIN@", BEGIN).replace("@END@", END),
        "tests/test_mod.py": "from rnncap.mod import double\n\n\ndef test():\n"
                             "    assert double(1) == 2\n",
        "tests/test_uses_reference.py": "import test_mod\n",
        "tests/test_other.py": "def test():\n    assert True\n",
        "docs/notes.md": "We compute `total = total + v * self.weight_of_v` in a loop.\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["Why?\n", "\n",
                                                             MD_BEGIN + "\n",
                                                             "Because of the chain rule.\n",
                                                             MD_END]},
        {"cell_type": "code", "metadata": {}, "execution_count": 3,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
         "source": ["def f(x):\n", "    " + BEGIN + "\n", "    return x + 40\n",
                    "    " + END + "\n", "f(2)"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 4, "outputs": [],
         "source": BEGIN + "\nanswer = f(2)\n" + END},
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "notebooks").mkdir()
    (root / "notebooks" / "nb.ipynb").write_text(json.dumps(nb, indent=1))
    return root


def test_small_tree_copy_is_exactly_as_specified(tmp_path):
    src = small_tree(tmp_path / "src")
    out = tmp_path / "out"
    plan = exercise.make_student_copy(src, out)
    assert (out / "rnncap" / "mod.py").read_text() == MOD_STUDENT
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "README.md", "STUDENTS.md", "notebooks/nb.ipynb", "pyproject.toml", "rnncap/__init__.py",
        "rnncap/mod.py", "tests/test_other.py"]
    assert sorted(plan.instructor_only) == ["docs/notes.md", "exercise/", "tests/test_mod.py",
                                            "tests/test_uses_reference.py"]
    assert (out / "README.md").read_text().startswith(
        "# Title\n\n## Exercise (students)\n\nThis is the student copy")
    assert "secret notes" not in (out / "README.md").read_text()
    assert (out / "README.md").read_text().endswith("\n## Tests\n\nrun\n")
    cells = json.loads((out / "notebooks" / "nb.ipynb").read_text())["cells"]
    assert "".join(cells[0]["source"]) == "Why?\n\n*Your answer here.*"
    assert "".join(cells[1]["source"]) == ('def f(x):\n    # TODO: implement this\n'
                                           '    raise NotImplementedError("implement f")\nf(2)')
    assert cells[1]["outputs"] == [] and cells[1]["execution_count"] is None
    assert cells[2]["source"] == ('# TODO: implement this\n'
                                  'raise NotImplementedError("implement this cell")')
    guide = (out / "STUDENTS.md").read_text()
    assert "| `rnncap/mod.py` | `double` | one multiplication |" in guide
    assert "| `notebooks/nb.ipynb`, cell 1 | `f` |  |" in guide


def test_a_surviving_solution_line_stops_make(tmp_path):
    src = small_tree(tmp_path / "src")
    with open(src / "README.md", "a") as f:
        f.write("\nThe trick: `out = 2 * x  # the solution`.\n")
    with pytest.raises(ValueError, match=r"solution text survives.*out = 2 \* x.*README.md"):
        exercise.make_student_copy(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no leaking copy is left behind


@pytest.mark.parametrize("body, message", [
    ([BEGIN, "x = 1"], r"mod.py:1: .* is never closed"),
    (["x = 1", END], r"mod.py:2: .* without"),
    ([BEGIN, BEGIN, "x = 1", END], r"mod.py:2: .* inside the region opened at line 1"),
    ([BEGIN, "# HINT: nothing", END], r"mod.py:1: empty solution region"),
    ([BEGIN, "x = 1", "  " + END], r"mod.py:3: .* must be indented like"),
])
def test_malformed_markers_are_reported_with_file_and_line(body, message):
    with pytest.raises(ValueError, match=message):
        exercise.strip_code("\n".join(body) + "\n", "mod.py")


def test_out_dir_must_be_new_or_a_previous_copy(tmp_path, capsys):
    src = small_tree(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    args = ["exercise", "make", str(out), "--source", str(src)]
    assert main(args) == 2 and main(args + ["--force"]) == 2
    assert "not empty" in capsys.readouterr().err and (out / "precious.txt").exists()
    shutil.rmtree(out)
    assert main(args) == 0 and main(args + ["--force", "--zip"]) == 0
    assert (tmp_path / "out.zip").is_file()
    assert main(["exercise", "check", str(src / "docs")]) == 2
    assert "no rnncap package" in capsys.readouterr().err


def _tree_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _force_refused(capsys, out, src, why):
    before = _tree_files(out)
    assert main(["exercise", "make", str(out), "--source", str(src), "--force"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and why in err and "Traceback" not in err, err
    assert _tree_files(out) == before  # nothing deleted


def test_force_never_deletes_the_source_or_a_checkout(tmp_path, capsys):
    # The instructor's clone inside a folder that happens to hold a STUDENTS.md.
    ancestor = tmp_path / "work"
    src = small_tree(ancestor / "clone")
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (ancestor / "STUDENTS.md").write_text("notes\n")
    _force_refused(capsys, ancestor, src, "holds the source")
    _force_refused(capsys, src, src, "outside the source")
    # Someone's repository with a STUDENTS.md, and an instructor checkout.
    repo = tmp_path / "repo"
    (repo / "sub" / ".git").mkdir(parents=True)
    (repo / "STUDENTS.md").write_text("x\n")
    _force_refused(capsys, repo, src, "holds a .git")
    other = small_tree(tmp_path / "other_checkout")
    (other / "STUDENTS.md").write_text("x\n")
    _force_refused(capsys, other, src, "instructor checkout")


def test_force_does_not_replace_through_a_link(tmp_path, capsys):
    src = small_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    assert main(["exercise", "make", str(copy), "--source", str(src)]) == 0
    link = tmp_path / "link"
    link.symlink_to(copy, target_is_directory=True)
    _force_refused(capsys, link, src, "symbolic link")
    assert (copy / "STUDENTS.md").is_file()
    # The copy itself is replaced as before.
    assert main(["exercise", "make", str(copy), "--source", str(src), "--force"]) == 0


# ----------------------------------------------------------------------------- notebooks

def test_notebooks_stop_at_the_first_unimplemented_function(student, monkeypatch):
    import nbclient
    import nbformat

    notebooks = sorted((student / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == ["Attention_Captioning.ipynb", "LSTM_Captioning.ipynb",
                                           "RNN_Captioning.ipynb", "Transformer_Captioning.ipynb"]
    monkeypatch.setenv("PYTHONPATH", str(student))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
            client.execute()
        assert info.value.ename == "NotImplementedError", (path.name, str(info.value)[-500:])
        assert re.fullmatch(r"implement ([\w.]+|this cell)", info.value.evalue), info.value.evalue
