"""Solving a built :class:`~planner.optimize.problem.Problem` and reading the solution back.

HiGHS through PuLP's API solver first; CBC (``PULP_CBC_CMD``) when the policy asks for it or when
HiGHS fails to run. Integer mode solves the MIP (``integer_method = "mip"``); if the MIP hits the
time limit, or when ``integer_method = "round"``, the LP relaxation is solved instead, RIs and
contracts are rounded to whole units (to nearest, else down) and the rest is re-solved with those
fixed (recorded as method ``lp_round``). A solve that ends neither optimal nor
rounded raises :class:`InfeasiblePlanError`, whose message names the bound that binds and what to
relax; solver status is never ``assert``-ed.

Everything a solve produces is in the :class:`Solution` it returns: status, method, gap, the
variables' values by the problem's indices (:class:`SolvedValues`) and the HiGHS model for warm
re-solves (:class:`SolverState`). The :class:`~planner.optimize.problem.Problem` keeps only what
it was built with: the bounds a solve fixes (rounded units, a freed elastic slack) are restored
before it returns, so a problem can be solved again with the same result.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from planner.optimize.decompose import (
    AUTO_MIN_COLUMNS,
    TOLERANCE,
    Decomposition,
    NotDecomposable,
)
from planner.optimize.problem import RISK_FAMILIES, Problem
from planner.optimize.subproblems import SubproblemError
from planner.policy import Policy
from pricing_data.errors import PlannerError


class InfeasiblePlanError(PlannerError):
    """No plan meets the policy (or the solver ran out of time). CLI exit code 1."""

    def __init__(self, what: str, *, binding: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.binding = binding
        self.fix = fix
        super().__init__(what + (f"\nTo fix: {fix}" if fix else ""))


@dataclass(frozen=True, eq=False)
class SolvedValues:
    """The LP's variable values after one solve, by the problem's indices: ``buy_units[(c, d)]``,
    ``served_gpus[c]`` (S, T, P) per candidate, ``spot_gpus`` (S, T, P), ``serverless_gpus``
    (S, T, P) held GPUs moved to serverless, ``serverless_all[p]`` x_p of all-or-nothing pools,
    ``curve_amounts[family]`` the amount of each family bought now. Buys, served, spot and
    serverless GPUs have the solver's negative dust clipped to 0."""

    buy_units: dict[tuple[int, int], float]
    served_gpus: dict[int, np.ndarray]
    spot_gpus: np.ndarray
    serverless_gpus: np.ndarray
    serverless_all: dict[int, float]
    curve_amounts: dict[str, float]


@dataclass
class Solution:
    """What a solve returns: status, solver, method, objective, gap and time, the values
    (:class:`SolvedValues`), notes, and ``state``, the solver's model for warm re-solves."""

    status: str
    solver: str
    method: str
    objective_usd: float
    gap: float | None
    time_s: float
    values: SolvedValues
    notes: list[str] = field(default_factory=list)
    state: SolverState | None = None  # HiGHS: the model to re-solve warm (savings curves)
    #: the Benders decomposition that solved it (planner/optimize/decompose.py), kept for the
    #: savings curves' re-solves; None for a solve of the whole LP
    decomposition: Decomposition | None = None

    @property
    def buy_units(self) -> dict[tuple[int, int], float]:
        return self.values.buy_units

    @property
    def served_gpus(self) -> dict[int, np.ndarray]:
        return self.values.served_gpus

    @property
    def spot_gpus(self) -> np.ndarray:
        return self.values.spot_gpus


