"""The boilerplate cleanup main-content extractors leave to us.

trafilatura and readability find the story container; inside it, aggregators and CMSs put
share widgets, the headline again, "Published 1 hour ago", image captions, bylines, "Related
Topics", newsletter prompts and view counters. These rules are general on purpose (shape of the
line, where it sits, a few kinds of words), never a list of the phrases one site uses:

- the *head* of the body (before the first real sentence) holds furniture: there, a line that
  is not prose goes. Its *tail* is not cut the same way: a truncated copy ends in a line that
  is not a sentence, and the merge in :mod:`.content` already ends the story at its container;
- anywhere, a short line that is a caption, a share widget, a counter, a date line, a topic or
  category label, or a newsletter prompt goes, and so does a repeat of the title;
- the story itself is never shortened: a long paragraph always stays.
"""

from __future__ import annotations

import re

__all__ = [
    "clean_paragraphs",
    "is_furniture",
    "is_prose",
    "is_truncated",
    "strip_title_suffix",
    "word_key",
]

_WORD = re.compile(r"\w+")
_SYMBOLS = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")  # a token with no letter or figure in it
_SENTENCE_END = ".!?…\"”’»)'。！？」』"
# Scripts written without spaces between words: count characters instead.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
_HEAD_WINDOW = 20  # furniture opening or closing a body sits within this many lines
_LONG = 25  # a paragraph this long (words) is story text, whatever it looks like

# "Image caption," "Photo:" "Picture credit -" "Caption:" "Source:" at the start of a line.
_CAPTION = re.compile(
    r"^\W*(?:(?:image|photo|picture|pic|video|media|graphic|illustration)\s*"
    r"(?:caption|credit|source|courtesy)?|caption|credits?)\s*[,:\-–—|]",
    re.I,
)
# A counter: "View 152", "1,204 views", "Comments (3)", "Shares: 10".
_COUNTER = re.compile(
    r"(?:\b(?:views?|reads?|comments?|shares?|likes?|hits|visits|clicks)\b\W{0,3}\d[\d.,]*[km]?\b"
    r"|\b\d[\d.,]*[km]?\s*(?:views?|reads?|comments?|shares?|likes?|hits|visits)\b)",
    re.I,
)
# Share and follow widgets: "Share with:", "Share on", "Tweet", "Share this article".
_SHARE = re.compile(
    r"^\W*(?:share|tweet|email|e-mail|print|pin|whatsapp|facebook|twitter|linkedin|reddit"
    r"|follow|copy link|save)\b",
    re.I,
)
# Section labels: "Related Topics", "More on this story", "Tags: ...", "Category: News".
_LABEL = re.compile(
    r"^\W*(?:related|more (?:on|from|about|stories|news|like)|read (?:more|next|also)|see also"
    r"|also read|tags?|topics?|categor(?:y|ies)|filed (?:under|in)|sections?|trending|recommended"
    r"|most (?:read|popular|viewed)|top stories|you (?:may|might) also)\b",
    re.I,
)
# Date lines: "Published1 hour ago", "Updated 5:27 am CST, ...", "3 hrs ago", "Yesterday".
# Date lines: "Published1 hour ago", "Updated 5:27 am CST, ...", "3 hrs ago", "Yesterday".
_DATE_KEYWORD = re.compile(
    r"^\W*(?:last |first |originally )?(?:published|posted|updated|modified|released)"
    r"(?![a-z])\s*(?:on|at|:)?\s*",
    re.I,
)
_RELATIVE_DATE = re.compile(
    r"^\W*(?:\d+|an?)\s*(?:s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?"
    r"|weeks?|months?|y|yrs?|years?)\s+ago\b|^\W*(?:yesterday|today|just now)\W*$",
    re.I,
)
# Prompts that lead away from the story: "Click here to read more", "Continue reading".
_PROMPT = re.compile(
    r"^\W*(?:click here|tap here|continue reading|read (?:the )?(?:full|whole|original) "
    r"(?:story|article|report|post)|(?:source|via|from)\s*:)",
    re.I,
)
_DATE_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december mon tue wed thu fri sat sun monday "
    "tuesday wednesday thursday friday saturday sunday am pm at on of the utc gmt est edt cst "
    "cdt pst pdt bst cet cest ist th st nd rd".split()
)
# Calls to action: an imperative opening and a subscription/app/alert word.
_CALL_TO_ACTION = re.compile(
    r"^\W*(?:sign(?:ing)? up|subscribe|get|join|receive|enter|follow|download|register|"
    r"never miss|don'?t miss|stay (?:informed|up to date|updated)|want|like (?:this|us)|"
    r"click|tap|read our|listen|watch|support)\b",
    re.I,
)
_SUBSCRIPTION = re.compile(
    r"\b(?:newsletters?|subscribe|subscription|sign(?:ing)? up|inbox|e-?mail|alerts?|app|"
    r"podcast|updates|twitter|facebook|instagram|whatsapp|telegram|notifications?)\b",
    re.I,
)
_AD = re.compile(r"^\W*(?:advertisement|sponsored(?: content)?|ad|promoted|paid content)\W*$",
                 re.I)
