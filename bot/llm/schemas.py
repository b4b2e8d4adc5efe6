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


# Lengths the grammar of a local server enforces while the model writes, so a
# small model cannot run on to the token cap (in characters, and items).
GRAMMAR_LENGTHS = {"headline": 160, "text": 320, "why_it_matters": 320, "answer": 700}
GRAMMAR_ITEMS = {"bullets": 4, "sentences": 4}


def json_schema(name: str, *, bounded: bool = False, sources: int = 0) -> dict[str, Any]:
    """A strict-mode JSON schema: every property required, no extra properties.

    `bounded` adds length limits and caps `source_ids` at the `sources` given,
    for servers whose grammars honour them (llama.cpp, vLLM); OpenAI's strict
    mode refuses those keywords, so they are left out for it.
    """
    strict: dict[str, Any] = _strictify(SCHEMAS[name].model_json_schema())
    if bounded:
        _bound(strict, max(1, sources))
    return strict


def _bound(node: Any, sources: int) -> None:
    if isinstance(node, list):
        for item in node:
            _bound(item, sources)
        return
    if not isinstance(node, dict):
        return
    for key, prop in (node.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if key in GRAMMAR_LENGTHS and prop.get("type") == "string":
            prop["maxLength"] = GRAMMAR_LENGTHS[key]
        if key in GRAMMAR_ITEMS and prop.get("type") == "array":
            prop["minItems"], prop["maxItems"] = 1, GRAMMAR_ITEMS[key]
        if key == "source_ids" and prop.get("type") == "array":
            prop["maxItems"] = sources
            prop["items"] = {"type": "integer", "minimum": 1, "maximum": sources}
            if "text" in node["properties"]:
                prop["minItems"] = 1  # a claim cites at least one source
    for value in node.values():
        _bound(value, sources)


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
