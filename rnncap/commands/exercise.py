"""`rnncap exercise`: make the student copy of the exercises, or grade one."""
from rnncap.cli import check_output_dir, integer, number


def configure(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    make = sub.add_parser("make", help="write the student copy of this checkout to OUT_DIR",
                          description="Write a complete, installable student copy: every "
                          "solution region becomes a TODO and raise NotImplementedError.")
    make.add_argument("out_dir", metavar="OUT_DIR", help="target directory (absent or empty)")
    make.add_argument("--source", metavar="CLONE", default=None,
                      help="instructor checkout to copy (default: the one holding this rnncap)")
    make.add_argument("--force", action="store_true",
                      help="replace OUT_DIR when it holds a previous student copy")
    make.add_argument("--zip", action="store_true", help="also write OUT_DIR.zip")
    check = sub.add_parser("check", help="grade a student copy and print a score table",
                           description="Grade the rnncap package in DIR against this (the "
                           "instructor's) rnncap; exit status 0 only when every row passes.")
    check.add_argument("dir", metavar="DIR", nargs="?", default=".",
                       help="the student copy (default: the current directory)")
    check.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=0,
                       help="seed of the check inputs")
    check.add_argument("--timeout", type=number(0, strict_minimum=True), default=300,
                       help="seconds the student's code may run (default 300)")


def run(args):
    import os

    if args.action == "make":
        check_output_dir("OUT_DIR", args.out_dir)
        if args.source is not None and not os.path.isdir(args.source):
            raise ValueError("--source %s is not a directory (the instructor's checkout)"
                             % args.source)
        return _make(args)
    if not os.path.isdir(args.dir):
        raise ValueError("DIR %s is not a directory (the student copy to grade)" % args.dir)
    return _check(args)


def _make(args):
    import shutil
    from pathlib import Path

    from rnncap.teaching import exercise

    src = Path(args.source) if args.source else exercise.source_root()
    plan = exercise.make_student_copy(src, args.out_dir, force=args.force)
    out = Path(args.out_dir).resolve()
    n_regions = sum(len(r) for rel, r in plan.regions.items() if rel in plan.files)
    print("wrote %d files to %s: %d solution regions cut out, STUDENTS.md added"
          % (len(plan.files) + 1, out, n_regions))
    for rel, why in sorted(plan.instructor_only.items()):
        print("  left out %s (%s)" % (rel, why))
    print("checked: every module imports; none of %d solution lines survives"
          % len(plan.solution_lines))
    if args.zip:
        archive = shutil.make_archive(str(out), "zip", root_dir=str(out.parent), base_dir=out.name)
        print("zipped to %s" % archive)
    return 0


def _check(args):
    from rnncap.teaching import grader

    results, unchecked = grader.grade(args.dir, seed=args.seed, timeout=args.timeout)
    print(grader.format_table(results))
    for name in unchecked:
        print("warning: %s has a solution region but no check; it is not graded" % name)
    return 0 if results and all(r.status == "pass" for r in results) else 1
