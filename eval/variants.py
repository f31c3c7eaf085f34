"""A second labelled dedupe set, built like ``dedupe/`` from other articles (`make eval`).

The labelled set ``$NEWSFLOW_EVAL_DATA/dedupe`` is what the dedupe rules were chosen on; a set
they never saw keeps them honest. This one takes the article texts of ``extraction-wceb/`` (other
outlets, other years, other languages) as originals and republishes some of them the ways the
labelled set shows copies appear on the web:

- an outlet's own update (same URL with a query, lines re-wrapped, a correction line added);
- an aggregator's brief (the first paragraphs and "Read more at <the outlet>");
- an excerpt (paragraphs from further down, and where to read the rest);
- an aggregator's re-post (page furniture and the lead repeated in front, the body cut off at a
  random point, mid-word or not, furniture after it);
- a wire copy (re-titled, straight quotes, the last paragraphs dropped, paragraphs re-flowed);

and adds the hard negatives it has: different stories that end with the same long boilerplate
paragraph. Texts, outlets, cut points and boilerplate are drawn with a fixed seed, so the set is
the same in every run; nothing in it is tuned to the rules. ``build(data_dir)`` returns
``(articles, gold)`` rows in the labelled set's format.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["build"]

AGGREGATORS = ("dailybrief.example", "newswall.example", "headlinehub.example")
WIRES = ("citypost.example", "morningledger.example", "valleytimes.example")
SYNDICATOR = "weeklydigest.example"
BOILERPLATE = (
    "About this digest: the stories above are selected by our editors from partner newsrooms "
    "and republished with their permission. Views expressed in them are those of the authors "
    "and not of the digest. To subscribe to the weekly edition, to report an error or to ask "
    "about republishing any of these stories in print or online, write to the editors; we "
    "answer every message within two working days."
)
CORRECTION = "Correction: this story has been updated to correct the spelling of a name."
FURNITURE = ("Share", "Share this:", "Share on:", "Share with:")


def _originals(data_dir: Path, rng: random.Random) -> list[dict[str, Any]]:
    """News texts of ``extraction-wceb`` as originals: headline line as title, the rest as
    paragraphs; texts too short or not prose-shaped are left out."""
    truth = json.loads((data_dir / "extraction-wceb" / "ground-truth.json").read_text())
    out = []
    for key in sorted(truth):
        item = truth[key]
        lines = [ln.strip() for ln in item["articleBody"].splitlines() if ln.strip()]
        paragraphs = [ln for ln in lines[1:] if len(ln.split()) >= 8]
        words = sum(len(p.split()) for p in paragraphs)
        if len(paragraphs) < 3 or words < 80:
            continue
        out.append({"url": item["url"], "title": lines[0][:120], "paragraphs": paragraphs})
    rng.shuffle(out)
    return out


def _source(url: str) -> str:
    host = url.split("/")[2].lower()
    return host.removeprefix("www.")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower())[:60].strip("-")


def _straight(text: str) -> str:
    return (text.replace("\u2019", "'").replace("\u2018", "'")
            .replace("\u201c", '"').replace("\u201d", '"'))


def _update(orig: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = "\n".join(p + (" " if rng.random() < 0.5 else "") for p in orig["paragraphs"])
    return {"url": orig["url"] + ("&" if "?" in orig["url"] else "?") + "updated=1",
            "source": orig["source"], "title": orig["title"],
            "body": f"{body}\n\n{CORRECTION}"}


def _brief(orig: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    kept, words = [], 0
    for p in orig["paragraphs"]:
        kept.append(p)
        words += len(p.split())
        if words >= rng.randint(50, 110):
            break
    host = rng.choice(AGGREGATORS)
    return {"url": f"https://{host}/brief/{rng.randrange(10**6)}", "source": host,
            "title": orig["title"],
            "body": "\n\n".join(kept) + f"\n\nRead more at {orig['source']}"}


def _excerpt(orig: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    paragraphs = orig["paragraphs"]
    start = rng.randrange(1, max(2, len(paragraphs) - 1))
    kept, words = [], 0
    for p in paragraphs[start:]:
        kept.append(p)
        words += len(p.split())
        if words >= rng.randint(60, 150):
            break
    host = rng.choice(AGGREGATORS)
    return {"url": f"https://{host}/excerpt/{rng.randrange(10**6)}", "source": host,
            "title": orig["title"],
            "body": "\n\n".join(kept) + f"\n\nRead the full story at {orig['source']}"}


def _repost(orig: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    text = "\n\n".join(orig["paragraphs"])
    lead = orig["paragraphs"][0]
    head = lead[:rng.randint(50, 90)]
    furniture = [head, rng.choice(FURNITURE), head,
                 f"  \u2022 Published{rng.randint(1, 9)} hour ago", "Related Topics",
                 "Image caption," + lead[:150]]
    if rng.random() < 0.5:  # cut off: at a random point, often mid-word
        text = text[: int(len(text) * rng.uniform(0.35, 0.95))]
    tail = [rng.choice(FURNITURE), f"Category: News View {rng.randint(20, 900)}"]
    host = rng.choice(AGGREGATORS)
    return {"url": f"https://{host}/news/{rng.randrange(10**6)}-{_slug(head)}", "source": host,
            "title": orig["title"], "body": "\n\n".join([*furniture, text, *tail])}


def _wire(orig: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    paragraphs = list(orig["paragraphs"])
    drop = rng.choice((0, 0, 1, 1, 2, 3))
    if len(paragraphs) - drop >= 3:
        paragraphs = paragraphs[: len(paragraphs) - drop]
    if len(paragraphs) > 3 and rng.random() < 0.3:  # two paragraphs run together
        i = rng.randrange(len(paragraphs) - 1)
        paragraphs[i: i + 2] = [paragraphs[i] + " " + paragraphs[i + 1]]
    choice = rng.random()
    title = orig["title"]
    if choice < 0.35:
        title = "UPDATE 1-" + title
    elif choice < 0.5:
        title = title.upper()
    elif choice < 0.7:  # re-titled: a phrase from further down
        words = rng.choice(orig["paragraphs"][1:]).split()
        title = " ".join(words[: rng.randint(6, 12)])
    host = rng.choice(WIRES)
    return {"url": f"https://{host}/2024/04/{rng.randint(1, 28):02d}/{_slug(orig['title'])}",
            "source": host, "title": _straight(title),
            "body": _straight("\n\n".join(paragraphs))}


_Maker = Callable[[dict[str, Any], random.Random], dict[str, Any]]
# How each kind of copy is made, and how often (from the counts in ``dedupe/``).
_MAKERS: tuple[tuple[_Maker, int], ...] = (
    (_update, 20), (_brief, 24), (_excerpt, 16), (_repost, 48), (_wire, 31))


def build(data_dir: Path, seed: int = 21, stories: int = 150,
          negatives: int = 8) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(articles, gold) rows: ``stories`` originals with their copies, then ``negatives``
    singletons sharing a boilerplate paragraph."""
    rng = random.Random(seed)
    originals = _originals(data_dir, rng)[: stories + negatives]
    start = datetime(2024, 4, 1, tzinfo=UTC)
    articles: list[dict[str, Any]] = []
    gold: list[dict[str, Any]] = []
    makers, weights = [m for m, _ in _MAKERS], [w for _, w in _MAKERS]
    for n, orig in enumerate(originals[:stories]):
        orig = {**orig, "source": _source(orig["url"])}
        when = start + timedelta(days=rng.randrange(28), minutes=rng.randrange(20 * 60))
        cluster = f"v{n:04d}"
        rows = [{"url": orig["url"], "source": orig["source"], "title": orig["title"],
                 "body": "\n\n".join(orig["paragraphs"]), "original": True, "at": when}]
        copies = rng.choices((0, 1, 2, 3), weights=(45, 32, 20, 8))[0]
        for maker in rng.choices(makers, weights=weights, k=copies):
            copy = maker(orig, rng)
            rows.append({**copy, "original": False,
                         "at": when + timedelta(minutes=rng.randint(20, 240))})
        for k, row in enumerate(rows):
            aid = f"{cluster}-{k}"
            articles.append({"id": aid, "url": row["url"], "title": row["title"],
                             "body": row["body"], "source": row["source"],
                             "published_at": row["at"].strftime("%Y-%m-%dT%H:%M:%SZ")})
            gold.append({"id": aid, "cluster": cluster, "original": row["original"]})
    when = start + timedelta(days=3, hours=9)
    for n, orig in enumerate(originals[stories:]):
        aid = f"n{n:04d}"
        articles.append({"id": aid, "url": f"https://{SYNDICATOR}/{_slug(orig['title'])}",
                         "title": orig["title"], "source": SYNDICATOR,
                         "body": "\n\n".join([*orig["paragraphs"], BOILERPLATE]),
                         "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
        gold.append({"id": aid, "cluster": aid, "original": True})
    order = list(range(len(articles)))
    rng.shuffle(order)
    return [articles[i] for i in order], [gold[i] for i in order]
