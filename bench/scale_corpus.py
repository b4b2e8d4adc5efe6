"""Synthetic news for `bench_scale.py`: a corpus generator, a bulk store builder and a
loopback feed server (run in a child process, so its work is not the bot's).

The corpus: ~500 events (a place, people, an organisation, figures and a few dozen
words of their own), each of a kind ("ceasefire", "election", "inflation", ...);
articles of 150-300 words are written from sentence templates over a vocabulary of
a few thousand words (general news words and made-up ones), so topics hit realistic
numbers of matches: "ceasefire" is in about 6% of the articles, common words such as
"government" in a quarter or more, an event's people in a handful.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from multiprocessing.connection import Connection

# --- vocabulary ----------------------------------------------------------------------

GENERAL = """
government minister officials report said statement agency country city region council
police security economy market budget plan project company workers union public health
hospital school court judge law policy parliament committee vote leaders president
spokesperson residents families community services funding programme investment
prices costs energy power water roads transport airport border trade exports imports
growth jobs unemployment taxes spending debt bank lenders investors shares profit
losses revenue sales customers industry factory production supply demand shortage
crisis response support aid relief emergency teams rescue damage repairs weather
rain storm winds coast river valley north south east west centre capital province
district village town officials authorities ministry department office board members
agreement deal talks meeting summit delegation negotiators proposal draft review
inquiry investigation evidence witnesses lawyers charges appeal ruling decision
announcement campaign candidates voters polls results turnout coalition opposition
party leader critics supporters protesters demonstrators rally march crowd police
troops forces soldiers army navy militia fighters attack strikes drones missiles
shelling casualties civilians refugees camps shelters food fuel medicine doctors
nurses patients cases outbreak virus vaccine doses clinics laboratory scientists
researchers study data figures analysis estimate forecast quarter season record
level rate percent million billion thousands hundreds dozens weeks hours morning
evening night weekend deadline schedule timetable target goal progress delay
warning threat risk concerns pressure tension dispute conflict violence calm
stability recovery reconstruction rebuilding damage assessment insurance claims
contract tender licence permit regulator watchdog standards safety inspection
technology software network systems internet users platform service outage
launch satellite rocket mission engineers pilots flight crew passengers ship port
cargo containers freight rail trains buses drivers fares tickets schedules strike
teachers students universities exams classes parents children youth elderly pension
housing rents homes construction builders land farmers crops harvest livestock
exporters fishermen fleet quota prices wheat grain rice coffee sugar cotton steel
""".split()

SYLLABLES = """
ka ren to mi sal vor den bri lo tan mer quo ful sha nev pol dri ast gan lim zer
ro bel hu tri mon ves kal dor pen sko lar gri fen tal mos nuk pra sel tor vin
""".split()

FIRST = """
Amara Boris Celia Dmitri Elena Farid Greta Hassan Ines Jonas Kira Leila Marco Nadia
Omar Petra Quentin Rosa Samir Talia Ulrich Vera Wiktor Yara Zoltan Anika Bruno Carmen
Dario Esther Felix Gloria Henrik Irena Jamal Katya Lucas Mira Nils Olga Pavel Rania
Stefan Tamar Viktor Wanda Yusuf Zara Adil Bianca Cyrus Delia Emil Fatima Gustav Hana
""".split()

VERBS = """
announced confirmed rejected welcomed criticised proposed approved delayed expanded
suspended reviewed defended questioned signed extended cancelled demanded promised
""".split()

KINDS: dict[str, tuple[str, ...]] = {
    # kind -> phrases an article of that kind uses (the first is its headline word)
    "ceasefire": ("ceasefire", "truce", "peace talks", "mediators", "frontline", "hostilities"),
    "election": ("election", "ballots", "polling stations", "electoral commission", "runoff"),
    "inflation": ("inflation", "interest rates", "central bank", "consumer prices", "rate cut"),
    "earthquake": ("earthquake", "aftershocks", "magnitude", "collapsed buildings", "rubble"),
    "flood": ("flood", "flooding", "floodwaters", "evacuation", "levees"),
    "wildfire": ("wildfire", "blaze", "firefighters", "evacuation orders", "scorched"),
    "vaccine": ("vaccine", "immunisation", "trial results", "health regulator", "booster"),
    "strike": ("strike", "walkout", "pay dispute", "picket lines", "union leaders"),
    "tariffs": ("tariffs", "trade war", "import duties", "customs", "retaliatory measures"),
    "merger": ("merger", "takeover bid", "shareholders", "acquisition", "antitrust"),
    "semiconductor": ("semiconductor", "chip plant", "wafers", "foundry", "export controls"),
    "drought": ("drought", "water rationing", "reservoirs", "dry spell", "crop failure"),
    "protest": ("protest", "protesters", "tear gas", "sit-in", "demonstration"),
    "energy": ("oil prices", "pipeline", "gas supplies", "refinery", "crude output"),
    "football": ("football", "league final", "coach", "stadium", "transfer fee"),
    "space": ("space launch", "orbit", "launch pad", "payload", "space agency"),
    "court": ("court ruling", "verdict", "supreme court", "testimony", "prosecutors"),
    "heatwave": ("heatwave", "record temperatures", "heat alerts", "cooling centres", "heat"),
    "cyberattack": ("cyberattack", "ransomware", "hackers", "data breach", "outage"),
}
CEASEFIRE_SHARE = 0.06
CEASEFIRE_EVENTS = 20

FUTURE = (
    "{P} is expected to travel to {PL} next week to {g} the {k}.",
    "Talks on the {k} are scheduled to resume later this month, {O} said.",
    "The {g} is due to publish its findings on the {k} next month.",
    "{P} plans to present a new {g} {k} to the {g2} in the coming days.",
)
TEMPLATES = (
    "{P} said the {k} {g} would {v2} {g2} in {PL} after {N} {g3} were {v}.",
    "Officials in {PL} {v} the {g} on {D}, saying {N} {g2} had been affected by the {k}.",
    "The {O} {v} a {g} on the {k} that {g2} leaders had {v2} for weeks.",
    "According to {O}, about {N} {g} and {N2} {g2} were involved in the {k}.",
    "{P}, a {g} of the {O}, told reporters that the {k} {g2} remained {adj}.",
    "Critics in {PL} {v} the {g}, arguing that the {k} left {g2} and {g3} {adj}.",
    "The {g} {v} {N} percent in the last {g2} period, the {O} said in a {g3}.",
    "Residents of {PL} described the {k} as {adj}, while {P} urged {g} to stay {adj2}.",
    "A {g} from the {O} said {N} {g2} had been {v} since the {k} began.",
    "In {PL}, {g} and {g2} {v} the {k} {g3}, calling it {adj}.",
    "{P} {v} the {k} and said the {g} would {v2} {g2} and {g3} by {D}.",
    "The {k} {g} comes as {g2} in {PL} face {adj} {g3} and rising {g4}.",
    "Figures released by the {O} showed {N} {g} and {N2} {g2} linked to the {k}.",
    "{P} and {P2} met in {PL} to discuss the {k} and the {g} of {g2}.",
)
ADJ = """
uncertain fragile stable tense calm difficult unclear limited serious modest severe
cautious hopeful divided critical steady urgent costly widespread significant
""".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def _pseudo_words(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    seen: dict[str, None] = {}
    general = set(GENERAL)
    while len(seen) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*syllables)))
        if word not in general:
            seen.setdefault(word, None)
    return list(seen)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    place: str
    people: tuple[str, ...]
    org: str
    figures: tuple[int, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class Piece:
    """One synthetic article: what a feed item or a store row is made of."""

    event: int
    kind: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class Corpus:
    """Deterministic for a seed: the same events and vocabulary in every process."""

    def __init__(self, seed: int = 12, events: int = 500) -> None:
        rng = random.Random(seed)
        self.vocab = _pseudo_words(rng, 3000, (2, 3))
        places = [w.capitalize() for w in _pseudo_words(rng, 400, (2, 3))]
        surnames = [w.capitalize() for w in _pseudo_words(rng, 600, (2, 3))]
        kinds = [k for k in KINDS if k != "ceasefire"]
        self.events: list[Event] = []
        for i in range(events):
            kind = "ceasefire" if i < CEASEFIRE_EVENTS else kinds[i % len(kinds)]
            self.events.append(
                Event(
                    id=i,
                    kind=kind,
                    place=rng.choice(places),
                    people=tuple(f"{rng.choice(FIRST)} {rng.choice(surnames)}" for _ in range(3)),
                    org=f"{rng.choice(surnames)} {rng.choice(['Institute', 'Agency', 'Group', 'Council', 'Authority'])}",  # noqa: E501
                    figures=tuple(rng.randint(2, 9000) for _ in range(4)),
                    words=tuple(rng.sample(self.vocab, 30)),
                )
            )
        # Event popularity: Zipf-like over the non-ceasefire events; the ceasefire
        # events share CEASEFIRE_SHARE of all articles between them.
        others = self.events[CEASEFIRE_EVENTS:]
        weights = [1 / (rank + 8) ** 0.9 for rank in range(len(others))]
        scale = (1 - CEASEFIRE_SHARE) / sum(weights)
        cease = CEASEFIRE_SHARE / CEASEFIRE_EVENTS
        self._weights = [cease] * CEASEFIRE_EVENTS + [w * scale for w in weights]
        self._cum: list[float] = []
        total = 0.0
        for w in self._weights:
            total += w
            self._cum.append(total)

    def share(self, event: int) -> float:
        return self._weights[event]

    def pick_event(self, rng: random.Random) -> Event:
        return self.events[
            min(_bisect(self._cum, rng.random() * self._cum[-1]), len(self.events) - 1)
        ]

    def piece(self, rng: random.Random, event: Event | None = None) -> Piece:
        """An article of 150-300 words on `event` (or a random one)."""
        ev = event or self.pick_event(rng)
        kind_words = KINDS[ev.kind]
        ch, gen, vocab = rng.choice, GENERAL, self.vocab

        def k() -> str:
            # An event's own words mostly, its kind's phrases sometimes.
            return ch(kind_words) if rng.random() < 0.3 else ch(ev.words)

        def g() -> str:
            return ch(gen) if rng.random() < 0.8 else ch(vocab)

        def fill(template: str) -> str:
            people = ev.people
            return template.format(
                P=ch(people),
                P2=ch(people),
                PL=ev.place,
                O=ev.org,
                N=ch(ev.figures) if rng.random() < 0.6 else rng.randint(2, 5000),
                N2=rng.randint(2, 900),
                D=ch(DAYS),
                k=k(),
                g=g(),
                g2=g(),
                g3=g(),
                g4=g(),
                v=ch(VERBS),
                v2=ch(VERBS),
                adj=ch(ADJ),
                adj2=ch(ADJ),
            )

        head = kind_words[0]
        title = (
            f"{ev.place} {head}: {ch(ev.people)} {ch(VERBS)} {ch(ev.words)} "
            f"{g()} as {ch(ev.figures)} {g()} {ch(VERBS)}"
        )
        lead = (
            f"{ch(ev.people)} {ch(VERBS)} the {head} in {ev.place} on {ch(DAYS)}, "
            f"as {ch(ev.figures)} {g()} and {ch(ev.words)} {g()} remained {ch(ADJ)}."
        )
        sentences = [lead]
        target = rng.randint(150, 300)
        count = len(lead.split())
        while count < target:
            template = ch(FUTURE) if rng.random() < 0.08 else ch(TEMPLATES)
            sentence = fill(template)
            sentence = sentence[0].upper() + sentence[1:]
            sentences.append(sentence)
            count += len(sentence.split())
        paragraphs = []
        i = 0
        while i < len(sentences):
            step = rng.randint(2, 3)
            paragraphs.append(" ".join(sentences[i : i + step]))
            i += step
        return Piece(ev.id, ev.kind, title, tuple(paragraphs))


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


# --- the 100k store, written directly -------------------------------------------------


def _to_db(moment: datetime) -> str:
    # bot.timeutil.to_db's format, inlined so the child process need not import bot.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content_hash(title: str, text: str) -> str:
    # bot.services.dedupe.content_hash, for the same reason.
    import re

    body = text if len(text) >= 200 else f"{title}\n{text}"
    normal = re.sub(r"\s+", " ", body).strip().lower()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def store_feed_url(i: int) -> str:
    """The store's feeds: never polled (port 9, discard), only read by scope."""
    return f"http://127.0.0.1:9/store/{i}.xml"


