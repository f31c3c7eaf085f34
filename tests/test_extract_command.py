"""``newsflow extract``: JSON lines in, one JSON line out per input, bad lines reported."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from newsflow.cli import main
from newsflow.commands.extract import extract_lines
from schemas.records import utc

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


def test_lines_in_lines_out_and_bad_lines_go_on() -> None:
    page = (FIXTURES / "aggregator.html").read_text(encoding="utf-8")
    lines = [
        orjson.dumps({"id": "a", "url": "https://quicknewshub.example/n/1?utm_source=x",
                      "html": page}),
        b"this is not json",
        orjson.dumps({"id": 3, "url": "https://example.org/x"}),
        b"",
        orjson.dumps({"id": "e", "url": "https://example.org/e", "html": ""}),
    ]
    out = io.BytesIO()
    failed = extract_lines(io.BytesIO(b"\n".join(lines) + b"\n"), out,
                           utc("2024-03-05T12:00:00Z"))
    records = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert failed == 2
    assert [r["id"] for r in records] == ["a", "line-2", 3, "e"]
    first = records[0]
    assert first["canonical_url"] == "https://quicknewshub.example/n/1"
    assert first["title"] == "Harbour town votes to keep its last ferry running"
    assert first["body"].startswith("Residents of Port Alder")
    assert first["authors"] == ["Elena Marsh"]
    assert first["published_at"] == "2024-03-05T10:00:00Z"
    assert first["truncated"] is True and first["language"] == "en"
    assert "error" in records[1] and "error" in records[2]
    assert records[3]["body"] == "" and "error" not in records[3]


def test_cli_entry_point(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    html = (FIXTURES / "publisher.html").read_text(encoding="utf-8")
    source.write_bytes(orjson.dumps({"id": 1, "url": "https://www.northernledger.example/x",
                                     "html": html}) + b"\n")
    status = main(["extract", "--input", str(source), "--output", str(target)])
    record = orjson.loads(target.read_bytes())
    assert status == 0
    assert record["id"] == 1 and record["publisher"] == "The Northern Ledger"
    assert record["published_at_source"] == "jsonld"
