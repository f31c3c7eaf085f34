"""The demo site's hand-written stories, read from ``local/demo/`` (one text file per story).

Every person, place and organisation there is invented; the texts were written for this project,
so the demo site carries no third-party text. A story file has ``name: value`` header lines
(``topic``, ``title``, ``alt_title`` -- what a newspaper that syndicates the wire copy prints
instead --, ``byline``, ``dateline``, ``caption``), a blank line and four to eight paragraphs
separated by blank lines. Files are read in name order; the key is the name without its number.
Quotes are straight; the site generator curls them on originals and leaves them straight on wire
copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["FINANCE_DISCLAIMER", "SAME_EVENT", "STORIES", "BaseStory", "load_stories"]

DEMO_DIR = Path(__file__).resolve().parent / "demo"
_HEADERS = ("topic", "title", "alt_title", "byline", "dateline", "caption")


@dataclass(frozen=True)
class BaseStory:
    key: str
    topic: str
    title: str
    alt_title: str
    byline: str
    dateline: str
    caption: str
    paragraphs: tuple[str, ...]


def _paragraphs(text: str) -> tuple[str, ...]:
    return tuple(" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip())


def read_story(path: Path) -> BaseStory:
    """One story file (``ValueError`` naming the file when a header is missing)."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines() if line.strip())
    missing = [name for name in _HEADERS if name not in fields]
    if missing or not body.strip():
        raise ValueError(f"{path}: missing {', '.join(missing) or 'paragraphs'}")
    return BaseStory(
        key=path.stem.split("-", 1)[1], topic=fields["topic"], title=fields["title"],
        alt_title=fields["alt_title"], byline=fields["byline"], dateline=fields["dateline"],
        caption=fields["caption"], paragraphs=_paragraphs(body),
    )


def load_stories(folder: Path = DEMO_DIR / "stories") -> tuple[BaseStory, ...]:
    return tuple(read_story(path) for path in sorted(folder.glob("*.txt")))


STORIES: tuple[BaseStory, ...] = load_stories()
# The long boilerplate paragraph one outlet appends to every finance article: articles sharing
# only it are different stories.
FINANCE_DISCLAIMER = " ".join((DEMO_DIR / "finance-disclaimer.txt").read_text().split())
# Keys of two stories that report the same event independently: they must stay two stories.
SAME_EVENT = ("fire-eastmere-herald", "fire-eastmere-gazette")
