"""The `rnncap` command line: a thin dispatcher over rnncap/commands/*.py.

Each command module defines `configure(parser)` (adds its arguments) and `run(args) -> int`
(the exit status). Heavy imports happen inside `run`, so `rnncap --help` stays fast.

Every error a user can cause is one line naming the option (or argument) and exit status 2:
argparse usage errors, the argument types below (integer, number), the output-path checks
(check_output_dir, check_output_file, run before any work) and the ValueError /
FileNotFoundError a command raises.
"""
import argparse
import importlib
import math
import os
import sys
import tempfile

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


def _range_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return " in [%s, %s]" % (minimum, maximum)
    if minimum is not None:
        return " >= %s" % minimum
    return " <= %s" % maximum if maximum is not None else ""


def integer(minimum=None, maximum=None):
    """
    An argparse type: a decimal integer in [minimum, maximum] (None: unbounded).

    argparse reports a rejected value as "argument --NAME: expected an integer >= 1, got '0'".
    """
    expected = "an integer" + _range_text(minimum, maximum)

    def parse(text):
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (expected, text)) from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError("expected %s, got %s" % (expected, text))
        return value
    parse.__name__ = "integer"
    return parse


def number(minimum=None, maximum=None, strict_minimum=False):
    """
    An argparse type: a finite number in [minimum, maximum] ((minimum, maximum] when
    strict_minimum); NaN and inf are refused.
    """
    low = "> %s" % minimum if strict_minimum else ">= %s" % minimum
    expected = "a finite number" + ("" if minimum is None else " " + low) \
        + ("" if maximum is None else (" and" if minimum is not None else "") + " <= %s" % maximum)

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (expected, text)) from None
        ok = math.isfinite(value) and (minimum is None or value > minimum
                                       or (value == minimum and not strict_minimum)) \
            and (maximum is None or value <= maximum)
        if not ok:
            raise argparse.ArgumentTypeError("expected %s, got %s" % (expected, text))
        return value
    parse.__name__ = "number"
    return parse


def _nearest_existing(path):
    """The path itself or its nearest ancestor that exists."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    return probe


def _check_can_write_in(option, path, directory):
    if not os.path.isdir(directory):
        raise ValueError("%s %s: %s is a file, not a directory" % (option, path, directory))
    try:  # the only sure test (root passes os.access; a read-only mount fails anyway)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise ValueError("%s %s: cannot write in %s (%s)"
                         % (option, path, directory, e.strerror or e)) from None


def check_output_dir(option, path):
    """
    Raise ValueError naming the option unless path is a directory this process can write in,
    or one it can create. Creates nothing.
    """
    if not str(path).strip():
        raise ValueError("%s must name a directory, got an empty string" % option)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError("%s %s is a file, not a directory" % (option, path))
    _check_can_write_in(option, path, _nearest_existing(path))


def check_output_file(option, path):
    """
    Raise ValueError naming the option unless path can be written as a file: not a directory,
    in a directory this process can write in (or create). Creates nothing.
    """
    if not str(path).strip():
        raise ValueError("%s must name a file, got an empty string" % option)
    if os.path.isdir(path):
        raise ValueError("%s %s is a directory; give a file name" % (option, path))
    if os.path.exists(path):
        try:
            with open(path, "ab"):
                pass
        except OSError as e:
            raise ValueError("%s %s: cannot write it (%s)" % (option, path, e.strerror or e)) \
                from None
        return
    _check_can_write_in(option, path, _nearest_existing(os.path.dirname(os.path.abspath(path))))


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
    except MemoryError:
        print("rnncap %s: error: out of memory; try smaller sizes (the sizes the command "
              "estimates are checked before they are allocated, others are not)" % args.command,
              file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a permission denied on a path found late
        print("rnncap %s: error: %s" % (args.command, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
