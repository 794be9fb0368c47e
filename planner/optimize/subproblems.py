"""The scenario subproblems of the Benders decomposition (planner/optimize/decompose.py), each a
HiGHS model kept warm between evaluations, in this process or spread over worker processes.

A subproblem is min q'y s.t. l − T x ≤ W y ≤ u − T x (its artificials included in W and q):
:meth:`Subproblem.evaluate` sets the row bounds for a first-stage point x, re-solves from the last
basis and returns its value, the gradient −T'd of the value in x (d the row duals) and the sum
of its artificials. :class:`SubproblemSet` holds all of them; with more than one worker
(``forecasting.parallel.n_workers``: ``PLANNER_WORKERS``, else the CPUs), scenario s lives in
process s mod k (the calling process is number 0), each worker evaluates its own and the set
returns the results in scenario order. A subproblem's answers depend only on its own sequence of
evaluations, so the decomposition's iterates are the same whatever the number of workers.
Workers are spawned (a fresh interpreter, as in forecasting/parallel.py) and stopped by
:meth:`SubproblemSet.close` or when the set is garbage collected.
"""

from __future__ import annotations

import multiprocessing
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import scipy.sparse as sp


class SubproblemError(Exception):
    """HiGHS could not solve a subproblem, even from a cold start."""


@dataclass(frozen=True)
class SubSpec:
    """A subproblem's data (plain arrays: it travels to a worker)."""

    scenario: int
    w: sp.csc_matrix  # rows × (its columns + artificials)
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    t: sp.csr_matrix  # rows × first-stage columns
    n_art: int


def highs_model(
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    a_csc: sp.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
) -> Any:
    """A quiet single-threaded HiGHS model of min cost'x, lower ≤ x ≤ upper, row bounds on A x."""
    import highspy

    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    lp.num_col_ = a_csc.shape[1]
    lp.num_row_ = a_csc.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a_csc.indptr
    lp.a_matrix_.index_ = a_csc.indices
    lp.a_matrix_.value_ = a_csc.data
    h.passModel(lp)
    return h


def optimal(model: Any, primal_tol: float = 1e-3) -> bool:
    """Optimal, or "unknown" with a dual feasible solution whose rows are violated by less than
    ``primal_tol`` (HiGHS's status when the clean-up after presolve leaves such a residual on a
    badly scaled model, as the master's cuts can make it: coefficients from 1e-9 to 1e8)."""
    import highspy

    status = model.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return True
    info = model.getInfo()
    return bool(
        status == highspy.HighsModelStatus.kUnknown
        and info.dual_solution_status == 2  # kSolutionStatusFeasible
        and info.max_primal_infeasibility <= primal_tol
    )


def run_robustly(model: Any) -> bool:
    """Run; on numerical trouble from a warm start, once more from cold. Whether it is optimal."""
    model.run()
    if not optimal(model):
        model.clearSolver()
        model.run()
    return optimal(model)


class Subproblem:
    """One scenario's dispatch LP, warm between evaluations."""

    def __init__(self, spec: SubSpec) -> None:
        self.spec = spec
        self.cost = spec.cost.copy()
        self.model = highs_model(
            self.cost, spec.lower, spec.upper, spec.w, spec.row_lower, spec.row_upper
        )
        self.n_rows = spec.w.shape[0]
        self.all_rows = np.arange(self.n_rows, dtype=np.int32)

    def lower_bound(self) -> float:
        """The value with the rows that hold first-stage columns free: a lower bound for every x."""
        k = np.flatnonzero(np.diff(self.spec.t.indptr) > 0).astype(np.int32)
        free = np.full(len(k), np.inf)
        self.model.changeRowsBounds(len(k), k, -free, free)
        if not run_robustly(self.model):
            return -1e15
        return float(self.model.getInfo().objective_function_value)

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray, float, np.ndarray]:
        """(value, gradient in x, artificials' sum, solution) at first-stage point x."""
        tx = self.spec.t @ x
        self.model.changeRowsBounds(
            self.n_rows, self.all_rows, self.spec.row_lower - tx, self.spec.row_upper - tx
        )
        if not run_robustly(self.model):
            raise SubproblemError(
                f"scenario {self.spec.scenario}'s subproblem ended {self.model.getModelStatus()}"
            )
        sol = self.model.getSolution()
        y = np.asarray(sol.col_value)
        grad = -(self.spec.t.T @ np.asarray(sol.row_dual))
        n_art = self.spec.n_art
        art = float(y[len(y) - n_art :].sum()) if n_art else 0.0
        return float(self.model.getInfo().objective_function_value), grad, art, y

    def set_penalty(self, penalty: float) -> None:
        """The artificials' cost (the caller only ever raises it: cuts found with a smaller
        one stay valid, those with a larger one would not)."""
        n_art = self.spec.n_art
        if n_art:
            n = len(self.cost)
            self.cost[n - n_art :] = penalty
            idx = np.arange(n - n_art, n, dtype=np.int32)
            self.model.changeColsCost(n_art, idx, self.cost[n - n_art :])

    def highs_time_s(self) -> float:
        return float(self.model.getRunTime())


