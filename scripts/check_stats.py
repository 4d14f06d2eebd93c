#!/usr/bin/python3
"""Checks vrouter's --stats-json output: check_stats.py STATS.json [--expect FILE] [CHECK...]

CHECK: "LHS OP RHS", OP one of == != <= >= < >; each side a sum (+) of integers and paths
into the JSON: events.vxlan_decap, drops.no_route, mempool.in_use_at_exit, ports.0.rx_packets
(ports by index; ports.fabric.rx_packets / ports.vm1.tx_packets by name).
--expect FILE: JSON {"exact_drops": {reason: n, ...}, "checks": [CHECK, ...]}: every drop
  reason in the stats must equal exact_drops[reason] (0 when absent), every reason named in
  exact_drops must exist in the stats, and every check must hold.
Prints one PASS/FAIL line per check with the values; exits 1 when any fails.
"""
import argparse
import json
import re
import sys

OPS = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b,
}
CHECK_RE = re.compile(r"^\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")


def lookup(stats, path):
    node = stats
    for part in path.split("."):
        if isinstance(node, list):
            if part.isdigit():
                node = node[int(part)]
            else:
                node = next(p for p in node if p.get("name") == part)
        else:
            node = node[part]
    if isinstance(node, bool) or not isinstance(node, int):
        raise KeyError(f"{path} is not an integer: {node!r}")
    return node


def evaluate(stats, side):
    total, shown = 0, []
    for term in side.split("+"):
        term = term.strip()
        if re.fullmatch(r"-?\d+", term):
            v = int(term)
            shown.append(term)
        else:
            v = lookup(stats, term)
            shown.append(f"{term}={v}")
        total += v
    return total, " + ".join(shown)


def run_check(stats, check):
    m = CHECK_RE.match(check)
    if not m:
        return False, f"{check}: cannot parse"
    lhs, op, rhs = m.groups()
    try:
        a, sa = evaluate(stats, lhs)
        b, sb = evaluate(stats, rhs)
    except (KeyError, IndexError, StopIteration) as e:
        return False, f"{check}: missing in the stats JSON ({e})"
    ok = OPS[op](a, b)
    return ok, f"{check}   [{sa} -> {a}  {op}  {sb} -> {b}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stats")
    ap.add_argument("--expect")
    ap.add_argument("checks", nargs="*")
    a = ap.parse_intermixed_args()
    try:
        with open(a.stats) as f:
            stats = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL stats JSON {a.stats}: {e}")
        return 1

    results = []
    checks = list(a.checks)
    if a.expect:
        with open(a.expect) as f:
            exp = json.load(f)
        checks = exp.get("checks", []) + checks
        if "exact_drops" in exp:
            want = exp["exact_drops"]
            drops = stats.get("drops")
            if not isinstance(drops, dict):
                results.append((False, "stats JSON has no \"drops\" object"))
                drops = {}
            for reason in sorted(set(want) - set(drops)):
                results.append((False, f"drops.{reason}: reason missing from the stats JSON"))
            for reason in sorted(drops):
                n, w = drops[reason], want.get(reason, 0)
                if n != w or w:
                    results.append((n == w, f"drops.{reason} == {w}   [actual {n}]"))
            n_zero = sum(1 for r in drops if drops[r] == 0 and want.get(r, 0) == 0)
            results.append((True, f"{n_zero} other drop reasons are 0, as expected"))
    for c in checks:
        results.append(run_check(stats, c))

    n_fail = 0
    for ok, msg in results:
        print(("PASS " if ok else "FAIL ") + msg)
        n_fail += not ok
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
