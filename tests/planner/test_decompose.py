"""The Benders decomposition over scenarios (planner/optimize/decompose.py): its split of the
matrix, the same optimum as the whole LP on random small problems, what it refuses to split,
and the savings curves drawn on its cuts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_factory import constant_scenarios, offer, offers, ri_or_lambda_contract

from forecasting.scenarios import Pool
from planner.optimize import optimize
from planner.optimize.decompose import Decomposition, scenario_of_columns, split_blocks
from planner.optimize.problem import build_problem
from planner.optimize.solve import solve
from planner.policy import Policy

BASE = Policy(
    horizon_months=12,
    ladder_every_months=0,
    savings_curve_points=0,
    spot_price_spread_pct=0.0,
    integer=False,
)
WHOLE = replace(BASE, decomposition="off")
SPLIT = replace(BASE, decomposition="scenarios")
TWO_POOLS = (Pool("H100"), Pool("L40S"))
TWO_POOL_OFFERS = offers(
    offer("on_demand", 10.0),
    offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
    offer("reserved_instance", 3.5, term_months=12),
    offer("reserved_instance", 1.2, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
    offer("compute_savings_plan", 6.0, term_months=12),
    offer("compute_savings_plan", 1.5, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
)


def test_names_give_each_column_its_scenario() -> None:
    names = ["buy__ri__now", "serve__g0__H100__s0__t1", "used_usd__s12__p0", "cvar_unused__s3"]
    assert scenario_of_columns(names).tolist() == [-1, 0, 12, 3]


def test_a_row_over_two_scenarios_moves_its_columns_to_the_first_stage() -> None:
    # columns: x (first stage), y0 (s0), y1 (s1), z0 (s0), z1 (s1)
    # row 0: x + y0 <= .   (scenario 0 with a first-stage column)
    # row 1: y1 <= .       (scenario 1)
    # row 2: z0 + z1 <= .  (links s0 and s1: z0, z1 move to the first stage)
    # row 3: x <= .        (first stage only: the master's)
    a = sp.csr_matrix(
        np.array([[1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1], [1, 0, 0, 0, 0]], dtype=float)
    )
    cols, rows = split_blocks(a, np.array([-1, 0, 1, 0, 1]))
    assert cols.tolist() == [-1, 0, 1, -1, -1]
    assert rows.tolist() == [0, 1, -1, -1]


def _objective(scenarios, off, policy) -> float:  # type: ignore[no-untyped-def]
    return solve(build_problem(scenarios, off, [], policy)).objective_usd


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    levels=st.lists(st.tuples(st.floats(0.0, 40.0), st.floats(0.0, 40.0)), min_size=2, max_size=6),
    cvar_pct=st.one_of(st.none(), st.floats(20.0, 90.0)),
    min_util=st.one_of(st.none(), st.floats(0.1, 0.6)),
)
def test_decomposed_optimum_equals_the_whole_lp(
    levels: list[tuple[float, float]], cvar_pct: float | None, min_util: float | None
) -> None:
    # Invariant: the decomposition stops within TOLERANCE (1e-5) of its own lower bound, which
    # is a lower bound of the whole LP, so the two optima agree to that tolerance (or both
    # have no solution).
    sc = constant_scenarios(np.array(levels), pools=TWO_POOLS)
    pols = [
        replace(p, cvar_limit_pct=cvar_pct, min_utilization=min_util, min_utilization_tail=0.5)
        for p in (WHOLE, SPLIT)
    ]
    got = []
    for pol in pols:
        try:
            got.append(_objective(sc, TWO_POOL_OFFERS, pol))
        except Exception as exc:  # the same failure both ways
            got.append(type(exc).__name__)
    if isinstance(got[0], str) or isinstance(got[1], str):
        assert got[0] == got[1]
        return
    assert got[1] == pytest.approx(got[0], rel=2e-5, abs=1e-3)


def test_plan_records_the_decomposition_and_bills_alike() -> None:
    # Two pools, five scenarios: the decomposed plan's evaluator bill matches the whole LP's.
    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0], [7.0, 5.0]]), pools=TWO_POOLS
    )
    whole = optimize(sc, TWO_POOL_OFFERS, [], WHOLE)
    split = optimize(sc, TWO_POOL_OFFERS, [], SPLIT)
    assert split.expected_cost_usd["total"] == pytest.approx(
        whole.expected_cost_usd["total"], rel=1e-5
    )
    assert any("Benders decomposition over 5 scenarios" in n for n in split.record["notes"])
    assert not any("Benders" in n for n in whole.record["notes"])


def test_provider_share_keeps_the_lp_whole_and_says_why() -> None:
    # The provider-share row sums every scenario's dispatch: no split. The plan is the whole
    # LP's and its notes say why it was not decomposed.
    off = ri_or_lambda_contract()
    sc = constant_scenarios([8.0, 10.0, 12.0], pools=(Pool("H100", portable=True),))
    plan = optimize(sc, off, [], replace(SPLIT, max_share_per_provider=0.6))
    assert any("solved whole" in n and "provider-share" in n for n in plan.record["notes"])
    (share,) = [b for b in plan.bounds if b["name"] == "max_share_per_provider"]
    assert share["held"]


def test_savings_curves_on_the_decomposition_match_the_whole_lp() -> None:
    # Each curve point fixes the amount bought now and re-solves: on the decomposition's kept
    # cuts, the same expected savings as the whole LP's re-solve (to the tolerance).
    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0]]), pools=TWO_POOLS
    )
    curves = [
        optimize(sc, TWO_POOL_OFFERS, [], replace(pol, savings_curve_points=4)).savings_curves
        for pol in (WHOLE, SPLIT)
    ]
    assert curves[0].keys() == curves[1].keys() and curves[0]
    for fam in curves[0]:
        a, b = curves[0][fam], curves[1][fam]
        assert [p["amount"] for p in a] == pytest.approx([p["amount"] for p in b], rel=1e-4)
        assert [p["status"] for p in a] == [p["status"] for p in b]
        for pa, pb_ in zip(a, b, strict=True):
            if pa["expected_savings_usd"] is not None:
                assert pb_["expected_savings_usd"] == pytest.approx(
                    pa["expected_savings_usd"], rel=1e-4, abs=1.0
                )


def test_fixing_a_first_stage_column_keeps_the_cuts_valid() -> None:
    # Newsvendor: demand 1..10 GPUs, RI 3.5 vs on-demand 10 per GPU-hour: q* = 7 (see
    # test_optimize_hand). With q fixed at 4 the cost is 3.5*4 + 10 E[(D-4)+] = 14 + 10*2.1 =
    # 35 per hour (E[(D-4)+] = (1+...+6)/10 = 2.1); free again, the optimum 30.5 is found again.
    # Undiscounted (discount_rate_pct = 0), so the LP's objective is cost per hour x 8,760 h.
    off = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))
    pol = replace(SPLIT, discount_rate_pct=0.0)
    pb = build_problem(constant_scenarios(np.arange(1.0, 11.0)), off, [], pol)
    dec = Decomposition.build(pb)
    (buy,) = pb.buy.values()
    hours = 8760.0
    free = dec.run()
    assert free.status == "optimal"
    assert dec.value(buy) == pytest.approx(7.0, abs=1e-6)
    assert free.objective_usd == pytest.approx(30.5 * hours, rel=1e-5)
    fixed = dec.run(fixed={dec.column(buy): 4.0})
    assert fixed.objective_usd == pytest.approx(35.0 * hours, rel=1e-5)
    again = dec.run()
    assert again.objective_usd == pytest.approx(30.5 * hours, rel=1e-5)
    assert again.iterations < free.iterations  # the cuts of the earlier runs were kept


def test_worker_processes_give_the_same_iterates(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each subproblem's answers depend only on its own evaluations, so spreading the scenarios
    # over a worker process changes nothing: same iterations, same bounds, same purchases.
    from planner.optimize import decompose

    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0], [7.0, 5.0]]), pools=TWO_POOLS
    )
    pol = replace(SPLIT, cvar_limit_pct=40.0)
    runs = []
    for workers in ("1", "2"):
        monkeypatch.setenv("PLANNER_WORKERS", workers)
        monkeypatch.setattr(decompose, "WORKER_MIN_COLUMNS", 0)
        pb = build_problem(sc, TWO_POOL_OFFERS, [], pol)
        dec = Decomposition.build(pb)
        assert dec.subs.k == int(workers)
        run = dec.run()
        buys = {k: dec.value(v) for k, v in pb.buy.items()}
        dec.write_values()
        served = {v.name: v.varValue for v in pb.columns}
        dec.subs.close()
        runs.append((run.iterations, run.objective_usd, run.lower_usd, buys, served))
    assert runs[0] == runs[1]


def test_a_tightened_cvar_limit_reuses_the_subproblems_and_cuts() -> None:
    # The CVaR limit sits in the master's rows only, so a re-solve with a tighter limit (what
    # the referee's tightening round does) keeps the subproblems and every cut: it needs fewer
    # iterations than a fresh decomposition and reaches the same optimum as the whole LP.
    from planner.optimize.solve import SolveSession

    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0], [7.0, 5.0]]), pools=TWO_POOLS
    )
    session = SolveSession()
    first = solve(
        build_problem(sc, TWO_POOL_OFFERS, [], replace(SPLIT, cvar_limit_pct=60.0)), session=session
    )
    assert first.decomposition is not None
    tight = replace(SPLIT, cvar_limit_pct=30.0)
    again = solve(build_problem(sc, TWO_POOL_OFFERS, [], tight), session=session)
    fresh = solve(build_problem(sc, TWO_POOL_OFFERS, [], tight))
    whole = solve(build_problem(sc, TWO_POOL_OFFERS, [], replace(tight, decomposition="off")))
    assert again.decomposition is not None and fresh.decomposition is not None
    assert again.decomposition.subs is first.decomposition.subs
    assert again.decomposition.iterations_total < fresh.decomposition.iterations_total
    assert again.objective_usd == pytest.approx(whole.objective_usd, rel=2e-5)
    assert fresh.objective_usd == pytest.approx(whole.objective_usd, rel=2e-5)


def test_auto_decomposes_large_lps_and_rounds_instead_of_branching(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "auto" decomposes an LP from AUTO_MIN_COLUMNS columns (here lowered to 0), also when the
    # policy asks for a MIP: whole units come from rounding on the decomposition, and the
    # plan's notes say so. Below the size, the LP is solved whole.
    import sys

    solve_module = sys.modules["planner.optimize.solve"]
    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0]]), pools=TWO_POOLS
    )
    pol = replace(BASE, integer=True, integer_method="mip", decomposition="auto")
    small = optimize(sc, TWO_POOL_OFFERS, [], pol)
    assert small.record["method"] == "mip"
    monkeypatch.setattr(solve_module, "AUTO_MIN_COLUMNS", 0)
    large = optimize(sc, TWO_POOL_OFFERS, [], pol)
    assert large.record["method"] == "lp_round"
    assert any(
        "rounding on the decomposition, not branch and bound" in n for n in large.record["notes"]
    )
    assert all(
        float(p.commitment.quantity).is_integer()
        for p in large.purchases
        if not p.commitment.is_savings_plan
    )
    assert large.expected_cost_usd["total"] == pytest.approx(
        small.expected_cost_usd["total"], rel=0.01
    )


def test_a_failed_evaluation_leaves_no_stale_answer_from_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The calling process's subproblems fail once; the worker's answer to that command must
    # still be read, or the next command would get it instead of its own.
    from planner.optimize import decompose
    from planner.optimize.subproblems import SubproblemError

    sc = constant_scenarios(np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0]]), pools=TWO_POOLS)
    monkeypatch.setattr(decompose, "WORKER_MIN_COLUMNS", 0)
    sets = []
    for workers in ("1", "2"):
        monkeypatch.setenv("PLANNER_WORKERS", workers)
        sets.append(Decomposition.build(build_problem(sc, TWO_POOL_OFFERS, [], SPLIT)))
    serial, spread = sets
    assert spread.subs.k == 2
    real = spread.subs.local.handle
    failures = iter([True])

    def flaky(cmd: str, arg: object) -> object:
        if cmd == "evaluate" and next(failures, False):
            raise SubproblemError("scenario 0 failed")
        return real(cmd, arg)

    monkeypatch.setattr(spread.subs.local, "handle", flaky)
    x = np.full(len(spread.first), 3.0)
    with pytest.raises(SubproblemError, match="scenario 0"):
        spread.subs.evaluate(x)
    got = [q for q, _g, _a in spread.subs.evaluate(x)]
    want = [q for q, _g, _a in serial.subs.evaluate(x)]
    assert got == pytest.approx(want, rel=1e-9)
    assert spread.subs.lower_bounds() == pytest.approx(serial.subs.lower_bounds(), rel=1e-9)
    spread.subs.close()


def test_a_failed_reuse_keeps_the_earlier_plans_subproblems_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tightened round that reuses the session's subproblems and then fails falls back to the
    # whole LP; the earlier round's plan may still be kept (and draw its savings curves), so its
    # subproblems, shared with the failed round, must stay open.
    import sys

    from planner.optimize import decompose
    from planner.optimize.solve import SolveSession

    solve_module = sys.modules["planner.optimize.solve"]
    monkeypatch.setenv("PLANNER_WORKERS", "2")
    monkeypatch.setattr(decompose, "WORKER_MIN_COLUMNS", 0)
    sc = constant_scenarios(np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0]]), pools=TWO_POOLS)
    session = SolveSession()
    first = solve(
        build_problem(sc, TWO_POOL_OFFERS, [], replace(SPLIT, cvar_limit_pct=60.0)), session=session
    )
    assert first.decomposition is not None and first.decomposition.subs.k == 2
    monkeypatch.setattr(solve_module, "_solve_decomposed", lambda *a, **k: None)
    whole = solve(
        build_problem(sc, TWO_POOL_OFFERS, [], replace(SPLIT, cvar_limit_pct=40.0)),
        session=session,
    )
    assert whole.decomposition is None and any("solved whole" in n for n in whole.notes)
    x = np.zeros(len(first.decomposition.first))
    assert len(first.decomposition.subs.evaluate(x)) == 3  # still open
    first.decomposition.subs.close()


def test_the_penalty_is_only_ever_raised() -> None:
    # Cuts found with a larger M would overstate Q_s under a smaller one: the set never lowers M.
    sc = constant_scenarios(np.array([[2.0, 4.0], [6.0, 1.0]]), pools=TWO_POOLS)
    dec = Decomposition.build(
        build_problem(sc, TWO_POOL_OFFERS, [], replace(SPLIT, cvar_limit_pct=50.0))
    )
    start = dec.subs.penalty
    assert start > 0
    dec.subs.raise_penalty(start * 10)
    dec.subs.raise_penalty(start)
    assert dec.subs.penalty == start * 10


def test_a_savings_curve_point_whose_subproblem_fails_reports_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A curve point re-solved on the decomposition whose subproblem fails (HiGHS trouble, a
    # worker gone) is reported with status "error" and no savings, as a failed whole-LP point;
    # the plan's own point stays.
    from planner.optimize.savings_curve import savings_curves
    from planner.optimize.subproblems import SubproblemError

    sc = constant_scenarios(
        np.array([[2.0, 4.0], [6.0, 1.0], [10.0, 8.0], [3.0, 3.0]]), pools=TWO_POOLS
    )
    pb = build_problem(sc, TWO_POOL_OFFERS, [], replace(SPLIT, savings_curve_points=3))
    sol = solve(pb)
    assert sol.decomposition is not None

    def broken(**_kw: object) -> None:
        raise SubproblemError("scenario 1's subproblem ended kUnknown")

    monkeypatch.setattr(sol.decomposition, "run", broken)
    curves = savings_curves(pb, sol, 3)
    assert curves
    for pts in curves.values():
        chosen = [p for p in pts if p.get("chosen")]
        others = [p for p in pts if not p.get("chosen")]
        assert len(chosen) == 1 and chosen[0]["expected_savings_usd"] is not None
        assert others and all(
            p["status"] == "error" and p["expected_savings_usd"] is None for p in others
        )
