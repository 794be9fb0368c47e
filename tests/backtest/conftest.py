"""Backtest tests: helpers live in bt_factory.py (imported by module name).

``tests/`` is on ``sys.path`` (rootdir conftest, prepend import mode) and ``tests/forecasting/`` has
no ``__init__.py``, so ``import forecasting`` could resolve to that folder as a namespace package;
put the repository root first and re-import the real package if the namespace got there first.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
_mod = sys.modules.get("forecasting")
if _mod is not None and getattr(_mod, "__file__", None) is None:
    del sys.modules["forecasting"]
    importlib.import_module("forecasting")
