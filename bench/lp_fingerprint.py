"""A canonical fingerprint of the LPs the optimizer builds, to prove a refactor leaves them alone.

Two sources of LPs:

- the example organisation (examples/: usage, inventory, policy with its serverless pools) at the
  golden test's small settings (8 scenarios, 6-month horizon, 3 savings-curve points), built with
  its forecast's scenarios; plus the same with the risk bounds every family of rows needs
  (CVaR, minimum utilisation, upfront budget, provider share, risk aversion, exact risk pricing);
- every LP that the tiny hand LPs of tests/planner build (the tests run in this process with a
  hook on ``build_lp`` that fingerprints each LP as built, before it is solved).

For each LP: the variables sorted by name with bounds and category; the constraints sorted by
name with sense, rhs and coefficients; the objective's coefficients and constant; and, order
sensitive, the constraints' insertion order and each row's and the objective's term order (the
order the solver receives). Floats are written with ``repr`` (exact). Small LPs are dumped in full,
large ones as a SHA-256 per part; the last line of each LP is a digest of all its parts.

    .venv/bin/python bench/lp_fingerprint.py /tmp/lp-before.txt
    .venv/bin/python bench/lp_fingerprint.py /tmp/lp-after.txt && diff /tmp/lp-before.txt /tmp/lp-after.txt
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulp

ROOT = Path(__file__).parents[1]
FULL_DUMP_MAX_VARIABLES = 400
HAND_TESTS = (
    "tests/planner/test_optimize_hand.py",
    "tests/planner/test_lp_names.py",
    "tests/planner/test_spot_cap.py",
    "tests/planner/test_serverless_lp.py",
    "tests/planner/test_whole_term.py",
    "tests/planner/test_cash_schedule.py",
)


def _bound(x: float | None) -> str:
    return "None" if x is None else repr(float(x))


def _sense(s: int) -> str:
    return {pulp.LpConstraintLE: "<=", pulp.LpConstraintGE: ">=", pulp.LpConstraintEQ: "="}[s]


def lp_parts(lp: pulp.LpProblem) -> dict[str, list[str]]:
    """The LP's canonical lines, by part (module docstring)."""
    variables = [
        f"{v.name} [{_bound(v.lowBound)}, {_bound(v.upBound)}] {v.cat}" for v in lp.variables()
    ]
    rows = []
    row_order = []
    for con in lp.constraints():
        name = con.name
        terms = sorted((v.name, repr(float(c))) for v, c in con.items())
        rhs = -float(con.constant)
        rows.append(
            f"{name} {_sense(con.sense)} {rhs!r}: " + " ".join(f"{a}*{b}" for b, a in terms)
        )
        row_order.append(f"{name}: " + " ".join(v.name for v in con))
    objective = [
        f"constant {float(lp.objective.constant)!r}",
        *sorted(f"{v.name} {float(c)!r}" for v, c in lp.objective.items()),
    ]
    return {
        "variables": variables,
        "constraints": sorted(rows),
        "objective": objective,
        "order": [
            "rows: " + " ".join(c.name for c in lp.constraints()),
            "objective: " + " ".join(v.name for v in lp.objective),
            *row_order,
        ],
    }


def fingerprint(label: str, lp: pulp.LpProblem) -> list[str]:
    parts = lp_parts(lp)
    n_v, n_c = len(parts["variables"]), len(parts["constraints"])
    out = [f"=== {label}: {n_v} variables, {n_c} constraints, sense {lp.sense}"]
    whole = hashlib.sha256()
    for part, lines in parts.items():
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        whole.update(digest.encode())
        if n_v <= FULL_DUMP_MAX_VARIABLES:
            out += [f"  {part}: {line}" for line in lines]
        else:
            out.append(f"  {part}: {len(lines)} lines sha256 {digest}")
    out.append(f"  digest {whole.hexdigest()}")
    return out


def _lp_of(built: Any) -> pulp.LpProblem:
    lp = built.lp
    assert isinstance(lp, pulp.LpProblem)
    return lp


def example_lps() -> Iterator[tuple[str, pulp.LpProblem]]:
    from planner.optimize import build_problem
    from planner.policy_file import read_policy_file
    from planner.workflows.inputs import load_inputs
    from planner.workflows.serverless import serverless_for

    cfg = read_policy_file(ROOT / "examples" / "policy.toml")
    cfg = replace(cfg, scenarios=8, policy=replace(cfg.policy, horizon_months=6))
    cfg = replace(cfg, policy=replace(cfg.policy, savings_curve_points=3))
    inputs = load_inputs(ROOT / "examples" / "usage.csv", cfg, ROOT / "examples" / "inventory.csv")
    sc = inputs.forecast().scenarios
    offers = inputs.catalog.offers
    inventory = list(inputs.inventory)
    serverless = serverless_for(inputs.pooled, inputs.config)
    pol = inputs.policy
    yield "example", _lp_of(build_problem(sc, offers, inventory, pol, serverless=serverless))
    risky = replace(
        pol,
        cvar_limit_usd=1e6,
        cvar_limit_pct=30.0,
        min_utilization=0.5,
        upfront_budget_usd=1e5,
        max_share_per_provider=0.8,
        risk_aversion=0.2,
        risk_pricing="exact",
        ladder_every_months=3,
    )
    yield "example+risk", _lp_of(build_problem(sc, offers, inventory, risky, serverless=serverless))
    yield "example-no-serverless", _lp_of(build_problem(sc, offers, inventory, pol))


class HandHook:
    """A pytest plugin: every LP ``build_lp`` returns is fingerprinted under the test's id."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink
        self.node = "?"
        self.count = 0
        self.restore: Callable[[], None] = lambda: None

    def pytest_runtest_setup(self, item: Any) -> None:
        self.node, self.count = item.nodeid, 0

    def pytest_configure(self, config: Any) -> None:
        # ``planner.optimize`` the attribute is the function planner/__init__.py re-exports
        pkg: Any = importlib.import_module("planner.optimize")
        mod: Any = importlib.import_module("planner.optimize.problem")

        original: Callable[..., Any] = mod.build_lp

        def hooked(*args: Any, **kwargs: Any) -> Any:
            built = original(*args, **kwargs)
            self.count += 1
            self.sink += fingerprint(f"{self.node} #{self.count}", _lp_of(built))
            return built

        # build_lp is where every LP is made: build_problem calls it (problem.py's global),
        # optimize() calls it after build_index (the package's global)
        pkg.build_lp = hooked
        mod.build_lp = hooked

        def restore() -> None:
            pkg.build_lp = original
            mod.build_lp = original

        self.restore = restore


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path, help="where to write the fingerprint")
    ap.add_argument("--no-example", action="store_true")
    ap.add_argument("--no-tests", action="store_true")
    args = ap.parse_args()
    lines: list[str] = []
    if not args.no_tests:
        import pytest

        import planner.optimize.problem  # noqa: F401  (cached before pytest touches sys.path)

        hook = HandHook(lines)
        code = pytest.main(
            [
                "-q",
                "-p",
                "no:xdist",
                "-p",
                "no:cacheprovider",
                *[str(ROOT / t) for t in HAND_TESTS],
            ],
            plugins=[hook],
        )
        hook.restore()
        if code != 0:
            print(f"pytest exit code {code}: the fingerprint is incomplete", file=sys.stderr)
            return 1
    if not args.no_example:
        for label, lp in example_lps():
            lines += fingerprint(label, lp)
    args.out.write_text("\n".join(lines) + "\n")
    n = sum(1 for x in lines if x.startswith("=== "))
    print(f"{n} LPs fingerprinted -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
