"""Figures into ``docs/``: each ``make eval`` / ``make bench`` script writes its own section.

``write_section(doc="quality", title="Dedupe", markdown=..., command="make eval")`` replaces the
``## Dedupe`` section of ``docs/quality.md`` (``"performance"``: ``docs/performance.md``), or
adds it, creating the file when needed, and stamps it with the UTC date, the machine (cores, CPU
model, RAM) and the command that printed the figures. Figures are never typed into docs by hand.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["DOCS", "invocation", "machine", "table", "write_section"]

DOCS = Path(__file__).resolve().parent.parent / "docs"
_TITLES = {
    "quality": ("Quality", "How well newsflow extracts, parses and deduplicates"),
    "performance": ("Performance", "How fast newsflow fetches, parses, deduplicates and ingests"),
}


def machine() -> str:
    """``2 cores, <CPU model>, <RAM> GB RAM`` of this machine (what it can read of it)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    ram = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
        ram = f", {kib / 1024 / 1024:.0f} GB RAM"
    except (OSError, TypeError):
        pass
    return f"{os.cpu_count() or 1} cores, {model}{ram}"


def invocation() -> str:
    """How this process was started, paths from the repository root (``python bench/feeds.py
    --feeds 50``, ``python -m bench.stream --feeds 1000``)."""
    args = []
    for arg in sys.orig_argv[1:]:
        path = Path(arg)
        if path.is_absolute() and path.is_relative_to(DOCS.parent):
            arg = str(path.relative_to(DOCS.parent))
        args.append(arg)
    return " ".join(["python", *args])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(*, doc: str, title: str, markdown: str, command: str,
                  docs: Path = DOCS) -> Path:
    """Replace (or append) the ``## title`` section of ``docs/<doc>.md``; the file's path."""
    if doc not in _TITLES:
        raise ValueError(f"doc must be one of {sorted(_TITLES)}, got {doc!r}")
    path = docs / f"{doc}.md"
    heading, purpose = _TITLES[doc]
    text = path.read_text() if path.exists() else (
        f"# {heading}\n\n{purpose}. Each section is written by the command it names "
        f"(`eval/report.py`), with the date and the machine it ran on.\n"
    )
    stamp = f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, `{command}`_"
    section = f"## {title}\n\n{stamp}\n\n{markdown.strip()}\n"
    start = re.search(rf"^## {re.escape(title)}[ \t]*$", text, flags=re.MULTILINE)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = re.search(r"^## ", text[start.end():], flags=re.MULTILINE)
        end = start.end() + following.start() if following else len(text)
        text = text[: start.start()] + section + ("\n" + text[end:] if following else "")
    docs.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".md.tmp")
    partial.write_text(text)
    partial.replace(path)
    return path
