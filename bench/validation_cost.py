"""What the usage validation layer (forecasting/validate_usage.py) costs on a large billing export.

Times, on a synthetic CUR 2.0 export (bench/cur_synth.py), the whole ``read_usage`` (which includes
the validation) and the two validation steps alone: the per-line quantity check
(``check_billing_quantities``, one extra streaming duckdb pass over the file) and the rules on the
hourly table (``validate_usage``: values, names, robust-z outliers). Prints seconds and the share
of the read each step takes.

    .venv/bin/python bench/cur_synth.py /tmp/cur-1m.parquet --lines 1000000
    .venv/bin/python bench/validation_cost.py /tmp/cur-1m.parquet
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from forecasting import read_usage
from forecasting.usage import detect_format
from forecasting.usage_schema import read_columns
from forecasting.validate_usage import accepting_outliers, check_billing_quantities, validate_usage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    args = ap.parse_args()
    for path in args.paths:
        fmt = detect_format(path)
        t0 = time.perf_counter()
        with accepting_outliers():
            history = read_usage(path)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        check_billing_quantities(str(path), fmt, read_columns(path))
        t_lines = time.perf_counter() - t0
        t0 = time.perf_counter()
        with accepting_outliers():
            validate_usage(history)
        t_rules = time.perf_counter() - t0
        print(
            f"{path.name}: {len(history.data):,} usage rows; read_usage {t_read:.2f} s "
            f"(of which line check {t_lines:.2f} s = {100 * t_lines / t_read:.0f} %, "
            f"hourly rules {t_rules:.2f} s = {100 * t_rules / t_read:.0f} %)"
        )


if __name__ == "__main__":
    main()
