"""Canonical article URLs and the registered domain they belong to.

The same story reaches us under many URLs: with ``utm_*`` campaign tags, with a fragment, with
``:443``, through a feed proxy. Dedupe and the index key on the canonical URL, so it is decided
in one place: the page's ``rel=canonical`` (or ``og:url``) if it is a usable absolute http(s)
URL, else the URL we finally fetched, normalised. The registered domain ("bbc.co.uk" for
"www.bbc.co.uk") comes from the Public Suffix List snapshot bundled with tldextract: never a
network fetch on a worker.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import tldextract

__all__ = ["canonical_url", "normalise_url", "registered_domain"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Query parameters that identify a campaign or a click, never the resource.
_TRACKING = re.compile(
    r"^(?:utm_\w*|fbclid|gclid|gclsrc|dclid|msclkid|yclid|twclid|igshid|mc_cid|mc_eid|_ga|_gl"
    r"|ocid|cmpid|ncid|sr_share|smid|share|ref_src|ref_url|__twitter_impression|at_medium"
    r"|at_campaign|wt\.mc_id|s_cid|ito|spm|rss|feedtype)$",
    re.I,
)


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters.

    The path and the remaining query are kept as they are (order included): they may be case-
    or order-sensitive on the server. Returns the input stripped if it is not an absolute URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    path = quote(unquote(parts.path), safe="/%:@!$&'()*+,;=~-._") or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def canonical_url(final_url: str, declared: list[str] | tuple[str, ...] = ()) -> str:
    """The canonical URL: the first usable declared one (rel=canonical, og:url), else ours.

    A declared URL is resolved against the fetched one; it is ignored when it is not http(s),
    or when it points to the site's home page while we fetched an article (a common CMS bug).
    """
    base = normalise_url(final_url)
    for candidate in declared:
        if not candidate or not candidate.strip():
            continue
        url = normalise_url(urljoin(final_url, candidate.strip()))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        if parts.path in ("", "/") and not parts.query and urlsplit(base).path not in ("", "/"):
            continue
        return url
    return base


@functools.lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # suffix_list_urls=() : use the snapshot shipped with tldextract, never the network.
    # Private suffixes too: foo.blogspot.com and bar.blogspot.com are different publishers.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def registered_domain(url: str) -> str:
    """``example.co.uk`` for ``https://news.example.co.uk/x`` (the host itself for IPs/local)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    if not host:
        return ""
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    # Not under a public suffix (an IP, localhost, a reserved TLD such as .example): the host,
    # without a leading "www.".
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host
