"""The Kibana objects: generated for any alias, shipped for ``news``, every field they name
mapped, every reference resolvable; and ``newsflow kibana load`` against a real loopback server
answering with the shapes of Kibana's ``_import`` API."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow import cli, kibana
from newsflow.es import template_source
from tests.loopback import LoopbackServer, Request, Response

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "schemas" / "kibana" / "objects.ndjson"
LOADER = ROOT / "deploy" / "kibana" / "load-objects.sh"
IMPORT = "/api/saved_objects/_import"


def mapped_fields() -> set[str]:
    """Every field name the index template maps: properties, object paths, multi-fields."""
    names: set[str] = set()

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, spec in properties.items():
            path = prefix + name
            names.add(path)
            names.update(f"{path}.{sub}" for sub in spec.get("fields", {}))
            walk(spec.get("properties", {}), path + ".")

    walk(template_source()["template"]["mappings"]["properties"], "")
    return names


def named_fields(value: Any) -> Iterator[str]:
    """Every field name an object refers to, wherever it sits: data view time field, Discover
    columns and sort, Lens columns' sourceField, field names in KQL queries. JSON held in
    strings (searchSourceJSON, panelsJSON) is walked too."""
    if isinstance(value, str):
        if value[:1] in "[{":
            try:
                yield from named_fields(json.loads(value))
            except ValueError:
                pass
        return
    if isinstance(value, list):
        for item in value:
            yield from named_fields(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key in ("timeFieldName", "sourceField") and item != "___records___":
            yield item
        elif key == "columns" and isinstance(item, list) and all(isinstance(c, str) for c in item):
            yield from item
        elif key == "sort" and isinstance(item, list):
            yield from (pair[0] for pair in item)
        elif key == "query" and isinstance(item, dict) and item.get("language") == "kuery":
            # field:value, field:"a phrase", field > 1
            yield from re.findall(r"([A-Za-z_][\w.]*)\s*(?::|[<>]=?)", item["query"])
        else:
            yield from named_fields(item)


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(dashboard["attributes"]["panelsJSON"]))


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return kibana.saved_objects()


def test_the_shipped_file_is_the_generator_output_for_news() -> None:
    assert SHIPPED.read_text() == kibana.to_ndjson(kibana.saved_objects("news"))


def test_the_command_prints_the_objects_for_an_alias(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kibana", "objects", "--es_index", "archive"]) == 0
    assert capsys.readouterr().out == kibana.to_ndjson(kibana.saved_objects("archive"))


def test_every_object_carries_the_migration_versions_of_kibana_9_2(
    objects: list[dict[str, Any]],
) -> None:
    expected = {"index-pattern": "8.0.0", "search": "10.8.0", "dashboard": "10.3.0"}
    assert {o["type"] for o in objects} == set(expected)
    for o in objects:
        assert o["coreMigrationVersion"] == "8.8.0", o["id"]
        assert o["typeMigrationVersion"] == expected[o["type"]], o["id"]


def test_every_field_named_is_mapped(objects: list[dict[str, Any]]) -> None:
    mapped = mapped_fields()
    found = {(o["id"], name) for o in objects for name in named_fields(o)}
    assert {name for _, name in found} >= {"published_at", "title.keyword", "copies.source"}
    assert [(oid, name) for oid, name in sorted(found) if name not in mapped] == []
    view = next(o for o in objects if o["type"] == "index-pattern")
    props = template_source()["template"]["mappings"]["properties"]
    assert props[view["attributes"]["timeFieldName"]]["type"] == "date"


def test_the_field_walker_sees_a_field_that_is_not_mapped() -> None:
    search = kibana.republished_search(kibana.AliasIds("news"))
    search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"] = json.dumps(
        {"query": {"query": 'headline:"x" and copy_count >= 2', "language": "kuery"}}
    )
    assert {"headline", "copy_count"} <= set(named_fields(search))


def test_every_reference_resolves(objects: list[dict[str, Any]]) -> None:
    by_id = {(o["type"], o["id"]): o for o in objects}
    assert len(by_id) == len(objects)
    for o in objects:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in by_id, (o["id"], ref)
    for search in (o for o in objects if o["type"] == "search"):
        [ref] = search["references"]
        tabs = search["attributes"]["tabs"]
        for state in (search["attributes"], *(t["attributes"] for t in tabs)):
            source = json.loads(state["kibanaSavedObjectMeta"]["searchSourceJSON"])
            assert source["indexRefName"] == ref["name"]


def test_discover_sessions_hold_their_state_in_one_tab_and_mirror_it(
    objects: list[dict[str, Any]],
) -> None:
    for search in (o for o in objects if o["type"] == "search"):
        attributes = search["attributes"]
        [tab] = attributes["tabs"]
        assert tab["id"] and tab["label"]
        assert "title" not in tab["attributes"] and "description" not in tab["attributes"]
        assert {k: attributes[k] for k in tab["attributes"]} == tab["attributes"]


def test_the_dashboard_shows_charts_and_the_searches(objects: list[dict[str, Any]]) -> None:
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    assert dashboard["attributes"]["title"] == "newsflow — stories"
    found = panels(dashboard)
    assert len(found) >= 4
    titles = {p["embeddableConfig"]["attributes"]["title"] for p in found if p["type"] == "lens"}
    assert titles == {
        "Stories over time, by source",
        "Most republished stories",
        "Languages",
        "Sources by stories (where a story first appeared)",
        "Sources by copies (every place a story appeared)",
    }
    searches = {o["id"] for o in objects if o["type"] == "search"}
    refs = {r["name"]: r for r in dashboard["references"]}
    shown = {
        refs[f"{p['panelIndex']}:{p['panelRefName']}"]["id"] for p in found if p["type"] == "search"
    }
    assert shown == searches


def test_panels_sit_on_the_grid_without_overlapping(objects: list[dict[str, Any]]) -> None:
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 48 and grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, (panel["panelIndex"], cells.get((x, y)))
                cells[(x, y)] = panel["panelIndex"]


def test_lens_panels_are_consistent_and_find_their_data_view(
    objects: list[dict[str, Any]],
) -> None:
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    refs = {r["name"]: r for r in dashboard["references"]}
    for panel in (p for p in panels(dashboard) if p["type"] == "lens"):
        attributes = panel["embeddableConfig"]["attributes"]
        layers = attributes["state"]["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            columns = layer["columns"]
            assert layer["columnOrder"] == list(columns)
            for column in columns.values():
                order = column.get("params", {}).get("orderBy", {})
                assert order.get("type") != "column" or order["columnId"] in columns
            # the layer's data view, in the Lens attributes and on the dashboard under the prefix
            name = f"indexpattern-datasource-layer-{layer_id}"
            [own] = [r for r in attributes["references"] if r["name"] == name]
            prefixed = f"{panel['panelIndex']}:{name}"
            assert refs[prefixed] == {**own, "name": prefixed}
            used = set(_accessors(attributes["state"]["visualization"], layer_id))
            assert used and used <= set(columns), (panel["panelIndex"], used)


def _accessors(visualization: dict[str, Any], layer_id: str) -> Iterator[str]:
    """The column ids a Lens visualization state uses (XY, partition or datatable)."""
    for layer in visualization.get("layers", [visualization]):
        if layer.get("layerId") != layer_id:
            continue
        for key in ("xAccessor", "splitAccessor"):
            if layer.get(key):
                yield layer[key]
        for key in ("accessors", "primaryGroups", "metrics"):
            yield from layer.get(key, [])
        yield from (c["columnId"] for c in layer.get("columns", []))


def test_ids_and_titles_follow_the_alias() -> None:
    news, archive = kibana.saved_objects("news"), kibana.saved_objects("archive")
    assert {o["id"] for o in news}.isdisjoint({o["id"] for o in archive})
    view = archive[0]
    assert view["id"] == "newsflow-archive" and view["attributes"]["title"] == "archive"
    dashboard = next(o for o in archive if o["type"] == "dashboard")
    assert dashboard["attributes"]["title"] == "newsflow — stories (archive)"
    assert {r["id"] for r in dashboard["references"] if r["type"] == "index-pattern"} == {
        "newsflow-archive"
    }


# -- loading: a real HTTP server answering as Kibana's _import API does ---------------------------

SUCCESS = {
    "successCount": 5,
    "success": True,
    "warnings": [],
    "successResults": [
        {
            "type": o["type"],
            "id": o["id"],
            "meta": {"title": o["attributes"]["title"], "icon": "app"},
            "overwrite": True,
        }
        for o in kibana.saved_objects()
    ],
}
REFUSED = {
    "successCount": 2,
    "success": False,
    "warnings": [],
    "errors": [
        {
            "id": "newsflow-news",
            "type": "index-pattern",
            "title": "news",
            "meta": {"title": "news", "icon": "indexPatternApp"},
            "error": {"type": "conflict"},
        },
        {
            "id": "newsflow-news-stories",
            "type": "dashboard",
            "title": "newsflow — stories",
            "meta": {"title": "newsflow — stories", "icon": "dashboardApp"},
            "error": {
                "type": "missing_references",
                "references": [{"type": "search", "id": "newsflow-news-latest"}],
            },
        },
        {
            "id": "newsflow-news-phrase",
            "type": "search",
            "title": "newsflow: phrase search",
            "meta": {"title": "newsflow: phrase search", "icon": "discoverApp"},
            "error": {
                "type": "unknown", "message": "document_parsing_exception", "statusCode": 400
            },
        },
    ],
    "successResults": [
        {"type": "search", "id": "newsflow-news-latest", "meta": {"title": "latest"}},
        {"type": "search", "id": "newsflow-news-republished", "meta": {"title": "republished"}},
    ],
}


def kibana_answers(server: LoopbackServer, status: int, answer: object) -> None:
    server.route(
        IMPORT,
        lambda req: Response(status, _compact(answer), content_type="application/json")
        if req.method == "POST"
        else Response(405),
    )


def _compact(answer: object) -> str:
    """JSON as Kibana (hapi) writes it: no spaces."""
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def uploaded(request: Request) -> tuple[str, bytes]:
    """The multipart ``file`` field of an import request: (filename, content)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    [part] = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    return str(part.get_filename()), part.get_payload(decode=True)


