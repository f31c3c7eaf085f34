"""Builds the demo news web that ``make run``, ``make bench`` and the tests ingest.

newsflow needs a news web it can fetch without the internet and whose right answers are known:
which pages are copies of which story, when each was published, which feeds fail. This module
writes such a web as static files that ``local.siteserver`` serves on loopback.

How it works, in four steps (all driven by one seeded ``random.Random``, no network):

1. **Outlets** (``_outlets``): invented news sites. A wire agency writes originals that newspapers
   syndicate; newspapers write originals; an aggregator re-posts other outlets' articles like a
   scraper does; an excerpt site posts the first paragraphs with "Read more at ...".
2. **Stories**: the hand-written ones (``local/demo/stories/``, read by ``local.demostories``)
   first, then as many synthetic ones as needed (``synthetic_story``: sentence templates
   filled from word pools).
3. **Plan** (``_plan``): each original goes to a publishing outlet, then copies are added until
   ``copy_rate`` of all articles are copies: wire syndications (re-titled, dateline added, one
   paragraph cut, quotes straightened), aggregator re-posts (share widgets, "Published 2 hours
   ago", caption, body cut mid-word, view counter) and excerpts. Outlets are filled evenly.
4. **Render**: one HTML page per article (layout per outlet: ``classic`` with ``<time>``,
   ``jsonld`` with JSON-LD, ``meta`` with ``article:published_time``, ``wire``, ``aggregator``,
   ``excerpt``), one feed per outlet (RSS 2.0, Atom 1.0 or RSS 1.0/RDF), ``feeds.txt`` and
   ``expected.json``.

Everything is served from one loopback host, so an outlet is a path prefix:
``/pages/<domain>/...``. Pages say which outlet they belong to with ``og:site_name`` (the
outlet's name) and, for outlets that declare one, ``rel=canonical``/``og:url`` pointing at
``https://<domain>/...``, an address that is never fetched. Feeds link to ``{BASE}/pages/...``
(the server puts its own URL in place of ``{BASE}``); some links carry ``utm_*`` parameters.

``expected.json`` holds, per article: ``url`` (the canonical URL when the page declares one,
else the ``{BASE}`` page URL), ``link`` (the exact link in the feed), ``path``, ``story``,
``original``, ``published_at`` (UTC), ``title``, ``outlet``, ``kind`` and ``page_date`` (how the
page shows its date: ``time``, ``jsonld``, ``meta``, ``relative`` or ``text``); per story its
article ids; per feed its outlet, format and state (``ok``, ``malformed``, ``broken``, ``slow``);
and ``must_not_merge``, pairs of articles that are different stories although they look alike.
Dates are fixed (articles fall in the two weeks before ``BASE_TIME``), so the output is
byte-for-byte reproducible; only aggregator pages say "N hours ago", which a reader resolves
against the time it fetched the page.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from local.demostories import FINANCE_DISCLAIMER, SAME_EVENT, STORIES, BaseStory

__all__ = [
    "BASE_TIME",
    "SiteManifest",
    "build_site",
    "build_synthetic_web",
    "synthetic_story",
]

# The site's "now": every article is published in the two weeks before it.
BASE_TIME = datetime(2024, 6, 14, 18, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Outlets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    domain: str  # "dailyherald.example": the path prefix and the canonical host
    name: str  # "The Daily Herald": og:site_name
    role: str  # wire | newspaper | aggregator | excerpts
    layout: str  # classic | jsonld | meta | wire | aggregator | excerpt
    feed_format: str  # rss | atom | rdf
    tz: timezone  # the zone its feed and page dates are written in
    canonical: bool = True  # pages declare rel=canonical and og:url
    tracking: bool = False  # feed links carry utm_* parameters
    undated_every: int = 0  # every n-th feed entry has no date (0: all dated)
    malformed: bool = False  # feed is not well-formed XML but still readable
    topics: tuple[str, ...] = ()  # topics it prefers for originals (finance desk, ...)

    @property
    def feed_file(self) -> str:
        return f"feeds/{self.domain}.{self.feed_format}"


def _tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


# The named outlets of the demo, most important first: a site with fewer feeds keeps the first.
_NAMED_OUTLETS: tuple[Outlet, ...] = (
    Outlet("cpa.example", "Continental Press Agency", "wire", "wire", "rss", _tz(0)),
    Outlet("dailyherald.example", "The Daily Herald", "newspaper", "classic", "rss", _tz(1),
           tracking=True, undated_every=7),
    Outlet("newshub24.example", "NewsHub24", "aggregator", "aggregator", "rss", _tz(3),
           canonical=False, undated_every=5),
    Outlet("northgazette.example", "The Northern Gazette", "newspaper", "jsonld", "atom", _tz(2)),
    Outlet("briefly.example", "Briefly", "excerpts", "excerpt", "atom", _tz(0),
           undated_every=4),
    Outlet("rivertontimes.example", "Riverton Times", "newspaper", "meta", "rdf", _tz(-5),
           canonical=False),
    Outlet("metroledger.example", "Metro Ledger", "newspaper", "classic", "rss", _tz(0),
           topics=("economy",)),
    Outlet("coastalpost.example", "The Coastal Post", "newspaper", "jsonld", "atom", _tz(-8),
           tracking=True),
    Outlet("valleyobserver.example", "Valley Observer", "newspaper", "meta", "rss", _tz(5.5),
           malformed=True, undated_every=6),
)
_NAME_HEADS = ("Morning", "Evening", "County", "Harbour", "Valley", "Northern", "Western",
               "City", "Island", "Border", "Lakeside", "Highland", "Market", "River")
_NAME_TAILS = ("Chronicle", "Courier", "Sentinel", "Tribune", "Echo", "Mercury", "Register",
               "Dispatch", "Bulletin", "Standard", "Examiner", "Journal", "Star", "Record")
_LAYOUTS = ("classic", "jsonld", "meta")
_FORMATS = ("rss", "atom", "rdf")


def _outlets(count: int) -> list[Outlet]:
    """``count`` outlets: the named ones first, then generated ones."""
    outlets = list(_NAMED_OUTLETS[:count])
    i = 0
    while len(outlets) < count:
        head, tail = _NAME_HEADS[i % len(_NAME_HEADS)], _NAME_TAILS[i // len(_NAME_HEADS) % 14]
        suffix = "" if i < len(_NAME_HEADS) * len(_NAME_TAILS) else str(i)
        domain = f"{head}{tail}{suffix}".lower() + ".example"
        # One in ten is a wire agency, one in ten an aggregator, one in ten an excerpt site.
        role, layout = {0: ("wire", "wire"), 4: ("aggregator", "aggregator"),
                        7: ("excerpts", "excerpt")}.get(i % 10, ("newspaper", _LAYOUTS[i % 3]))
        outlets.append(Outlet(
            domain, f"The {head} {tail}{suffix}", role, layout, _FORMATS[i % 3],
            _tz((i % 25) - 12), canonical=i % 4 != 3 and role != "aggregator",
            tracking=i % 5 == 0, undated_every=7 if i % 6 == 0 else 0,
        ))
        i += 1
    return outlets


# --------------------------------------------------------------------------------------------
# Synthetic stories
# --------------------------------------------------------------------------------------------

_FIRST = ("Anna", "Boris", "Chloe", "Dmitri", "Esther", "Farah", "Gustav", "Helena", "Idris",
          "Julia", "Kenji", "Lucia", "Mateo", "Nora", "Osman", "Paula", "Quentin", "Rosa",
          "Stefan", "Tamsin", "Umar", "Vera", "Wilhelm", "Ximena", "Yusuf", "Zara", "Arjun",
          "Bianca", "Cormac", "Delphine", "Emeka", "Freya", "Goran", "Hiroko", "Ines", "Jakob")
_LAST = ("Abernethy", "Bergstrom", "Carvalho", "Dragomir", "Eklund", "Fontaine", "Gallagher",
         "Hakimi", "Ivanova", "Jaramillo", "Kerrigan", "Lindholm", "Moreau", "Nakamura",
         "Oyelaran", "Pellegrini", "Quigley", "Rasmussen", "Sandoval", "Thorne", "Urquhart",
         "Valdez", "Wexley", "Yilmaz", "Zielinski", "Ashdown", "Brightman", "Castell", "Dunmore")
_PLACES = ("Ashcombe", "Brackenford", "Coldharbour", "Dunmere", "Elmstead", "Fallowfield",
           "Greywater", "Hollins Cross", "Ironbridge Vale", "Juniper Bay", "Kestrel Point",
           "Larkhill", "Marlow Sands", "Netherby", "Oakhaven", "Pennock", "Quarry Bank",
           "Redmarsh", "Stonebridge", "Thornbury", "Upper Wick", "Vennel", "Wolfhollow",
           "Yarrowdale", "Amberley Cove", "Bishopsgate Moor", "Cinderford", "Draycott")
_ORG_KINDS = ("district council", "water board", "hospital trust", "harbour company",
              "university", "transport authority", "chamber of commerce", "police service",
              "fire service", "housing association", "energy cooperative", "school board",
              "county court", "farmers' union", "tourism office", "parish council")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_SAID = ("said", "told reporters", "explained", "insisted", "added", "argued", "noted",
         "told a briefing", "wrote in a statement", "acknowledged")
_OPENERS = ("On {weekday},", "Late on {weekday},", "Earlier this {period},", "In {month},",
            "Speaking in {place2},", "In a statement,", "By the end of {month},",
            "According to the {org2},", "For the first time,", "After months of delay,",
            "Behind the scenes,", "Meanwhile,", "As expected,", "Unusually,")
_TAILS = (", officials {said}", ", a figure disputed by the {org2}", ", {person2} {said}",
          ", according to documents seen by {paper}", ", local reports suggest",
          " after a {n2}-minute meeting", ", sources in {place2} {said}")

# Per topic: (headline templates, sentence templates, things the story can be about). In a
# template, "[a|b|c]" is one of a, b, c, picked for each sentence, so that no two synthetic
# stories share long runs of words (a dedupe step must not merge them).
_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "politics": (
        ("{place} {org} [votes to approve|backs|signs off] {thing} plan",
         "[Row|Dispute|Argument] over {thing} splits {place}",
         "{person} [promises|orders|calls for] review of {thing} in {place}"),
        ("Members of the {place} {org} [voted|decided] {n} to {n2} [in favour of|to back] the "
         "{thing} [proposal|plan|scheme]",
         "The {thing} [scheme|idea|project] had been [discussed|debated|argued over] for {n2} "
         "[months|weeks] before the [vote|decision]",
         "[Opposition members|Critics|Several councillors] [argued|said|warned] that {amount} "
         "[would be better spent|was better used|should go] on {thing2}",
         "A [public consultation|survey] on the {thing} [drew|attracted|received] {n3} "
         "[responses|replies|submissions], [most|many|nearly half] of them critical",
         "\"We have [listened to|heard from|consulted] [residents|people|families] of {place},\" "
         "said {person}, who [chairs|leads|sits on] the [committee|panel|board]",
         "The {org} will [publish|release|set out] a [full|detailed|revised] timetable for the "
         "{thing} work [in|by|before] {month}",
         "{person2} [called|described] the {thing} decision [rushed|premature|reckless] and "
         "[badly explained|poorly costed|unfair to {place2}]",
         "The vote [followed|came after|ended] a {n2}-hour [debate|session|sitting]"),
        ("parking", "school transport", "town centre", "recycling", "street lighting",
         "allotment", "market hall", "cycle lane", "youth centre", "harbour wall", "library",
         "bus shelter", "pedestrian zone", "council tax"),
    ),
    "economy": (
        ("{place} [firm|company|business] to create {n3} jobs with new {thing} site",
         "{thing} sales in {place} [rise|climb|jump] {pct} per cent",
         "{org} [warns|raises alarm] on {thing} costs"),
        ("The [company|firm|group] [expects|hopes|plans] to [hire|recruit|take on] {n3} "
         "[people|staff|workers] at its {thing} [site|plant|depot] in {place}",
         "Sales of {thing} [rose|grew|climbed] by {pct} per cent in the [last|latest|third] "
         "quarter",
         "The [investment|deal|expansion] of {amount} is the [largest|biggest] in {place} for "
         "{n2} years",
         "\"Demand for {thing} has [never been stronger|surprised us|kept growing],\" said "
         "[chief executive|managing director|founder] {person}",
         "[Analysts|Economists|Bankers] at the {org} [cautioned|warned|noted] that {thing2} "
         "costs had [risen|climbed|grown] faster than prices",
         "Shares in the group [rose|fell|jumped|slipped] {pct} per cent [after|following] the "
         "[announcement|results|news]",
         "{person2}, [an economist|a trader|an analyst] in {place2}, [said|noted] the figures "
         "were [better|worse|weaker|stronger] than [expected|forecast]",
         "[Suppliers|Wholesalers|Retailers] in {place} [said|reported] [orders|demand] for "
         "{thing} had [doubled|tripled|halved] since {month}"),
        ("timber", "solar panel", "bicycle", "cheese", "software", "ferry ticket", "fertiliser",
         "furniture", "heat pump", "wool", "glass bottle", "electric van", "paint", "rope"),
    ),
    "health": (
        ("{place} hospital [opens|unveils|launches] new {thing} [unit|clinic|centre]",
         "Waiting lists for {thing} [fall|shrink|grow] in {place}",
         "{org} [launches|starts|backs] {thing} campaign"),
        ("The new {thing} [unit|clinic|centre] at {place} will [treat|see|care for] up to {n3} "
         "patients a year",
         "{person}, a [consultant|nurse|surgeon|manager] at the {org}, [said|reported] waiting "
         "times had "
         "[fallen|dropped|risen] by {pct} per cent",
         "\"[Patients|Families|People] in {place} [deserve|need|should have] care close to "
         "home,\" {person} {said}",
         "The [unit|clinic|centre] cost {amount} and was [partly|largely] paid for by "
         "[local fundraising|a charity appeal|a {place2} benefactor]",
         "[Nurses|Staff|Porters] told {person2} that [staffing|pay|morale] on the {thing} "
         "[ward|team|service] remained a [concern|worry|problem]",
         "[Appointments|Bookings|Referrals] [can be made|open|start] from {weekday}",
         "Figures for {month} show {n3} people waited more than {n2} weeks for {thing} "
         "[care|treatment|tests]",
         "{n} extra [specialists|nurses|doctors] will join the {thing} team [this year|soon|"
         "in {month}]"),
        ("cancer", "eye", "maternity", "stroke", "dialysis", "dental", "physiotherapy",
         "children's", "hearing", "sleep", "skin", "heart", "memory", "allergy"),
    ),
    "sport": (
        ("{place} [clinch|seal|win] {thing} title on final day",
         "{person} [double|brace|hat-trick] [sinks|stuns|beats] {place2}",
         "{place} {thing} club [names|appoints|hires] {person} as coach"),
        ("{place} [won|triumphed] {n}-{n4} [on {weekday}|at home|away] to [take|claim|secure] "
         "the {thing} title",
         "{person} [scored|struck] [twice|two goals] in the [second half|closing minutes] in "
         "front of {n3} [supporters|fans|spectators]",
         "\"I have [waited|dreamed of this for|worked] {n2} years for a day like this,\" said "
         "[captain|veteran|striker] {person}",
         "The [visitors|hosts|away side] had [led|gone ahead] through {person2} [before the "
         "break|early on|after {n5} minutes]",
         "It is the first {thing} [trophy|title|cup] for {place} since the club was "
         "[founded|formed|relegated]",
         "The {org} confirmed that the [ground|stadium|stand] would be [expanded|rebuilt|"
         "renovated] by {month}",
         "{person2} was [sent off|booked|substituted] in the {n5}th minute",
         "Ticket sales for the {thing} final [rose|increased|grew] by {pct} per cent on last "
         "[season|year]"),
        ("hockey", "rugby", "netball", "football", "cricket", "rowing", "basketball",
         "volleyball", "handball", "cycling", "water polo", "lacrosse", "curling", "bowls"),
    ),
    "science": (
        ("{place} researchers [make|claim|report] {thing} breakthrough",
         "New {thing} study from {place} [surprises|puzzles|divides] experts",
         "{person} [wins|collects|shares] prize for {thing} research"),
        ("Researchers at the {place} {org} say their {thing} [results|findings|data] could "
         "[change|reshape|upend] the field",
         "The team, led by {person}, [studied|analysed|sampled] {n3} [samples|sites|specimens] "
         "over {n2} months",
         "\"We did not expect the {thing} [effect|signal|response] to be this [large|clear|"
         "strong],\" {person} {said}",
         "The work was [funded|paid for|backed] by a grant of {amount} and [published|released"
         "] in {month}",
         "{person2}, who was not involved, [said|cautioned] the findings [needed|would need] to be "
         "[repeated|replicated|checked]",
         "The next [phase|stage|step] will test the {thing} [method|technique|model] in {n} "
         "[laboratories|countries|hospitals]",
         "[Results|Tests|Measurements] showed an improvement of {pct} per cent [compared with|"
         "over|against] older methods",
         "Students from {place2} helped [collect|gather|record] the {thing} data on {weekday} "
         "[field trips|visits|surveys]"),
        ("soil", "battery", "glacier", "bee", "vaccine", "telescope", "coral", "protein",
         "algae", "seismic", "fungus", "microplastic", "bat", "peat"),
    ),
}
_GENERAL_SENTENCES = (
    "[Residents|People|Businesses] of {place} will be able to [comment on|object to|respond to]"
    " the plans until {month}",
    "A [spokesperson|spokeswoman|spokesman] for the {org2} [declined to comment|said nothing] "
    "further on {weekday}",
    "The [decision|plan|matter] is [expected|due|likely] to be [reviewed|revisited] in {n2} "
    "[months|weeks]",
    "[Local|Small|Family] businesses in {place} have [welcomed|criticised|questioned] the news",
    "Further details will be [set out|given|explained] at a [public meeting|briefing|drop-in "
    "session] in {place2} on {weekday}",
    "{person} [added|noted] that the {org} had [received|logged] {n3} [letters|complaints|"
    "emails] about the [issue|matter|{thing}]",
)
_PAPERS = ("this paper", "the Evening Star", "local radio", "the Courier", "our reporters")


class _Slots(dict[str, object]):
    """The story's cast, plus a fresh random value for any other slot a sentence names."""

    _MAKERS: dict[str, Any] = {
        "said": lambda r: r.choice(_SAID), "month": lambda r: r.choice(_MONTHS),
        "weekday": lambda r: r.choice(_WEEKDAYS), "paper": lambda r: r.choice(_PAPERS),
        "period": lambda r: r.choice(("year", "month", "spring", "week")),
        "n": lambda r: r.randint(2, 9), "n2": lambda r: r.randint(10, 48),
        "n3": lambda r: r.randint(120, 9800), "n4": lambda r: r.randint(0, 1),
        "n5": lambda r: r.randint(11, 89), "pct": lambda r: r.randint(3, 61),
    }

    def __init__(self, cast: dict[str, str], rng: random.Random) -> None:
        super().__init__(cast)
        self.rng = rng

    def __missing__(self, key: str) -> object:
        value = self[key] = self._MAKERS[key](self.rng)
        return value


