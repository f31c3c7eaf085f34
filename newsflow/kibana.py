"""Kibana saved objects for a story alias: a data view, three Discover sessions, a dashboard.

Generated, not hand-written, so that every alias gets its own set (ids and titles follow the
alias; two archives can share one Kibana) and so that a test can check every field they name
against the index template. ``schemas/kibana/objects.ndjson`` is ``to_ndjson(saved_objects())``
for the alias ``news``; ``newsflow kibana objects|load`` prints or imports it for any alias.

No Kibana runs where this is built, so the shapes follow the saved-object types that Kibana
9.2 (``deploy/compose.yaml``) registers, read in Elastic's ``kibana`` repository; the constants
below cite the file each version comes from. Objects carry ``coreMigrationVersion`` and
``typeMigrationVersion``: Kibana migrates an imported object from the version it names, and
treats one that names none as already current. ``describe_import`` reads the answer of
Kibana's ``_import`` API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from newsflow.es import DEFAULT_INDEX

KIBANA_VERSION = "9.2.4"  # deploy/compose.yaml

Grid = tuple[int, int, int, int]  # a panel's x, y, width, height on the dashboard's 48 columns
Panel = tuple[dict[str, Any], list[dict[str, str]]]  # a panel and the references it adds

# The core migrations' latest version, which Kibana stamps on every document:
# src/core/packages/saved-objects/migration-server-internal/src/document_migrator/migrations/
# index.ts registers core transforms at '8.8.0' only; reference transforms (namespace
# conversion) are at '8.0.0', and the document gets the greater of the two.
CORE_MIGRATION_VERSION = "8.8.0"

# typeMigrationVersion is the greater of a type's latest legacy migration (a stack version)
# and its latest model version N, written as the virtual version '10.N.0'
# (src/core/packages/saved-objects/base-server-internal/src/model_version/constants.ts:
# modelVersionVirtualMajor = 10; .../migration-server-internal/src/document_migrator/pipelines/
# upgrade_pipeline.ts: ensureVersion). Kibana refuses a version newer than it knows and
# migrates an older one forward.
TYPE_MIGRATION_VERSIONS = {
    # src/platform/plugins/shared/data_views/server/saved_objects/data_views.ts: no
    # modelVersions; migrations up to '7.11.0' (index_pattern_migrations.ts) and the namespace
    # conversion at convertToMultiNamespaceTypeVersion '8.0.0'.
    "index-pattern": "8.0.0",
    # src/platform/plugins/shared/saved_search/server/saved_objects/search.ts and
    # schema_legacy.ts: model version 8 (tab attribute controlGroupJson: ES|QL controls in
    # Discover, a Kibana 9.2.0 feature). Version 9 (tabs optional again for the deprecated SO
    # API, ``changes: []``) was a fix of October 2025 that a 9.2.x may or may not carry, and
    # version 10 (chartInterval) came with 9.3. Naming 8 imports into every 9.2.x, which then
    # runs version 9's empty step if it has one. Version 7 made ``tabs`` required, so each
    # session carries its one tab.
    "search": "10.8.0",
    # src/platform/plugins/shared/dashboard/server/dashboard_saved_object/
    # dashboard_saved_object.ts: model version 3 (collapsible ``sections``, 9.1); version 4
    # (accessControl, write-restricted dashboards) arrived in 9.3.0. The legacy migrations
    # (embeddable migrations keyed by stack version) all rank below '10.3.0'.
    "dashboard": "10.3.0",
}


@dataclass(frozen=True)
class AliasIds:
    """Ids and titles of one alias's objects: ``newsflow-<alias>-<name>``, titles suffixed
    ``(<alias>)`` unless the alias is the default one."""

    alias: str

    @property
    def suffix(self) -> str:
        return "" if self.alias == DEFAULT_INDEX else f" ({self.alias})"

    @property
    def data_view(self) -> str:
        return f"newsflow-{self.alias}"

    def object(self, name: str) -> str:
        return f"newsflow-{self.alias}-{name}"


def saved_objects(alias: str = DEFAULT_INDEX) -> list[dict[str, Any]]:
    """Every object for ``alias``, each one's references before it (Kibana's own export order)."""
    ids = AliasIds(alias)
    return [
        data_view(ids),
        latest_stories_search(ids),
        republished_search(ids),
        phrase_search(ids),
        stories_dashboard(ids),
    ]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One compact JSON object per line, as Kibana's export writes them."""
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects)


