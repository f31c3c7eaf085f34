"""Bytes of a web page to text, for pages in legacy encodings too.

Order of evidence, as browsers use it: a byte-order mark, the ``Content-Type`` header's charset,
a ``<meta charset>`` / ``http-equiv`` declaration near the top, then valid UTF-8, then a
statistical guess (charset-normalizer), and finally windows-1252, which decodes any byte. A
declared charset that does not decode the bytes cleanly is distrusted (servers lie).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

__all__ = ["decode_html", "declared_charset"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I
)
_SNIFF_BYTES = 8192
_MULTIBYTE = re.compile(r"utf|shift|sjis|euc|gb|big5|hz|iso2022|cp93|cp949|cp950|johab", re.I)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    # WHATWG: latin-1 and ascii labels mean windows-1252; utf-16 in a meta tag means utf-8.
    return {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}.get(codec, codec)


def declared_charset(data: bytes, headers: Mapping[str, str] | None = None) -> str | None:
    """The charset the response declares: header first, then the page's own meta tag."""
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            match = _HEADER_CHARSET.search(value)
            if match and _codec(match.group(1)):
                return _codec(match.group(1))
    meta = _META_CHARSET.search(data[:_SNIFF_BYTES])
    if meta:
        codec = _codec(meta.group(1).decode("ascii", "ignore"))
        if codec and not codec.startswith("utf-16") and not codec.startswith("utf-32"):
            return codec
        if codec:
            return "utf-8"
    return None


def decode_html(data: bytes | str, headers: Mapping[str, str] | None = None) -> str:
    """The page as text (never raises; undecodable bytes become U+FFFD at worst)."""
    if isinstance(data, str):
        return data
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(name, "replace")
    declared = declared_charset(data, headers)
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        sample = data[:200_000]
        best = from_bytes(sample).best()
        if best is not None and best.encoding:
            guess = _codec(best.encoding) or "cp1252"
            if not _MULTIBYTE.match(guess):
                # Single-byte code pages are hard to tell apart; on the web windows-1252 is
                # by far the most likely, so it wins unless it reads clearly worse.
                western = from_bytes(sample, cp_isolation=["cp1252"]).best()
                if western is not None and western.chaos <= best.chaos + 0.02:
                    guess = "cp1252"
            return data.decode(guess, "replace")
    except (ImportError, LookupError):
        pass
    if declared:
        return data.decode(declared, "replace")
    return data.decode("cp1252", "replace")
