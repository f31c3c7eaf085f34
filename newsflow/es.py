"""Elasticsearch access shared by the sink, dedupe's cross-run lookup, feed state and search.

``EsConfig`` is the one picklable description of a cluster and an index alias that transforms
take as a constructor argument; ``client()`` builds the official client (orjson serializer) on a
worker. ``ensure_index`` installs the index template for the alias and creates the first
index behind it (``news`` → ``news-000001``) so a re-index can swap the alias later.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from elasticsearch.serializer import OrjsonSerializer

DEFAULT_INDEX = "news"
# Full-text fields and their weights: the title counts three times the body.
SEARCH_FIELDS = ("title^3", "title.english^3", "summary^2", "body", "body.english")


class EsUnavailable(RuntimeError):
    """Elasticsearch could not be reached or refused us; the message names the URL."""


class IndexMissing(RuntimeError):
    """The alias does not exist yet: nothing was ingested into it."""


@dataclass(frozen=True)
class EsConfig:
    """Where stories go: cluster URL, index alias and credentials (never printed)."""

    url: str = "http://127.0.0.1:9200"
    index: str = DEFAULT_INDEX
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    request_timeout: float = 30.0
    ca_certs: str | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"Elasticsearch URL must start with http:// or https://, got {self.url!r}"
            )
        if (
            not self.index
            or self.index != self.index.lower()
            or any(c in self.index for c in ' "*\\<|,>/?')
        ):
            raise ValueError(
                f'invalid index alias {self.index!r} (lower case, no spaces or */\\?"<>|,)'
            )
        if self.password is not None and not self.username:
            raise ValueError("an Elasticsearch password needs a username")

    def client(self, max_retries: int = 3) -> Elasticsearch:
        auth: dict[str, Any] = {"ca_certs": self.ca_certs} if self.ca_certs else {}
        if self.api_key:
            auth["api_key"] = self.api_key
        elif self.username:
            auth["basic_auth"] = (self.username, self.password or "")
        return Elasticsearch(
            self.url,
            serializer=OrjsonSerializer(),
            request_timeout=self.request_timeout,
            max_retries=max_retries,
            retry_on_timeout=True,
            **auth,
        )

    @classmethod
    def from_env(
        cls,
        url: str | None = None,
        index: str | None = None,
        *,
        api_key_file: str | None = None,
        password_file: str | None = None,
        username: str | None = None,
    ) -> EsConfig:
        """Flags first, then ES_URL, ES_INDEX, ES_API_KEY, ES_USERNAME, ES_PASSWORD, then defaults.

        Secrets come from the environment or a file, never from a flag (flags show in `ps`).
        """
        env = os.environ
        api_key = _read_secret(api_key_file) if api_key_file else env.get("ES_API_KEY")
        password = _read_secret(password_file) if password_file else env.get("ES_PASSWORD")
        return cls(
            url=(url or env.get("ES_URL") or cls.url).rstrip("/"),
            index=index or env.get("ES_INDEX") or DEFAULT_INDEX,
            api_key=api_key or None,
            username=username or env.get("ES_USERNAME") or None,
            password=password or None,
        )

    @property
    def first_index(self) -> str:
        return f"{self.index}-000001"


@functools.cache
def template_source() -> dict[str, Any]:
    """The index template as written in ``schemas/index_template.json``."""
    text = importlib.resources.files("schemas").joinpath("index_template.json").read_text()
    data: dict[str, Any] = json.loads(text)
    data.pop("_comment", None)
    return data


def cluster_modules(client: Elasticsearch) -> set[str]:
    """Module and plugin names on every node (the minimal distribution has very few)."""
    nodes = client.nodes.info(metric="plugins")["nodes"]
    names: set[str] = set()
    for node in nodes.values():
        names |= {m["name"] for m in node.get("modules", [])}
        names |= {p["name"] for p in node.get("plugins", [])}
    return names


def build_template(alias: str, modules: set[str]) -> dict[str, Any]:
    """The composable template for ``alias``, with language analysis where the cluster has it.

    ``analysis-common`` (in every full distribution, absent from the minimal one) brings the
    ``english`` analyzer and ``asciifolding``: then text is folded ("café" finds "cafe") and the
    title, summary and body get an ``.english`` sub-field with stemming. Without it the template
    keeps the built-in ``standard`` analyzer, and searches on the sub-fields simply match nothing.
    """
    body = copy.deepcopy(template_source())
    body["index_patterns"] = [f"{alias}-*"]
    if "analysis-common" in modules:
        body["template"]["settings"]["analysis"] = {
            "analyzer": {
                "default": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["lowercase", "asciifolding"],
                }
            }
        }
        props = body["template"]["mappings"]["properties"]
        for name in ("title", "summary", "body"):
            props[name].setdefault("fields", {})["english"] = {
                "type": "text",
                "analyzer": "english",
            }
    return body


def check_reachable(config: EsConfig) -> None:
    """Raise one clear ``EsUnavailable`` naming the URL when the cluster does not answer."""
    client = config.client(max_retries=0)
    try:
        client.cluster.health(timeout="5s")
    except (TransportError, ApiError) as exc:
        raise EsUnavailable(
            f"Elasticsearch at {config.url} is unreachable: {_reason(exc)}"
        ) from None
    finally:
        client.close()


def ensure_index(config: EsConfig, client: Elasticsearch | None = None) -> None:
    """Install (or update) the template for ``config.index``; create its first index and alias."""
    own = client is None
    es = client or config.client()
    try:
        template = build_template(config.index, cluster_modules(es))
        es.indices.put_index_template(name=f"newsflow-{config.index}", **template)
        if not es.indices.exists_alias(name=config.index):
            try:
                es.indices.create(
                    index=config.first_index,
                    aliases={config.index: {"is_write_index": True}},
                )
            except ApiError as exc:
                if exc.meta.status != 400 or "resource_already_exists" not in str(exc):
                    raise
    except TransportError as exc:
        raise EsUnavailable(
            f"Elasticsearch at {config.url} is unreachable: {_reason(exc)}"
        ) from None
    finally:
        if own:
            es.close()


def refresh(config: EsConfig) -> None:
    """Make everything indexed so far searchable (Elasticsearch refreshes every second anyway)."""
    client = config.client()
    try:
        client.indices.refresh(index=config.index)
    finally:
        client.close()


def delete_index(config: EsConfig, client: Elasticsearch | None = None) -> None:
    """Drop the alias's indices and template (tests and `newsflow es reset`)."""
    es = client or config.client()
    try:
        # the story indices behind the alias, and the feed state index (newsflow/feedstate.py)
        es.indices.delete(
            index=f"{config.index}-*,{config.index}_feeds",
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        try:
            es.indices.delete_index_template(name=f"newsflow-{config.index}")
        except NotFoundError:
            pass
    finally:
        if client is None:
            es.close()


def search(
    config: EsConfig,
    query: str | None = None,
    *,
    date_from: date | datetime | str | None = None,
    date_to: date | datetime | str | None = None,
    source: str | None = None,
    size: int = 10,
    client: Elasticsearch | None = None,
) -> dict[str, Any]:
    """Full-text search with the title boosted, a date range on ``published_at`` and highlights.

    ``date_to`` is inclusive: a bare date means up to the end of that day (UTC).
    Returns ``{"total": int, "hits": [story dict + "score" + "snippet"]}``.
    """
    filters: list[dict[str, Any]] = []
    if date_from or date_to:
        rng: dict[str, Any] = {}
        if date_from:
            rng["gte"] = _es_date(date_from)
        if date_to:
            rng["lte"] = _es_date(date_to)
            if (
                isinstance(date_to, date)
                and not isinstance(date_to, datetime)
                or (isinstance(date_to, str) and len(date_to) == 10)
            ):
                rng["lte"] += "||/d"
        filters.append({"range": {"published_at": rng}})
    if source:
        filters.append(
            {
                "bool": {
                    "should": [{"term": {"source": source}}, {"term": {"copies.source": source}}]
                }
            }
        )
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    if query:
        # simple_query_string: every word must match, "quotes" make a phrase, -word excludes;
        # the phrase clause lifts stories where the words stand together.
        must.append(
            {
                "simple_query_string": {
                    "query": query,
                    "fields": list(SEARCH_FIELDS),
                    "default_operator": "and",
                }
            }
        )
        should.append(
            {
                "multi_match": {
                    "query": query.replace('"', ""),
                    "fields": list(SEARCH_FIELDS),
                    "type": "phrase",
                }
            }
        )
    body_query = {
        "bool": {"must": must or [{"match_all": {}}], "should": should, "filter": filters}
    }
    es = client or config.client()
    try:
        resp = es.search(
            index=config.index,
            query=body_query,
            size=size,
            sort=None if query else [{"published_at": {"order": "desc", "missing": "_last"}}],
            highlight={
                "fields": {
                    "body": {"fragment_size": 160, "number_of_fragments": 1, "no_match_size": 160}
                },
                "pre_tags": ["«"],
                "post_tags": ["»"],
            },
            source_excludes=["band_keys", "body"],
            track_total_hits=True,
        )
    except NotFoundError:
        raise IndexMissing(
            f"no index {config.index!r} at {config.url} yet: ingest something first (`make run`)"
        ) from None
    except TransportError as exc:
        raise EsUnavailable(
            f"Elasticsearch at {config.url} is unreachable: {_reason(exc)}"
        ) from None
    finally:
        if client is None:
            es.close()
    hits = []
    for hit in resp["hits"]["hits"]:
        doc = dict(hit["_source"])
        doc["score"] = hit.get("_score")
        highlight = hit.get("highlight", {})
        doc["snippet"] = (highlight.get("body") or [doc.get("summary", "")[:160]])[0]
        hits.append(doc)
    return {"total": resp["hits"]["total"]["value"], "hits": hits}


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None


def _es_date(value: date | datetime | str) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _reason(exc: BaseException) -> str:
    """The root cause in a few words ("connection refused"), not the client's nested repr."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if err in seen:
            continue
        seen.append(err)
        todo += [e for e in (err.__cause__, err.__context__) if e is not None]
        todo += [e for e in getattr(err, "errors", ()) if isinstance(e, BaseException)]
    text = " ".join(str(e) for e in seen)
    for marker in (
        "Connection refused",
        "timed out",
        "Name or service not known",
        "No route to host",
        "certificate verify failed",
    ):
        if marker in text:
            return marker.lower()
    first = str(exc).splitlines()[0] if str(exc) else ""
    return first[:200] or type(exc).__name__
