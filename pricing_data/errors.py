"""Error types shared by every package.

One type per kind of failure. Each message says where (file, row, column), what was wrong, the value
given and how to fix it. The CLI maps :class:`PlannerInputError` to exit code 2 (a usage error) and
every other :class:`PlannerError` to exit code 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(Exception):
    """Base class of every error the planner reports to a user without a traceback."""


class PlannerInputError(PlannerError):
    """A user's input (file, flag, name) is wrong. Exit code 2."""

    def __init__(
        self,
        what: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.file = file
        self.row = row
        self.column = column
        self.value = value
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + ": " if where else ""
        text += self.what
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f"\nTo fix: {self.fix}"
        return text


class UnknownNameError(PlannerInputError):
    """A name (GPU type, region, provider, policy key...) that is not known, with suggestions."""

    def __init__(
        self,
        kind: str,
        name: str,
        known: Iterable[str],
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        known_list = sorted(set(known))
        self.suggestions = suggest(name, known_list)
        if self.suggestions:
            fix = "did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            shown = ", ".join(known_list[:12]) + (", ..." if len(known_list) > 12 else "")
            fix = f"use one of: {shown}"
        super().__init__(f"unknown {kind} {name!r}", file=file, row=row, column=column, fix=fix)


class CatalogError(PlannerError):
    """A shipped or refreshed price catalog is corrupt (not the user's fault). Exit code 1."""


def suggest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Closest known names to ``name`` (case-insensitive), best first."""
    known_list = list(known)
    lower = {k.lower(): k for k in known_list}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    prefix = [k for k in known_list if k.lower().startswith(name.lower()) and k.lower() not in hits]
    return [lower[h] for h in hits] + prefix[: max(0, n - len(hits))]