def _expand(template: str, rng: random.Random) -> str:
    """Pick one alternative in every ``[a|b|c]`` (no nesting)."""
    return re.sub(r"\[([^\[\]]*)\]", lambda m: rng.choice(m.group(1).split("|")), template)


def synthetic_story(rng: random.Random, key: str) -> BaseStory:
    """A plausible invented story filled in from the word pools; distinct for each draw."""
    topic = rng.choice(sorted(_TOPICS))
    titles, sentences, things = _TOPICS[topic]
    place, place2, other = rng.sample(_PLACES, 3)
    person, person2, author = (f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(3))
    thing, thing2 = rng.sample(things, 2)
    org, org2 = rng.sample(_ORG_KINDS, 2)
    cast = {"place": place, "place2": place2, "person": person, "person2": person2,
            "thing": thing, "thing2": thing2, "org": org, "org2": org2,
            "amount": f"{rng.randint(2, 900)} million crowns"}

    def fill(template: str, sentence: bool = True) -> str:
        values = _Slots(cast, rng)
        text = _expand(template, rng)
        if not sentence:
            return text.format_map(values)
        if '"' not in text and rng.random() < 0.4:
            text = rng.choice(_OPENERS) + " " + text[0].lower() + text[1:]
        if '"' not in text and rng.random() < 0.35:
            text += rng.choice(_TAILS)
        text = text.format_map(values)
        return text[0].upper() + text[1:] + ("" if text.endswith('"') else ".")

    # Topic sentences first (the lede is one of them), the general ones at the end.
    pool = rng.sample(sentences, len(sentences)) + rng.sample(_GENERAL_SENTENCES, 3)
    paragraphs = []
    for _ in range(rng.randint(4, 6)):
        count = min(len(pool), rng.randint(2, 3))
        paragraphs.append(" ".join(fill(pool.pop(0)) for _ in range(count)))
        if not pool:
            break
    title = fill(rng.choice(titles), sentence=False)
    title = title[0].upper() + title[1:]
    return BaseStory(
        key=key, topic=topic, title=title, alt_title=f"{title}, {other} reacts",
        byline=author, dateline=place.upper(),
        caption=f"A view of {place} earlier this {rng.choice(('spring', 'year', 'month'))}",
        paragraphs=tuple(paragraphs),
    )

