"""Make ``import forecasting`` mean the package, not this test folder.

pytest puts ``tests/`` on ``sys.path`` (rootdir conftest, prepend import mode), and this folder is
also called ``forecasting`` without an ``__init__.py``, so Python may resolve ``forecasting`` to a
namespace package made of this folder (submodules still load through the editable install, but the
names in ``forecasting/__init__.py`` go missing). Put the repository root first and re-import the
real package if the namespace got there first.
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
