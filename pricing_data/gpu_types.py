"""Canonical GPU type names and the aliases providers and billing exports use for them.

``canonical_gpu_type("NVIDIA HGX H100") == "H100"``; an unknown name raises
:class:`~pricing_data.errors.UnknownNameError` with "did you mean" suggestions.
"""

from __future__ import annotations

import re

from pricing_data.errors import PlannerInputError, UnknownNameError

# canonical name -> memory in GB per GPU (informative) and vendor
CANONICAL_GPU_TYPES: dict[str, str] = {
    "B300": "NVIDIA",
    "B200": "NVIDIA",
    "GB300": "NVIDIA",
    "GB200": "NVIDIA",
    "GH200": "NVIDIA",
    "H200": "NVIDIA",
    "H100": "NVIDIA",
    "H800": "NVIDIA",
    "A100-80GB": "NVIDIA",
    "A100-40GB": "NVIDIA",
    "A800-80GB": "NVIDIA",
    "L40S": "NVIDIA",
    "L40": "NVIDIA",
    "L4": "NVIDIA",
    "A10G": "NVIDIA",
    "A10": "NVIDIA",
    "A6000": "NVIDIA",
    "RTX-PRO-6000": "NVIDIA",
    "RTX6000": "NVIDIA",
    "T4": "NVIDIA",
    "T4G": "NVIDIA",
    "V100": "NVIDIA",
    "K80": "NVIDIA",
    "M60": "NVIDIA",
    "K520": "NVIDIA",
    "V520": "AMD",
    "INFERENTIA": "AWS",
    "INFERENTIA2": "AWS",
    "TRAINIUM": "AWS",
    "AI100": "Qualcomm",
}

# Keys are normalised with _key(); values are canonical names.
_ALIASES: dict[str, str] = {
    "a100 80gb": "A100-80GB",
    "a100 80g": "A100-80GB",
    "a100 40gb": "A100-40GB",
    "a100 40g": "A100-40GB",
    "a800 80gb": "A800-80GB",
    "a800": "A800-80GB",
    "rtx pro 6000 blackwell server edition": "RTX-PRO-6000",
    "rtx pro 6000 blackwell": "RTX-PRO-6000",
    "rtx pro 6000": "RTX-PRO-6000",
    "quadro rtx 6000": "RTX6000",
    "rtx 6000": "RTX6000",
    "rtx6000": "RTX6000",
    "radeon pro v520": "V520",
    "amd radeon pro v520": "V520",
    "grid k520": "K520",
    "aws inferentia": "INFERENTIA",
    "aws inferentia2": "INFERENTIA2",
    "inferentia": "INFERENTIA",
    "inferentia2": "INFERENTIA2",
    "trainium": "TRAINIUM",
    "aws trainium": "TRAINIUM",
    "qualcomm ai 100 accelerators": "AI100",
    "qualcomm ai 100": "AI100",
    "ai 100": "AI100",
    "gb200 nvl72": "GB200",
    "gb300 nvl72": "GB300",
    "t4g": "T4G",
}

# Words that never change the GPU type.
_NOISE = re.compile(
    r"\b(nvidia|tesla|hgx|dgx|tensor|core|sxm\d?|pcie|nvl|gpu|gpus|server|edition)\b"
)
# Ambiguous names and what they may mean.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "a100": ("A100-40GB", "A100-80GB"),
}


def _key(name: str) -> str:
    s = name.strip().lower().replace("_", " ").replace("-", " ")
    s = re.sub(r"^gpu\s+", "", s)  # lambda: gpu_8x_h100_sxm5
    s = re.sub(r"^\d+\s*x\s+", "", s)  # 8x / 8x_
    s = re.sub(r"\s+", " ", s).strip()
    return s


def _strip_noise(key: str) -> str:
    s = _NOISE.sub(" ", key)
    s = re.sub(r"\b(\d+)\s*gb\b", r"\1gb", s)
    return re.sub(r"\s+", " ", s).strip()


def resolve_gpu_type(name: str) -> str | None:
    """The canonical GPU type for ``name``, or None when it is unknown or ambiguous."""
    if not isinstance(name, str) or not name.strip():
        return None
    upper = name.strip().upper()
    if upper in CANONICAL_GPU_TYPES:
        return upper
    key = _key(name)
    for candidate in (key, _strip_noise(key)):
        if candidate in _ALIASES:
            return _ALIASES[candidate]
        if candidate.upper() in CANONICAL_GPU_TYPES:
            return candidate.upper()
        compact = candidate.replace(" ", "-").upper()
        if compact in CANONICAL_GPU_TYPES:
            return compact
    stripped = _strip_noise(key)
    # "a100 80gb" spelled with memory in another place: e.g. "a100 sxm4 80gb" -> "a100 80gb"
    m = re.match(r"^([a-z]+\d+[a-z]?)\b.*?\b(\d+gb)\b", stripped)
    if m:
        return _ALIASES.get(f"{m.group(1)} {m.group(2)}")
    # vendor names with memory after: "h100 80gb" -> H100
    first = stripped.split(" ")[0] if stripped else ""
    if first.upper() in CANONICAL_GPU_TYPES and first not in _AMBIGUOUS:
        return first.upper()
    return None


def canonical_gpu_type(
    name: str,
    *,
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
) -> str:
    """Canonical GPU type of ``name``; raises UnknownNameError (with suggestions) if unknown."""
    resolved = resolve_gpu_type(name)
    if resolved is not None:
        return resolved
    key = _strip_noise(_key(str(name)))
    if key in _AMBIGUOUS:
        options = " or ".join(repr(o) for o in _AMBIGUOUS[key])
        raise PlannerInputError(
            f"GPU type {name!r} is ambiguous",
            file=file,
            row=row,
            column=column,
            fix=f"say which one: {options}",
        )
    raise UnknownNameError(
        "GPU type", str(name), CANONICAL_GPU_TYPES, file=file, row=row, column=column
    )


# AWS gpu_model strings are ambiguous for A100 (p4d is 40 GB, p4de 80 GB) and wrong for trn1.
_AWS_FAMILY_GPU: dict[str, str] = {
    "p4d": "A100-40GB",
    "p4de": "A100-80GB",
    "trn1": "TRAINIUM",
    "trn1n": "TRAINIUM",
    "trn2": "TRAINIUM",
}


def aws_gpu_type(instance_type: str, gpu_model: str) -> str:
    """Canonical GPU type for an AWS instance type, using its family where the model name misleads."""
    family = instance_type.split(".")[0]
    if family in _AWS_FAMILY_GPU:
        return _AWS_FAMILY_GPU[family]
    return canonical_gpu_type(gpu_model)
