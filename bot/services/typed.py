"""What people type into a command, checked once for every platform and the CLI: a topic
or a URL too long to be one is refused without being echoed back, and one with no word
to search for is asked for again."""

from __future__ import annotations

from bot.text import one_line, query_terms

# A topic is a few words; a feed URL rarely passes a few hundred characters (2,048 is
# what browsers and most servers take as a URL's practical limit).
MAX_TOPIC_CHARS = 200
MAX_URL_CHARS = 2048


def typed_topic(text: str) -> str:
    """A topic as one line of plain text."""
    return one_line(text)


def topic_problem(topic: str) -> str | None:
    """Why `topic` (already `typed_topic`) cannot be searched for, or None."""
    if len(topic) > MAX_TOPIC_CHARS:
        return (
            f"That topic is {len(topic):,} characters long; a topic is at most "
            f"{MAX_TOPIC_CHARS} (a few words, such as ukraine or central banks)."
        )
    if not query_terms(topic):
        return "Give a topic: a word or a few, such as ukraine or central banks."
    return None


def typed_url(text: str) -> str:
    """A URL as a person typed it into a chat: one line, without the angle brackets chat
    apps wrap links in, nor the label Slack adds (`<https://x|x>`)."""
    return one_line(text).strip("<>").split("|", 1)[0].strip()


def url_problem(url: str) -> str | None:
    """Why `url` is not worth looking up as a feed, or None."""
    if len(url) > MAX_URL_CHARS:
        return f"That URL is {len(url):,} characters long; a feed URL is at most {MAX_URL_CHARS:,}."
    return None
