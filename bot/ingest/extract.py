"""The full text of an article page, with trafilatura, when a feed gave only an excerpt."""

from __future__ import annotations

import logging

import trafilatura

log = logging.getLogger(__name__)


def extract_text(html: str | bytes, *, url: str) -> str | None:
    """Main text of a page, or None when trafilatura finds none."""
    try:
        text = trafilatura.extract(
            html,
            url=url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception:  # trafilatura raises assorted errors on hostile markup
        log.warning("could not extract text from %s", url, exc_info=True)
        return None
    return text.strip() if text else None
