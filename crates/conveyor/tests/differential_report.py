"""What the differential tests share: comparing the outcomes of one scenario run against
Conveyor and against moto_server, step by step, against the list of explained divergences."""

import sys


def report(conveyor, moto, known_divergences):
    """Print each step as same / known / DIFFERENT and exit 1 on an unexplained divergence, or
    on a listed one that no longer occurs (so the list stays true)."""
    assert conveyor.keys() == moto.keys()
    problems = []
    for step in conveyor:
        same = conveyor[step] == moto[step]
        known = step in known_divergences
        mark = "same" if same else ("known" if known else "DIFFERENT")
        print(f"{mark:9} {step}")
        if not same:
            print(f"          conveyor: {conveyor[step]}")
            print(f"          moto:     {moto[step]}")
        if not same and not known:
            problems.append(f"{step}: unexplained divergence")
        if same and known:
            problems.append(f"{step}: listed as a known divergence but both now agree; remove it")
    for p in problems:
        print("FAIL", p)
    sys.exit(1 if problems else 0)
