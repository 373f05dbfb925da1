"""Exact vs FAISS Flat vs IVF-PQ (alone and with exact re-ranking): latency and recall@10.

Galleries of 10k, 100k and 1M unit vectors (d = 256) are drawn from Gaussian mixtures and
uniformly on the sphere (the worst case for PQ). ``clustered`` has one component per 10
items, as a gallery contains a few images or captions per concept, so each query's true
neighbours form a tight group. ``clustered_coarse`` has 1,024 components; in 256 dimensions
isotropic noise puts all members of a component at nearly the same distance from a query,
so within a component it is as hard as uniform data.

Recall@10 is the share of the exact top 10 that each index returns. Latency per query is
reported both for one batched search call (wall time / queries) and as the median of
single-query calls. IVF-PQ uses the engine's default parameters for each gallery size, and
is then re-measured with re-ranking at the larger ``--nprobe-sweep`` values.

    python bench/index_tradeoff.py                # the full run (several minutes on 2 cores)
    python bench/index_tradeoff.py --sizes 10000  # a quick check
    python bench/index_tradeoff.py --data clustered_coarse --name index_tradeoff_coarse
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# torch and faiss-cpu each bundle their own libgomp. With the default wait policy the idle
# threads of one spin while the other computes, which slowed FAISS calls up to 5x here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import time_repeats, write_result  # noqa: E402
from engine.config import EvalConfig  # noqa: E402
from engine.index import INDEXES, RetrievalIndex  # noqa: E402
from engine.rerank import exact_scores, rerank  # noqa: E402

DIM = 256
ITEMS_PER_COMPONENT = 10  # ``clustered``: mixture components = gallery size / 10
COARSE_COMPONENTS = 1024  # ``clustered_coarse``: a fixed number of components
SPREAD = 0.6              # norm of the Gaussian offset from a component's centre, before normalising
DATA_KINDS = ("clustered", "uniform", "clustered_coarse")


def clustered(count: int, generator: torch.Generator, centres: torch.Tensor) -> torch.Tensor:
    members = torch.randint(len(centres), (count,), generator=generator)
    noise = torch.randn(count, DIM, generator=generator) * (SPREAD / DIM ** 0.5)
    return F.normalize(centres[members] + noise, dim=1)


def uniform(count: int, generator: torch.Generator) -> torch.Tensor:
    return F.normalize(torch.randn(count, DIM, generator=generator), dim=1)


def make_data(kind: str, size: int, queries: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        return uniform(size, generator), uniform(queries, generator)
    components = COARSE_COMPONENTS if kind == "clustered_coarse" else max(1, size // ITEMS_PER_COMPONENT)
    centres = F.normalize(torch.randn(components, DIM, generator=generator), dim=1)
    return clustered(size, generator, centres), clustered(queries, generator, centres)


def recall_at_10(found: torch.Tensor, truth: torch.Tensor) -> float:
    shared = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found[:, :10], truth))
    return shared / truth.numel()


def measure(name: str, search, queries: torch.Tensor, truth: torch.Tensor | None,
            single_queries: int) -> dict[str, float]:
    """Time one batched call and ``single_queries`` one-query calls of ``search``."""
    started = time.perf_counter()
    ids = search(queries)
    batch_seconds = time.perf_counter() - started
    singles = [time_repeats(lambda q=q: search(queries[q:q + 1]), 1)[0] for q in range(single_queries)]
    row = {"method": name, "batch_ms_per_query": 1000 * batch_seconds / len(queries),
           "single_p50_ms": 1000 * float(np.median(singles)),
           "single_p95_ms": 1000 * float(np.percentile(singles, 95))}
    if truth is not None:
        row["recall_at_10"] = recall_at_10(ids, truth)
    return row, ids


def bench_size(kind: str, size: int, queries_count: int, top_k: int, single_queries: int,
               nprobe_sweep: list[int]) -> list[dict]:
    gallery, queries = make_data(kind, size, queries_count, seed=size)
    rows = []

    def build(name: str) -> tuple[RetrievalIndex, float]:
        started = time.perf_counter()
        index = INDEXES.get(name)(gallery, EvalConfig())
        return index, time.perf_counter() - started

    exact, exact_build = build("exact")
    row, truth = measure("exact", lambda q: exact.search(q, 10)[1], queries, None, single_queries)
    rows.append({**row, "recall_at_10": 1.0, "build_seconds": exact_build, "memory_mb": exact.memory_bytes() / 2**20})

    flat, flat_build = build("faiss_flat")
    row, _ = measure("faiss_flat", lambda q: flat.search(q, 10)[1], queries, truth, single_queries)
    rows.append({**row, "build_seconds": flat_build, "memory_mb": flat.memory_bytes() / 2**20})
    del flat

    ivfpq, ivfpq_build = build("faiss_ivfpq")
    common = {"build_seconds": ivfpq_build, "memory_mb": ivfpq.memory_bytes() / 2**20,
              "params": vars(ivfpq.params) if hasattr(ivfpq.params, "__dict__") else str(ivfpq.params)}
    row, _ = measure("faiss_ivfpq", lambda q: ivfpq.search(q, 10)[1], queries, truth, single_queries)
    rows.append({**row, **common})

    def search_and_rerank(q: torch.Tensor) -> torch.Tensor:
        _, candidates = ivfpq.search(q, top_k)
        return rerank(exact_scores(q, gallery, candidates, "t2i"), candidates)[1]

    row, _ = measure(f"faiss_ivfpq+exact_rerank@{top_k}", search_and_rerank, queries, truth, single_queries)
    rows.append({**row, **common})
    for nprobe in [n for n in nprobe_sweep if ivfpq.params.nprobe < n <= ivfpq.params.nlist]:
        ivfpq.index.nprobe = nprobe  # more lists visited: higher recall, more codes scanned
        row, _ = measure(f"faiss_ivfpq(nprobe={nprobe})+exact_rerank@{top_k}", search_and_rerank,
                         queries, truth, single_queries)
        rows.append({**row, **common})
    for row in rows:
        row.update({"data": kind, "gallery": size, "queries": queries_count})
        print(f"{kind:16} {size:>8} {row['method']:44} recall@10 {row['recall_at_10']:.3f}  "
              f"batch {row['batch_ms_per_query']:8.3f} ms/q  single p50 {row['single_p50_ms']:8.3f} ms  "
              f"build {row['build_seconds']:7.1f} s  {row['memory_mb']:8.1f} MiB", flush=True)
    return rows


def speedups(rows: list[dict]) -> list[dict]:
    """Return Flat latency ÷ IVF-PQ latency (alone and re-ranked) per data kind and size."""
    out = []
    for kind in sorted({r["data"] for r in rows}):
        for size in sorted({r["gallery"] for r in rows}):
            group = {r["method"]: r for r in rows if r["data"] == kind and r["gallery"] == size}
            if not group:
                continue
            flat = group["faiss_flat"]
            for method in [m for m in group if m.startswith("faiss_ivfpq")]:
                out.append({"data": kind, "gallery": size, "method": method,
                            "recall_at_10": group[method]["recall_at_10"],
                            "batch_speedup_vs_flat": flat["batch_ms_per_query"] / group[method]["batch_ms_per_query"],
                            "single_speedup_vs_flat": flat["single_p50_ms"] / group[method]["single_p50_ms"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000, help="queries per gallery up to 100k items")
    parser.add_argument("--large-queries", type=int, default=200,
                        help="queries for galleries above 100k items, where Flat and exact search are slow")
    parser.add_argument("--single-queries", type=int, default=30, help="one-query calls timed per method")
    parser.add_argument("--top-k", type=int, default=100, help="IVF-PQ candidates re-scored exactly")
    parser.add_argument("--nprobe-sweep", type=int, nargs="*", default=[64, 128, 256],
                        help="further nprobe values timed with re-ranking, above the default")
    parser.add_argument("--data", nargs="+", choices=DATA_KINDS, default=["clustered", "uniform"])
    parser.add_argument("--name", default="index_tradeoff", help="result file name under bench/results")
    args = parser.parse_args()

    rows = []
    for kind in args.data:
        for size in args.sizes:
            count = args.queries if size <= 100_000 else args.large_queries
            rows.extend(bench_size(kind, size, count, args.top_k, args.single_queries, args.nprobe_sweep))
    ratios = speedups(rows)
    for r in ratios:
        print(f"{r['data']:16} {r['gallery']:>8} {r['method']:44} recall@10 {r['recall_at_10']:.3f}  "
              f"faster than Flat: batched {r['batch_speedup_vs_flat']:.1f}x, single {r['single_speedup_vs_flat']:.1f}x")
    write_result(args.name, {"dim": DIM, "items_per_component": ITEMS_PER_COMPONENT,
                             "coarse_components": COARSE_COMPONENTS, "spread": SPREAD,
                             "top_k": args.top_k, "rows": rows, "speedups": ratios})


if __name__ == "__main__":
    main()
