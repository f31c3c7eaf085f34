"""Figures into ``docs/``: ``make eval`` and ``make bench`` replace their own section of
``docs/quality.md`` or ``docs/performance.md`` with what they just printed, stamped with the
date, the machine and the command, so no figure in the docs is ever typed by hand.

    from eval.report import write_section
    write_section(doc="quality", title="Extraction", markdown=table_text, command="make eval")
"""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["machine", "write_section"]

ROOT = Path(__file__).resolve().parent.parent
_DOCS = {"quality": "Quality", "performance": "Performance"}


def machine() -> str:
    """Cores, CPU model and memory of this machine, in one line."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages * size / 2**30:.0f} GB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {model}{memory}"


def write_section(*, doc: str, title: str, markdown: str, command: str,
                  docs_dir: Path | None = None) -> Path:
    """Replace the ``## title`` section of ``docs/<doc>.md`` (creating the file or appending
    the section if needed) with ``markdown``, stamped with the UTC date, the machine and the
    command that printed it. Returns the document's path."""
    if doc not in _DOCS:
        raise ValueError(f"doc must be one of {sorted(_DOCS)}, got {doc!r}")
    path = (docs_dir or ROOT / "docs") / f"{doc}.md"
    stamp = (f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; printed by "
             f"`{command}`._")
    section = f"## {title}\n\n{stamp}\n\n{markdown.strip()}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else (
        f"# {_DOCS[doc]}\n\nEach section is written by the command named in it; do not edit "
        "figures by hand.\n")
    heading = re.compile(rf"^## {re.escape(title)}[ \t]*$", re.M)
    match = heading.search(text)
    if match:
        following = re.compile(r"^## ", re.M).search(text, match.end())
        end = following.start() if following else len(text)
        text = text[:match.start()] + section + ("\n" if following else "") + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