@dataclass(frozen=True)
class SolveSession:
    """What a caller's solves share beside the policy.

    ``bases``: simplex bases carried from one solve to the next, by the problem's shape (its
    columns' names and its number of rows). A problem re-built with other limits or other demand
    scenarios has the same variables and rows, and HiGHS's dual simplex started from the last such
    problem's optimal basis needs a fraction of a cold start's iterations (about 1/7 on the
    example's plan; bench/RESULTS-scale.md). Only LP solves read and write them (the relaxation's
    basis, before any rounding); a MIP starts cold. A basis changes the path to the optimum, not
    the optimum (on an LP with several optima it may end at another one of equal cost).

    ``diagnose``: whether an infeasible problem is diagnosed (:func:`_diagnose`: one more solve
    per risk family, to name the bound to blame); a caller that only needs to know there is no
    plan uses :meth:`undiagnosed`.

    ``curves_later``: :func:`planner.optimize.optimize` leaves a plan's savings curves to
    :func:`planner.optimize.with_savings_curves`, for a caller that solves several plans and keeps
    one (the quarterly run: its re-solves and fallback would otherwise draw curves for plans it
    then replaces)."""

    bases: dict[tuple[int, int], Any] = field(default_factory=dict)
    #: the last Benders decomposition by the problem's shape: a re-solve whose subproblems are
    #: unchanged (the referee's tightened CVaR limit) reuses its subproblems and cuts
    decompositions: dict[tuple[int, int], Any] = field(default_factory=dict)
    diagnose: bool = True
    curves_later: bool = False

    def undiagnosed(self) -> SolveSession:
        """The same bases and curves setting, infeasibility not diagnosed."""
        return SolveSession(
            self.bases, self.decompositions, diagnose=False, curves_later=self.curves_later
        )

    @staticmethod
    def shape(pb: Problem) -> tuple[int, int]:
        return hash(tuple(v.name for v in pb.columns)), int(pb.lp.numConstraints())

    def basis(self, pb: Problem) -> Any | None:
        return self.bases.get(self.shape(pb))

    def keep(self, pb: Problem, basis: Any) -> None:
        self.bases[self.shape(pb)] = basis


class _QuietHiGHS(pulp.HiGHS):  # type: ignore[misc,name-defined]
    """PuLP's HiGHS API solver without the banner highspy prints to stdout on its first model
    (stdout carries the CLI's data), started from ``basis`` when one is given (a basis HiGHS
    refuses leaves the start cold)."""

    def __init__(self, *args: Any, basis: Any | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.basis = basis

    def callSolver(self, lp: pulp.LpProblem) -> None:
        if self.basis is not None:
            lp.solverModel.setBasis(self.basis)
        super().callSolver(lp)

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            super().createAndConfigureSolver(lp)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)


def _make_solver(
    name: str, *, mip: bool, time_limit_s: float, gap: float, basis: Any | None = None
) -> Any:
    if name == "cbc":
        return pulp.PULP_CBC_CMD(mip=mip, msg=False, timeLimit=time_limit_s, gapRel=gap, threads=1)
    return _QuietHiGHS(
        mip=mip, msg=False, timeLimit=time_limit_s, gapRel=gap, threads=1, basis=basis
    )


def _highs_status(model: Any) -> str:
    import highspy

    st = model.getModelStatus()
    s = highspy.HighsModelStatus
    if st == s.kOptimal:
        return "optimal"
    if st in (s.kInfeasible, s.kUnboundedOrInfeasible):
        return "infeasible"
    if st == s.kTimeLimit:
        return "time_limit"
    return "error"


@dataclass
class SolverState:
    """What a later warm re-solve needs from a solve: the HiGHS model PuLP built
    (``lp.solverModel``) and each variable's column in it (PuLP's HiGHS interface adds one column
    per variable in the order of ``lp.variables()``)."""

    model: Any
    variables: tuple[pulp.LpVariable, ...]  # column i is variables[i]
    columns: dict[str, int] = field(init=False)  # name -> column

    def __post_init__(self) -> None:
        self.columns = {v.name: i for i, v in enumerate(self.variables)}

    def column(self, var: pulp.LpVariable) -> int:
        return self.columns[var.name]


