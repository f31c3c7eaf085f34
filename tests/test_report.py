"""eval/report.py writes a section of a figures document and leaves the others as they were."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eval.report import table, write_section

STAMP = re.compile(r"^_\d{4}-\d\d-\d\d \d\d:\d\d UTC, \d+ cores, .+, `make eval`_$", re.MULTILINE)


def test_sections_are_created_replaced_in_place_and_appended(tmp_path: Path) -> None:
    path = write_section(doc="quality", title="Dedupe", markdown="| a |\n| --- |\n| 1 |",
                         command="make eval", docs=tmp_path)
    assert path == tmp_path / "quality.md"
    write_section(doc="quality", title="Feeds", markdown="363 / 363", command="make eval",
                  docs=tmp_path)
    write_section(doc="quality", title="Dedupe", markdown="F1 0.99", command="make eval",
                  docs=tmp_path)
    text = path.read_text()
    assert text.startswith("# Quality\n")
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Dedupe", "## Feeds"]
    dedupe = text[text.index("## Dedupe"):text.index("## Feeds")]
    assert "F1 0.99" in dedupe and "| 1 |" not in dedupe
    assert "363 / 363" in text[text.index("## Feeds"):]
    assert len(STAMP.findall(text)) == 2


def test_only_the_two_documents_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="doc must be one of"):
        write_section(doc="speed", title="x", markdown="y", command="z", docs=tmp_path)


def test_table() -> None:
    assert table(["what", "figure"], [["F1", 0.99]]) == (
        "| what | figure |\n| --- | --- |\n| F1 | 0.99 |")
