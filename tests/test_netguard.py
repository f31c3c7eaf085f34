"""Safe fetching: only public addresses unless allowed, checked on the address connected to.

Pure checks of the policy for every address form, then real loopback servers standing in for an
"internal" service: a hostile feed's links, odd spellings of its address, a host name resolving
to it and a redirect from an honest page reach it 0 times unless its network is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow import es
from newsflow.http import FetchConfig, Fetcher, FetchError, FetchResult
from newsflow.netguard import ALLOW_HOSTS_ENV, AddressPolicy, parse_allowlist
from pipelines import launcher
from tests.loopback import LoopbackServer

PUBLIC = AddressPolicy()


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.45.6.7", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.5.4", "private"), ("192.168.0.10", "private"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"), ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"), ("239.1.2.3", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"),
    # IPv6 forms carrying an IPv4 address are judged by it
    ("::ffff:127.0.0.1", "loopback address (127.0.0.1 inside"),
    ("::ffff:10.0.0.1", "private address (10."), ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a00:1", "private address (10.0.0.1 inside"),
    ("2002:7f00:1::1", "loopback address (127.0.0.1 inside"),
    ("::127.0.0.1", "loopback address (127.0.0.1"),
    ("fe80::1%eth0", "link-local"),
])
def test_non_public_addresses_are_refused_and_say_why(address: str, kind: str) -> None:
    why = PUBLIC.refusal(address)
    assert why is not None and kind in why


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8",
    "64:ff9b::808:808", "2002:808:808::1",
])
def test_public_addresses_pass(address: str) -> None:
    assert PUBLIC.refusal(address) is None


def test_an_allowlist_opens_its_networks_and_their_ipv6_forms_only() -> None:
    policy = AddressPolicy(parse_allowlist("127.0.0.0/8, 10.1.2.3"))
    assert policy.refusal("127.9.9.9") is None
    assert policy.refusal("::ffff:127.0.0.1") is None
    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("10.1.2.4") is not None
    assert policy.refusal("::1") is not None  # an IPv6 network must be allowed as such
    assert parse_allowlist("10.1.2.3, ::1") == ("10.1.2.3/32", "::1/128")


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.0/33", "127.0.0.1/8/8", "*"])
def test_a_bad_allowlist_entry_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a network"):
        parse_allowlist(f"127.0.0.0/8,{bad}")
    with pytest.raises(ValueError, match="is not a network"):
        FetchConfig(allow_networks=("127.0.0.0/8", bad))


# -- real servers ------------------------------------------------------------------------------


@pytest.fixture
def internal() -> LoopbackServer:
    """An "internal" service on 127.0.0.1 and ::1 (one port each) that nobody should reach."""
    server = LoopbackServer()
    server.add("/secret", b"<html><body><p>internal secret</p></body></html>",
               content_type="text/html")
    with server:
        yield server


def _spellings(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}/secret", f"http://2130706433:{port}/secret",
            f"http://0x7f000001:{port}/secret", f"http://0177.0.0.1:{port}/secret",
            f"http://127.1:{port}/secret", f"http://localhost:{port}/secret"]


def test_every_spelling_of_an_internal_address_is_refused_before_connecting(
        internal: LoopbackServer) -> None:
    with LoopbackServer(host="::1") as six:
        six.add("/secret", b"six")
        urls = [*_spellings(internal.port), six.url("/secret")]
        with Fetcher(FetchConfig(retries=0, per_host_min_delay=0)) as fetcher:
            outcomes = dict(fetcher.fetch_many(urls))
        assert six.requests == []
    assert internal.requests == []  # robots.txt included
    for url in urls:
        error = outcomes[url]
        assert isinstance(error, FetchError), url
        assert (error.kind, error.transient) == ("refused_address", False), url
        assert "loopback" in error.message and "--http_allow_hosts" in error.message
        assert ALLOW_HOSTS_ENV in error.message


def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(
        internal: LoopbackServer) -> None:
    with LoopbackServer(host="127.0.1.7") as honest:
        honest.redirect("/story", internal.url("/secret"))
        honest.add("/other", b"<html><body><p>fine</p></body></html>", content_type="text/html")
        config = FetchConfig(retries=0, per_host_min_delay=0, allow_networks=("127.0.1.7/32",))
        with Fetcher(config) as fetcher:
            refused = fetcher.fetch(honest.url("/story"))
            fine = fetcher.fetch(honest.url("/other"))
    assert isinstance(refused, FetchError) and refused.kind == "refused_address"
    assert isinstance(fine, FetchResult) and fine.body.endswith(b"</html>")
    assert internal.requests == []


def test_an_allowed_network_is_fetched(internal: LoopbackServer) -> None:
    config = FetchConfig(retries=0, allow_networks=parse_allowlist("127.0.0.1/32"))
    with Fetcher(config) as fetcher:
        assert isinstance(fetcher.fetch(internal.url("/secret")), FetchResult)
    assert internal.hits("/secret") == 1


def test_feeds_show_refuses_a_loopback_feed_without_an_allowlist(
        internal: LoopbackServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from newsflow.cli import main

    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    assert main(["feeds", "show", internal.url("/feed.xml")]) != 0
    assert "--http_allow_hosts" in capsys.readouterr().err
    assert internal.requests == []


def _rss(items: list[tuple[str, str]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid>"
                   f"<description>{t}</description></item>" for t, u in items)
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>"
            f"{body}</channel></rss>")


def test_a_hostile_feed_indexes_its_honest_article_and_nothing_internal(
        internal: LoopbackServer, es_config: es.EsConfig, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    page = (Path(__file__).parent / "fixtures" / "articles" / "publisher.html").read_bytes()
    with LoopbackServer(host="127.0.1.8") as outlet, LoopbackServer(host="::1") as six:
        six.add("/secret", b"<html><body><p>internal over IPv6</p></body></html>",
                content_type="text/html")
        outlet.add("/honest", page, content_type="text/html")
        outlet.redirect("/bounce", internal.url("/secret"))
        links = [outlet.url("/honest"), outlet.url("/bounce"), six.url("/secret"),
                 *_spellings(internal.port)]
        outlet.add("/feed.xml", _rss([(f"Item {n}", u) for n, u in enumerate(links)]),
                   content_type="application/rss+xml")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(outlet.url("/feed.xml") + "\n")
        dead = tmp_path / "dead.jsonl"
        summary = launcher.run(["--feeds", str(feeds), "--es_url", es_config.url,
                                "--es_index", es_config.index, "--feed_state", "false",
                                "--http_allow_hosts", "127.0.1.8/32", "--per_host_delay", "0",
                                "--dead_letters", str(dead)], quiet=True)
        assert six.requests == []
    assert summary is not None
    assert internal.requests == []
    es.refresh(es_config)
    client = es_config.client()
    try:
        hits = client.search(index=es_config.index, size=50)["hits"]["hits"]
        secret = client.search(index=es_config.index, q="internal")["hits"]["total"]["value"]
    finally:
        client.close()
    # The honest article is indexed from its page; nothing else, not even the feed's text for
    # the refused links; each refused link is a dead letter saying why.
    assert [c["fetched_url"] for h in hits for c in h["_source"]["copies"]] == [
        outlet.url("/honest")]
    assert secret == 0
    assert summary.counters["articles_from_page"] == 1
    dead = [json.loads(line) for line in dead.read_text().splitlines()]
    assert sorted(d["input"] for d in dead if d["error_type"] == "refused_address") == sorted(
        links[1:])


# -- credentials in a feed URL ----------------------------------------------------------------

SECRET = "s3cr3t-pass"


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_go_to_their_own_host_only_and_never_show(loopback: LoopbackServer) -> None:
    from tests.loopback import Request, Response

    seen: list[str | None] = []

    def private(req: Request) -> Response:
        seen.append(req.headers.get("authorization"))
        if req.headers.get("authorization") != _basic("reader", SECRET):
            return Response(401, b"who are you")
        return Response(200, b"<rss/>", content_type="application/rss+xml")

    loopback.route("/feed.xml", private)
    with LoopbackServer(host="127.0.1.9") as elsewhere:
        elsewhere.add("/landing", b"moved here")
        loopback.redirect("/moved", elsewhere.url("/landing"))
        config = FetchConfig(retries=0, allow_networks=parse_allowlist("127.0.0.0/8"))
        base = loopback.url("/").replace("http://", f"http://reader:{SECRET}@")
        with Fetcher(config) as fetcher:
            ok = fetcher.fetch(base + "feed.xml")
            moved = fetcher.fetch(base + "moved")
            missing = fetcher.fetch(base + "missing")
        assert [r.headers.get("authorization") for r in elsewhere.requests] == [None, None]
    assert seen == [_basic("reader", SECRET)]  # sent to its host, and checked there
    assert isinstance(ok, FetchResult) and isinstance(moved, FetchResult)
    assert loopback.requests_for("/moved")[0].headers["authorization"] == _basic("reader",
                                                                                 SECRET)
    assert isinstance(missing, FetchError)
    for outcome in (ok, moved, missing):
        assert SECRET not in repr(outcome) and SECRET not in str(outcome)
        assert outcome.url.startswith("http://***@127.0.0.1:")


def test_an_elasticsearch_url_with_credentials_keeps_them_out_of_the_url() -> None:
    config = es.EsConfig(url=f"https://elastic:{SECRET}@search.example:9200")
    assert config.url == "https://search.example:9200"
    assert (config.username, config.password) == ("elastic", SECRET)
    assert SECRET not in repr(config)


def test_a_feed_s_credentials_reach_no_log_dead_letter_state_or_document(
        loopback: LoopbackServer, state: es.EsConfig, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    from newsflow.feedstate import state_index
    from tests.loopback import Request, Response

    page = (Path(__file__).parent / "fixtures" / "articles" / "publisher.html").read_bytes()
    feed = _rss([("Honest", loopback.url("/honest")), ("Gone", loopback.url("/gone"))])

    def private(req: Request) -> Response:
        if req.headers.get("authorization") != _basic("reader", SECRET):
            return Response(401, b"who are you")
        return Response(200, feed, content_type="application/rss+xml")

    loopback.route("/feed.xml", private)
    loopback.add("/honest", page, content_type="text/html")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(loopback.url("/feed.xml").replace("http://", f"http://reader:{SECRET}@")
                     + "\n")
    dead = tmp_path / "dead.jsonl"
    caplog.set_level("DEBUG")
    summary = launcher.run(["--feeds", str(feeds), "--es_url", state.url,
                            "--es_index", state.index, "--per_host_delay", "0",
                            "--dead_letters", str(dead)])
    assert summary is not None and summary.counters["articles_from_page"] == 1
    printed = capsys.readouterr()
    client = state.client()
    try:
        client.indices.refresh(index=[state.index, state_index(state)])
        stored = [json.dumps(h) for index in (state.index, state_index(state))
                  for h in client.search(index=index, size=100)["hits"]["hits"]]
    finally:
        client.close()
    assert any("/gone" in line for line in dead.read_text().splitlines())  # a dead letter...
    assert any("***@" in doc for doc in stored)  # ... and state that name the feed, redacted
    for where, text in [("dead letters", dead.read_text()), ("stored", "\n".join(stored)),
                        ("output", printed.out + printed.err), ("logs", caplog.text),
                        ("summary", "\n".join(summary.lines()))]:
        assert SECRET not in text, where