# --------------------------------------------------------------------------------------------
# The plan: which article goes where
# --------------------------------------------------------------------------------------------


@dataclass
class PlannedArticle:
    id: str  # a00001
    story_id: str  # s0001
    story: BaseStory
    outlet: Outlet
    kind: str  # original | wire | aggregator | excerpt
    published_at: datetime
    source: Outlet | None = None  # the outlet of the original, for copies
    path: str = ""  # pages/<domain>/....html
    canonical: str | None = None  # https://<domain>/... when the page declares one
    link: str = ""  # the feed's link: {BASE}/pages/...[?utm_...]
    title: str = ""
    paragraphs: tuple[str, ...] = ()
    page_date: str = "time"  # how the page shows its date

    @property
    def original(self) -> bool:
        return self.kind == "original"

    @property
    def page_url(self) -> str:
        return "{BASE}/" + self.path

    @property
    def url(self) -> str:
        return self.canonical or self.page_url


@dataclass
class SiteManifest:
    """What ``build_site`` wrote: the feeds, the articles and the right answers."""

    root: Path
    feeds: list[dict[str, Any]]  # {"url": "{BASE}/feeds/...", "outlet", "format", "state"}
    articles: dict[str, dict[str, Any]]  # article id -> its entry in expected.json
    stories: dict[str, list[str]]  # story id -> article ids
    must_not_merge: list[list[str]] = field(default_factory=list)

    def feed_urls(self, base_url: str) -> list[str]:
        """The URLs of ``feeds.txt`` for a server at ``base_url``."""
        return [f["url"].replace("{BASE}", base_url.rstrip("/")) for f in self.feeds]

    @property
    def copy_count(self) -> int:
        return sum(1 for a in self.articles.values() if not a["original"])


