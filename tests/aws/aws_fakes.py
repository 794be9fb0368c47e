"""Offline AWS for tests: fake credentials, Stubber-wrapped clients and fixture loading."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from pricing_data.aws.client import make_client

FIXTURES = Path(__file__).parent / "fixtures"
FAKE_KEY_ID = "AKIAFAKEFAKEFAKE7777"
FAKE_SECRET = "fakeSecretKey/DoNotUse+1234567890abcdefghIJ"
FAKE_TOKEN = "FwoGZXIvYXdzEFAKEsessionTOKENfakeTOKEN0123456789abcdef"
_TIME_FIELDS = {"Timestamp", "Start", "End"}


def load(name: str) -> dict[str, Any]:
    """A fixture response, with EC2 timestamp fields as datetimes like boto3 returns them."""

    def fix(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {
                k: (
                    datetime.fromisoformat(v.replace("Z", "+00:00"))
                    if k in _TIME_FIELDS and isinstance(v, str)
                    else fix(v)
                )
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        return obj

    return fix(json.loads((FIXTURES / name).read_text()))  # type: ignore[no-any-return]


class StubbedAws:
    """``factory(service, region)`` handing out Stubber-wrapped clients, one per (service, region)."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(region_name="us-east-1")
        self.clients: dict[tuple[str, str | None], Any] = {}
        self.stubbers: dict[tuple[str, str | None], Stubber] = {}

    def __call__(self, service: str, region: str | None) -> Any:
        return self.client(service, region)

    def client(self, service: str, region: str | None = "us-east-1") -> Any:
        key = (service, region)
        if key not in self.clients:
            client = make_client(self.session, service, region)
            stubber = Stubber(client)
            stubber.activate()
            self.clients[key] = client
            self.stubbers[key] = stubber
        return self.clients[key]

    def stub(self, service: str, region: str | None = "us-east-1") -> Stubber:
        self.client(service, region)
        return self.stubbers[(service, region)]

    def assert_done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()