def _run(
    pb: Problem, solver_name: str, *, mip: bool, time_limit_s: float, basis: Any | None = None
) -> tuple[str, str, SolverState | None]:
    """Solve once (HiGHS from ``basis`` when given); returns (status in {optimal, infeasible,
    time_limit, error}, solver used, the HiGHS state for warm re-solves or None)."""
    used = solver_name
    solver = _make_solver(
        solver_name, mip=mip, time_limit_s=time_limit_s, gap=pb.policy.mip_gap, basis=basis
    )
    try:
        pb.lp.solve(solver)
    except pulp.PulpSolverError:
        if solver_name == "cbc":
            return "error", used, None
        used = "cbc"
        solver = _make_solver("cbc", mip=mip, time_limit_s=time_limit_s, gap=pb.policy.mip_gap)
        pb.lp.solve(solver)
    if used == "highs":
        model = pb.lp.solverModel
        # PuLP adds one column per variable in the order of lp.variables(), cached at the build
        # (re-listed only if something added variables to the model since)
        cols = pb.columns if model.getNumCol() == len(pb.columns) else tuple(pb.lp.variables())
        state = SolverState(model, cols)
        return _highs_status(model), used, state
    code = pb.lp.status
    if code == pulp.LpStatusOptimal and pb.lp.sol_status in (
        pulp.LpSolutionOptimal,
        pulp.LpSolutionIntegerFeasible,
    ):
        return (
            ("optimal" if pb.lp.sol_status == pulp.LpSolutionOptimal else "time_limit"),
            used,
            None,
        )
    if code == pulp.LpStatusInfeasible:
        return "infeasible", used, None
    if code == pulp.LpStatusNotSolved:
        return "time_limit", used, None
    return "error", used, None


def _gap(pb: Problem, solver: str, mip: bool) -> float | None:
    if not mip:
        return 0.0
    if solver == "highs":
        try:
            g = float(pb.lp.solverModel.getInfo().mip_gap)
            return g if math.isfinite(g) else None
        except Exception:  # pragma: no cover - info not available
            return None
    return None


def _value(var: pulp.LpVariable) -> float:
    return max(0.0, float(var.varValue or 0.0))


def extract(pb: Problem) -> SolvedValues:
    """The values the last solve left in ``pb``'s variables, by the problem's indices (served
    GPUs split from groups to candidates by capacity)."""
    ix = pb.index
    n_s, n_t, n_p = ix.slices.demand_gpus.shape
    buy = {k: _value(v) for k, v in pb.buy.items()}
    by_group: dict[int, np.ndarray] = {}
    for (gi, p), vs in pb.serve.items():
        arr = by_group.setdefault(gi, np.zeros((n_s, n_t, n_p)))
        for (s, t), var in vs.items():
            arr[s, t, p] = _value(var)
    served = ix.split_by_candidate(buy, by_group)
    spot = np.zeros((n_s, n_t, n_p))
    for p, vs in pb.spot.items():
        for (s, t), var in vs.items():
            spot[s, t, p] = _value(var)
    moved = np.zeros((n_s, n_t, n_p))
    for p, vs in pb.serverless.items():
        for (s, t), var in vs.items():
            moved[s, t, p] = _value(var)
    return SolvedValues(
        buy_units=buy,
        served_gpus=served,
        spot_gpus=spot,
        serverless_gpus=moved,
        serverless_all={p: float(x.varValue or 0.0) for p, x in pb.serverless_choice.items()},
        curve_amounts={f: float(v.varValue or 0.0) for f, v in pb.curve_amount.items()},
    )


def _objective(pb: Problem) -> float:
    v = pulp.value(pb.lp.objective)
    return float(v) if v is not None else float("nan")