# -- the objects ------------------------------------------------------------------------------


def data_view(ids: AliasIds) -> dict[str, Any]:
    """The data view over the alias (every index behind it), timed by publication."""
    return _saved(
        "index-pattern",
        ids.data_view,
        {
            "title": ids.alias,
            "name": f"newsflow stories{ids.suffix}",
            "timeFieldName": "published_at",
        },
        [],
    )


def latest_stories_search(ids: AliasIds) -> dict[str, Any]:
    """The newest stories first, with where they came from and how often they were copied."""
    return _search(
        ids,
        "latest",
        title=f"newsflow: latest stories{ids.suffix}",
        description="Every story, newest first.",
        columns=["title", "source", "copy_count", "language"],
        sort=[["published_at", "desc"]],
        query="",
    )


def republished_search(ids: AliasIds) -> dict[str, Any]:
    """Stories that appeared in more than one place, the most copied first."""
    return _search(
        ids,
        "republished",
        title=f"newsflow: stories that appeared in several places{ids.suffix}",
        description="Stories with more than one copy: wire syndications, re-posts, excerpts.",
        columns=["title", "source", "copy_count", "copies.source"],
        sort=[["copy_count", "desc"], ["published_at", "desc"]],
        query="copy_count > 1",
    )


def phrase_search(ids: AliasIds) -> dict[str, Any]:
    """A starting point for phrase searches: replace the quoted words and press Enter."""
    return _search(
        ids,
        "phrase",
        title=f"newsflow: phrase search{ids.suffix}",
        description='Replace "interest rates" with the words to find, in this order.',
        columns=["title", "source", "published_at", "copy_count"],
        sort=[["published_at", "desc"]],
        query='title:"interest rates" or summary:"interest rates" or body:"interest rates"',
    )


def stories_dashboard(ids: AliasIds) -> dict[str, Any]:
    """The dashboard "newsflow — stories": Lens charts by value, the Discover sessions by reference.

    Panels and their references as the dashboard writes them
    (src/platform/plugins/shared/dashboard/common/dashboard_container/persistable_state/
    dashboard_container_references.ts): a panel's own references are stored on the dashboard
    prefixed ``<panelIndex>:``; a by-reference panel names ``panel_<panelIndex>``.
    """
    panels: list[dict[str, Any]] = []
    references: list[dict[str, str]] = []
    layout = [
        (stories_over_time_chart, (0, 0, 48, 14)),
        (most_republished_table, (0, 14, 28, 16)),
        (languages_chart, (28, 14, 20, 16)),
        (sources_by_stories_chart, (0, 30, 24, 15)),
        (sources_by_copies_chart, (24, 30, 24, 15)),
    ]
    for make, grid in layout:
        panel, refs = make(ids, grid)
        panels.append(panel)
        references += refs
    for name, grid in (
        ("latest", (0, 45, 48, 15)),
        ("republished", (0, 60, 24, 15)),
        ("phrase", (24, 60, 24, 15)),
    ):
        panel, refs = _search_panel(ids.object(name), name, grid)
        panels.append(panel)
        references += refs
    return _saved(
        "dashboard",
        ids.object("stories"),
        {
            "title": f"newsflow — stories{ids.suffix}",
            "description": "What the archive holds: stories over time, the most republished, "
            "sources, languages, and searches to start from.",
            "panelsJSON": _json(panels),
            "optionsJSON": _json(
                {
                    "useMargins": True,
                    "syncColors": False,
                    "syncCursor": True,
                    "syncTooltips": False,
                    "hidePanelTitles": False,
                }
            ),
            "timeRestore": True,
            "timeFrom": "now-30d",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _json(_search_source("", data_view=False))
            },
        },
        references,
    )


# -- the dashboard's charts (Lens, by value) -----------------------------------------------------


def stories_over_time_chart(ids: AliasIds, grid: Grid) -> Panel:
    """Stories per day (auto interval) stacked by source, the ten biggest sources named."""
    return _lens_panel(
        ids,
        "stories-over-time",
        grid,
        title="Stories over time, by source",
        visualization_type="lnsXY",
        columns={
            "when": _date_histogram("published_at"),
            "source": _terms("source", "Source", size=10, order_by="stories"),
            "stories": _count("Stories"),
        },
        visualization=lambda layer: {
            "legend": {"isVisible": True, "position": "right"},
            "valueLabels": "hide",
            "preferredSeriesType": "bar_stacked",
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "seriesType": "bar_stacked",
                    "xAccessor": "when",
                    "splitAccessor": "source",
                    "accessors": ["stories"],
                }
            ],
        },
    )


