r"""Benders (L-shaped) decomposition of the commitment LP over its scenarios, for large problems.

Why
    HiGHS's simplex on the whole LP grows as pools^2.2 (bench/RESULTS-scale.md): the LP is linear
    in pools, but one coupled basis is not. Given the first-stage decisions, each scenario's
    dispatch is a separate, small LP, so the problem splits into a small master and one
    subproblem per scenario whose sizes are linear in pools.

Split (mechanical, on the built model)
    A column belongs to scenario s when its name carries ``__s<s>`` (the naming convention of
    :class:`~planner.optimize.index.Names`: ``serve__…__s3__…``, ``used_usd__s3__…``); the others
    are the *first stage* x (purchases, capacities per group and period, commitment spend, the
    CVaR threshold η, the elastic slacks). A row that holds columns of two scenarios (the CVaR
    row Σ_s π_s z_s, the provider-share row) *promotes* those columns to the first stage; when
    that would move more than ``MAX_PROMOTED_SHARE`` of the columns (the provider-share bound
    couples every scenario's dispatch), or the problem has all-or-nothing serverless choices,
    the LP does not split and is solved whole. Rows with first-stage columns only form the
    master's rows; every other row belongs to one scenario.

Maths
    The LP is  min c'x + Σ_s Q_s(x)  over x in X (the master rows and bounds), with
    Q_s(x) = min { q_s'y : l_s − T_s x ≤ W_s y ≤ u_s − T_s x, y in its bounds }, convex and
    piecewise linear in x. Rows of the risk families (CVaR, minimum utilisation) get an
    artificial column with cost M (an exact penalty: above the rows' shadow prices, the
    penalised optimum meets them whenever they can be met), so every Q_s is finite and every
    subproblem solved at x̄ with row duals d gives the optimality cut
        θ_s ≥ Q_s(x̄) − (T_s'd)'(x − x̄)                                (multi-cut: one θ per s).
    M starts at ``PENALTY`` (a large M makes the master's cuts badly scaled) and is raised
    tenfold, up to ``PENALTY_MAX``, whenever the bounds meet at a point that still needs
    artificials; the cuts found with a smaller M stay valid (Q_s grows with M), so M is kept
    with the subproblems and never lowered (a reused set keeps its M). A point that
    needs them at ``PENALTY_MAX`` is no plan: the caller solves the whole LP, which then names
    the bound that cannot hold.
    The master  min c'x + Σ_s θ_s  s.t. x in X, the cuts, θ_s ≥ L_s  gives a lower bound
    (L_s: Q_s with its first-stage rows dropped, a relaxation). Subproblems are evaluated at the
    in-out point x = α x̂ + (1 − α) x_master (Ben-Ameur & Neto 2007; x̂ the best point so far,
    α = ``ALPHA``; at x_master itself while x̂ still needs artificials: a blend with a point
    that is no plan slowed the referee's tightened CVaR re-solve about 2×), which gives upper
    bounds c'x + Σ_s Q_s(x) and stops the first-stage
    decisions from oscillating; when its cuts do not cut off x_master (Σ_s of them at x_master
    not above the master's Σ_s θ_s), the subproblems are solved at x_master as well (a Kelley
    step), which is what makes the bounds meet. It stops when
    (upper − lower) ≤ ``tolerance`` × |upper|, and then prefers x_master (a vertex, as a
    whole-LP solve returns) to the in-out point when it is within the same tolerance.

Keeping it fast
    Each subproblem keeps its HiGHS model: only row bounds change between evaluations, so every
    re-solve starts from the last basis; for large LPs the subproblems are spread over worker
    processes (planner/optimize/subproblems.py). The master keeps its cuts, which stay valid
    when a first-stage column is fixed (the integer rounding, the savings curves' points) and
    when only the master's rows change (the referee's tightened CVaR limit: :meth:`build` with
    ``previous``), so those re-solves continue from where the last one stopped. A cut slack for
    ``CUT_DROP_AGE`` iterations in a row is dropped (the master's re-solves slow down with its
    rows). ``log`` (``planner.optimize.decompose``, DEBUG) prints every iteration's bounds.

References: Van Slyke & Wets (1969), "L-shaped linear programs with applications to optimal
control and stochastic programming"; Birge & Louveaux (1988), multi-cut; Ben-Ameur & Neto (2007),
"Acceleration of cutting-plane and column generation algorithms".
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from forecasting.parallel import n_workers
from planner.optimize.problem import RISK_FAMILIES, Problem
from planner.optimize.subproblems import (
    SubproblemError,
    SubproblemSet,
    SubSpec,
    highs_model,
    run_robustly,
)

ALPHA = 0.8  # in-out stabilisation: weight of the best point so far
PENALTY = 100.0  # first cost of one unit of an artificial on a risk row (USD per USD)
PENALTY_MAX = 1e6  # raised tenfold up to this while the optimum still needs artificials
MAX_PROMOTED_SHARE = 0.02  # more scenario columns than this moved to the master: don't split
TOLERANCE = 1e-5  # relative gap between the bounds at which the decomposition stops
ARTIFICIAL_TOL = 1e-3  # a risk row violated by less than this (USD) counts as met
AUTO_MIN_COLUMNS = 60_000  # "auto" decomposes LPs at least this large (not solved as a MIP)
WORKER_MIN_COLUMNS = 60_000  # subproblems of smaller LPs stay in the calling process
CUT_DROP_EVERY = 10  # iterations between drops of cuts that have long been slack
CUT_DROP_AGE = 20  # a cut slack this many iterations in a row is dropped

log = logging.getLogger(__name__)
_SCENARIO = re.compile(r"__s(\d+)(?:__|$)")


class NotDecomposable(Exception):
    """The LP does not split by scenario; the message says why."""


@dataclass
class DecomposedRun:
    """What one run of the decomposition ended with."""

    status: str  # optimal | time_limit | infeasible
    objective_usd: float  # c'x + Σ_s Q_s(x) + the objective's constant, at the best point
    lower_usd: float
    iterations: int


def _spec_key(spec: SubSpec) -> bytes:
    """A digest of what makes two subproblems the same LP (the artificials' cost aside: the
    penalty stays with the subproblem)."""
    n = len(spec.cost) - spec.n_art
    digest = hashlib.blake2b(repr(spec.w.shape).encode(), digest_size=32)
    for a in (
        spec.w.indptr,
        spec.w.indices,
        spec.w.data,
        spec.t.indptr,
        spec.t.indices,
        spec.t.data,
        spec.cost[:n],
        spec.lower,
        spec.upper,
        spec.row_lower,
        spec.row_upper,
    ):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.digest()


def _matrix(
    pb: Problem, col_of: Mapping[str, int]
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, list[str]]:
    """The rows of ``pb`` as a CSR matrix over ``pb.columns`` (``col_of``: name -> column) with
    their bounds and names."""
    indptr = [0]
    idx: list[int] = []
    val: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    names: list[str] = []
    for con in pb.lp.constraints():
        name = str(con.name)
        for var, a in con.items():
            if a != 0:
                idx.append(col_of[var.name])
                val.append(float(a))
        indptr.append(len(idx))
        lb, ub = con.getLb(), con.getUb()
        lo.append(-np.inf if lb is None else float(lb))
        hi.append(np.inf if ub is None else float(ub))
        names.append(name)
    a_mat = sp.csr_matrix(
        (np.asarray(val), np.asarray(idx, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(names), len(pb.columns)),
    )
    return a_mat, np.asarray(lo), np.asarray(hi), names


def scenario_of_columns(names: list[str]) -> np.ndarray:
    """The scenario each column belongs to by its name (``__s<s>``), −1 for none."""
    out = np.full(len(names), -1, dtype=np.int64)
    for i, n in enumerate(names):
        m = _SCENARIO.search(n)
        if m:
            out[i] = int(m.group(1))
    return out


def split_blocks(a_mat: sp.csr_matrix, col_scen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column block, row block): −1 for the first stage, else the scenario. Columns of a row that
    spans several scenarios move to the first stage (repeated until no row does)."""
    col_scen = col_scen.copy()
    n_rows = a_mat.shape[0]
    row_of_nz = np.repeat(np.arange(n_rows), np.diff(a_mat.indptr))
    while True:
        s = col_scen[a_mat.indices]
        live = s >= 0
        lo = np.full(n_rows, np.iinfo(np.int64).max)
        hi = np.full(n_rows, -1)
        np.minimum.at(lo, row_of_nz[live], s[live])
        np.maximum.at(hi, row_of_nz[live], s[live])
        linking = (hi >= 0) & (lo != hi)
        if not linking.any():
            break
        cols = a_mat.indices[np.isin(row_of_nz, np.flatnonzero(linking)) & live]
        col_scen[cols] = -1
    row_scen = np.where(hi >= 0, hi, -1)
    return col_scen, row_scen


