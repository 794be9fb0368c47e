"""examples/walkthrough.py rewrites the README's marked output blocks from runs of their commands
(here a recording runner stands in for the CLI, except for one cheap real run), stamps them, and
writes the provenance paragraph from the stamps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from examples.walkthrough import (
    README,
    WalkthroughError,
    excerpt,
    find_blocks,
    regenerate,
    run_planner,
    stale_figures,
)

DOC = """# Walkthrough

<!-- walkthrough:provenance -->
written by hand
<!-- /walkthrough:provenance -->

## 1. The plan

<!-- walkthrough {} -->
```
$ planner plan usage.csv \\
    --out-dir out/wt-test-plan
old plan output
```

It costs $1,000,000 and saves 12.5%, says the prose.

## 2. Reading the plan

<!-- walkthrough {"excerpt": [["B", ["D"]], ["F"]]} -->
```
$ planner export out/wt-test-plan/plan.json
old export output
```

```
$ planner attribute usage.csv --plan out/wt-test-plan/plan.json
not marked: left alone
```

## 3. Again

<!-- walkthrough {} -->
```
$ planner export out/wt-test-plan/plan.json
old
```
"""


class Recorder:
    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> tuple[str, float]:
        self.calls.append(args)
        return self.outputs[args[0]], 12.3


def write(tmp_path: Path, text: str = DOC) -> Path:
    p = tmp_path / "README.md"
    p.write_text(text)
    return p


def test_every_marked_block_is_rerun_stamped_and_the_provenance_rewritten(tmp_path: Path) -> None:
    readme = write(tmp_path)
    runner = Recorder(
        {"plan": "Plan: $1,000,000\nwrote out/wt-test-plan\n", "export": "A\nB\nC\n\nD\nE\nF\nG\n"}
    )
    done = regenerate(readme, runner=runner, today="2026-12-01", rev="abc1234", say=lambda m: None)
    assert done == [1, 2, 3]
    # the same command in sections 2 and 3 ran once; arguments as a shell splits them
    assert runner.calls == [
        ["plan", "usage.csv", "--out-dir", "out/wt-test-plan"],
        ["export", "out/wt-test-plan/plan.json"],
    ]
    text = readme.read_text()
    assert "old" not in text and "written by hand" not in text
    # the command lines stay as written, the output follows them
    assert "$ planner plan usage.csv \\\n    --out-dir out/wt-test-plan\nPlan: $1,000,000\n" in text
    # the excerpt: B and C (stopped by the blank line), ..., F and G
    assert "plan.json\n...\nB\nC\n...\nF\nG\n```" in text
    assert "not marked: left alone" in text
    stamps = re.findall(
        r'"stamp": \{"date": "2026-12-01", "revision": "abc1234", "wall_s": 12\}', text
    )
    assert len(stamps) == 3
    assert "Sections 1 to 3 were run on 2026-12-01 at abc1234." in " ".join(text.split())
    assert find_blocks(text)[1].options["excerpt"] == [["B", ["D"]], ["F"]]  # kept


def test_one_section_keeps_the_others_and_says_which_are_not_regenerated(tmp_path: Path) -> None:
    readme = write(tmp_path)
    runner = Recorder({"plan": "new plan\n"})
    regenerate(readme, {1}, runner=runner, today="2026-12-01", rev="abc", say=lambda m: None)
    text = " ".join(readme.read_text().split())
    assert "old export output" in text and "new plan" in text
    assert "Section 1 was run on 2026-12-01 at abc." in text
    assert "Sections 2 and 3 were not produced by this tool yet" in text


def test_a_section_whose_input_another_section_writes_says_which_to_run_first(
    tmp_path: Path,
) -> None:
    readme = write(tmp_path)
    before = readme.read_text()
    runner = Recorder({})
    with pytest.raises(
        WalkthroughError, match=r"section 2 reads out/wt-test-plan/plan.json.*--sections 1,2"
    ):
        regenerate(readme, {2}, runner=runner, say=lambda m: None)
    assert runner.calls == [] and readme.read_text() == before  # nothing ran, nothing written


def test_bad_requests_and_markers_are_errors(tmp_path: Path) -> None:
    with pytest.raises(WalkthroughError, match=r"no marked output block in section\(s\) \[7\]"):
        regenerate(write(tmp_path), {7}, runner=Recorder({}), say=lambda m: None)
    bad = DOC.replace(
        "<!-- walkthrough {} -->\n```\n$ planner plan", "<!-- walkthrough {} -->\n```\nplanner plan"
    )
    with pytest.raises(WalkthroughError, match="must start with"):
        find_blocks(bad)
    with pytest.raises(WalkthroughError, match="JSON"):
        find_blocks(DOC.replace("walkthrough {}", "walkthrough {oops}", 1))


def test_excerpt_marks_what_it_leaves_out() -> None:
    out = "head\nStrategies\n a\n b\nSolver x\nmore\n\nServerless\n c\nwrote files\n"
    parts = [["Strategies", ["Solver"]], ["Serverless", ["wrote"]]]
    assert excerpt(out, parts) == "...\nStrategies\n a\n b\n...\nServerless\n c\n...\n"
    with pytest.raises(WalkthroughError, match="'Nope' is not in the output"):
        excerpt(out, [["Nope"]])


def test_prose_figures_the_new_outputs_no_longer_hold_are_listed() -> None:
    text = DOC.replace("old plan output", "costs $1,000,000")
    assert stale_figures(text, [1]) == {1: ["12.5%"]}


def test_the_readme_marks_every_section_with_output() -> None:
    blocks = find_blocks(README.read_text())
    assert sorted({b.section for b in blocks}) == [1, 2, 3, 4, 5, 6]
    assert all(b.command.startswith("planner ") for b in blocks)


def test_a_real_cheap_command_runs_through_the_cli() -> None:
    stdout, wall = run_planner(["prices", "--gpu", "H100", "--cheapest", "-o", "csv"])
    assert stdout.startswith("provider,") or "," in stdout.splitlines()[0]
    assert wall > 0
    with pytest.raises(WalkthroughError, match="exited 2"):
        run_planner(["forecast", "missing-usage.csv"])