_PUBLISHING_ROLES = ("wire", "newspaper")
_COPY_KINDS = {"newspaper": "wire", "aggregator": "aggregator", "excerpts": "excerpt"}


def _uncarried(
    sources: list[PlannedArticle], host: Outlet, by_story: dict[str, list[PlannedArticle]],
    rng: random.Random,
) -> PlannedArticle | None:
    """A random original whose story ``host`` does not carry yet, or None."""
    def free(a: PlannedArticle) -> bool:
        return all(c.outlet.domain != host.domain for c in by_story[a.story_id])

    for _ in range(20):
        if sources and free(pick := rng.choice(sources)):
            return pick
    return next((a for a in sources if free(a)), None)


def _plan(
    outlets: list[Outlet], stories: list[BaseStory], copies: int, rng: random.Random
) -> list[PlannedArticle]:
    """Originals for every story, then ``copies`` copies, keeping outlets evenly filled."""
    fill: Counter[str] = Counter()
    publishers = [o for o in outlets if o.role in _PUBLISHING_ROLES] or outlets[:1]
    articles: list[PlannedArticle] = []
    by_story: dict[str, list[PlannedArticle]] = {}

    def least_filled(candidates: list[Outlet]) -> Outlet:
        low = min(fill[o.domain] for o in candidates)
        return rng.choice([o for o in candidates if fill[o.domain] == low])

    def add(article: PlannedArticle) -> None:
        fill[article.outlet.domain] += 1
        articles.append(article)
        by_story.setdefault(article.story_id, []).append(article)

    for n, story in enumerate(stories):
        lowest = min(fill[o.domain] for o in publishers)
        # A desk that covers the topic (the finance desk) gets it unless it is already ahead.
        preferred = [o for o in publishers
                     if story.topic in o.topics and fill[o.domain] <= lowest + 1]
        # The two independent reports of one event must come from two outlets.
        taken = {a.outlet.domain for a in articles
                 if a.story.key in SAME_EVENT} if story.key in SAME_EVENT else set()
        candidates = [o for o in preferred or publishers if o.domain not in taken] or publishers
        when = BASE_TIME - timedelta(minutes=rng.randint(90, 14 * 24 * 60))
        add(PlannedArticle("", f"s{n + 1:04d}", story, least_filled(candidates), "original",
                           when))

    # Copies: the least-filled outlet that can carry one gets the next, of the kind it makes
    # (newspapers syndicate wire stories; aggregators and excerpt sites take any story).
    originals = list(articles)
    wire_originals = [a for a in originals if a.outlet.role == "wire"]
    hosts = [o for o in outlets if o.role in _COPY_KINDS]
    while copies > 0 and hosts:
        host = least_filled(hosts)
        if host.role == "newspaper":
            sources = wire_originals
        else:  # wire stories are the ones most often copied, as on the real web
            sources = wire_originals if wire_originals and rng.random() < 0.5 else originals
        source = _uncarried(sources, host, by_story, rng)
        if source is None and host.role != "newspaper":
            source = _uncarried(originals, host, by_story, rng)
        if source is None:
            hosts.remove(host)
            continue
        when = source.published_at + timedelta(minutes=rng.randint(15, 6 * 60))
        when = min(when, BASE_TIME - timedelta(minutes=1))  # nothing after the site's "now"
        add(PlannedArticle("", source.story_id, source.story, host, _COPY_KINDS[host.role],
                           when, source=source.outlet))
        copies -= 1

    for n, article in enumerate(articles):
        article.id = f"a{n + 1:05d}"
    return articles


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _slug(text: str, words: int = 8) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())[:words]) or "story"


