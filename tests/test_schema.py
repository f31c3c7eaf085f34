"""The records, the index template and the Kibana objects say the same thing."""

from __future__ import annotations

import dataclasses
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import orjson

from newsflow.es import template_source
from schemas.records import Article, Copy, Failure, FeedEntry, Story

KIBANA = Path(__file__).parent.parent / "schemas" / "kibana" / "objects.ndjson"


def mapped_fields() -> dict[str, dict]:
    return template_source()["template"]["mappings"]["properties"]


def test_template_maps_exactly_the_story_fields() -> None:
    indexed = {f.name for f in dataclasses.fields(Story)} - set(Story.NOT_INDEXED)
    assert set(mapped_fields()) == indexed
    assert set(mapped_fields()["copies"]["properties"]) == {
        f.name for f in dataclasses.fields(Copy)
    }


def test_time_fields_are_dates_in_the_template() -> None:
    props = mapped_fields()
    for name in Story._TIME_FIELDS:
        assert props[name]["type"] == "date", name
    assert props["copies"]["properties"]["published_at"]["type"] == "date"


def test_kibana_objects_use_mapped_fields() -> None:
    props = mapped_fields()
    objects = [json.loads(line) for line in KIBANA.read_text().splitlines() if line.strip()]
    view = next(o for o in objects if o["type"] == "index-pattern")
    assert props[view["attributes"]["timeFieldName"]]["type"] == "date"
    for search in (o for o in objects if o["type"] == "search"):
        for column in search["attributes"]["columns"]:
            head, _, rest = column.partition(".")
            assert head in props and (not rest or rest in props[head].get("properties", {})), column
        assert search["references"][0]["id"] == view["id"]


def test_records_round_trip_through_orjson_and_pickle() -> None:
    when = datetime(2024, 3, 5, 12, 30, tzinfo=UTC)
    story = Story(
        story_id="s1",
        url="https://a.example/x",
        title="T",
        body="B",
        published_at=when,
        copies=[Copy(url="https://a.example/x", source="a.example", published_at=when)],
        copy_count=1,
    )
    data = orjson.loads(story.to_json())
    assert data["published_at"] == "2024-03-05T12:30:00Z"
    assert data["copies"][0]["published_at"] == "2024-03-05T12:30:00Z"
    assert Story.from_dict(data) == story
    for record in (
        story,
        Article(url="u", title="t", body="b", published_at=when),
        FeedEntry(feed_url="f", url="u", guid="g"),
        Failure("s", "i", "e", "m"),
    ):
        assert pickle.loads(pickle.dumps(record)) == record


def test_to_dict_converts_nested_records_and_does_not_alias_lists() -> None:
    when = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    story = Story(story_id="s", url="u", title="t", body="b", authors=["Ann Lee"],
                  published_at=when, copies=[Copy(url="c", source="x", published_at=when)],
                  band_keys=["k"], seq_no=7, primary_term=1)
    out = story.to_dict()
    assert out["copies"] == [{"url": "c", "source": "x", "published_at": "2024-03-05T12:00:00Z",
                              "title": "", "fetched_url": "", "truncated": False,
                              "feed_url": "", "guid": "", "body_source": "page"}]
    assert out["published_at"] == "2024-03-05T12:00:00Z"
    assert "seq_no" not in out and "primary_term" not in out
    out["authors"].append("Bo Chen")
    out["band_keys"].clear()
    assert story.authors == ["Ann Lee"] and story.band_keys == ["k"]
    assert Story.from_dict(orjson.loads(story.to_json())).copies == story.copies
