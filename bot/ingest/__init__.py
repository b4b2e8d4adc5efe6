"""Feeds in: HTTP and files (fetch), feedparser (parse), trafilatura (extract)."""