def _curly(text: str) -> str:
    """Typographic quotes, as an original's CMS prints them."""
    text = re.sub(r'"(?=\w|[\'(])', "\u201c", text)
    return text.replace('"', "\u201d").replace("'", "\u2019")


def _cut_mid_word(text: str, rng: random.Random) -> str:
    """``text`` cut inside a word somewhere in its last third, as scrapers do."""
    words = list(re.finditer(r"[A-Za-z]{5,}", text))
    tail = [m for m in words if m.start() > len(text) * 0.6] or words
    if not tail:
        return text
    m = rng.choice(tail)
    return text[: m.start() + 2]


def _prepare(article: PlannedArticle, rng: random.Random, used: set[str]) -> None:
    """Decide the path, canonical URL, feed link, title, paragraphs and date style."""
    story, outlet, when = article.story, article.outlet, article.published_at
    paragraphs = list(story.paragraphs)
    title = story.title
    if article.kind == "original":
        paragraphs = [_curly(p) for p in paragraphs]
        title = _curly(title)
        if "economy" in outlet.topics:
            paragraphs.append(FINANCE_DISCLAIMER)
    elif article.kind == "wire":
        title = story.alt_title
        if len(paragraphs) >= 5:
            del paragraphs[rng.randint(2, len(paragraphs) - 2)]
        else:
            paragraphs.pop()
        source = article.source.name if article.source else "wire"
        tag = "".join(w[0] for w in source.split() if w[0].isupper())
        paragraphs[0] = f"{story.dateline} ({tag}) \u2014 {paragraphs[0]}"
    elif article.kind == "aggregator":
        paragraphs = [_curly(p) for p in paragraphs]
        title = _curly(title)
        keep = max(3, len(paragraphs) - 1)
        paragraphs = paragraphs[:keep]
        paragraphs[-1] = _cut_mid_word(paragraphs[-1], rng)
    elif article.kind == "excerpt":
        paragraphs = [_curly(p) for p in paragraphs[:2]]
        title = _curly(title)

    local = when.astimezone(outlet.tz)
    if outlet.role == "aggregator":
        path = f"pages/{outlet.domain}/news/{rng.randint(100000, 999999)}.html"
    elif outlet.role == "excerpts":
        path = f"pages/{outlet.domain}/b/{_slug(title, 6)}.html"
    else:
        path = f"pages/{outlet.domain}/{local:%Y/%m/%d}/{_slug(title)}.html"
    base, n = path, 2
    while path in used:
        path = base.replace(".html", f"-{n}.html")
        n += 1
    used.add(path)

    article.path = path
    article.title = title
    article.paragraphs = tuple(paragraphs)
    if outlet.canonical:
        article.canonical = f"https://{outlet.domain}/" + path.split("/", 2)[2].removesuffix(
            ".html")
    article.link = article.page_url
    if outlet.tracking:
        article.link += f"?utm_source=rss&utm_medium=feed&utm_campaign={_slug(outlet.name, 2)}"
    article.page_date = {"jsonld": "jsonld", "meta": "meta", "aggregator": "relative"}.get(
        outlet.layout, "time")


