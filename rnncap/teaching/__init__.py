"""Instructor tooling.

  exercise.py      `rnncap exercise make`: the student copy, regions cut out, checked for leaks
  grader.py        `rnncap exercise check|grade`: grade submissions against this reference library
  sandbox.py       runs a submission's code: isolated interpreter, limits, its own user as root
  runner.py        the code that runs inside the sandbox (numpy and the standard library only)
  submissions.py   finding the package in a handed-in directory or .zip (unpacked safely)
  gradescope.py    `rnncap exercise gradescope`: the autograder bundle
"""

DEFAULT_TIMEOUT = 10.0  # seconds each group of a submission's calls may run