def most_republished_table(ids: AliasIds, grid: Grid) -> Panel:
    """The twenty stories that appeared in the most places."""
    return _lens_panel(
        ids,
        "most-republished",
        grid,
        title="Most republished stories",
        visualization_type="lnsDatatable",
        columns={
            "story": _terms("title.keyword", "Story", size=20, order_by="places"),
            "places": _max("copy_count", "Places"),
        },
        visualization=lambda layer: {
            "layerId": layer,
            "layerType": "data",
            "columns": [
                {"columnId": "story", "isTransposed": False},
                {"columnId": "places", "isTransposed": False},
            ],
            "sorting": {"columnId": "places", "direction": "desc"},
        },
    )


def languages_chart(ids: AliasIds, grid: Grid) -> Panel:
    """Stories by language (as detected or declared)."""
    return _lens_panel(
        ids,
        "languages",
        grid,
        title="Languages",
        visualization_type="lnsPie",
        columns={
            "language": _terms("language", "Language", size=10, order_by="stories"),
            "stories": _count("Stories"),
        },
        visualization=lambda layer: {
            "shape": "donut",
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "primaryGroups": ["language"],
                    "metrics": ["stories"],
                    "numberDisplay": "percent",
                    "categoryDisplay": "default",
                    "legendDisplay": "default",
                    "nestedLegend": False,
                }
            ],
        },
    )


def sources_by_stories_chart(ids: AliasIds, grid: Grid) -> Panel:
    """Which outlets published the stories first (each story counted at its canonical source)."""
    return _sources_chart(
        ids, "sources-by-stories", grid, "Sources by stories (where a story first appeared)",
        "source", "Stories",
    )


def sources_by_copies_chart(ids: AliasIds, grid: Grid) -> Panel:
    """Which outlets carried the stories, copies included (a story counts once per outlet)."""
    return _sources_chart(
        ids, "sources-by-copies", grid, "Sources by copies (every place a story appeared)",
        "copies.source", "Stories carried",
    )


def _sources_chart(
    ids: AliasIds, name: str, grid: Grid, title: str, field: str, label: str
) -> Panel:
    return _lens_panel(
        ids,
        name,
        grid,
        title=title,
        visualization_type="lnsXY",
        columns={
            "source": _terms(field, "Source", size=15, order_by="stories"),
            "stories": _count(label),
        },
        visualization=lambda layer: {
            "legend": {"isVisible": False, "position": "right"},
            "valueLabels": "show",
            "preferredSeriesType": "bar_horizontal",
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "seriesType": "bar_horizontal",
                    "xAccessor": "source",
                    "accessors": ["stories"],
                }
            ],
        },
    )


# -- building blocks ---------------------------------------------------------------------------