# --------------------------------------------------------------------------------------------
# HTML pages
# --------------------------------------------------------------------------------------------

_NAV = ("News", "World", "Business", "Sport", "Culture", "Opinion", "Weather")
_COOKIE = (
    '<div class="cookie-banner" role="dialog" aria-label="Cookies"><p>We and our partners use '
    "cookies to personalise content and ads, to provide social media features and to analyse our "
    'traffic.</p><button class="accept">Accept all</button> <button class="manage">Manage '
    "preferences</button></div>"
)


def _share(url: str) -> str:
    u = escape(url)
    return (f'<div class="share" aria-label="Share this article"><span>Share</span> '
            f'<a href="https://facebook.example/sharer?u={u}">Facebook</a> '
            f'<a href="https://x.example/intent?url={u}">X</a> '
            f'<a href="mailto:?subject=Shared%20article&amp;body={u}">Email</a> '
            '<button class="copy-link">Copy link</button></div>')


def _human(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}, {when:%H:%M}"


def _body(paragraphs: tuple[str, ...], promo: bool) -> str:
    parts = []
    for n, p in enumerate(paragraphs):
        parts.append(f"<p>{escape(p, quote=False)}</p>")
        if promo and n == 1:
            parts.append('<aside class="promo"><a href="/newsletters">Get the morning briefing '
                         "in your inbox - sign up to our free newsletter</a></aside>")
    return "".join(parts)


def _jsonld(a: PlannedArticle, local: datetime) -> str:
    data = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": a.title,
        "datePublished": local.isoformat(), "dateModified": local.isoformat(),
        "author": [{"@type": "Person", "name": a.story.byline}],
        "publisher": {"@type": "Organization", "name": a.outlet.name},
        "mainEntityOfPage": a.url, "articleSection": a.story.topic.title(),
    }
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def _page(a: PlannedArticle, related: list[PlannedArticle], rng: random.Random) -> str:
    outlet, story = a.outlet, a.story
    local = a.published_at.astimezone(outlet.tz)
    head = [f'<meta charset="utf-8"><title>{escape(a.title)} | {escape(outlet.name)}</title>',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta property="og:site_name" content="{escape(outlet.name)}">',
            f'<meta property="og:title" content="{escape(a.title)}">',
            '<meta property="og:type" content="article">',
            '<link rel="stylesheet" href="/static/site.css">']
    if a.canonical:
        head.append(f'<link rel="canonical" href="{escape(a.canonical)}">')
        head.append(f'<meta property="og:url" content="{escape(a.canonical)}">')
    byline = story.byline
    if a.kind == "wire" and a.source:
        byline = f"{story.byline}, {a.source.name}"
    time_tag = f'<time datetime="{local.isoformat()}">{_human(local)}</time>'
    caption = escape(story.caption)
    figure = (f'<figure><img src="/img/{_slug(story.caption, 4)}.jpg" alt="{caption}">'
              f"<figcaption>{caption}</figcaption></figure>")

    if outlet.layout == "aggregator":
        article = _aggregator_article(a, rng)
    elif outlet.layout == "excerpt":
        assert a.source is not None
        home = a.source.domain
        article = (f"<article><h1>{escape(a.title)}</h1><p class=\"meta\">{time_tag}</p>"
                   f"{_body(a.paragraphs, False)}<p class=\"read-more\">Read more at "
                   f'<a href="https://{home}/">{home}</a></p></article>')
    else:
        if outlet.layout == "jsonld":
            head.append(_jsonld(a, local))
            dateline = f'<p class="published">Published {local.day} {local:%B %Y}</p>'
        elif outlet.layout == "meta":
            head.append(f'<meta property="article:published_time" content="{local.isoformat()}">')
            head.append(f'<meta name="author" content="{escape(byline)}">')
            dateline = f'<p class="published">{local:%B} {local.day}, {local:%Y}</p>'
        else:
            dateline = f'<p class="published">{time_tag}</p>'
        credit = ""
        if a.kind == "wire" and a.source:
            credit = (f'<p class="credit">\u00a9 {local:%Y} {escape(a.source.name)}. '
                      "All rights reserved.</p>")
        article = (f'<article><p class="kicker">{escape(story.topic.title())}</p>'
                   f"<h1>{escape(a.title)}</h1>"
                   f'<div class="meta"><span class="byline">By <a rel="author" '
                   f'href="/authors/{_slug(story.byline, 3)}">{escape(byline)}</a></span>'
                   f"{dateline}</div>{_share(a.url)}{figure}"
                   f'<div class="article-body">{_body(a.paragraphs, outlet.layout == "classic")}'
                   f"</div>{credit}</article>")

    links = "".join(f'<li><a href="/{r.path}">{escape(r.title)}</a></li>' for r in related)
    nav = "".join(f'<li><a href="/pages/{outlet.domain}/{s.lower()}/">{s}</a></li>' for s in _NAV)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head>{"".join(head)}</head><body>{_COOKIE}'
        f'<header class="site-header"><a class="logo" href="/pages/{outlet.domain}/">'
        f"{escape(outlet.name)}</a><nav><ul>{nav}</ul></nav>"
        '<form class="search" action="/search"><input name="q" placeholder="Search"></form>'
        f"</header><main>{article}"
        f'<section class="related"><h2>More from {escape(outlet.name)}</h2><ul>{links}</ul>'
        f'</section></main><footer><p>\u00a9 {BASE_TIME:%Y} {escape(outlet.name)}. '
        '<a href="/about">About us</a> <a href="/privacy">Privacy policy</a> '
        '<a href="/cookies">Cookie settings</a> <a href="/contact">Contact</a></p></footer>'
        "</body></html>\n"
    )