@dataclass
class Decomposition:
    """The LP of a :class:`Problem` split into a master and one subproblem per scenario
    (module docstring). :meth:`run` solves it, optionally with first-stage columns fixed;
    :meth:`write_values` puts the best point's values into the PuLP variables."""

    pb: Problem
    first: np.ndarray  # the LP's first-stage columns
    subs: SubproblemSet
    sub_cols: list[np.ndarray]  # each scenario's columns of the LP
    master: Any
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    constant: float
    best_x: np.ndarray | None = None
    iterations_total: int = 0
    col_of: dict[str, int] = field(default_factory=dict)
    #: the master's cuts, in row order after its own rows: (lower, index, coef) of
    #: θ_s − g'x ≥ lower, and how many iterations each has been slack in a row
    cuts: list[tuple[float, np.ndarray, np.ndarray]] = field(default_factory=list)
    cut_age: list[int] = field(default_factory=list)
    subs_time_at_build_s: float = 0.0  # the (shared) subproblems' HiGHS clock when built
    reused: bool = False  # its subproblems came from an earlier decomposition (shared)
    #: what a later problem must share to reuse the subproblems and cuts (:meth:`build`)
    signature: tuple[Any, ...] = ()
    theta_lower: list[float] = field(default_factory=list)  # L_s

    @classmethod
    def build(cls, pb: Problem, previous: Decomposition | None = None) -> Decomposition:
        """Split ``pb``; raises :class:`NotDecomposable` (with the reason) when it does not.
        When ``previous`` split a problem with the same first-stage columns and the same
        subproblems (a re-solve whose limits changed only in the master's rows: the referee's
        tightened CVaR limit, an upfront budget), its warm subproblems, penalty and cuts are
        reused: a cut bounds Q_s, which depends on the subproblem alone."""
        if pb.serverless_choice:
            raise NotDecomposable("all-or-nothing serverless choices are decided per scenario")
        cols = pb.columns
        col_of = {v.name: i for i, v in enumerate(cols)}
        a_mat, row_lo, row_hi, row_names = _matrix(pb, col_of)
        named = scenario_of_columns([v.name for v in cols])
        col_scen, row_scen = split_blocks(a_mat, named)
        promoted = int(((named >= 0) & (col_scen < 0)).sum())
        if promoted > MAX_PROMOTED_SHARE * max(1, int((named >= 0).sum())):
            raise NotDecomposable(
                f"rows couple the scenarios' dispatch ({promoted:,} columns would move to the "
                "master; the provider-share bound does this)"
            )
        n_s = int(col_scen.max()) + 1
        if n_s < 2:
            raise NotDecomposable("fewer than two scenarios")
        cost = np.array([float(pb.lp.objective.get(v, 0.0)) for v in cols])
        lo = np.array([-np.inf if v.lowBound is None else float(v.lowBound) for v in cols])
        hi = np.array([np.inf if v.upBound is None else float(v.upBound) for v in cols])
        first = np.flatnonzero(col_scen < 0)
        risk_rows = {n for fam in RISK_FAMILIES for n in pb.families.get(fam, ())}
        is_risk = np.array([n in risk_rows for n in row_names])
        a_first = a_mat[:, first].tocsr()
        specs, sub_cols = [], []
        order = np.argsort(row_scen, kind="stable")
        starts = np.searchsorted(row_scen[order], np.arange(-1, n_s + 1))
        col_order = np.argsort(col_scen, kind="stable")
        col_starts = np.searchsorted(col_scen[col_order], np.arange(-1, n_s + 1))
        for s in range(n_s):
            rows = order[starts[s + 1] : starts[s + 2]]
            ycols = col_order[col_starts[s + 1] : col_starts[s + 2]]
            t_s = a_first[rows].tocsr()
            art = [
                (k, sign)
                for k in np.flatnonzero(is_risk[rows] & (np.diff(t_s.indptr) > 0))
                for sign, side in ((1.0, row_lo), (-1.0, row_hi))
                if np.isfinite(side[rows[k]])
            ]
            e = sp.csc_matrix(
                (
                    np.array([a[1] for a in art], dtype=float),
                    (np.array([a[0] for a in art], dtype=np.int64), np.arange(len(art))),
                ),
                shape=(len(rows), len(art)),
            )
            specs.append(
                SubSpec(
                    scenario=s,
                    w=sp.hstack([a_mat[rows][:, ycols], e]).tocsc(),
                    cost=np.concatenate([cost[ycols], np.full(len(art), PENALTY)]),
                    lower=np.concatenate([lo[ycols], np.zeros(len(art))]),
                    upper=np.concatenate([hi[ycols], np.full(len(art), np.inf)]),
                    row_lower=row_lo[rows],
                    row_upper=row_hi[rows],
                    t=t_s,
                    n_art=len(art),
                )
            )
            sub_cols.append(ycols)
        signature = (
            tuple(cols[i].name for i in first),
            tuple(_spec_key(spec) for spec in specs),
        )
        master_rows = order[starts[0] : starts[1]]
        a_m = sp.hstack([a_first[master_rows], sp.csr_matrix((len(master_rows), n_s))]).tocsc()
        reuse = previous if previous is not None and previous.signature == signature else None
        if reuse is not None:
            subs, lower = reuse.subs, reuse.theta_lower
        else:
            workers = n_workers(n_s, min_tasks=2) if len(cols) >= WORKER_MIN_COLUMNS else 1
            subs = SubproblemSet(specs, workers)
            try:
                lower = subs.lower_bounds()
            except SubproblemError as exc:
                subs.close()
                raise NotDecomposable(str(exc)) from exc
        master = highs_model(
            np.concatenate([cost[first], np.ones(n_s)]),
            np.concatenate([lo[first], np.asarray(lower)]),
            np.concatenate([hi[first], np.full(n_s, np.inf)]),
            a_m,
            row_lo[master_rows],
            row_hi[master_rows],
        )
        dec = cls(pb, first, subs, sub_cols, master, cost, lo, hi, float(pb.lp.objective.constant))
        dec.signature, dec.theta_lower, dec.col_of = signature, list(lower), col_of
        if reuse is not None:
            dec.reused = True
            dec.subs_time_at_build_s = subs.highs_time_s()
            for low, idx, coef in reuse.cuts:
                dec._add_row(low, idx, coef)
            log.debug("reused %d subproblems and %d cuts", subs.n, len(dec.cuts))
        return dec

    def _add_cut(self, lower: float, grad: np.ndarray, theta: int) -> None:
        """θ_theta − grad'x ≥ lower, i.e. θ_s ≥ Q_s(x̄) + grad'(x − x̄) with lower = Q_s(x̄) −
        grad'x̄."""
        size = np.abs(grad)
        nz = np.flatnonzero(size > max(1e-12, 1e-9 * float(size.max(initial=0.0))))
        idx = np.append(nz.astype(np.int32), np.int32(len(self.first) + theta))
        self._add_row(lower, idx, np.append(-grad[nz], 1.0))

    def _add_row(self, lower: float, idx: np.ndarray, coef: np.ndarray) -> None:
        self.master.addRow(lower, np.inf, len(idx), idx, coef)
        self.cuts.append((lower, idx, coef))
        self.cut_age.append(0)

    def _age_cuts(self, iteration: int) -> None:
        """Count how long each cut has been slack at the master's solution, and every
        ``CUT_DROP_EVERY`` iterations drop those slack for ``CUT_DROP_AGE`` iterations in a
        row (the master's re-solves slow down with its rows; a dropped cut that matters again
        is found again)."""
        n0 = self.master.getNumRow() - len(self.cuts)
        value = np.asarray(self.master.getSolution().row_value)[n0:]
        lower = np.array([cut[0] for cut in self.cuts])
        slack = value - lower > 1e-7 * (1.0 + np.abs(lower))
        age = np.where(slack, np.asarray(self.cut_age) + 1, 0)
        if iteration % CUT_DROP_EVERY == 0 and (age >= CUT_DROP_AGE).any():
            drop = np.flatnonzero(age >= CUT_DROP_AGE)
            self.master.deleteRows(len(drop), (drop + n0).astype(np.int32))
            keep = age < CUT_DROP_AGE
            age = age[keep]
            self.cuts = [cut for cut, k in zip(self.cuts, keep, strict=True) if k]
        self.cut_age = age.tolist()

    def run(
        self,
        *,
        fixed: Mapping[int, float] | None = None,
        time_limit_s: float = 3600.0,
        tolerance: float | None = None,
    ) -> DecomposedRun:
        """Solve with first-stage columns (the LP's column indices) fixed at the given values;
        their bounds are restored before it returns."""
        t0 = time.perf_counter()
        fixed = dict(fixed or {})
        for c, v in fixed.items():
            self.master.changeColBounds(self._position(c), float(v), float(v))
        try:
            return self._iterate(t0, time_limit_s, TOLERANCE if tolerance is None else tolerance)
        finally:
            for c in fixed:
                lo, hi = float(self.col_lower[c]), float(self.col_upper[c])
                self.master.changeColBounds(self._position(c), lo, hi)

    def _iterate(self, t0: float, time_limit_s: float, tolerance: float) -> DecomposedRun:
        n_f = len(self.first)
        c_f = self.cost[self.first]
        best_ub, best_art = np.inf, np.inf
        x_hat: np.ndarray | None = None
        lower = -np.inf
        it = 0
        while True:
            it += 1
            if not run_robustly(self.master):
                log.debug("master ended %s", self.master.getModelStatus())
                status = "infeasible"
                break
            sol = np.asarray(self.master.getSolution().col_value)
            xm, theta_m = sol[:n_f], float(sol[n_f:].sum())
            lower = float(self.master.getInfo().objective_function_value)
            self._age_cuts(it)  # after reading the solution: a drop clears it
            # in-out from a best point that meets the risk rows; from one that needs
            # artificials it would drag every step towards a point that is no plan
            meets = self._meets(best_art, best_ub)
            x = ALPHA * x_hat + (1.0 - ALPHA) * xm if x_hat is not None and meets else xm
            upper, art_total, model_at_xm = self._at(x, c_f, xm)
            if x_hat is not None and model_at_xm <= theta_m + 1e-9 * max(1.0, abs(theta_m)):
                # the in-out point's cuts do not cut off the master's point: a Kelley step
                x = xm
                upper, art_total, _ = self._at(x, c_f, xm)
            if upper < best_ub - 1e-12 * abs(upper):
                best_ub, best_art, x_hat = upper, art_total, x.copy()
            log.debug(
                "iteration %d: lower %.6g, upper %.6g (best %.6g), artificials %.3g, %d cuts, "
                "%.1f s",
                it,
                lower,
                upper,
                best_ub,
                art_total,
                self.master.getNumRow(),
                time.perf_counter() - t0,
            )
            if np.isfinite(best_ub) and best_ub - lower <= tolerance * max(1.0, abs(best_ub)):
                if x_hat is not None and not np.array_equal(x_hat, xm):
                    # prefer the master's own point (a vertex, as a whole-LP solve gives) when
                    # it is as good: an in-out point is a blend of two
                    up2, art2, _ = self._at(xm, c_f, xm)
                    if art2 <= best_art and up2 - lower <= tolerance * max(1.0, abs(up2)):
                        best_ub, best_art, x_hat = up2, art2, xm
                # the penalised optimum meets the risk rows when they can be met and M is above
                # their shadow prices: raise M while it does not, then give up
                met = self._meets(best_art, best_ub)
                if met or self.subs.penalty >= PENALTY_MAX:
                    status = "optimal" if met else "infeasible"
                    break
                log.debug(
                    "penalty on the risk rows' artificials raised to %g", 10 * self.subs.penalty
                )
                self.subs.raise_penalty(self.subs.penalty * 10.0)
                best_ub, best_art, x_hat = np.inf, np.inf, None
            if time.perf_counter() - t0 > time_limit_s:
                status = "time_limit"
                break
        self.iterations_total += it
        if x_hat is not None:
            self.best_x = x_hat
        return DecomposedRun(
            status=status,
            objective_usd=best_ub + self.constant,
            lower_usd=lower + self.constant,
            iterations=it,
        )

    def _meets(self, artificials: float, upper: float) -> bool:
        """Whether a point whose artificials sum to ``artificials`` meets the risk rows (to
        ``ARTIFICIAL_TOL`` USD per scenario, or 1e-9 of its cost)."""
        return artificials <= max(ARTIFICIAL_TOL, 1e-9 * abs(upper)) * self.subs.n

    def _at(self, x: np.ndarray, c_f: np.ndarray, probe: np.ndarray) -> tuple[float, float, float]:
        """c'x + Σ_s Q_s(x) (the artificials at their penalty), the artificials' sum at x, and
        Σ_s of the new cuts at ``probe``; adds every subproblem's optimality cut."""
        upper, art_total, at_probe = float(c_f @ x), 0.0, 0.0
        for s, (q, grad, art) in enumerate(self.subs.evaluate(x)):
            self._add_cut(q - float(grad @ x), grad, s)
            upper, art_total = upper + q, art_total + art
            at_probe += q + float(grad @ (probe - x))
        return upper, art_total, at_probe

    def highs_time_s(self) -> float:
        """HiGHS's own clock over the master and the subproblems since this decomposition was
        built (reused subproblems' earlier runs belong to the decomposition that ran them)."""
        return (
            float(self.master.getRunTime()) + self.subs.highs_time_s() - self.subs_time_at_build_s
        )

    def write_values(self) -> None:
        """The best point's values into the PuLP variables (``varValue``), as a solve would."""
        if self.best_x is None:
            raise RuntimeError("the decomposition has no solution to write")
        values = np.zeros(len(self.pb.columns))
        values[self.first] = self.best_x
        for cols, y in zip(self.sub_cols, self.subs.solutions(self.best_x), strict=True):
            values[cols] = y[: len(cols)]
        for var, v in zip(self.pb.columns, values, strict=True):
            var.varValue = float(v)

    def column(self, var: Any) -> int:
        """The LP column of a first-stage PuLP variable (only those can be fixed)."""
        return self.col_of[var.name]

    def _position(self, col: int) -> int:
        """Where LP column ``col`` sits among the first-stage columns (the master's columns)."""
        pos = int(np.searchsorted(self.first, col))
        if pos >= len(self.first) or self.first[pos] != col:
            raise KeyError(f"column {col} ({self.pb.columns[col].name}) is not first-stage")
        return pos

    def value(self, var: Any) -> float:
        """A first-stage variable's value at the best point of the last run."""
        if self.best_x is None:
            raise RuntimeError("the decomposition has no solution")
        return float(self.best_x[self._position(self.column(var))])