# Image placeholders that leak as text ("2px presentational grey line", "640x360").
_PIXELS = re.compile(r"\b\d+\s?px\b|\b\d{2,4}x\d{2,4}\b", re.I)
_BYLINE = re.compile(r"^\W*(?:by|von|par|por|di|door)\s+\S", re.I)
_TRUNCATION_MARK = re.compile(r"(?:\.\.\.|…|\[\s*(?:\.\.\.|…)\s*\]|\[more\]|read more\W*)$", re.I)


def word_key(text: str) -> str:
    """Lower-case words only: two lines with the same key say the same thing."""
    return " ".join(_WORD.findall(text.lower()))


def _words(text: str) -> int:
    """Words in a line (a "|" or a "•" is not one); for Chinese, Japanese, Korean or Thai,
    about two characters a word."""
    spaced = len(text.split()) - len(_SYMBOLS.findall(text))
    unspaced = len(_UNSPACED.findall(text))
    return spaced if unspaced < 4 else max(spaced, unspaced // 2)


def is_prose(line: str) -> bool:
    """A sentence of story text: long enough and ends like a sentence, or simply long."""
    n = _words(line)
    if n >= _LONG:
        return True
    return n >= 8 and line.rstrip()[-1:] in _SENTENCE_END


def _date_line(line: str) -> bool:
    if _RELATIVE_DATE.match(line):
        return True
    keyword = _DATE_KEYWORD.match(line)
    if not keyword:
        return False
    rest = line[keyword.end():]
    return not rest.strip() or bool(_RELATIVE_DATE.match(rest)) or _is_date_only(rest)


def is_furniture(line: str) -> bool:
    """A line that is page furniture wherever it sits (a caption, widget, counter, label...)."""
    n = _words(line)
    if not _WORD.search(line):
        return True
    if _CAPTION.match(line):
        return True  # captions can be long (they repeat the lede), their label gives them away
    if n >= _LONG:
        return False
    sentence = line.rstrip()[-1:] in ".!?”\"»。！？"
    if n <= 12 and _date_line(line):
        return True
    if n <= 6 and _COUNTER.search(line):
        return True
    if n <= 6 and not sentence and (_SHARE.match(line) or _LABEL.match(line)):
        return True
    if n <= 6 and (_PIXELS.search(line) or _AD.match(line)):
        return True
    if n <= 8 and (_PROMPT.match(line) or _is_date_only(line)):
        return True
    if n <= 20 and _CALL_TO_ACTION.match(line) and _SUBSCRIPTION.search(line):
        return True
    return False


def _is_date_only(line: str) -> bool:
    """A line that is nothing but a date or time ("20 Nov 2019, 10:42", "Monday 3 March")."""
    tokens = re.findall(r"[^\W\d_]+|\d+", line.lower())
    return (
        len(tokens) >= 2
        and any(t.isdigit() for t in tokens)
        and any(t in _DATE_WORDS or (t.isdigit() and len(t) == 4) for t in tokens)
        and all(t.isdigit() and len(t) <= 4 or t in _DATE_WORDS for t in tokens)
    )


def _is_byline(line: str) -> bool:
    return _words(line) <= 8 and bool(_BYLINE.match(line))


def _head_end(lines: list[str], flags: list[bool], title: str) -> int:
    """Index just past the furniture block that opens the body (0 when there is none).

    The block runs to the last furniture line among the first ``_HEAD_WINDOW`` lines that
    still has story text after it; it stops at the first story-length paragraph or sentence
    that is not the headline again.
    """
    end = 0
    title_key = word_key(title)
    for i, line in enumerate(lines[:_HEAD_WINDOW]):
        if flags[i]:
            if not all(flags[i + 1:]):
                end = i + 1
        elif _words(line) >= _LONG or (is_prose(line) and word_key(line) != title_key):
            break
    return end


def _title_like(line: str, title_words: set[str]) -> bool:
    """The headline again, perhaps reworded ("HS Roundup" for "High School Roundup")."""
    words = _WORD.findall(line.lower())
    if not words or not title_words or _words(line) >= _LONG or is_prose(line) and len(words) > 12:
        return False
    inside = sum(1 for w in words if w in title_words)
    return inside >= 0.7 * len(words) and inside >= 0.6 * len(title_words)


def clean_paragraphs(paragraphs: list[str], *, title: str = "", publisher: str = "") -> list[str]:
    """The story's paragraphs without the furniture around and inside it."""
    lines = [" ".join(p.split()) for p in paragraphs]
    lines = [p for p in lines if _WORD.search(p)]
    flags = [is_furniture(p) for p in lines]
    head = _head_end(lines, flags, title)
    body = [p for p, furniture in zip(lines[head:], flags[head:], strict=True) if not furniture]
    title_words = set(_WORD.findall(title.lower()))
    publisher_key = word_key(publisher)
    # What opens the body: bylines, the publisher's name and, when no furniture block came
    # first (after one, the story may well open with its headline's sentence), the headline.
    start = 0
    while start < len(body):
        line = body[start]
        if _is_byline(line) or (publisher_key and word_key(line) == publisher_key):
            start += 1
        elif start and _is_byline(body[start - 1]) and _words(line) <= 4 and not is_prose(line):
            start += 1  # the byline's second line: the author's outlet or role
        elif not head and _title_like(line, title_words):
            start += 1
        else:
            break
    body = body[start:]
    if body and not any(is_prose(p) for p in body) and sum(map(_words, body)) < 4 * len(body):
        return []  # a list of links or labels, not an article
    out: list[str] = []
    seen: set[str] = set()
    for p in body:
        key = word_key(p)
        if key in seen and _words(p) < _LONG:
            continue
        seen.add(key)
        out.append(p)
    return out


def is_truncated(paragraphs: list[str]) -> bool:
    """The body stops mid-sentence or mid-word (or with an ellipsis), as aggregator copies do."""
    if not paragraphs:
        return False
    last = paragraphs[-1].rstrip()
    if _TRUNCATION_MARK.search(last):
        return True
    return _words(last) >= 8 and last[-1:] not in _SENTENCE_END and not last[-1:].isdigit()


_TITLE_SEPARATORS = re.compile(r"\s+(?:[|–—·•»:]|-{1,2}|::)\s+")


def strip_title_suffix(title: str, *, publisher: str = "", domain: str = "") -> str:
    """The headline without " | Site name" (or "Site name - ") around it."""
    title = " ".join(title.split())
    names = {word_key(x) for x in (publisher, domain, domain.split(".")[0]) if x}
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        prefix, _, rest = title.partition(": ")  # "Site name: Headline"
        if rest.strip() and word_key(prefix) and word_key(prefix) in names:
            return rest.strip()
        return title

    squashed = {n.replace(" ", "") for n in names}

    def is_site(part: str) -> bool:
        key = word_key(part)
        if not key:
            return True
        if key in names or any(n and (n in key or key in n) for n in names):
            return True
        # "The Riverside Courier" on riversidecourier.example
        return any(len(n) >= 4 and n in key.replace(" ", "") for n in squashed)

    while len(parts) > 1 and is_site(parts[-1]):
        parts.pop()
    while len(parts) > 1 and is_site(parts[0]):
        parts.pop(0)
    if len(parts) > 1 and not names:
        # No site name known: a short last part after a pipe is the site's name.
        last = parts[-1]
        if _words(last) <= 4 and "|" in title:
            parts.pop()
    joined = title
    if parts:
        start = title.find(parts[0])
        end = title.rfind(parts[-1]) + len(parts[-1])
        joined = title[start:end] if start >= 0 and end > start else " - ".join(parts)
    return joined.strip()
