"""Canonical GPU type names and alias resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import (
    CANONICAL_GPU_TYPES,
    aws_gpu_type,
    canonical_gpu_type,
    resolve_gpu_type,
)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("NVIDIA HGX H100", "H100"),
        ("H100 SXM5", "H100"),
        ("gpu_8x_h100_sxm5", "H100"),
        ("1x NVIDIA H100 PCIe", "H100"),
        ("h100", "H100"),
        ("NVIDIA HGX H200", "H200"),
        ("8x NVIDIA B200 SXM6", "B200"),
        ("A100-SXM4-80GB", "A100-80GB"),
        ("gpu_8x_a100_80gb_sxm4", "A100-80GB"),
        ("8x NVIDIA A100 SXM 40 GB", "A100-40GB"),
        ("A800-SXM4-80GB", "A800-80GB"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA Tesla V100", "V100"),
        ("NVIDIA T4 Tensor Core", "T4"),
        ("NVIDIA T4G Tensor Core", "T4G"),
        ("NVIDIA L40S", "L40S"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000"),
        ("1x NVIDIA Quadro RTX 6000", "RTX6000"),
        ("NVIDIA GB200 NVL72", "GB200"),
        ("AWS Inferentia2", "INFERENTIA2"),
        ("Qualcomm AI 100 Accelerators", "AI100"),
        ("AMD Radeon Pro V520", "V520"),
    ],
)
def test_aliases_resolve_to_canonical_names(alias: str, canonical: str) -> None:
    assert canonical_gpu_type(alias) == canonical


@given(st.sampled_from(sorted(CANONICAL_GPU_TYPES)))
def test_canonical_names_resolve_to_themselves_in_any_case(name: str) -> None:
    assert resolve_gpu_type(name) == name
    assert resolve_gpu_type(name.lower()) == name


def test_unknown_gpu_type_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as e:
        canonical_gpu_type("H10O", file="usage.csv", row=7, column="gpu_type")
    assert str(e.value) == (
        "usage.csv, row 7, column 'gpu_type': unknown GPU type 'H10O'\nTo fix: did you mean 'H100' or 'A10' or 'V100'?"
    )


def test_bare_a100_is_ambiguous_and_says_which_to_pick() -> None:
    with pytest.raises(PlannerInputError, match="'A100-40GB' or 'A100-80GB'"):
        canonical_gpu_type("NVIDIA A100")


def test_aws_instance_family_overrides_misleading_model_names() -> None:
    assert aws_gpu_type("p4d.24xlarge", "NVIDIA A100") == "A100-40GB"
    assert aws_gpu_type("p4de.24xlarge", "NVIDIA A100") == "A100-80GB"
    assert aws_gpu_type("trn1.32xlarge", "AWS Inferentia") == "TRAINIUM"
    assert aws_gpu_type("inf2.xlarge", "AWS Inferentia2") == "INFERENTIA2"
    assert aws_gpu_type("p5.48xlarge", "NVIDIA H100") == "H100"
