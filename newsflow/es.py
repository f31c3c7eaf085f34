"""Elasticsearch access shared by the sink, dedupe's cross-run lookup, feed state and search.

``EsConfig`` is the one picklable description of a cluster and an index alias that transforms
take as a constructor argument; ``client()`` builds the official client (orjson serializer) on a
worker. ``ensure_index`` installs the index template for the alias and creates the first
index behind it (``news`` → ``news-000001``) so a re-index can swap the alias later. Where the
cluster has index lifecycle management (ILM: every full distribution), a policy rolls the
alias's write index over (``news-000002``, ...); the minimal development node has none, and
there the alias keeps one index.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from elasticsearch.serializer import OrjsonSerializer

from newsflow.http import split_credentials

LOG = logging.getLogger(__name__)

DEFAULT_INDEX = "news"
# The write index rolls over at whichever comes first: 50 GB in its primary shard (the top of
# the 10-50 GB Elastic advises for search shards) or 30 days (a month per index, so old months
# can be moved or dropped as a unit). No delete phase: an archive keeps every story.
ROLLOVER = {"max_primary_shard_size": "50gb", "max_age": "30d"}
# Index template keys that PUT _index_template accepts (GET answers with more).
_TEMPLATE_KEYS = (
    "index_patterns", "template", "composed_of", "priority", "version", "_meta", "data_stream",
    "allow_auto_create", "ignore_missing_component_templates", "deprecated",
)
_ROLLOVER_OFF_SAID: set[tuple[str, str]] = set()
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
        # Credentials in the URL (https://user:secret@host:9200) become the config's own, so
        # that the URL can be shown anywhere.
        bare, credentials = split_credentials(self.url)
        if credentials is not None:
            object.__setattr__(self, "url", bare)
            if not (self.username or self.api_key):
                object.__setattr__(self, "username", credentials[0])
                object.__setattr__(self, "password", credentials[1])
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


def index_pattern(alias: str) -> str:
    """The indices behind ``alias``: ``news-000001``, ``news-000002``, ... match ``news-0*``.

    Not ``news-*``: that also matches ``news-local-000001``, so two aliases where one is the
    other plus a dash would have overlapping templates of the same priority, which
    Elasticsearch refuses. ``news-0*`` and ``news-local-0*`` share no index name.
    """
    return f"{alias}-0*"


def template_name(alias: str) -> str:
    return f"newsflow-{alias}"


def policy_name(alias: str) -> str:
    return f"newsflow-{alias}"


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


def lifecycle_policy() -> dict[str, Any]:
    """The ILM policy of a story alias: roll the write index over by size and age (``ROLLOVER``)."""
    return {
        "_meta": {"managed_by": "newsflow"},
        "phases": {"hot": {"min_age": "0ms", "actions": {"rollover": dict(ROLLOVER)}}},
    }


def build_template(alias: str, modules: set[str], *, ilm: bool = False) -> dict[str, Any]:
    """The composable template for ``alias``, with language analysis where the cluster has it.

    ``analysis-common`` (in every full distribution, absent from the minimal one) brings the
    ``english`` analyzer and ``asciifolding``: then text is folded ("café" finds "cafe") and the
    title, summary and body get an ``.english`` sub-field with stemming. Without it the template
    keeps the built-in ``standard`` analyzer, and searches on the sub-fields simply match nothing.
    With ``ilm`` the indices name the alias's lifecycle policy and the alias it rolls over.
    """
    body = copy.deepcopy(template_source())
    body["index_patterns"] = [index_pattern(alias)]
    if ilm:
        body["template"]["settings"]["index"]["lifecycle"] = {
            "name": policy_name(alias),
            "rollover_alias": alias,
        }
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


def ilm_available(client: Elasticsearch) -> bool:
    """Whether the cluster has index lifecycle management and lets us use it.

    The minimal distribution has no ILM module: ``GET _ilm/status`` finds no handler there (400).
    """
    try:
        client.ilm.get_status()
    except ApiError as exc:
        if exc.meta.status in (400, 403, 404, 405):
            return False
        raise
    return True


def ensure_index(config: EsConfig, client: Elasticsearch | None = None) -> None:
    """Install (or update) the template for ``config.index``; create its first index and alias.

    Where the cluster has ILM the alias's lifecycle policy is installed first and the template
    names it; a write index made before the policy existed is put under it. Where it has none,
    the alias keeps one index, and that is logged once.
    """
    own = client is None
    es = client or config.client()
    try:
        ilm = ilm_available(es)
        if ilm:
            _put_policy(es, config.index)
        else:
            _say_rollover_off(config)
        template = build_template(config.index, cluster_modules(es), ilm=ilm)
        _put_template(es, config.index, template)
        if not es.indices.exists_alias(name=config.index):
            try:
                es.indices.create(
                    index=config.first_index,
                    aliases={config.index: {"is_write_index": True}},
                )
            except ApiError as exc:
                if exc.meta.status != 400 or "resource_already_exists" not in str(exc):
                    raise
        elif ilm:
            _put_write_index_under_policy(es, config.index)
    except TransportError as exc:
        raise EsUnavailable(
            f"Elasticsearch at {config.url} is unreachable: {_reason(exc)}"
        ) from None
    finally:
        if own:
            es.close()


def _say_rollover_off(config: EsConfig) -> None:
    key = (config.url, config.index)
    if key not in _ROLLOVER_OFF_SAID:
        _ROLLOVER_OFF_SAID.add(key)
        LOG.warning(
            "Elasticsearch at %s offers no index lifecycle management (ILM) to newsflow: "
            "rollover is off, alias %s keeps writing to one index",
            config.url,
            config.index,
        )


def _put_policy(es: Elasticsearch, alias: str) -> None:
    """Install the alias's lifecycle policy unless it is there already (every worker's setup
    calls this; each PUT would make a new policy version)."""
    name, wanted = policy_name(alias), lifecycle_policy()
    try:
        current = es.ilm.get_lifecycle(name=name)[name]["policy"]
    except NotFoundError:
        current = {}
    if current.get("phases") != wanted["phases"]:
        es.ilm.put_lifecycle(name=name, policy=wanted)


def _put_template(es: Elasticsearch, alias: str, template: dict[str, Any]) -> None:
    """Put the alias's template. If an older newsflow template claims ``<other alias>-*`` and
    so overlaps ours, narrow it to its own ``index_pattern`` and try once more."""
    try:
        es.indices.put_index_template(name=template_name(alias), **template)
    except ApiError as exc:
        if exc.meta.status != 400 or "same priority" not in str(exc):
            raise
        if not _narrow_legacy_templates(es, alias):
            raise
        es.indices.put_index_template(name=template_name(alias), **template)


def _narrow_legacy_templates(es: Elasticsearch, alias: str) -> bool:
    """Rewrite the newsflow templates of the old shape (``<other>-*``) that overlap ``alias``'s
    to ``index_pattern(other)``: their indices, ``<other>-000001`` ..., still match. Whether
    any was rewritten."""
    ours = index_pattern(alias).rstrip("*")
    found = es.indices.get_index_template(name=template_name("*"))["index_templates"]
    narrowed = False
    for item in found:
        other = item["name"].removeprefix(template_name(""))
        body = item["index_template"]
        theirs = f"{other}-"
        if body.get("index_patterns") != [theirs + "*"]:
            continue
        if not (ours.startswith(theirs) or theirs.startswith(ours)):
            continue
        kept = {k: v for k, v in body.items() if k in _TEMPLATE_KEYS}
        kept["index_patterns"] = [index_pattern(other)]
        es.indices.put_index_template(name=item["name"], **kept)
        LOG.info("index template %s now matches %s only", item["name"], index_pattern(other))
        narrowed = True
    return narrowed


def _put_write_index_under_policy(es: Elasticsearch, alias: str) -> None:
    """An alias created before its cluster had the policy: its write index gets the policy."""
    indices = es.indices.get_alias(name=alias)
    writers = [
        name
        for name, info in indices.items()
        if info["aliases"][alias].get("is_write_index") or len(indices) == 1
    ]
    for name in writers:
        settings = es.indices.get_settings(index=name, name="index.lifecycle.name")
        if not settings[name]["settings"]:
            es.indices.put_settings(
                index=name,
                settings={
                    "index.lifecycle.name": policy_name(alias),
                    "index.lifecycle.rollover_alias": alias,
                },
            )


def refresh(config: EsConfig) -> None:
    """Make everything indexed so far searchable (Elasticsearch refreshes every second anyway)."""
    client = config.client()
    try:
        client.indices.refresh(index=config.index)
    finally:
        client.close()


def delete_index(config: EsConfig, client: Elasticsearch | None = None) -> None:
    """Drop the alias's indices, template and lifecycle policy (tests and `newsflow es reset`)."""
    es = client or config.client()
    try:
        # the story indices behind the alias, and the feed state index (newsflow/feedstate.py),
        # by name: clusters refuse wildcard deletes unless action.destructive_requires_name is off
        names = es.indices.get(
            index=f"{index_pattern(config.index)},{config.index}_feeds",
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        if names:
            es.indices.delete(index=",".join(names), ignore_unavailable=True)
        try:
            es.indices.delete_index_template(name=template_name(config.index))
        except NotFoundError:
            pass
        if ilm_available(es):
            try:
                es.ilm.delete_lifecycle(name=policy_name(config.index))
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
