"""The `rnncap` command line: a thin dispatcher over rnncap/commands/*.py.

Each command module defines `configure(parser)` (adds its arguments) and `run(args) -> int`
(the exit status). Heavy imports happen inside `run`, so `rnncap --help` stays fast.
"""
import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "gradcheck": ("rnncap.commands.gradcheck", "numerically check every layer's gradients"),
    "overfit": ("rnncap.commands.overfit", "the classic small-data overfit run (seed 231, 50 captions)"),
    "exercise": ("rnncap.commands.exercise", "make the student copy of the exercises, or grade one"),
    "train": ("rnncap.commands.train", "train a captioning model: validation, checkpoints, plots"),
    "sample": ("rnncap.commands.sample", "caption images with a trained model, save a figure"),
    "evaluate": ("rnncap.commands.evaluate", "BLEU, CIDEr-D and (built-in data) caption accuracy, greedy and beam"),
    "data": ("rnncap.commands.data", "build the built-in dataset; show where COCO is expected"),
}


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are a single line, exit status 2."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def build_parser():
    parser = ArgumentParser(prog="rnncap", description="Recurrent image captioning in pure NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, ValueError) as e:
        # Missing data or bad input: one line, no traceback.
        print("rnncap %s: error: %s" % (args.command, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