def load(server: LoopbackServer, *extra: str) -> int:
    return cli.main(["kibana", "load", "--kibana_url", server.base_url, *extra])


def test_load_posts_the_objects_and_reports_each_one(
    loopback: LoopbackServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIBANA_API_KEY", "c2VjcmV0")
    kibana_answers(loopback, 200, SUCCESS)
    assert load(loopback, "--es_index", "news") == 0
    [request] = loopback.requests_for(IMPORT)
    assert request.method == "POST" and request.path == IMPORT + "?overwrite=true"
    assert request.headers["kbn-xsrf"] and request.headers["authorization"] == "ApiKey c2VjcmV0"
    filename, content = uploaded(request)
    assert filename.endswith(".ndjson")
    assert content.decode() == SHIPPED.read_text()
    out = capsys.readouterr().out
    assert "ok       dashboard newsflow-news-stories  newsflow — stories (overwritten)" in out
    assert out.count("\nok ") == 5 and "imported 5 object(s)" in out


def test_load_sends_basic_auth_from_the_environment(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIBANA_API_KEY", raising=False)
    monkeypatch.setenv("KIBANA_USERNAME", "elastic")
    monkeypatch.setenv("KIBANA_PASSWORD", "changeme")
    kibana_answers(loopback, 200, SUCCESS)
    assert load(loopback) == 0
    [request] = loopback.requests_for(IMPORT)
    assert request.headers["authorization"] == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="


def test_load_fails_loudly_when_kibana_refuses_objects_with_http_200(
    loopback: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana_answers(loopback, 200, REFUSED)
    assert load(loopback) == 1
    captured = capsys.readouterr()
    assert "refused  index-pattern newsflow-news  news: conflict" in captured.out
    assert (
        "refused  dashboard newsflow-news-stories  newsflow — stories: "
        "missing_references (search newsflow-news-latest)" in captured.out
    )
    assert "unknown (400: document_parsing_exception)" in captured.out
    assert captured.out.count("\nok ") == 2
    assert "Kibana refused 3 object(s); 2 imported" in captured.err


@pytest.mark.parametrize(
    ("status", "answer", "said"),
    [
        (401, {"statusCode": 401, "error": "Unauthorized", "message": "missing authentication"},
         "HTTP 401: missing authentication"),
        (500, "<html>upstream broke</html>", "HTTP 500: <html>upstream broke</html>"),
        (200, "not json", "HTTP 200: not json"),
    ],
)
def test_load_fails_on_an_answer_that_is_not_an_import_result(
    loopback: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
    status: int,
    answer: object,
    said: str,
) -> None:
    loopback.route(
        IMPORT,
        lambda req: Response(
            status, answer if isinstance(answer, str) else json.dumps(answer),
            content_type="application/json",
        ),
    )
    assert load(loopback) == 1
    assert f"Kibana at {loopback.base_url} answered {said}" in capsys.readouterr().err


def test_load_names_an_unreachable_kibana(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kibana", "load", "--kibana_url", "http://127.0.0.1:9"]) == 1
    assert "Kibana at http://127.0.0.1:9 is unreachable" in capsys.readouterr().err


def test_load_takes_the_url_from_the_environment_and_a_file(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KIBANA_URL", loopback.base_url + "/")
    objects = tmp_path / "mine.ndjson"
    objects.write_text('{"type":"index-pattern","id":"x","attributes":{"title":"x"}}\n')
    kibana_answers(loopback, 200, {**SUCCESS, "successResults": SUCCESS["successResults"][:1]})
    assert cli.main(["kibana", "load", "--file", str(objects)]) == 0
    [request] = loopback.requests_for(IMPORT)
    assert uploaded(request)[1] == objects.read_bytes()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the compose loader runs curl")
@pytest.mark.parametrize(
    ("status", "answer", "rc"), [(200, SUCCESS, 0), (200, REFUSED, 1), (503, {"message": "x"}, 1)]
)
def test_the_compose_loader_reads_the_answer_not_only_the_status(
    loopback: LoopbackServer, status: int, answer: object, rc: int
) -> None:
    kibana_answers(loopback, status, answer)
    done = subprocess.run(
        ["sh", str(LOADER), loopback.base_url, str(SHIPPED)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == rc, done.stderr
    [request] = loopback.requests_for(IMPORT)
    assert request.path == IMPORT + "?overwrite=true" and request.headers["kbn-xsrf"]
    assert uploaded(request)[1] == SHIPPED.read_bytes()
    if rc:
        assert "load-objects:" in done.stderr
    else:
        assert "imported 5 objects" in done.stdout


def test_describe_import_reads_every_error_kind() -> None:
    report = kibana.describe_import(
        {
            "success": False,
            "successCount": 0,
            "errors": [
                {"type": "lens", "id": "l", "title": "L", "error": {"type": "unsupported_type"}},
                {
                    "type": "dashboard",
                    "id": "d",
                    "title": "D",
                    "error": {"type": "ambiguous_conflict", "destinations": [{}, {}]},
                },
            ],
        }
    )
    assert not report.ok
    assert report.lines == [
        "refused  lens l  L: unsupported_type",
        "refused  dashboard d  D: ambiguous_conflict (2 objects could be overwritten)",
    ]
    assert not kibana.describe_import({"successCount": 0}).ok  # no "success": not a success