def solve(pb: Problem, *, relax: bool = False, session: SolveSession | None = None) -> Solution:
    """Solve ``pb`` per its policy (module docstring); ``relax`` forces the LP relaxation. An
    infeasible problem raises :class:`InfeasiblePlanError` naming the bound to blame, or, when
    ``session`` does not diagnose, with ``binding`` None. The LP starts from ``session``'s basis
    for a problem of this shape and leaves its own relaxation's basis there
    (:class:`SolveSession`)."""
    session = session if session is not None else SolveSession()
    pol = pb.policy
    fixed_bounds: dict[tuple[int, int], tuple[Any, Any]] = {}
    has_int = any(v.cat == pulp.LpInteger for v in pb.buy.values())
    want_int = has_int and pol.integer and not relax
    mip = want_int and pol.integer_method == "mip"
    t0 = time.perf_counter()
    dec, why_whole = _decomposition(pb, session)
    if dec is not None:
        shape = SolveSession.shape(pb)
        decomposed = _solve_decomposed(pb, dec, want_int=want_int, t0=t0)
        if decomposed is not None:
            session.decompositions[shape] = dec
            if mip:
                decomposed.notes.append(
                    f"whole units by rounding on the decomposition, not branch and bound "
                    f"(the LP has {len(pb.columns):,} columns)"
                )
            return decomposed
        session.decompositions.pop(shape, None)
        if not dec.reused:  # reused subproblems also serve the plan that solved before
            dec.subs.close()
        why_whole = (
            "the decomposition by scenario found no feasible point or a subproblem failed; "
            "the LP was solved whole"
        )
    basis = None if mip else session.basis(pb)
    status, used, state = _run(pb, pol.solver, mip=mip, time_limit_s=pol.time_limit_s, basis=basis)
    if not mip and state is not None and status == "optimal":
        session.keep(pb, state.model.getBasis())
    method = "mip" if mip else "lp"
    notes: list[str] = [why_whole] if why_whole else []
    if status == "time_limit" and mip:
        # the MIP's budget is spent; the relaxation (and its rounding) get a budget of their own,
        # so a run whose LP solves to optimality always ends with a plan
        notes.append(f"MIP hit the {pol.time_limit_s:g} s limit; rounded the LP relaxation")
        status, used, state = _run(pb, pol.solver, mip=False, time_limit_s=pol.time_limit_s)
        want_round = status == "optimal"
    else:
        want_round = want_int and not mip and status == "optimal"
    lp_bound: float | None = None
    if want_round:
        lp_bound = _objective(pb)
        status, used, fixed_bounds, state = _round_and_fix(pb, used, state, pol.time_limit_s)
        method = "lp_round"
    if status == "infeasible":
        if not session.diagnose:
            raise InfeasiblePlanError("the LP has no solution (not diagnosed)")
        raise _diagnose(pb)
    if status == "time_limit":
        raise _time_limit(pol)
    if status != "optimal":
        raise InfeasiblePlanError(
            f"the {used} solver failed (status {pulp.LpStatus.get(pb.lp.status, pb.lp.status)})",
            binding="solver",
            fix="retry with solver = 'cbc', or report the problem with the plan's inputs",
        )
    elapsed = time.perf_counter() - t0
    gap = _gap(pb, used, mip)
    obj = _objective(pb)
    if lp_bound is not None and obj:
        gap = max(0.0, (obj - lp_bound) / abs(obj))  # vs the LP relaxation: an upper bound
    values = extract(pb)
    for k, (lo, hi) in fixed_bounds.items():  # un-fix rounded units for later re-solves
        pb.buy[k].lowBound, pb.buy[k].upBound = lo, hi
        if state is not None:
            state.model.changeColBounds(
                state.column(pb.buy[k]), lo or 0.0, float("inf") if hi is None else hi
            )
    return Solution("optimal", used, method, obj, gap, elapsed, values, notes, state=state)


def _decomposition(pb: Problem, session: SolveSession) -> tuple[Decomposition | None, str | None]:
    """The Benders decomposition the policy asks for (``decomposition``: "scenarios" always,
    "auto" for LPs of at least ``AUTO_MIN_COLUMNS`` columns, where branch and bound on the whole
    model would spend its time limit and then round anyway), or None with the reason the LP is
    solved whole when one was asked for and it does not split. A decomposed solve rounds RIs
    and contracts. It starts from the session's last decomposition of a problem of this shape
    (:meth:`Decomposition.build`'s ``previous``)."""
    mode = pb.policy.decomposition
    if mode == "off" or pb.policy.solver != "highs":
        return None, None
    if mode == "auto" and len(pb.columns) < AUTO_MIN_COLUMNS:
        return None, None
    previous = (
        session.decompositions.get(SolveSession.shape(pb)) if session.decompositions else None
    )
    try:
        return Decomposition.build(pb, previous), None
    except NotDecomposable as exc:
        return None, f"the LP was solved whole, not decomposed by scenario: {exc}"