def _saved(
    kind: str, object_id: str, attributes: dict[str, Any], references: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": object_id,
        "attributes": attributes,
        "references": references,
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[kind],
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _search_source(query: str, *, data_view: bool) -> dict[str, Any]:
    source: dict[str, Any] = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if data_view:
        source["indexRefName"] = "kibanaSavedObjectMeta.searchSourceJSON.index"
    return source


def _search(
    ids: AliasIds,
    name: str,
    *,
    title: str,
    description: str,
    columns: list[str],
    sort: list[list[str]],
    query: str,
) -> dict[str, Any]:
    """A Discover session with one tab. Since model version 7 the tab holds the state; Kibana
    9.2 still mirrors the first tab at the top level (saved_search/server/saved_objects/
    schema_legacy.ts; model version 13 dropped the mirror later), and so does this. Both find
    the data view through the one reference named in ``indexRefName``."""
    state = {
        "columns": columns,
        "sort": sort,
        "grid": {},
        "hideChart": False,
        "isTextBasedQuery": False,
        "kibanaSavedObjectMeta": {"searchSourceJSON": _json(_search_source(query, data_view=True))},
    }
    return _saved(
        "search",
        ids.object(name),
        {
            "title": title,
            "description": description,
            **state,
            "tabs": [{"id": f"{ids.object(name)}-tab", "label": "Stories", "attributes": state}],
        },
        [
            {
                "type": "index-pattern",
                "id": ids.data_view,
                "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
            }
        ],
    )


def _search_panel(search_id: str, name: str, grid: Grid) -> Panel:
    panel_index = f"search-{name}"
    panel = {
        "type": "search",
        "panelIndex": panel_index,
        "gridData": _grid(panel_index, grid),
        "embeddableConfig": {"enhancements": {}},
        "panelRefName": f"panel_{panel_index}",
    }
    reference = {"type": "search", "id": search_id, "name": f"{panel_index}:panel_{panel_index}"}
    return panel, [reference]


def _grid(panel_index: str, grid: Grid) -> dict[str, Any]:
    x, y, w, h = grid
    return {"x": x, "y": y, "w": w, "h": h, "i": panel_index}


def _lens_panel(
    ids: AliasIds,
    name: str,
    grid: Grid,
    *,
    title: str,
    visualization_type: str,
    columns: dict[str, dict[str, Any]],
    visualization: Callable[[str], dict[str, Any]],
) -> Panel:
    """A Lens chart stored in the dashboard (by value), on one form-based layer over the data
    view. Its attributes are a Lens saved object's (x-pack/platform/plugins/shared/lens/server/
    saved_objects.ts), in the shape without a ``version`` key, which Lens's transform_out.ts
    (common/transforms) migrates forward when it reads it. The layer finds the data view by the
    reference ``indexpattern-datasource-layer-<layerId>``, which the dashboard also keeps under
    the panel's prefix; injectLensReferences (lens/common/references.ts) matches the two by
    name."""
    panel_index = f"lens-{name}"
    layer = name
    ref_name = f"indexpattern-datasource-layer-{layer}"
    layer_ref = {"type": "index-pattern", "id": ids.data_view, "name": ref_name}
    attributes = {
        "title": title,
        "description": "",
        "visualizationType": visualization_type,
        "type": "lens",
        "references": [layer_ref],
        "state": {
            "visualization": visualization(layer),
            "query": {"query": "", "language": "kuery"},
            "filters": [],
            "datasourceStates": {
                "formBased": {
                    "layers": {
                        layer: {
                            "columns": columns,
                            "columnOrder": list(columns),
                            "incompleteColumns": {},
                            "sampling": 1,
                        }
                    }
                }
            },
            "internalReferences": [],
            "adHocDataViews": {},
        },
    }
    panel = {
        "type": "lens",
        "panelIndex": panel_index,
        "gridData": _grid(panel_index, grid),
        "embeddableConfig": {"attributes": attributes, "title": title, "enhancements": {}},
    }
    return panel, [{**layer_ref, "name": f"{panel_index}:{ref_name}"}]


# Form-based (Lens) columns: x-pack/platform/plugins/shared/lens/public/datasources/form_based/
# operations/definitions/ (date_histogram.tsx, terms/index.tsx, count.tsx, metrics.tsx).


def _date_histogram(field: str) -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _terms(field: str, label: str, *, size: int, order_by: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def _count(label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _max(field: str, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "max",
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


# -- the import API's answer ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What Kibana's ``POST /api/saved_objects/_import`` said, one line per object."""

    ok: bool
    lines: list[str]


def describe_import(answer: dict[str, Any]) -> ImportReport:
    """Read an ``_import`` answer: ``success`` with ``successResults``, or ``errors`` naming each
    refused object and why (conflict, ambiguous_conflict, missing_references, unsupported_type,
    unknown)."""
    lines = []
    for result in answer.get("successResults") or []:
        title = (result.get("meta") or {}).get("title", "")
        how = "overwritten" if result.get("overwrite") else "created"
        lines.append(f"ok       {result.get('type')} {result.get('id')}  {title} ({how})")
    for error in answer.get("errors") or []:
        title = error.get("title") or (error.get("meta") or {}).get("title", "")
        lines.append(
            f"refused  {error.get('type')} {error.get('id')}  {title}: {_why(error.get('error'))}"
        )
    for warning in answer.get("warnings") or []:
        lines.append(f"warning  {warning.get('message', warning)}")
    return ImportReport(ok=answer.get("success") is True, lines=lines)


def _why(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    kind = str(error.get("type", "error"))
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
        return f"missing_references ({missing})"
    if kind == "unknown":
        status = error.get("statusCode")
        return f"unknown ({status}: {error.get('message', '')})" if status else (
            f"unknown ({error.get('message', '')})"
        )
    if kind == "ambiguous_conflict":
        n = len(error.get("destinations", []))
        return f"ambiguous_conflict ({n} objects could be overwritten)"
    return kind
