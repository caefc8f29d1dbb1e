"""Instructor tooling.

  exercise.py   `rnncap exercise make`: the student copy, regions cut out, checked for leaks
  grader.py     `rnncap exercise check`: grade a student copy against this reference library
"""
