"""What an OpenAI-compatible server's error means, read from what it says.

The status code alone misleads: llama.cpp answers "Context size has been
exceeded." with HTTP 500, the same code it (and llama-cpp-python) uses for a
response format it cannot honour. Reading the status code as a refusal of the
output mode stepped a working json_schema down to json_object, where small
models fail. So the message decides, and the status only breaks ties.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MESSAGE_CHARS = 200


class ErrorKind(StrEnum):
    FORMAT_REFUSED = "format-refused"  # the server cannot do this response_format
    CONTEXT = "context"  # prompt + output do not fit the context (or its share of it)
    BUSY = "busy"  # rate limited, loading the model, overloaded: wait and retry
    SERVER = "server"  # an error on the server's side: retry a bounded number of times
    REQUEST = "request"  # our request is wrong in another way: retrying will not help


@dataclass(frozen=True)
class ServerError:
    kind: ErrorKind
    status: int
    message: str  # the server's own words, trimmed

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.message else f"HTTP {self.status}"

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.BUSY, ErrorKind.SERVER, ErrorKind.CONTEXT)


_CONTEXT = re.compile(
    r"context (size|length|window)|context_length_exceeded|exceed_context_size|"
    r"maximum context|too many tokens|prompt is too long|input is too long|n_ctx",
    re.IGNORECASE,
)
_FORMAT = re.compile(
    r"response_format|json_schema|json schema|\bschema\b|grammar|structured output|"
    r"guided_json|\bformat\b.*not supported|unsupported.*\bformat\b",
    re.IGNORECASE,
)
_BUSY = re.compile(r"loading model|model is loading|overloaded|try again later|busy", re.I)


def error_message(body: Any) -> str:
    """The message in an OpenAI-shaped error body (`{"error": {"message": …}}`), or its text."""
    if isinstance(body, (bytes, str)):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            return _trim(text)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("message", "detail", "error"):
                if isinstance(inner.get(key), str):
                    return _trim(inner[key])
        if isinstance(inner, str):
            return _trim(inner)
        if isinstance(body.get("message"), str):
            return _trim(body["message"])
    return ""


def classify(status: int, body: Any) -> ServerError:
    """Sort an error response by what it says; see ErrorKind."""
    message = error_message(body)
    code = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = " ".join(str(body["error"].get(k) or "") for k in ("code", "type", "param"))
    said = f"{message} {code}"
    if _CONTEXT.search(said):
        kind = ErrorKind.CONTEXT
    elif status == 429 or _BUSY.search(said) or status == 503:
        kind = ErrorKind.BUSY
    elif status in (400, 422, 500, 501) and _FORMAT.search(said):
        kind = ErrorKind.FORMAT_REFUSED
    elif status >= 500 or status in (408, 409):
        kind = ErrorKind.SERVER
    else:
        kind = ErrorKind.REQUEST
    return ServerError(kind, status, message)


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
