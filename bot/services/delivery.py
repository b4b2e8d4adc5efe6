"""What the bot posts, as the outbox stores it: a delivery of rendered parts under a key
that makes it once, each part's state, and what the post shows (the articles its
threads are answered from, the story versions a later digest compares with).

The outbox (outbox.py) posts them; each store engine keeps them; each platform's
sender renders and sends the parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.domain import PostedStory, Scope, StoryVersion, ThreadKind

# How far before a cut-off send a platform's history is searched for it.
LOOK_BACK = timedelta(minutes=1)


@dataclass(frozen=True)
class OutboxPart:
    """One platform message of a delivery, rendered when the delivery was stored.

    "sending" means a send began and its outcome was not recorded (the bot stopped, or
    the platform did not answer): the part may or may not be on the platform, so it
    is looked up there before it is sent again.
    """

    index: int
    payload: str  # the platform's own message as JSON: only its adapter reads it
    state: Literal["pending", "sending", "sent"] = "pending"
    sending_since: datetime | None = None
    message_id: str | None = None
    thread_key: str | None = None  # the thread this part opened, if any


@dataclass(frozen=True)
class PostShows:
    """What a post shows: questions in the threads it opens are answered from these
    articles, and the story versions decide what a later digest posts as an update.
    Recorded with the part that opens a thread (or, for a post into a thread, with its
    first part)."""

    kind: ThreadKind
    article_ids: tuple[int, ...] = ()
    stories: tuple[StoryVersion, ...] = ()


DeliveryStatus = Literal["pending", "posted", "abandoned"]


# The kinds of post whose threads are answered from the articles they show.
THREAD_KINDS = frozenset({ThreadKind.DIGEST, ThreadKind.BRIEF})


@dataclass(frozen=True)
class Delivery:
    """Something the bot posts: its parts in order, under a key that makes it once."""

    key: str
    scope: Scope
    channel: str
    parts: tuple[OutboxPart, ...]
    created_at: datetime
    thread_key: str | None = None  # posted into this thread (an update), not the channel
    shows: PostShows | None = None
    due_at: datetime | None = None  # a scheduled post: when it fell due
    late_after: datetime | None = None  # finished after this, it is reported late
    status: DeliveryStatus = "pending"
    attempts: int = 0
    late_reported: bool = False
    error: str | None = None

    def look_back(self, part: OutboxPart) -> datetime:
        """Whence a platform's history is searched for a part whose send was cut off: a
        minute before the send began (the platform's clock and ours may differ)."""
        return (part.sending_since or self.created_at) - LOOK_BACK

    @property
    def unsent(self) -> list[OutboxPart]:
        return [p for p in self.parts if p.state != "sent"]

    @property
    def opens_threads(self) -> bool:
        """Whether its parts open threads (a digest or brief posted in the channel): the
        platform says which thread, and replies there are answered from what it shows."""
        return (
            self.shows is not None and self.shows.kind in THREAD_KINDS and self.thread_key is None
        )

    def thread_opened(self, index: int, sent: SentPart) -> str | None:
        """The thread to record once part `index` is sent, answered from what the post
        shows: the one the part opened, or, for a brief posted into a thread, that one."""
        if self.shows is None or self.shows.kind not in THREAD_KINDS:
            return None
        if sent.thread_key:
            return sent.thread_key
        if self.thread_key is not None and index == self.parts[0].index:
            return self.thread_key
        return None

    def stories_posted(self, index: int, sent: SentPart) -> list[PostedStory]:
        """The story versions to record as shown once part `index` is sent: with the
        first part posted into a thread (an update), or with the part that opened the
        post's first thread."""
        if self.shows is None or not self.shows.stories:
            return []
        if self.thread_key is not None:
            under = self.thread_key if index == self.parts[0].index else None
        else:
            opened_before = any(p.thread_key for p in self.parts if p.index < index)
            under = sent.thread_key if not opened_before else None
        if under is None:
            return []
        return [PostedStory(s.story_id, s.version, under) for s in self.shows.stories]


class PostRefused(Exception):
    """The platform refused a post for good (the bot is not in the channel, the channel is
    archived): trying again changes nothing. `reason` says so to the person who asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SentPart:
    """A part as the platform has it: its message id, and the thread it opened."""

    message_id: str
    thread_key: str | None = None


@dataclass(frozen=True)
class OutboxCounts:
    pending: int  # not finished yet
    late: int  # finished, or still unfinished, after their grace period
    abandoned: int  # given up: too old to post
