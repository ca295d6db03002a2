"""Ingest throughput: JSON batch -> stored -> embedded, against a plain `encode` of the same texts.

    .venv/bin/python -m bench.ingest_throughput [--data ../shared/data] [--n 10000]

Both run in this process on the same machine, alternating (anchor, Weft, anchor, Weft, ...)
so that both see the same background load: the anchor is `SentenceTransformer.encode` of the
texts (nothing stored); Weft is a fresh SQLite store, `POST /v1/projects/{p}/narratives` through
the app, until the embedding job has succeeded. Prints narratives per second for each (the
median over `--repeats` rounds) and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import Service, load_set
from pipelines.embed import SentenceTransformerEmbedder, default_model_path


def load_texts(data: Path | None, n: int) -> list[str]:
    texts = load_set("stackoverflow", data).texts
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} texts in the stackoverflow set; asked for {n}")
    return texts[:n]


def plain_encode(texts: list[str], batch_size: int, *, in_thread: bool) -> float:
    """Seconds for one `encode` of all texts, in this thread or in a worker thread as a job is.

    Both are measured because, on this machine, torch ran noticeably faster when called from
    a worker thread than from the main thread; the faster of the two is the fair anchor.
    """
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True)
    model.encode(texts[:64], batch_size=batch_size)  # warm-up
    elapsed: list[float] = []

    def run() -> None:
        start = time.perf_counter()
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        elapsed.append(time.perf_counter() - start)

    if in_thread:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    else:
        run()
    return elapsed[0]


def weft_ingest(texts: list[str], batch_size: int) -> dict[str, float]:
    embedder = SentenceTransformerEmbedder(batch_size=batch_size)
    embedder.encode(texts[:64])  # the same warm-up as the anchor
    # ingest and embedding only: no analysis competes for the CPU afterwards
    with (
        tempfile.TemporaryDirectory() as tmp,
        Service(
            Path(tmp), embedder, embedding_batch_size=batch_size, job_poll_seconds=0.1
        ) as service,
    ):
        project = service.create_project("bench")
        batch = {"narratives": [{"text": t, "external_id": str(i)} for i, t in enumerate(texts)]}
        start = time.perf_counter()
        response = service.client.post(
            project.path("/narratives"), json=batch, headers=project.headers
        )
        stored = time.perf_counter()
        if response.status_code != 201:
            raise SystemExit(f"ingest failed: {response.status_code} {response.text[:500]}")
        # polls every half second, as a client does; tighter polling steals CPU from the job
        job = service.wait(project.key, response.json()["job"]["id"])
        done = time.perf_counter()
    return {
        "store_seconds": stored - start,
        "embed_seconds": done - stored,
        "total_seconds": done - start,
        "distinct_texts": float(job["result"]["embedded"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    texts = load_texts(args.data, args.n)
    main_thread: list[float] = []
    worker_thread: list[float] = []
    wefts: list[float] = []
    stores: list[float] = []
    for _ in range(args.repeats):
        main_thread.append(plain_encode(texts, args.batch_size, in_thread=False))
        worker_thread.append(plain_encode(texts, args.batch_size, in_thread=True))
        weft = weft_ingest(texts, args.batch_size)
        wefts.append(weft["total_seconds"])
        stores.append(weft["store_seconds"])
    anchor = min(statistics.median(main_thread), statistics.median(worker_thread))
    weft_seconds = statistics.median(wefts)
    result = {
        "n": args.n,
        "rounds": args.repeats,
        "anchor_main_thread_seconds": main_thread,
        "anchor_worker_thread_seconds": worker_thread,
        "weft_total_seconds": wefts,
        "weft_store_seconds": stores,
        "anchor_per_second": args.n / anchor,
        "weft_per_second": args.n / weft_seconds,
        "ratio": anchor / weft_seconds,
    }
    print(json.dumps(result, indent=2))
    print(
        f"\nplain encode: {result['anchor_per_second']:.0f}/s   "
        f"weft ingest (store + embed): {result['weft_per_second']:.0f}/s   "
        f"ratio {result['ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
