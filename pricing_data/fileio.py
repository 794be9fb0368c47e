"""Writing output files atomically: to a temporary file beside the target, then a rename.

A failure half-way leaves the previous file (or none), never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; the temp file is removed on error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def read_user_text(path: str | Path, *, what: str, fix: str) -> str:
    """The text of a user's file (UTF-8, a leading BOM dropped); any reason it cannot be read
    (missing, a folder, not text, not UTF-8) is a usage error naming the file.

    ``what`` names the file in the message (e.g. "policy file"), ``fix`` says what to give.
    """
    from pricing_data.errors import PlannerInputError

    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PlannerInputError(f"{what} not found", file=str(path), fix=fix) from None
    except IsADirectoryError:
        raise PlannerInputError(f"the {what} is a folder", file=str(path), fix=fix) from None
    except UnicodeDecodeError as e:
        raise PlannerInputError(
            f"the {what} is not UTF-8 text (byte {e.start})",
            file=str(path),
            fix=f"{fix} (saved as UTF-8 text)",
        ) from None
    except OSError as e:
        raise PlannerInputError(
            f"cannot read the {what} ({e.strerror or e})", file=str(path), fix=fix
        ) from None


def read_user_csv(path: str | Path, *, what: str, fix: str, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, dtype=str, keep_default_na=False, **kwargs)`` of a user's CSV with
    every way a file can be unreadable turned into a usage error naming the file (an empty file,
    a broken quote, a binary file, not UTF-8). Returns the DataFrame."""
    import pandas as pd

    from pricing_data.errors import PlannerInputError

    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "encoding": "utf-8-sig"}
    options.update(kwargs)
    try:
        frame: pd.DataFrame = pd.read_csv(path, **options)
        return frame
    except pd.errors.EmptyDataError:
        raise PlannerInputError(f"the {what} is empty", file=str(path), fix=fix) from None
    except UnicodeDecodeError as e:
        raise PlannerInputError(
            f"the {what} is not UTF-8 text (byte {e.start})",
            file=str(path),
            fix=f"{fix} (saved as UTF-8 CSV)",
        ) from None
    except (pd.errors.ParserError, ValueError) as e:
        raise PlannerInputError(
            f"the {what} is not a readable CSV ({str(e).splitlines()[0] if str(e) else 'parse error'})",
            file=str(path),
            fix=fix,
        ) from None
    except FileNotFoundError:
        raise PlannerInputError(f"{what} not found", file=str(path), fix=fix) from None
    except OSError as e:
        raise PlannerInputError(
            f"cannot read the {what} ({e.strerror or e})", file=str(path), fix=fix
        ) from None
