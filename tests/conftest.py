"""Shared fixtures. Tests never touch the network nor the user's refreshed catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _isolated_catalog_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point PLANNER_CATALOG_DIR at an empty folder so only shipped catalogs load."""
    monkeypatch.setenv("PLANNER_CATALOG_DIR", str(tmp_path_factory.mktemp("user-catalogs")))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


#: End-to-end and heavy tests, skipped by `make check` (`-m "not slow"`) and run by `make test`.
#: Measured with `pytest --durations` (tests that run a forecast and an optimisation end to end,
#: AWS refreshes writing catalogs, hypothesis properties over many LPs). A module name marks the
#: whole module; new slow tests can also use `@pytest.mark.slow` in place.
SLOW = (
    "tests/workflows/test_example_e2e.py",
    "tests/workflows/test_workflow_cli_errors.py::test_whatif_leaving_a_provider_the_inventory_holds_commitments_at",
    "tests/workflows/test_workflow_cli_errors.py::test_a_plan_with_nothing_to_buy_still_reports",
    "tests/backtest/test_backtest.py::test_hindsight_is_never_beaten",
    "tests/backtest/test_backtest.py::test_future_equals_past_constant_everyone_reaches_hindsight",
    "tests/backtest/test_backtest.py::test_future_equals_past_weekly_everyone_reaches_hindsight",
    "tests/backtest/test_backtest.py::test_spot_strategy_appears_with_interruptible_pools",
    "tests/backtest/test_backtest_cli.py",
    "tests/backtest/test_replay.py::test_ternary_search_finds_the_grid_maximum_and_savings_are_concave",
    "tests/forecasting/test_fc_parallel.py",
    "tests/forecasting/test_fc_cli.py::test_alibaba_end_to_end_six_pools",
    "tests/forecasting/test_fc_cli.py::test_forecast_end_to_end_with_plot_and_quantiles",
    "tests/aws/test_aws_refresh.py::test_second_refresh_merges_with_the_first",
    "tests/aws/test_aws_refresh.py::test_refresh_writes_a_valid_dated_catalog_that_supersedes_shipped",
    "tests/aws/test_aws_cli.py::test_prices_refresh_writes_catalog_and_reports",
    "tests/aws/test_aws_compare.py::test_compare_aws_offline_side_by_side",
    "tests/planner/test_evaluate.py::test_lp_expected_cost_equals_evaluator_average_at_hourly_resolution",
    "tests/planner/test_evaluate.py::test_lp_and_evaluator_agree_with_contracts_egress_and_off_aws_spot",
    "tests/planner/test_optimize_properties.py::test_higher_demand_never_lowers_optimal_cost",
    "tests/planner/test_optimize_properties.py::test_tightening_the_cvar_bound_never_increases_the_commitment",
    "tests/planner/test_optimize_properties.py::test_nothing_is_bought_when_on_demand_is_always_cheaper",
    "tests/planner/test_optimize_properties.py::test_coverage_meets_demand_in_every_scenario_and_slice",
    "tests/planner/test_plan_value.py::test_offer_table_prunes_dominated_offers_on_the_real_catalog",
    "tests/hostile/test_csv_safe.py::test_attribute_csv_neutralises_tag_values",
    "tests/hostile/test_csv_safe.py::test_export_neutralises_hand_edited_cells",
    "tests/hostile/test_file_rules.py::test_hand_edited_plan_json_is_refused_by_export",
    "tests/hostile/test_file_rules.py::test_unmodified_plan_json_exports",
    "tests/hostile/test_hypothesis_inputs.py::test_plan_json_read_back",
    "tests/hostile/test_hypothesis_inputs.py::test_billing_exports",
    "tests/forecasting/test_fc_error_scenarios.py::test_forecast_uses_residual_scenarios_with_history_and_falls_back_without",
    "tests/hostile/test_hypothesis_inputs.py::test_overlay",
    "tests/hostile/test_hypothesis_inputs.py::test_tidy_usage_parquet",
    "tests/backtest/test_sequential.py",
    "tests/architecture/test_walkthrough.py::test_a_real_cheap_command_runs_through_the_cli",
    "tests/aws/test_aws_refresh.py::test_a_plan_on_the_refreshed_catalog_uses_published_sp_rates",
    "tests/hostile/test_cli_walk.py::test_hostile_input_file",
    "tests/hostile/test_cli_walk.py::test_export_out_and_json_on_one_file_is_refused",
    "tests/hostile/test_cli_walk.py::test_flags_that_used_to_raise_tracebacks",
    "tests/serverless/test_serverless_cli.py::test_plan_shows_the_serverless_decision_break_even_and_unit_cost",
    "tests/serverless/test_serverless_cli.py::test_attribute_per_request_divides_attributed_cost_by_expected_requests",
    "tests/serverless/test_serverless_cli.py::test_a_bad_units_file_is_exit_2_naming_file_row_column_value_and_fix",
    "tests/serverless/test_serverless_cli.py::test_a_missing_units_file_is_exit_2",
    "tests/serverless/test_serverless_cli.py::test_evaluate_only_what_ifs_bill_the_saved_plans_serverless_decisions",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        node = item.nodeid.split("[", 1)[0]
        if any(node == s or node.startswith(s + "::") for s in SLOW):
            item.add_marker(pytest.mark.slow)
