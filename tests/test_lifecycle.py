"""The index side of an alias: its lifecycle policy where the cluster has ILM, one index where it
has none (the minimal node the tests run on), and templates that never claim another alias's
indices. The policy and the with-ILM template are pure functions, tested as such; everything
else runs against the real node."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from newsflow import es

ROLLOVER_OFF = "rollover is off"


@pytest.fixture
def client(es_url: str) -> Iterator[Elasticsearch]:
    c = es.EsConfig(url=es_url).client()
    yield c
    c.close()


@pytest.fixture
def twin_aliases(es_url: str) -> Iterator[tuple[es.EsConfig, es.EsConfig]]:
    """Two fresh aliases where one is the other plus ``-local``, deleted afterwards."""
    base = f"twin-{uuid.uuid4().hex[:8]}"
    pair = (es.EsConfig(url=es_url, index=base), es.EsConfig(url=es_url, index=f"{base}-local"))
    yield pair
    for config in pair:
        es.delete_index(config)


def test_the_policy_rolls_over_by_primary_shard_size_and_age() -> None:
    policy = es.lifecycle_policy()
    assert policy["phases"] == {
        "hot": {
            "min_age": "0ms",
            "actions": {"rollover": {"max_primary_shard_size": "50gb", "max_age": "30d"}},
        }
    }


def test_the_template_names_the_policy_and_alias_only_where_there_is_ilm() -> None:
    with_ilm = es.build_template("news", {"x-pack-core", "x-pack-ilm"}, ilm=True)
    assert with_ilm["template"]["settings"]["index"]["lifecycle"] == {
        "name": "newsflow-news",
        "rollover_alias": "news",
    }
    without = es.build_template("news", {"x-pack-core"})
    assert "lifecycle" not in without["template"]["settings"]["index"]
    assert with_ilm["index_patterns"] == without["index_patterns"] == ["news-0*"]


def test_without_ilm_the_alias_keeps_one_index_and_says_so_once(
    es_config: es.EsConfig, client: Elasticsearch, caplog: pytest.LogCaptureFixture
) -> None:
    if es.ilm_available(client):
        pytest.skip("this cluster has ILM: the degraded path does not apply")
    with caplog.at_level(logging.INFO, logger="newsflow.es"):
        es.ensure_index(es_config)
        es.ensure_index(es_config)  # a second worker's setup
    said = [r for r in caplog.records if ROLLOVER_OFF in r.getMessage()]
    assert len(said) == 1 and es_config.index in said[0].getMessage()
    settings = client.indices.get_settings(index=es_config.first_index)
    assert "lifecycle" not in settings[es_config.first_index]["settings"]["index"]
    template = client.indices.get_index_template(name=es.template_name(es_config.index))
    body = template["index_templates"][0]["index_template"]
    assert "lifecycle" not in body["template"]["settings"]["index"]
    # the job still writes: the alias takes documents
    client.index(index=es_config.index, id="s1", document={"story_id": "s1"}, refresh=True)
    assert client.count(index=es_config.index)["count"] == 1


def test_with_ilm_the_policy_is_installed_and_the_write_index_uses_it(
    es_config: es.EsConfig, client: Elasticsearch
) -> None:
    if not es.ilm_available(client):
        pytest.skip("this cluster has no ILM (the minimal node): the pure tests cover the policy")
    es.ensure_index(es_config)
    policy = client.ilm.get_lifecycle(name=es.policy_name(es_config.index))
    assert policy[es.policy_name(es_config.index)]["policy"]["phases"] == (
        es.lifecycle_policy()["phases"]
    )
    settings = client.indices.get_settings(index=es_config.first_index)
    lifecycle = settings[es_config.first_index]["settings"]["index"]["lifecycle"]
    assert lifecycle == {"name": es.policy_name(es_config.index), "rollover_alias": es_config.index}


def test_the_minimal_node_has_no_ilm(client: Elasticsearch, es_url: str) -> None:
    """What the degraded path rests on, checked on the node ``make test`` starts."""
    modules = es.cluster_modules(client)
    if "x-pack-ilm" in modules:
        pytest.skip(f"{es_url} is a full distribution")
    assert es.ilm_available(client) is False


@pytest.mark.parametrize("first", [0, 1], ids=["shorter-first", "longer-first"])
def test_an_alias_and_the_same_alias_plus_a_suffix_live_side_by_side(
    twin_aliases: tuple[es.EsConfig, es.EsConfig], client: Elasticsearch, first: int
) -> None:
    for config in (twin_aliases[first], twin_aliases[1 - first]):
        es.ensure_index(config)
    for config in twin_aliases:
        client.index(index=config.index, id="s1", document={"title": config.index}, refresh=True)
    for config in twin_aliases:
        hits = client.search(index=config.index)["hits"]["hits"]
        assert [(h["_index"], h["_source"]["title"]) for h in hits] == [
            (config.first_index, config.index)
        ]
        simulated = client.indices.simulate_index_template(name=f"{config.index}-000002")
        assert [t["name"] for t in simulated.get("overlapping", [])] == []
        assert simulated["template"]["mappings"]["dynamic"] == "strict"
    # deleting one alias leaves the other's indices alone
    es.delete_index(twin_aliases[0])
    assert client.indices.exists(index=twin_aliases[1].first_index)
    assert not client.indices.exists(index=twin_aliases[0].first_index)


def test_a_template_of_the_old_shape_is_narrowed_and_its_index_still_matches(
    twin_aliases: tuple[es.EsConfig, es.EsConfig], client: Elasticsearch
) -> None:
    """A deployment made before templates were narrowed: ``<alias>-*`` and ``<alias>-000001``.
    Adding ``<alias>-local`` narrows the old template instead of failing, and the existing index
    is still the template's."""
    old, new = twin_aliases
    legacy = es.build_template(old.index, set())
    legacy["index_patterns"] = [f"{old.index}-*"]
    client.indices.put_index_template(name=es.template_name(old.index), **legacy)
    client.indices.create(index=old.first_index, aliases={old.index: {"is_write_index": True}})
    es.ensure_index(new)
    template = client.indices.get_index_template(name=es.template_name(old.index))
    assert template["index_templates"][0]["index_template"]["index_patterns"] == [
        es.index_pattern(old.index)
    ]
    matched = client.indices.simulate_index_template(name=old.first_index)
    assert matched["template"]["mappings"]["dynamic"] == "strict"
    assert [t["name"] for t in matched.get("overlapping", [])] == []
    es.ensure_index(old)  # the old alias's own job keeps working
    client.index(index=old.index, id="s1", document={"title": "still here"}, refresh=True)
    assert client.count(index=old.index)["count"] == 1