class _Group:
    """The subproblems one process holds; what a worker answers with."""

    def __init__(self, specs: list[SubSpec]) -> None:
        self.subs = [Subproblem(spec) for spec in specs]

    def handle(self, cmd: str, arg: Any) -> Any:
        if cmd == "lower":
            return [sub.lower_bound() for sub in self.subs]
        if cmd == "evaluate":
            return [sub.evaluate(arg)[:3] for sub in self.subs]
        if cmd == "solutions":
            return [sub.evaluate(arg)[3] for sub in self.subs]
        if cmd == "penalty":
            for sub in self.subs:
                sub.set_penalty(arg)
            return None
        if cmd == "time":
            return sum(sub.highs_time_s() for sub in self.subs)
        raise ValueError(cmd)


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in a worker process
    """A worker: build the subproblems it is sent, then answer commands until told to stop."""
    group = _Group(conn.recv())
    while True:
        cmd, arg = conn.recv()
        if cmd == "stop":
            return
        try:
            conn.send(("ok", group.handle(cmd, arg)))
        except Exception as exc:  # sent back and raised in the caller
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _stop(conns: list[Connection], procs: list[Any]) -> None:
    for conn in conns:
        try:
            conn.send(("stop", None))
            conn.close()
        except (OSError, BrokenPipeError):
            pass
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()


class SubproblemSet:
    """All scenarios' subproblems, in this process and ``workers − 1`` others (module
    docstring); every method answers in scenario order."""

    def __init__(self, specs: list[SubSpec], workers: int = 1) -> None:
        self.n = len(specs)
        k = max(1, min(workers, self.n))
        self.k = k
        self.local = _Group(specs[0::k])
        self.conns: list[Connection] = []
        procs = []
        if k > 1:
            ctx = multiprocessing.get_context("spawn")
            for j in range(1, k):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child,), daemon=True)
                proc.start()
                child.close()
                parent.send(specs[j::k])
                self.conns.append(parent)
                procs.append(proc)
        self._finalizer = weakref.finalize(self, _stop, self.conns, procs)
        #: the artificials' cost M now (the specs' own, until :meth:`raise_penalty`)
        self.penalty = max((float(sp.cost[-1]) for sp in specs if sp.n_art), default=0.0)

    def _all(self, cmd: str, arg: Any = None) -> list[Any]:
        """Each process's answer to ``cmd`` (this one's while the workers compute theirs), in
        scenario order."""
        try:
            for conn in self.conns:
                conn.send((cmd, arg))
        except (OSError, ValueError) as exc:  # closed, or a worker gone
            raise SubproblemError(f"the subproblem workers are gone: {exc!r}") from exc
        failed: str | None = None
        try:
            parts = [self.local.handle(cmd, arg)]
        except SubproblemError as exc:
            parts, failed = [None], str(exc)
        for conn in self.conns:  # every worker's answer is read, so none is left for the next
            try:
                status, answer = conn.recv()
            except (EOFError, OSError) as exc:  # a worker died (e.g. killed for memory)
                status, answer = "error", f"a subproblem worker stopped: {exc!r}"
            if status != "ok":
                failed = failed or answer
            parts.append(answer)
        if failed is not None:
            raise SubproblemError(failed)
        if parts[0] is None or not isinstance(parts[0], list):
            return parts
        out: list[Any] = [None] * self.n
        for j, part in enumerate(parts):
            out[j :: self.k] = part
        return out

    def lower_bounds(self) -> list[float]:
        return self._all("lower")

    def evaluate(self, x: np.ndarray) -> list[tuple[float, np.ndarray, float]]:
        """(value, gradient, artificials' sum) of every scenario at x."""
        return self._all("evaluate", x)

    def solutions(self, x: np.ndarray) -> list[np.ndarray]:
        """Every scenario's solution at x (its artificials last)."""
        return self._all("solutions", x)

    def raise_penalty(self, penalty: float) -> None:
        """Raise the artificials' cost M to ``penalty`` (never lowers it)."""
        if penalty > self.penalty:
            self._all("penalty", penalty)
            self.penalty = penalty

    def highs_time_s(self) -> float:
        return float(sum(self._all("time")))

    def close(self) -> None:
        self._finalizer()
