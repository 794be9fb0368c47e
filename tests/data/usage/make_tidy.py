"""Write tidy copies (the usage contract: timestamp, gpu_type, gpus) of the real hourly series.

Run from the repository root: ``python tests/data/usage/make_tidy.py``. The originals and their
PROVENANCE.md stay beside each copy; the copies carry the same attribution and terms.

Labelled assumptions:
- philly-node-sequence counts **servers**, not GPUs. The copy keeps it as a count of servers under
  the type label ``other:philly-server`` (``gpus`` = active servers); no GPUs-per-server factor is
  assumed.
- alibaba-spot-gpu-v2026 names two undisclosed GPU models ``GPU-series-1`` and ``GPU-series-2``; the
  copy labels them ``other:alibaba-GPU-series-1`` and ``other:alibaba-GPU-series-2`` (types of their
  own, with no catalog offers). ``A100-SXM4-80GB`` and ``A800-SXM4-80GB`` are written as the
  canonical ``A100-80GB`` and ``A800-80GB``. The clock is synthetic (t=0 at 2000-01-01T00:00Z).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    h = pd.read_csv(HERE / "helios-earth" / "hourly.csv")
    h = h.rename(columns={"gpus_in_use": "gpus"})[["timestamp", "gpu_type", "gpus"]]
    h.to_csv(HERE / "helios-earth" / "usage.csv", index=False, lineterminator="\n")

    p = pd.read_csv(HERE / "philly-node-sequence" / "hourly_active_nodes.csv")
    p = pd.DataFrame(
        {"timestamp": p["timestamp"], "gpu_type": "other:philly-server", "gpus": p["active_nodes"]}
    )
    p.to_csv(HERE / "philly-node-sequence" / "usage.csv", index=False, lineterminator="\n")

    a = pd.read_csv(HERE / "alibaba-spot-gpu-v2026" / "hourly.csv")
    names = {
        "A100-SXM4-80GB": "A100-80GB",
        "A800-SXM4-80GB": "A800-80GB",
        "GPU-series-1": "other:alibaba-GPU-series-1",
        "GPU-series-2": "other:alibaba-GPU-series-2",
    }
    a = pd.DataFrame(
        {
            "timestamp": a["timestamp"],
            "gpu_type": a["gpu_type"].map(lambda s: names.get(s, s)),
            "gpus": a["gpus_in_use"],
        }
    )
    a.to_csv(HERE / "alibaba-spot-gpu-v2026" / "usage.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
