"""Offline AWS: fake credentials in the environment, Stubber-wrapped clients, instant backoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_fakes import FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN, StubbedAws

from pricing_data.aws.client import RetryPolicy


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only: no profile file, no instance metadata, no real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[StubbedAws]:
    stubbed = StubbedAws()
    yield stubbed


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    """Backoff that records its delays instead of sleeping."""
    return RetryPolicy(max_attempts=4, base_delay_s=0.5, sleep=sleeps.append)