def _solve_decomposed(
    pb: Problem, dec: Decomposition, *, want_int: bool, t0: float
) -> Solution | None:
    """Solve by ``dec`` (the relaxation, then, for whole units, RIs and contracts rounded to the
    nearest unit, else down, and the rest re-solved with them fixed). None when it finds no
    feasible point (the caller solves the whole LP, which diagnoses); raises
    :class:`InfeasiblePlanError` at the time limit."""
    try:
        return _by_decomposition(pb, dec, want_int=want_int, t0=t0)
    except SubproblemError:  # a subproblem HiGHS could not solve even cold
        return None


def _by_decomposition(
    pb: Problem, dec: Decomposition, *, want_int: bool, t0: float
) -> Solution | None:
    pol = pb.policy
    run = dec.run(time_limit_s=pol.time_limit_s)
    if run.status == "time_limit":
        raise _time_limit(pol)
    if run.status != "optimal":
        return None
    method, lp_bound = "lp", None
    if want_int:
        lp_bound = run.lower_usd  # the relaxation's lower bound: the rounding gap is against it
        ints = {
            dec.column(v): float(dec.value(v)) for v in pb.buy.values() if v.cat == pulp.LpInteger
        }
        for rounding in (round, math.floor):
            # the rounded re-solve has a budget of its own, as on the whole LP
            fixed = {c: float(rounding(v + 1e-9)) for c, v in ints.items()}
            run2 = dec.run(fixed=fixed, time_limit_s=pol.time_limit_s)
            if run2.status == "optimal":
                break
            if run2.status == "time_limit":
                raise _time_limit(pol)
        else:
            return None
        method = "lp_round"
        run = run2
    dec.write_values()
    obj = _objective(pb)
    gap = max(0.0, (run.objective_usd - run.lower_usd) / max(1.0, abs(run.objective_usd)))
    if lp_bound is not None and obj:
        gap = max(gap, (obj - lp_bound) / abs(obj))
    note = (
        f"solved by Benders decomposition over {dec.subs.n} scenarios (a master of "
        f"{len(dec.first):,} first-stage columns; {dec.iterations_total} iterations; "
        f"subproblems in {dec.subs.k} process{'es' if dec.subs.k > 1 else ''}; its bounds "
        f"within {TOLERANCE:g} of each other)"
    )
    return Solution(
        "optimal",
        "highs",
        method,
        obj,
        gap,
        time.perf_counter() - t0,
        extract(pb),
        [note],
        state=None,
        decomposition=dec,
    )


def _time_limit(pol: Policy) -> InfeasiblePlanError:
    return InfeasiblePlanError(
        f"the solver stopped at its time limit ({pol.time_limit_s:g} s) before an optimum",
        binding="time_limit_s",
        fix="raise time_limit_s, solve the LP relaxation (integer = false), use a coarser "
        "time reduction (fewer blocks_per_period, period = 'quarter') or fewer scenarios",
    )


def _round_and_fix(
    pb: Problem, solver: str, state: SolverState | None, time_limit_s: float
) -> tuple[str, str, dict[tuple[int, int], tuple[Any, Any]], SolverState | None]:
    ints = {k: v for k, v in pb.buy.items() if v.cat == pulp.LpInteger}
    saved = {k: (v.lowBound, v.upBound) for k, v in ints.items()}
    relaxed = {k: max(0.0, float(v.varValue or 0.0)) for k, v in ints.items()}
    status, used = "infeasible", solver
    for rounding in (round, math.floor):
        for k, v in ints.items():
            v.lowBound = v.upBound = float(rounding(relaxed[k] + 1e-9))
            if state is not None:
                state.model.changeColBounds(state.column(v), v.lowBound, v.upBound)
        if state is not None:  # re-run HiGHS from the relaxation's basis: fast
            set_time_budget(state.model, time_limit_s)
            state.model.run()
            status = _highs_status(state.model)
            if status == "optimal":
                read_back(state)
        else:
            status, used, state = _run(pb, solver, mip=False, time_limit_s=time_limit_s)
        if status == "optimal":
            break
    if status != "optimal":
        for k, v in ints.items():
            v.lowBound, v.upBound = saved[k]
    return status, used, saved, state


