"""What story placement hands the store and reads back from it, in a form the store
can keep without knowing how stories are placed: a new entry with the story it goes
in, and each article's fingerprint as a record of text and bytes.

The story index (bot/services/story_index.py) makes and reads fingerprints; this
module only fixes how one is written down, so the store imports nothing of the index.
"""

from __future__ import annotations

import base64
import json
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import NewArticle


@dataclass(frozen=True)
class PrintRecord:
    """A fingerprint as stored: its counts and figures as JSON, its sketch packed (32-bit
    hashes, native byte order)."""

    data: str
    sketch: bytes


def encode_print(
    *,
    words: Mapping[str, int],
    names: Mapping[str, int],
    title_names: Iterable[str],
    lead_figures: Iterable[str],
    figures: Iterable[str],
    shingle_count: int,
    sketch: Iterable[int],
    embedding: bytes | None = None,
) -> PrintRecord:
    data: dict[str, Any] = {
        "words": words,
        "names": names,
        "title_names": sorted(title_names),
        "lead_figures": sorted(lead_figures),
        "figures": sorted(figures),
        "shingle_count": shingle_count,
    }
    if embedding is not None:
        data["embedding"] = base64.b64encode(embedding).decode("ascii")
    return PrintRecord(json.dumps(data, separators=(",", ":")), array("I", sketch).tobytes())


def add_embedding(record: PrintRecord, embedding: bytes) -> PrintRecord:
    """`record` with an embedding (packed float32s) added: the JSON object gains one key,
    without parsing and writing the rest again."""
    packed = json.dumps(base64.b64encode(embedding).decode("ascii"))
    return PrintRecord(f'{record.data[:-1]},"embedding":{packed}}}', record.sketch)


def decode_print(record: PrintRecord, *, sketch_size: int) -> dict[str, Any]:
    """The fields `encode_print` took (`embedding` None where none was made). Records
    written before sketches held every hash, sorted, so their first `sketch_size` are
    the sketch."""
    fields = json.loads(record.data)
    packed = array("I")
    packed.frombytes(record.sketch)
    return {
        "words": fields["words"],
        "names": fields["names"],
        "title_names": frozenset(fields["title_names"]),
        "lead_figures": frozenset(fields["lead_figures"]),
        "figures": frozenset(fields["figures"]),
        "sketch": tuple(sorted(packed)[:sketch_size]),
        "shingle_count": fields.get("shingle_count", len(packed)),
        "embedding": base64.b64decode(fields["embedding"]) if "embedding" in fields else None,
    }


@dataclass(frozen=True)
class PlacedArticle:
    """A new entry placed in its story, stored with the rest of its feed's batch.

    Ids below zero name this batch's own entries: -1 is the first entry's article
    (and, as `story_id`, the story that entry is in), -2 the second's, and so on.
    """

    article: NewArticle
    story_id: int | None = None  # None: it starts a story of its own, named after it
    reprint_of: int | None = None  # a syndicated copy: stored as another source of that article
    record: PrintRecord | None = None  # its fingerprint, kept while its story can grow


@dataclass(frozen=True)
class StoredPrint:
    """A stored article's fingerprint, as the story index is rebuilt from."""

    story_id: int
    article_id: int
    published_at: datetime
    record: PrintRecord
