"""Build the example organisation's usage file from the real Alibaba GPU demand trace.

    python examples/build_example.py

Source: tests/data/usage/alibaba-spot-gpu-v2026/hourly.csv (Alibaba cluster-trace-v2026-spot-gpu,
hourly demand derived by MIT-licensed third-party analyses; Alibaba's terms allow research or study
use; see that folder's PROVENANCE.md). What this script changes, and why:

- The trace's clock is synthetic (anchored at 2000-01-01); we shift it so the last hour is
  2026-10-31 23:00 UTC, so the example plans the quarter starting 2026-11-01.
- Alibaba runs ~9,000 GPUs; the example organisation is a mid-size AI company, so each series is
  scaled down by the factor below and rounded to 0.001 GPU. The shape (trend, daily cycle, spikes)
  is the real one.
- GPU models are relabelled to what the organisation rents on AWS: H800 (an export-market H100) as
  H100; A100-SXM4-80GB as A100-80GB; A10 as A10G (AWS g5); the undisclosed "GPU-series-1" as L4.
- Tags: teams, projects and workloads are invented for the example; 5% of the A100 usage is left
  untagged on purpose, to show how showback reports unallocated usage.
- Requests and busy time (synthetic, for the serverless and unit-cost walkthrough): chat-serving
  reports ``requests`` = 1,500 per GPU-hour it holds. A low-traffic internal tool (platform team,
  ``ops-assistant``, inference in staging) holds one replica of a 70B model on 4 H100s around the
  clock; it is used mostly from 14:00 to 19:59 UTC, when its requests follow the real trace's
  A800 series (scaled to 1,800 an hour on average; 20 an hour otherwise), and its serving stack
  records ``busy_gpu_hours`` = requests × 4 GPU-seconds / 3,600 (4 GPUs for 1 s each, at most the
  4 GPUs held). It is busy 14.3% of the GPU-hours it holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "tests" / "data" / "usage" / "alibaba-spot-gpu-v2026" / "hourly.csv"
LAST_HOUR = pd.Timestamp("2026-10-31T23:00:00Z")

# (source series, gpu_type, scale, [(share, team, project, workload, environment)])
SERIES = [
    ("H800", "H100", 0.05, [(1.0, "research", "foundation-model", "training", "prod")]),
    (
        "A100-SXM4-80GB",
        "A100-80GB",
        0.02,
        [
            (0.70, "llm-platform", "chat-serving", "inference", "prod"),
            (0.25, "research", "fine-tuning", "fine-tuning", "dev"),
            (0.05, "", "", "", ""),
        ],
    ),
    ("A10", "A10G", 0.02, [(1.0, "search", "ranking", "inference", "prod")]),
    ("GPU-series-1", "L4", 0.03, [(1.0, "ads", "creative-gen", "inference", "prod")]),
]


REQUESTS_PER_CHAT_GPU_HOUR = 1500
TOOL_GPUS = 4.0
TOOL_HOURS_UTC = range(14, 20)
TOOL_MEAN_REQUESTS = 1800.0  # per hour in TOOL_HOURS_UTC
TOOL_IDLE_REQUESTS = 20.0  # per hour otherwise
TOOL_GPU_SECONDS_PER_REQUEST = 4.0


def ops_assistant(raw: pd.DataFrame, shift: pd.Timedelta) -> pd.DataFrame:
    """The low-traffic internal tool (module docstring)."""
    s = raw[raw["gpu_type"] == "A800-SXM4-80GB"].reset_index(drop=True)
    ts = s["timestamp"] + shift
    shape = s["gpus_in_use"] / s["gpus_in_use"].mean()
    busy_hours = np.isin(ts.dt.hour, list(TOOL_HOURS_UTC))
    requests = np.where(busy_hours, TOOL_MEAN_REQUESTS * shape, TOOL_IDLE_REQUESTS).round()
    busy = np.minimum(requests * TOOL_GPU_SECONDS_PER_REQUEST / 3600.0, TOOL_GPUS).round(3)
    return pd.DataFrame(
        {
            "timestamp": ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gpu_type": "H100",
            "gpus": TOOL_GPUS,
            "provider": "aws",
            "region": "us-east-1",
            "team": "platform",
            "project": "ops-assistant",
            "workload": "inference",
            "environment": "staging",
            "requests": requests.astype(int).astype(str),
            "busy_gpu_hours": busy,
        }
    )


def build() -> pd.DataFrame:
    raw = pd.read_csv(SOURCE, parse_dates=["timestamp"])
    shift = LAST_HOUR - raw["timestamp"].max()
    frames = []
    for source, gpu_type, scale, splits in SERIES:
        s = raw[raw["gpu_type"] == source]
        for share, team, project, workload, environment in splits:
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": (s["timestamp"] + shift).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "gpu_type": gpu_type,
                        "gpus": (s["gpus_in_use"] * scale * share).round(3),
                        "provider": "aws",
                        "region": "us-east-1",
                        "team": team,
                        "project": project,
                        "workload": workload,
                        "environment": environment,
                        "requests": (
                            (s["gpus_in_use"] * scale * share * REQUESTS_PER_CHAT_GPU_HOUR)
                            .round()
                            .astype(int)
                            .astype(str)
                            if project == "chat-serving"
                            else ""
                        ),
                        "busy_gpu_hours": np.nan,
                    }
                )
            )
    frames.append(ops_assistant(raw, shift))
    out = pd.concat(frames, ignore_index=True).sort_values(["timestamp", "gpu_type", "team"])
    return out.astype({"gpus": float})


if __name__ == "__main__":
    out = HERE / "usage.csv"
    df = build()
    df.to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {out}: {len(df)} rows, {df['timestamp'].min()} .. {df['timestamp'].max()}")