def read_back(state: SolverState) -> None:
    """Copy the HiGHS model's primal solution into the PuLP variables (``varValue``)."""
    values = state.model.getSolution().col_value
    for i, v in enumerate(state.variables):
        v.varValue = float(values[i])


def set_time_budget(model: Any, seconds: float) -> None:
    """Give a HiGHS model ``seconds`` more to run. HiGHS's ``time_limit`` is measured on the
    model's own clock, which keeps running across re-runs, so the limit is the run time so far
    plus the budget (setting the budget alone would stop a re-run at once)."""
    model.setOptionValue("time_limit", float(model.getRunTime()) + float(seconds))


def _diagnose(pb: Problem) -> InfeasiblePlanError:
    """Find which risk bound makes the problem infeasible by relaxing one family at a time (its
    elastic slack freed: :func:`planner.optimize.problem.add_elastic_slack`)."""
    pol = pb.policy
    tl = pol.time_limit_s
    for fam in RISK_FAMILIES:
        slack = pb.elastic.get(fam)
        if slack is None:
            continue
        slack.upBound = None  # free this family's elastic slack: the rows no longer bind
        try:
            status, _, _ = _run(pb, pol.solver, mip=False, time_limit_s=tl)
        finally:
            slack.upBound = 0.0
        if status == "optimal":
            return _message(pb, fam)
    return InfeasiblePlanError(
        "no plan meets all the risk bounds together (no single bound is to blame)",
        binding="several",
        fix="relax several bounds: cvar_limit_usd/pct, min_utilization, upfront_budget_usd, "
        "max_share_per_provider",
    )


def _pricing_hint(pol: Policy) -> str:
    """With conservative risk pricing, used commitment dollars are understated (valued at the
    cheapest member of a dispatch group), so a bound can look infeasible that exact pricing meets."""
    if pol.risk_pricing == "conservative":
        return (
            '; or set risk_pricing = "exact" (conservative pricing values used hours at the '
            "cheapest of equally usable offers and can overstate unused spend)"
        )
    return ""


def _message(pb: Problem, fam: str) -> InfeasiblePlanError:
    pol = pb.policy
    if fam == "cvar":
        limit = []
        if pol.cvar_limit_usd is not None:
            limit.append(f"cvar_limit_usd = {pol.cvar_limit_usd:,.2f}")
        if pol.cvar_limit_pct is not None:
            limit.append(f"cvar_limit_pct = {pol.cvar_limit_pct:g}")
        return InfeasiblePlanError(
            f"the CVaR bound on unused commitment spend binds and cannot be met "
            f"({', '.join(limit)}, cvar_beta = {pol.cvar_beta:g}): existing commitments alone "
            f"leave more unused spend than that in the worst {100 * (1 - pol.cvar_beta):.0f}% of "
            "scenarios"
            + (
                " as the conservative risk pricing counts it"
                if pol.risk_pricing == "conservative"
                else ""
            ),
            binding="cvar_limit",
            fix="raise cvar_limit_usd / cvar_limit_pct, lower cvar_beta, or drop the bound"
            + _pricing_hint(pol),
        )
    if fam == "min_utilization":
        return InfeasiblePlanError(
            f"the minimum-utilisation bound binds and cannot be met (min_utilization = "
            f"{pol.min_utilization:g} in the lowest-demand {100 * pol.min_utilization_tail:g}% "
            "of scenarios): existing commitments are used less than that there",
            binding="min_utilization",
            fix="lower min_utilization, or raise min_utilization_tail so the tail is less extreme"
            + _pricing_hint(pol),
        )
    if fam == "upfront_budget":
        return InfeasiblePlanError(
            f"the upfront budget binds and cannot be met (upfront_budget_usd = "
            f"{pol.upfront_budget_usd})",
            binding="upfront_budget_usd",
            fix="raise upfront_budget_usd or allow no_upfront payment options",
        )
    return InfeasiblePlanError(
        f"the per-provider share binds and cannot be met (max_share_per_provider = "
        f"{pol.max_share_per_provider})",
        binding="max_share_per_provider",
        fix="raise max_share_per_provider or allow more providers",
    )