def fill_store(
    path: str, *, articles: int, feeds: int, days: float, now: datetime, seed: int = 7
) -> dict[str, float]:
    """Write `articles` articles from `feeds` default feeds into a database whose schema
    `SqliteStore.open` made: feeds, articles (FTS by its trigger), article_feeds, and
    stories (an event's articles in one 6-hour window are one story)."""
    corpus = Corpus()
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    stamp = _to_db(now - timedelta(days=days + 1))
    conn.executemany(
        "INSERT INTO feeds (id, url, title, is_default, created_at, last_success_at, "
        "last_attempt_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
        [(i + 1, store_feed_url(i), f"Outlet {i}", stamp, stamp, stamp) for i in range(feeds)],
    )
    stories: dict[tuple[int, int], list[object]] = {}  # (event, window) -> [id, first, last, n]
    batch: list[tuple[object, ...]] = []
    links: list[tuple[int, int, str]] = []
    span = days * 86400
    for article_id in range(1, articles + 1):
        piece = corpus.piece(rng)
        age = rng.random() * span
        published = now - timedelta(seconds=age)
        window = int(age // (6 * 3600))
        pub = _to_db(published)
        key = (piece.event, window)
        story = stories.get(key)
        if story is None:
            story = stories[key] = [article_id, pub, pub, 0]
        story[1] = min(story[1], pub)  # type: ignore[call-overload]
        story[2] = max(story[2], pub)  # type: ignore[call-overload]
        story[3] = int(story[3]) + 1  # type: ignore[call-overload]
        feed = rng.randrange(feeds) + 1
        url = f"https://outlet{feed}.example/{piece.kind}/{article_id}"
        guid = f"store-{article_id}"
        text = piece.text
        fetched = _to_db(published + timedelta(minutes=rng.randint(1, 30)))
        batch.append(
            (
                article_id,
                guid,
                url,
                url,
                piece.title,
                f"Outlet {feed - 1}",
                pub,
                fetched,
                text,
                1,
                _content_hash(piece.title, text),
                story[0],
            )
        )
        links.append((article_id, feed, guid))
        if len(batch) >= 2000:
            _flush(conn, batch, links)
    _flush(conn, batch, links)
    conn.executemany(
        "INSERT INTO stories (id, first_seen, last_seen, version) VALUES (?, ?, ?, ?)",
        [(s[0], s[1], s[2], s[3]) for s in stories.values()],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return {"stories": len(stories)}


def _flush(
    conn: sqlite3.Connection, batch: list[tuple[object, ...]], links: list[tuple[int, int, str]]
) -> None:
    conn.executemany(
        "INSERT INTO articles (id, guid, url, canonical_url, title, source, published_at, "
        "fetched_at, text, is_full_text, content_hash, story_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    conn.executemany(
        "INSERT INTO article_feeds (article_id, feed_id, guid) VALUES (?, ?, ?)", links
    )
    batch.clear()
    links.clear()


# --- feeds on loopback ------------------------------------------------------------------


def rss(base: str, prefix: str, feed: int, pieces: list[Piece], times: list[datetime]) -> bytes:
    items = []
    for j, (piece, published) in enumerate(zip(pieces, times, strict=True)):
        body = "".join(f"<p>{escape(p)}</p>" for p in piece.paragraphs)
        items.append(
            f"<item><title>{escape(piece.title)}</title>"
            f"<link>{base}/article/{prefix}/{feed}/{j}</link>"
            f'<guid isPermaLink="false">{prefix}-{feed}-{j}</guid>'
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{escape(piece.paragraphs[0])}</description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Loopback {prefix} {feed}</title><link>{base}/</link>"
        f"<description>synthetic</description>{''.join(items)}</channel></rss>"
    ).encode()


def etag_for(path: str) -> str:
    return f'"{path}-v1"'


def feed_path(prefix: str, feed: int) -> str:
    return f"/{prefix}/{feed}.xml"


def serve_feeds(
    conn: Connection, sets: dict[str, int], items: int, hours: float, seed: int = 99
) -> None:
    """Child process: bind 127.0.0.1:0, render every feed of every set, send
    ("ready", port, bytes) and serve until killed. Each feed answers with an ETag
    and honours If-None-Match with 304; /_stats says what was served."""
    from aiohttp import web

    async def main() -> None:
        counts = {"200": 0, "304": 0, "404": 0}
        bodies: dict[str, bytes] = {}

        async def handle(request: web.Request) -> web.StreamResponse:
            path = request.path
            if path == "/_stats":
                return web.json_response(counts)
            if path == "/_reset":  # what was served since the last reset
                served = dict(counts)
                for key in counts:
                    counts[key] = 0
                return web.json_response(served)
            body = bodies.get(path)
            if body is None:
                counts["404"] += 1
                return web.Response(status=404, text="not found")
            etag = etag_for(path)
            if request.headers.get("If-None-Match") == etag:
                counts["304"] += 1
                return web.Response(status=304, headers={"ETag": etag})
            counts["200"] += 1
            return web.Response(
                body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"}
            )

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        corpus = Corpus()
        now = datetime.now(UTC)
        for set_number, (prefix, count) in enumerate(sets.items()):
            rng = random.Random(seed * 1000 + set_number)
            for feed in range(count):
                pieces = [corpus.piece(rng) for _ in range(items)]
                times = sorted(
                    (now - timedelta(seconds=rng.random() * hours * 3600) for _ in pieces),
                    reverse=True,
                )
                bodies[feed_path(prefix, feed)] = rss(base, prefix, feed, pieces, times)
        conn.send(("ready", port, sum(len(b) for b in bodies.values())))
        await asyncio.Event().wait()

    asyncio.run(main())


def stats_json(raw: bytes) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(raw).items()}


def iter_topics(corpus: Corpus) -> Iterator[str]:
    """Names of events from the most to the least covered: rare topics for briefs."""
    ranked = sorted(corpus.events[CEASEFIRE_EVENTS:], key=lambda e: -corpus.share(e.id))
    for event in ranked:
        yield event.people[0]
