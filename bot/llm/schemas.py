"""What the model must return, as pydantic models and as JSON schemas.

Validation is strict about shape (unknown keys are refused, so an injected
"action" field fails) and lenient about length: over-long text is cut in code
rather than sent back for repair.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CitedText(_Strict):
    text: str = Field(max_length=2000)
    source_ids: list[int] = Field(max_length=20)


class DigestItemOut(_Strict):
    headline: str = Field(min_length=1, max_length=400)
    bullets: list[CitedText] = Field(min_length=1, max_length=6)
    why_it_matters: str = Field(default="", max_length=1000)


class BriefOverviewOut(_Strict):
    sentences: list[CitedText] = Field(min_length=1, max_length=6)


class ThreadAnswerOut(_Strict):
    answer: str = Field(max_length=3000)
    source_ids: list[int] = Field(max_length=20)
    supported: bool


SCHEMAS: dict[str, type[_Strict]] = {
    "digest_item": DigestItemOut,
    "brief_overview": BriefOverviewOut,
    "thread_answer": ThreadAnswerOut,
}


def json_schema(name: str) -> dict[str, Any]:
    """A strict-mode JSON schema: every property required, no extra properties."""
    strict: dict[str, Any] = _strictify(SCHEMAS[name].model_json_schema())
    return strict


def _strictify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _strictify(v) for k, v in node.items() if k not in ("title", "default")}
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        for key in ("maxLength", "minLength", "maxItems", "minItems"):
            node.pop(key, None)  # OpenAI strict mode rejects these keywords
        return node
    if isinstance(node, list):
        return [_strictify(v) for v in node]
    return node
