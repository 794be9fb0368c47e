"""Parse ``ec2.describe_instance_types`` records into accelerator type and count per instance type.

GPUs come from ``GpuInfo`` (``Count`` × ``GpuPartitionSize`` for fractional GPUs), AWS Trainium and
Inferentia2 from ``NeuronInfo`` (devices), Inferentia 1 from ``InferenceAcceleratorInfo``. The GPU type
goes through :func:`pricing_data.gpu_types.aws_gpu_type`, whose instance-family overrides fix names
AWS reports ambiguously (p4d vs p4de A100s, trn1). Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pricing_data.errors import PlannerInputError
from pricing_data.gpu_types import aws_gpu_type


@dataclass(frozen=True)
class Accelerators:
    instance_type: str
    gpu_type: str
    gpus_per_unit: float
    device_name: str


def _devices(info: dict[str, Any]) -> tuple[str, float] | None:
    gpus = (info.get("GpuInfo") or {}).get("Gpus") or []
    if gpus:
        total = 0.0
        for g in gpus:
            count = float(g.get("Count") or 0)
            part = g.get("GpuPartitionSize")
            total += count * float(part) if part else count
        return str(gpus[0].get("Name", "")), total
    neuron = (info.get("NeuronInfo") or {}).get("NeuronDevices") or []
    if neuron:
        return str(neuron[0].get("Name", "")), float(sum(int(d.get("Count") or 0) for d in neuron))
    accel = (info.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or []
    if accel:
        return str(accel[0].get("Name", "")), float(sum(int(a.get("Count") or 0) for a in accel))
    return None


def parse_instance_types(
    records: list[dict[str, Any]],
) -> tuple[dict[str, Accelerators], list[str]]:
    """instance type -> Accelerators, and notes on types without a known accelerator."""
    out: dict[str, Accelerators] = {}
    notes: list[str] = []
    for rec in records:
        itype = str(rec.get("InstanceType", ""))
        if not itype:
            notes.append("skipped an instance type record without InstanceType")
            continue
        found = _devices(rec)
        if found is None or found[1] <= 0:
            notes.append(f"{itype}: no GPU or accelerator in describe_instance_types; skipped")
            continue
        name, count = found
        try:
            gpu = aws_gpu_type(itype, name)
        except PlannerInputError:
            notes.append(f"{itype}: accelerator {name!r} is not a known GPU type; skipped")
            continue
        out[itype] = Accelerators(itype, gpu, count, name)
    return out, notes
