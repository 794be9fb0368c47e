"""The usage table's columns and the header reader, shared by the tidy reader
(:mod:`forecasting.usage`) and the billing readers (:mod:`forecasting.billing`), so neither imports
the other's module for them."""

from __future__ import annotations

from pathlib import Path

from pricing_data.errors import PlannerInputError

TAG_COLUMNS: tuple[str, ...] = (
    "team",
    "project",
    "environment",
    "model",
    "experiment",
    "workload",
)
#: Columns that label a series (besides ``gpu_type``): where it ran and the FinOps tags.
LABEL_COLUMNS: tuple[str, ...] = ("provider", "region", *TAG_COLUMNS)
#: How billed usage was paid for (billing sources only).
PAID_AS: tuple[str, ...] = ("on_demand", "spot", "reserved_instance", "savings_plan")
#: The long usage table: one row per hour and series.
USAGE_COLUMNS: tuple[str, ...] = ("timestamp", "gpu_type", "gpus", *LABEL_COLUMNS)


def read_columns(path: Path) -> list[str]:
    """The column names of a CSV (plain or gzipped) or Parquet file, from its header."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as e:  # pyarrow raises several types for a bad file
            raise PlannerInputError(
                f"cannot read the Parquet file: {str(e).splitlines()[0]}",
                file=str(path),
                fix="give a valid Parquet file",
            ) from None
    import csv
    import gzip

    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace") as gz:
                header = gz.readline()
        else:
            with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
                header = fh.readline()
    except (OSError, EOFError) as e:
        raise PlannerInputError(
            f"cannot read the file: {e}", file=str(path), fix="give a CSV, CSV.gz or Parquet file"
        ) from None
    return next(csv.reader([header]), [])