def _aggregator_article(a: PlannedArticle, rng: random.Random) -> str:
    """A re-post in the style of the seed example: widgets around a scraped article."""
    story = a.story
    hours = rng.randint(1, 5)
    ago = f"{hours} hour{'s' if hours > 1 else ''} ago"
    source = a.source.name if a.source else ""
    share = ('<div class="share-bar">Share with: <a href="#fb">Facebook</a> '
             '<a href="#tw">Twitter</a> <a href="#wa">WhatsApp</a></div>')
    return (
        f'<div class="post"><h1 class="post-title">{escape(a.title)}</h1>{share}'
        f'<div class="source-block"><h2>{escape(a.title)}</h2>'
        f'<ul class="meta"><li><span class="label">Published</span><span>{ago}</span></li></ul>'
        '<div class="topics">Related Topics</div>'
        f'<figure><img src="/img/{rng.randint(1000, 9999)}.jpg" alt="{escape(story.caption)}">'
        f'<figcaption><span class="hidden">Image caption,</span>{escape(story.caption)}'
        f'</figcaption></figure><p class="byline">By {escape(story.byline)}</p>'
        f'<p class="outlet">{escape(source)}</p>{_body(a.paragraphs, False)}</div>'
        '<div class="share-bar">Share with:</div>'
        f'<div class="post-footer">Category: News <span class="views">View '
        f"{rng.randint(40, 2000)}</span></div></div>"
    )


# --------------------------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------------------------


def _x(text: str) -> str:
    return escape(text, quote=True)


def _summary(a: PlannedArticle) -> str:
    first = a.paragraphs[0] if a.paragraphs else ""
    return first if len(first) <= 220 else first[:220].rsplit(" ", 1)[0] + "\u2026"


def _feed(outlet: Outlet, items: list[PlannedArticle]) -> str:
    items = sorted(items, key=lambda a: a.published_at, reverse=True)
    self_url = "{BASE}/" + outlet.feed_file
    newest = items[0].published_at if items else BASE_TIME

    def dated(n: int) -> bool:
        return not (outlet.undated_every and n % outlet.undated_every == outlet.undated_every - 1)

    if outlet.feed_format == "atom":
        entries = []
        for n, a in enumerate(items):
            when = a.published_at.astimezone(outlet.tz).isoformat()
            dates = f"<published>{when}</published><updated>{when}</updated>" if dated(n) else ""
            entries.append(
                f"<entry><title>{_x(a.title)}</title>"
                f'<link rel="alternate" type="text/html" href="{_x(a.link)}"/>'
                f"<id>tag:{outlet.domain},2024:{a.id}</id>{dates}"
                f"<author><name>{_x(a.story.byline)}</name></author>"
                f'<summary type="text">{_x(_summary(a))}</summary></entry>')
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{_x(outlet.name)}</title><id>tag:{outlet.domain},2024:feed</id>"
            f"<updated>{newest.astimezone(outlet.tz).isoformat()}</updated>"
            f'<link rel="self" href="{_x(self_url)}"/>'
            f'<link rel="alternate" href="https://{outlet.domain}/"/>{"".join(entries)}</feed>\n'
        )
    if outlet.feed_format == "rdf":
        seq = "".join(f'<rdf:li rdf:resource="{_x(a.link)}"/>' for a in items)
        entries = []
        for n, a in enumerate(items):
            when = a.published_at.astimezone(outlet.tz).isoformat()
            date = f"<dc:date>{when}</dc:date>" if dated(n) else ""
            entries.append(
                f'<item rdf:about="{_x(a.link)}"><title>{_x(a.title)}</title>'
                f"<link>{_x(a.link)}</link><description>{_x(_summary(a))}</description>"
                f"{date}<dc:creator>{_x(a.story.byline)}</dc:creator></item>")
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="{_x(self_url)}"><title>{_x(outlet.name)}</title>'
            f"<link>https://{outlet.domain}/</link><description>Latest from "
            f"{_x(outlet.name)}</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>"
            f'{"".join(entries)}</rdf:RDF>\n'
        )
    # RSS 2.0. The malformed variant has a bare "&", an HTML entity XML does not know and an
    # unclosed <br> in its descriptions: a strict XML parser rejects it, feedparser's loose
    # parser still reads every item.
    entries = []
    for n, a in enumerate(items):
        when = format_datetime(a.published_at.astimezone(outlet.tz))
        date = f"<pubDate>{when}</pubDate>" if dated(n) else ""
        summary = _x(_summary(a))
        if outlet.malformed:
            summary = f"{summary}<br>&nbsp;Q&A inside"
        content = ""
        if outlet.role == "wire":
            html_body = "".join(f"<p>{escape(p, quote=False)}</p>" for p in a.paragraphs)
            content = f"<content:encoded><![CDATA[{html_body}]]></content:encoded>"
        entries.append(
            f"<item><title>{_x(a.title)}</title><link>{_x(a.link)}</link>"
            f'<guid isPermaLink="false">{outlet.domain}:{a.id}</guid>{date}'
            f"<dc:creator>{_x(a.story.byline)}</dc:creator>"
            f"<category>{_x(a.story.topic.title())}</category>"
            f"<description>{summary}</description>{content}</item>")
    description = f"Latest news from {_x(outlet.name)}"
    if outlet.malformed:
        description = f"News & views from {outlet.name}&nbsp;"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>{_x(outlet.name)}</title><link>https://{outlet.domain}/</link>"
        f"<description>{description}</description><language>en-gb</language>"
        f"<lastBuildDate>{format_datetime(newest.astimezone(outlet.tz))}</lastBuildDate>"
        f'<atom:link href="{_x(self_url)}" rel="self" type="application/rss+xml"/>'
        f'{"".join(entries)}</channel></rss>\n'
    )


