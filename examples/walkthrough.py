"""Regenerate the outputs shown in examples/README.md from real runs of the commands it shows.

    python examples/walkthrough.py                 # every section (the plan takes long)
    python examples/walkthrough.py --sections 1,5  # only these sections
    python examples/walkthrough.py --list          # the marked blocks and when each was run
    make walkthrough [SECTIONS=1,5]

The README marks each output block this tool writes with an HTML comment just above its fence::

    <!-- walkthrough {} -->
    ```
    $ planner usage examples/usage.csv --policy examples/policy.toml
    ...the command's stdout...
    ```

The block starts with the command exactly as a reader types it (``$ planner ...``, ``\\``
continuations allowed); the tool runs it through the real CLI (the ``planner`` of this Python's
environment) from the repository root, and replaces everything after the command with its stdout
(progress goes to stderr and is passed through). The comment's JSON may ask for an excerpt:
``{"excerpt": [["Strategies to the end", ["Existing commitments"]], ...]}`` keeps, for each pair,
the lines from the first one starting with the first text up to (not including) the next one
starting with any of the stop texts (or a blank line, or the end), joined by ``...``. The tool
writes ``"stamp"`` (date, git revision, wall seconds) into the comment of every block it ran,
and drops its ``"by_hand"`` (what the provenance says of the block until then).
Blocks without the comment are left alone (commands shown but not run here).

Sections run in order and the README is rewritten after each block, so an interrupted run keeps
what it finished. A command is run once per invocation (the same command in two blocks is reused),
and a section that reads a folder another section writes (``--plan out/example/plan.json`` after
``--out-dir out/example``) uses that folder as it is, whether written in this invocation or an
earlier one; if it does not exist yet, the tool says which section writes it. The paragraph
between ``<!-- walkthrough:provenance -->`` and ``<!-- /walkthrough:provenance -->`` is written by
the tool from the stamps: which sections were produced when and at which revision, and which were
not produced by this tool yet. Figures quoted in the prose are not rewritten: after a run the tool
lists the dollar amounts and percentages of each regenerated section's prose that its new outputs
no longer contain, for a person to check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "examples" / "README.md"

MARK = re.compile(r"^<!-- walkthrough (\{.*\}) -->$")
PROVENANCE_START = "<!-- walkthrough:provenance -->"
PROVENANCE_END = "<!-- /walkthrough:provenance -->"
SECTION = re.compile(r"^## (\d+)\. ")
#: What the provenance paragraph says of a block not regenerated yet whose marker has no
#: ``"by_hand"`` text.
BY_HAND = "written by hand from an earlier run; the figures will move when it is regenerated"

Runner = Callable[[list[str]], tuple[str, float]]


class WalkthroughError(Exception):
    """A marked block that cannot be regenerated (bad marker, missing input, failed command)."""


@dataclass
class Block:
    """A marked output block: ``lines[mark]`` is the comment, then the fence, the command lines,
    the output lines and the closing fence at ``lines[end]``."""

    section: int
    mark: int
    end: int
    options: dict[str, object]
    command: str
    command_lines: list[str]


def _sections(lines: Sequence[str]) -> list[int]:
    """The section number of every line (0 before the first ``## N.`` heading)."""
    out, current = [], 0
    for line in lines:
        m = SECTION.match(line)
        if m:
            current = int(m.group(1))
        out.append(current)
    return out


def find_blocks(text: str) -> list[Block]:
    """Every marked block of the README, in order (module docstring)."""
    lines = text.splitlines()
    section_of = _sections(lines)
    blocks = []
    for i, line in enumerate(lines):
        m = MARK.match(line.strip())
        if not m:
            continue
        try:
            options = json.loads(m.group(1))
        except ValueError as e:
            raise WalkthroughError(f"line {i + 1}: the marker's JSON does not parse: {e}") from e
        if i + 2 >= len(lines) or not lines[i + 1].startswith("```"):
            raise WalkthroughError(f"line {i + 1}: a marker must sit just above a ``` fence")
        j = i + 2
        if not lines[j].startswith("$ planner "):
            raise WalkthroughError(f"line {j + 1}: the block must start with '$ planner ...'")
        command_lines = [lines[j]]
        while command_lines[-1].endswith("\\"):
            j += 1
            command_lines.append(lines[j])
        command = " ".join(c.rstrip("\\").strip() for c in command_lines).removeprefix("$ ")
        end = j + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise WalkthroughError(f"line {i + 2}: the block's fence is never closed")
        blocks.append(Block(section_of[i], i, end, options, command, command_lines))
    return blocks


def excerpt(stdout: str, parts: Sequence[Sequence[Any]]) -> str:
    """The lines of ``stdout`` that ``parts`` ask for (module docstring), ``...`` between them."""
    lines = stdout.rstrip("\n").splitlines()
    kept: list[str] = []
    last_end = 0
    for part in parts:
        start_text = str(part[0])
        stops = tuple(str(s) for s in (part[1] if len(part) > 1 else []))
        start = next((i for i, x in enumerate(lines) if x.startswith(start_text)), None)
        if start is None:
            raise WalkthroughError(f"the excerpt's start {start_text!r} is not in the output")
        end = start + 1
        while end < len(lines) and lines[end].strip() and not lines[end].startswith(stops):
            end += 1
        if start > last_end:
            kept.append("...")
        kept += lines[start:end]
        last_end = end
    if last_end < len(lines):
        kept.append("...")
    return "\n".join(kept) + "\n"


def out_dirs(command: str) -> list[str]:
    """The folders a command writes (``--out-dir X``)."""
    args = shlex.split(command)
    return [args[k + 1] for k, a in enumerate(args[:-1]) if a == "--out-dir"]


def check_inputs(block: Block, writers: dict[str, int], written: set[str]) -> None:
    """A path the command reads inside another section's output folder must exist (or that
    section must have run earlier in this invocation)."""
    for arg in shlex.split(block.command):
        for folder, section in writers.items():
            if section == block.section or not arg.startswith(folder.rstrip("/") + "/"):
                continue
            if folder not in written and not (ROOT / arg).exists():
                raise WalkthroughError(
                    f"section {block.section} reads {arg}, which section {section} writes: "
                    f"run section {section} first (--sections {section},{block.section})"
                )


def run_planner(args: list[str]) -> tuple[str, float]:
    """Run ``planner ARGS`` from the repository root; its stdout and wall seconds. Progress
    (stderr) is passed through; a failed command is an error naming it."""
    exe = Path(sys.executable).parent / "planner"
    argv = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from planner.cli import main; main()"]
    )
    t0 = time.monotonic()
    r = subprocess.run([*argv, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise WalkthroughError(f"`planner {shlex.join(args)}` exited {r.returncode}")
    return r.stdout, wall


def revision() -> str:
    """``abc1234 (branch)``, with ``+ uncommitted changes`` when the tree (other than the
    README this tool writes) differs from the commit."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!examples/README.md")
    return (
        rev
        + (f" ({branch})" if branch and branch != "HEAD" else "")
        + (" + uncommitted changes" if dirty else "")
    )


def _span(numbers: Sequence[int]) -> str:
    """``Section 1``, ``Sections 1 and 3``, ``Sections 2 to 5``, ``Sections 1, 3 and 5``."""
    ns = sorted(numbers)
    if len(ns) == 1:
        return f"Section {ns[0]}"
    if ns == list(range(ns[0], ns[-1] + 1)) and len(ns) > 2:
        return f"Sections {ns[0]} to {ns[-1]}"
    return "Sections " + ", ".join(map(str, ns[:-1])) + f" and {ns[-1]}"


def provenance(blocks: Sequence[Block]) -> str:
    """The provenance paragraph (module docstring), from the blocks' stamps: the sections this
    tool wrote, by date and revision, then those it has not written yet, with what their
    marker's ``"by_hand"`` says of them."""
    by_stamp: dict[tuple[str, str], set[int]] = {}
    by_note: dict[str, set[int]] = {}
    for b in blocks:
        stamp = b.options.get("stamp")
        if isinstance(stamp, dict):
            by_stamp.setdefault((str(stamp["date"]), str(stamp["revision"])), set()).add(b.section)
        else:
            by_note.setdefault(str(b.options.get("by_hand", BY_HAND)), set()).add(b.section)
    stamped = set().union(*by_stamp.values()) if by_stamp else set()
    said = ["Every output below is real, from the command above it."]
    for (date, rev), sections in sorted(by_stamp.items(), key=lambda kv: min(kv[1])):
        said.append(
            f"{_span(sorted(sections))} {_was(sections)} regenerated by `make walkthrough` "
            f"(examples/walkthrough.py) on {date} at {rev}."
        )
    for note, sections in sorted(by_note.items(), key=lambda kv: min(kv[1])):
        sections = sections - stamped  # a section with one regenerated block counts as done
        if sections:
            said.append(f"{_span(sorted(sections))} {_was(sections)} not regenerated yet: {note}.")
    return " ".join(said)


def _was(sections: set[int]) -> str:
    return "were" if len(sections) > 1 else "was"


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def _marker(options: dict[str, object]) -> str:
    return f"<!-- walkthrough {json.dumps(options, ensure_ascii=False)} -->"


def with_provenance(text: str) -> str:
    """``text`` with its provenance paragraph rewritten from its blocks' stamps."""
    lines = text.splitlines()
    try:
        a, b = lines.index(PROVENANCE_START), lines.index(PROVENANCE_END)
    except ValueError:
        raise WalkthroughError(
            f"the README needs {PROVENANCE_START} ... {PROVENANCE_END} around the provenance"
        ) from None
    lines[a + 1 : b] = _wrap(provenance(find_blocks(text)))
    return "\n".join(lines) + "\n"


def regenerate_block(text: str, block: Block, stdout: str, stamp: dict[str, object]) -> str:
    """``text`` with ``block``'s output replaced by ``stdout`` (or its excerpt) and stamped."""
    lines = text.splitlines()
    parts = block.options.get("excerpt")
    shown = excerpt(stdout, parts) if isinstance(parts, list) else stdout
    options = {k: v for k, v in block.options.items() if k != "by_hand"} | {"stamp": stamp}
    first_output = block.mark + 2 + len(block.command_lines)
    lines[first_output : block.end] = shown.rstrip("\n").splitlines()
    lines[block.mark] = _marker(options)
    return "\n".join(lines) + "\n"


NUMBER = re.compile(r"\$\d{1,3}(?:,\d{3})+(?:\.\d+)?|\b\d+\.\d+%")


def stale_figures(text: str, sections: Sequence[int]) -> dict[int, list[str]]:
    """Per section: the dollar amounts (with thousands separators) and percentages its prose
    quotes that none of its code blocks contain."""
    lines = text.splitlines()
    section_of = _sections(lines)
    prose: dict[int, list[str]] = {}
    code: dict[int, list[str]] = {}
    fenced = False
    for line, s in zip(lines, section_of, strict=True):
        if line.startswith("```"):
            fenced = not fenced
            continue
        (code if fenced else prose).setdefault(s, []).append(line)
    out = {}
    for s in sections:
        shown = "\n".join(code.get(s, [])).replace(" %", "%")
        quoted = NUMBER.findall("\n".join(prose.get(s, [])))
        missing = [q for q in dict.fromkeys(quoted) if q not in shown]
        if missing:
            out[s] = missing
    return out


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def regenerate(
    readme: Path,
    sections: set[int] | None = None,
    *,
    runner: Runner = run_planner,
    today: str | None = None,
    rev: str | None = None,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> list[int]:
    """Run the marked blocks of ``sections`` (all when ``None``) in order, rewriting ``readme``
    after each; returns the sections regenerated. Module docstring for the rules."""
    text = readme.read_text(encoding="utf-8")
    blocks = find_blocks(text)
    known = {b.section for b in blocks}
    if sections is not None and sections - known:
        raise WalkthroughError(
            f"no marked output block in section(s) {sorted(sections - known)}; "
            f"marked: {sorted(known)}"
        )
    wanted = [b for b in blocks if sections is None or b.section in sections]
    writers = {d: b.section for b in blocks for d in out_dirs(b.command)}
    for b in wanted:  # every input there before the first (long) command runs
        earlier = {d for w in wanted if w.section < b.section for d in out_dirs(w.command)}
        check_inputs(b, writers, earlier)
    today = today or datetime.now(UTC).strftime("%Y-%m-%d")
    rev = rev or revision()
    done: dict[str, tuple[str, float]] = {}
    for k in range(len(wanted)):
        block = find_blocks(text)[blocks.index(wanted[k])]  # lines move as blocks are rewritten
        say(f"section {block.section}: {block.command}")
        if block.command not in done:
            done[block.command] = runner(shlex.split(block.command)[1:])
        stdout, wall = done[block.command]
        stamp = {"date": today, "revision": rev, "wall_s": round(wall)}
        text = with_provenance(regenerate_block(text, block, stdout, stamp))
        atomic_write(readme, text)
        say(f"section {block.section}: {len(stdout.splitlines())} lines in {wall:.0f} s")
    regenerated = sorted({b.section for b in wanted})
    for s, missing in stale_figures(text, regenerated).items():
        say(f"check the prose of section {s}: it quotes {', '.join(missing)}, not in its outputs")
    return regenerated


def _sections_arg(value: str) -> set[int]:
    try:
        return {int(v) for v in value.split(",") if v.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"sections are numbers like 1,3 (got {value!r})") from None


def listing(readme: Path) -> str:
    """One line per marked block: section, when it was last regenerated, command."""
    out = []
    for b in find_blocks(readme.read_text(encoding="utf-8")):
        stamp = b.options.get("stamp")
        when = (
            f"{stamp['date']} at {stamp['revision']}, {stamp['wall_s']} s"
            if isinstance(stamp, dict)
            else "not regenerated yet"
        )
        out.append(f"section {b.section}: {b.command}  [{when}]")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", type=_sections_arg, default=None, help="e.g. 1,3 (all)")
    parser.add_argument("--readme", type=Path, default=README)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list the marked blocks; run nothing")
    what.add_argument(
        "--provenance", action="store_true", help="rewrite the provenance paragraph only"
    )
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(listing(args.readme))
            return 0
        if args.provenance:
            atomic_write(args.readme, with_provenance(args.readme.read_text(encoding="utf-8")))
            return 0
        done = regenerate(args.readme, args.sections)
    except WalkthroughError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    print(f"regenerated section(s) {', '.join(map(str, done))} of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
