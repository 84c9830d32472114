"""Mutation fuzzing of crisislab's readers (scenarios, .efg games, timelines): `python -m fuzz`.

`make_case(kind, seed)` builds a mutant, `run_case(kind, text)` reads it and classifies the outcome
as valid, located (a `UserError` naming FILE:LINE) or failure; `__main__` runs thousands of them
in worker processes with a timeout and a memory limit and prints the counts.
"""

from fuzz._cases import KINDS, make_case, mutate, run_case, seed_files

__all__ = ["KINDS", "make_case", "mutate", "run_case", "seed_files"]
