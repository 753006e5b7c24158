"""Name what a plan would change (`terraform show -json PLAN`), attribute by attribute, and fail if
anything would. JSON documents that differ only in spacing are equal (policies, redrive
policies). --ignore PATTERN (fnmatch on `address.attribute`, repeatable) lets a caller accept a
known, explained difference, such as an emulator that does not store an attribute.
Usage: drift_check.py PLAN_JSON [--ignore PATTERN]..."""

import fnmatch
import json
import sys


def same(a, b) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return json.loads(a) == json.loads(b)
        except ValueError:
            return False
    return False


def main() -> int:
    args = sys.argv[1:]
    plan = json.load(open(args[0]))
    ignore = [args[i + 1] for i, a in enumerate(args) if a == "--ignore"]
    drift, ignored = [], []
    for rc in plan.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        address = rc["address"]
        # A replacement that only an accepted attribute forces is compared like an update.
        forced_by = [f"{address}.{path[0]}" for path in rc["change"].get("replace_paths") or []]
        accepted_replacement = bool(forced_by) and all(
            any(fnmatch.fnmatchcase(what, p) for p in ignore) for what in forced_by
        )
        if actions != ["update"] and not accepted_replacement:
            drift.append(f"{address}: {'/'.join(actions)}")
            continue
        before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
        unknown = rc["change"].get("after_unknown") or {}
        for key in sorted(before.keys() | after.keys()):
            if accepted_replacement and (unknown.get(key) is True or after.get(key) is None):
                continue  # computed or defaulted anew by any creation, not a setting that drifted
            if unknown.get(key) is True or not same(before.get(key), after.get(key)):
                what = f"{address}.{key}"
                line = f"{what}: {before.get(key)!r} -> {after.get(key)!r}"
                (ignored if any(fnmatch.fnmatchcase(what, p) for p in ignore) else drift).append(line)
    for line in ignored:
        print(f"   accepted: {line}")
    for line in drift:
        print(f"   drift: {line}", file=sys.stderr)
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