# --------------------------------------------------------------------------------------------
# Writing it all
# --------------------------------------------------------------------------------------------


def _write(
    out_dir: str | Path, outlets: list[Outlet], stories: list[BaseStory], copies: int,
    rng: random.Random, extra_feeds: list[dict[str, Any]],
) -> SiteManifest:
    root = Path(out_dir)
    articles = _plan(outlets, stories, copies, rng)
    used: set[str] = set()
    for a in articles:
        _prepare(a, rng, used)

    by_outlet: dict[str, list[PlannedArticle]] = {o.domain: [] for o in outlets}
    for a in articles:
        by_outlet[a.outlet.domain].append(a)

    made: set[Path] = set()
    for a in articles:
        siblings = by_outlet[a.outlet.domain]
        start = rng.randrange(len(siblings))
        related = [s for s in (siblings[start:] + siblings[:start]) if s is not a][:3]
        target = root / a.path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_text(_page(a, related, rng), encoding="utf-8")

    feeds: list[dict[str, Any]] = []
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    for o in outlets:
        (root / o.feed_file).write_text(_feed(o, by_outlet[o.domain]), encoding="utf-8")
        feeds.append({"url": "{BASE}/" + o.feed_file, "outlet": o.domain,
                      "format": o.feed_format, "state": "malformed" if o.malformed else "ok",
                      "articles": [a.id for a in by_outlet[o.domain]]})
    feeds.extend(extra_feeds)
    (root / "feeds.txt").write_text("".join(f["url"] + "\n" for f in feeds), encoding="utf-8")

    expected = {a.id: {
        "url": a.url, "link": a.link, "path": "/" + a.path, "story": a.story_id,
        "original": a.original, "published_at": a.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": a.title, "outlet": a.outlet.domain, "kind": a.kind, "page_date": a.page_date,
    } for a in articles}
    stories_map: dict[str, list[str]] = {}
    for a in articles:
        stories_map.setdefault(a.story_id, []).append(a.id)
    manifest = SiteManifest(root, feeds, expected, stories_map, _must_not_merge(articles))
    (root / "expected.json").write_text(json.dumps({
        "base_time": BASE_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"), "feeds": feeds,
        "articles": expected, "stories": stories_map, "must_not_merge": manifest.must_not_merge,
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest


def _must_not_merge(articles: list[PlannedArticle]) -> list[list[str]]:
    """Pairs of originals that look alike but are different stories."""
    originals = [a for a in articles if a.original]
    fires = [a.id for a in originals if a.story.key in SAME_EVENT]
    pairs = [fires] if len(fires) == 2 else []
    disclaimed = [a.id for a in originals if FINANCE_DISCLAIMER in a.paragraphs]
    pairs += [[x, y] for x, y in zip(disclaimed, disclaimed[1:], strict=False)]
    return pairs


def build_site(
    out_dir: str | Path,
    *,
    feeds: int = 10,
    articles: int = 100,
    copy_rate: float = 0.5,
    seed: int = 7,
    broken_feed: bool = True,
    slow_feed: bool = False,
) -> SiteManifest:
    """Write the demo site to ``out_dir``: ``feeds`` lines in feeds.txt, ``articles`` pages.

    With ``broken_feed`` one of the ``feeds`` lines is ``{BASE}/error/...`` (answers 500);
    ``slow_feed`` adds a ``{BASE}/slow/...`` line (the server stalls on it) beyond ``feeds``.
    The hand-written stories are used first, synthetic ones after them. An outlet carries a
    story at most once, so a site with very few outlets may hold fewer copies than asked for.
    """
    if feeds < 2 or articles < 1 or not 0 <= copy_rate < 1:
        raise ValueError(f"need feeds >= 2, articles >= 1, 0 <= copy_rate < 1; got "
                         f"{feeds=}, {articles=}, {copy_rate=}")
    rng = random.Random(seed)
    outlets = _outlets(feeds - 1 if broken_feed else feeds)
    copies = round(articles * copy_rate)
    originals = articles - copies
    stories = list(STORIES[:originals])
    stories += [synthetic_story(rng, f"syn-{n}") for n in range(originals - len(stories))]
    extra = []
    if broken_feed:
        extra.append({"url": "{BASE}/error/eveningstar.example.rss", "outlet":
                      "eveningstar.example", "format": "rss", "state": "broken", "articles": []})
    if slow_feed:
        extra.append({"url": "{BASE}/slow/latenight.example.rss", "outlet": "latenight.example",
                      "format": "rss", "state": "slow", "articles": []})
    return _write(out_dir, outlets, stories, copies, rng, extra)


def build_synthetic_web(
    out_dir: str | Path,
    feeds: int = 100,
    articles_per_feed: int = 50,
    copy_rate: float = 0.3,
    seed: int = 1,
) -> SiteManifest:
    """A large web for ``make bench``: ``feeds`` working feeds, about ``articles_per_feed`` each.

    Only synthetic stories, no broken or slow feed; same outlets, layouts and copy kinds as the
    demo site.
    """
    if feeds < 1 or articles_per_feed < 1 or not 0 <= copy_rate < 1:
        raise ValueError(f"need feeds >= 1, articles_per_feed >= 1, 0 <= copy_rate < 1; got "
                         f"{feeds=}, {articles_per_feed=}, {copy_rate=}")
    rng = random.Random(seed)
    total = feeds * articles_per_feed
    copies = round(total * copy_rate)
    stories = [synthetic_story(rng, f"syn-{n}") for n in range(total - copies)]
    return _write(out_dir, _outlets(feeds), stories, copies, rng, [])
