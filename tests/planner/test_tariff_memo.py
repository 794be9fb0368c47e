"""Commitment terms are looked up in the catalog once per kind and offers frame, and reused by
every later bill of the run (#15: no repeated look-ups)."""

from __future__ import annotations

import gc
import importlib
from dataclasses import replace

import pandas as pd
import pytest
from planner_factory import held_ri, offer, offers

from forecasting.scenarios import Pool
from planner.evaluate.bill import tariff
from planner.inventory import Commitment
from planner.policy import Policy

bill_mod = importlib.import_module("planner.evaluate.bill")

POOLS = (Pool("H100"),)
POLICY = Policy()


def _frame(ri_usd: float) -> pd.DataFrame:
    return offers(offer("on_demand", 10.0), offer("reserved_instance", ri_usd, term_months=12))


def test_each_kind_is_looked_up_once_per_offers_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = bill_mod._resolve

    def spy(c: Commitment, *args: object) -> object:
        calls.append(c.commitment_id)
        return real(c, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(bill_mod, "_resolve", spy)
    frame = _frame(3.5)
    one = tariff([held_ri("a", 2.0)], POOLS, frame, POLICY)
    # another bill on the same frame, a commitment of the same kind and another quantity
    two = tariff([held_ri("a", 2.0), held_ri("b", 5.0)], POOLS, frame, POLICY)
    assert calls == ["a"]
    assert two.terms["a"] == one.terms["a"]
    # terms scale with the quantity: 3.5 USD per GPU-hour, 1 GPU per p5.4xlarge in the factory
    per_unit = two.terms["a"].hourly_usd / 2.0
    assert two.terms["b"].hourly_usd == pytest.approx(5.0 * per_unit)
    assert two.terms["b"].capacity_gpus == pytest.approx(2.5 * two.terms["a"].capacity_gpus)
    # another frame (another run's catalog, an overlay) is looked up on its own
    other = tariff([held_ri("a", 2.0)], POOLS, _frame(7.0), POLICY)
    assert calls == ["a", "a"]
    assert other.terms["a"].hourly_usd == pytest.approx(2.0 * one.terms["a"].hourly_usd)
    # another pool set is another resolution (the rates are per pool)
    tariff([held_ri("a", 2.0)], (Pool("H100"), Pool("H100", portable=True)), frame, POLICY)
    assert calls == ["a", "a", "a"]


def test_the_policy_egress_is_applied_per_bill_not_memoised() -> None:
    contract = replace(
        held_ri("cw", 4.0),
        provider="coreweave",
        purchase_model="reserved_contract",
        sku="H100",
        region="us-east-1",
        offering_class="",
    )
    row = offer("reserved_contract", 2.0, term_months=12)
    row.update(provider="coreweave", sku="H100", offering_class="")
    frame = offers(offer("on_demand", 10.0), row)
    low = tariff([contract], POOLS, frame, replace(POLICY, egress_usd_per_gpu_hour=0.01))
    high = tariff([contract], POOLS, frame, replace(POLICY, egress_usd_per_gpu_hour=0.2))
    assert low.terms["cw"].egress == pytest.approx(0.01)
    assert high.terms["cw"].egress == pytest.approx(0.2)


def test_the_memo_goes_with_its_frame() -> None:
    frame = _frame(3.5)
    tariff([held_ri("a", 1.0)], POOLS, frame, POLICY)
    key = id(frame)
    assert key in bill_mod._MEMOS
    del frame
    gc.collect()
    assert key not in bill_mod._MEMOS
