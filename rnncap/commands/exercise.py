"""`rnncap exercise`: make the student copy of the exercises; grade one, a class, or on Gradescope."""
from rnncap.cli import check_output_dir, check_output_file, integer, number


def _grading_options(parser):
    from rnncap.teaching import DEFAULT_TIMEOUT

    parser.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=0,
                        help="seed of the check inputs")
    parser.add_argument("--timeout", type=number(0, strict_minimum=True), default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help="seconds each group of calls (a forward and its backward, one "
                        "cell's model loss, ...) may run (default %g)" % DEFAULT_TIMEOUT)


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
    check = sub.add_parser("check", help="grade one submission and print a score table",
                           description="Grade the rnncap package in DIR (a directory or a .zip) "
                           "against this (the instructor's) rnncap, in a sandbox; exit status "
                           "0 only when every row passes.")
    check.add_argument("dir", metavar="DIR", nargs="?", default=".",
                       help="the submission (default: the current directory)")
    check.add_argument("--json", metavar="FILE", default=None,
                       help="also write the results as Gradescope's results.json")
    _grading_options(check)
    grade = sub.add_parser("grade", help="grade many submissions in parallel into a CSV",
                           description="Grade each SUBMISSION (a directory or a .zip) in a "
                           "sandbox, JOBS at a time: one CSV line per submission, and one "
                           "JSON file per submission beside the CSV.")
    grade.add_argument("submissions", metavar="SUBMISSION", nargs="+")
    grade.add_argument("--out", metavar="CSV", required=True,
                       help="the CSV to write; the JSON files go into a directory named like "
                       "it without .csv")
    grade.add_argument("--jobs", type=integer(1, 1024), default=1, metavar="N",
                       help="submissions graded at once (default 1)")
    _grading_options(grade)
    scope = sub.add_parser("gradescope", help="build a Gradescope autograder bundle",
                           description="Write OUT.zip: setup.sh, run_autograder and this "
                           "checkout's rnncap, for a Gradescope programming assignment.")
    scope.add_argument("out", metavar="OUT.zip")
    scope.add_argument("--source", metavar="CLONE", default=None,
                       help="instructor checkout to bundle (default: the one holding this "
                       "rnncap)")
    _grading_options(scope)


def run(args):
    import sys

    if args.action == "make":
        check_output_dir("OUT_DIR", args.out_dir)
        _check_source(args.source)
    elif args.action == "check":
        _check_submission("DIR", args.dir)
        if args.json:
            check_output_file("--json", args.json)
    elif args.action == "grade":
        for path in args.submissions:
            _check_submission("SUBMISSION", path)
        check_output_file("--out", args.out)
        check_output_dir("--out", _json_dir(args.out))
    else:
        check_output_file("OUT.zip", args.out)
        if not args.out.lower().endswith(".zip"):
            raise ValueError("OUT.zip %s must end in .zip" % args.out)
        _check_source(args.source)
    action = {"make": _make, "check": _check, "grade": _grade, "gradescope": _gradescope}
    try:
        return action[args.action](args)
    except RuntimeError as e:  # GraderTampered, GraderError: one line, no grade
        from rnncap.teaching.grader import GraderTampered
        from rnncap.teaching.sandbox import GraderError

        if not isinstance(e, (GraderError, GraderTampered)):
            raise
        print("rnncap exercise: error: %s" % e, file=sys.stderr)
        return 2


def _check_source(source):
    import os

    if source is not None and not os.path.isdir(source):
        raise ValueError("--source %s is not a directory (the instructor's checkout)" % source)


def _check_submission(name, path):
    import os

    if not (os.path.isdir(path) or (os.path.isfile(path) and path.lower().endswith(".zip"))):
        raise ValueError("%s %s is not a directory or a .zip (the submission to grade)"
                         % (name, path))


def _json_dir(out):
    """Where grade writes its JSON files: the CSV's path without .csv."""
    from pathlib import Path

    out = Path(out)
    return out.with_suffix("") if out.suffix.lower() == ".csv" else Path(str(out) + ".d")


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


def _warn():
    import sys

    from rnncap.teaching import grader

    for line in grader.warnings_for_root():
        print("warning: " + line, file=sys.stderr)


def _check(args):
    import sys

    from rnncap.teaching import grader

    _warn()
    rows, unchecked = grader.graded_rows()
    with grader.Session(args.seed, args.timeout) as session:
        report = session.grade(args.dir)
    if args.json:
        grader.write_json(args.json, report)
    if report.error:
        print("rnncap exercise: error: %s" % report.error, file=sys.stderr)
        return 2
    print(grader.format_table(report))
    print("time: %.1f s (at most %g s per group of calls, %.0f s in all)"
          % (report.seconds, args.timeout, report.bound))
    for name in unchecked:
        print("warning: %s has a solution region but no check; it is not graded" % name)
    return 0 if report.results and report.passed == len(report.results) else 1


def _grade(args):
    import sys
    import time
    from pathlib import Path

    from rnncap.teaching import grader

    out = Path(args.out)
    json_dir = _json_dir(out)
    _warn()
    start = time.monotonic()
    rows, reports = grader.grade_many(args.submissions, jobs=args.jobs, seed=args.seed,
                                      timeout=args.timeout, progress=sys.stderr)
    json_dir.mkdir(parents=True, exist_ok=True)
    for report in reports:
        grader.write_json(json_dir / (report.name + ".json"), report)
    grader.write_csv(out, rows, reports)
    failed = [r for r in reports if r.error]
    for r in failed:
        print("warning: %s was not graded: %s" % (r.name, r.error), file=sys.stderr)
    bound = max((r.bound for r in reports), default=0)
    print("graded %d submissions in %.1f s with %d jobs (at most %.0f s each): %s, %s/"
          % (len(reports) - len(failed), time.monotonic() - start, args.jobs, bound, out,
             json_dir))
    return 1 if failed else 0


def _gradescope(args):
    from pathlib import Path

    from rnncap.teaching import exercise, gradescope

    src = Path(args.source) if args.source else exercise.source_root()
    files = gradescope.make_bundle(args.out, src, seed=args.seed, timeout=args.timeout)
    print("wrote %s (%d files): upload it as a Gradescope programming assignment's autograder"
          % (args.out, len(files)))
    return 0
