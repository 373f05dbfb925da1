"""Exact evaluation of 5k queries × 100k gallery items as a fraction of fp32 matmul throughput.

The denominator is the machine's measured fp32 GEMM rate, taken as the best of a square
2048³ product and a product of the evaluation's own shape. The numerator counts only the
2·queries·gallery·dim flops of the score matrix, so everything else evaluation does (ranking
relevant items, averaging metrics) shows up as a lower fraction.

    python bench/exact_eval_efficiency.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# See bench/index_tradeoff.py: two bundled libgomp copies spin against each other otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, time_repeats, write_result  # noqa: E402
from engine.config import EvalConfig  # noqa: E402
from engine.evaluate import score_direction  # noqa: E402


def gemm_gflops(rows: int, inner: int, columns: int, repeats: int) -> float:
    """Return the best fp32 GEMM rate in GFLOP/s of ``[rows × inner] @ [inner × columns]``."""
    left, right = torch.randn(rows, inner), torch.randn(inner, columns)
    left @ right  # warm-up: thread pool start and first-touch allocation
    best = min(time_repeats(lambda: left @ right, repeats))
    return 2 * rows * inner * columns / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--gallery", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    gallery = F.normalize(torch.randn(args.gallery, args.dim, generator=generator), dim=1)
    queries = F.normalize(torch.randn(args.queries, args.dim, generator=generator), dim=1)
    relevant = [frozenset({int(i)}) for i in torch.randint(args.gallery, (args.queries,), generator=generator)]
    settings = EvalConfig(index="exact", latency_queries=0)
    rows = max(1, settings.chunk_mb * 2**20 // 4 // args.gallery)

    square = gemm_gflops(2048, 2048, 2048, args.repeats)
    same_shape = gemm_gflops(min(rows, args.queries), args.dim, args.gallery, args.repeats)
    peak = max(square, same_shape)

    seconds = median(time_repeats(lambda: score_direction(queries, gallery, relevant, settings, "t2i"),
                                  args.repeats))
    matmul_only = median(time_repeats(lambda: [queries[s:s + rows] @ gallery.T
                                               for s in range(0, args.queries, rows)], args.repeats))
    flops = 2 * args.queries * args.gallery * args.dim
    achieved = flops / seconds / 1e9
    figures = {"queries": args.queries, "gallery": args.gallery, "dim": args.dim, "chunk_rows": rows,
               "gemm_gflops_square_2048": square, "gemm_gflops_eval_shape": same_shape,
               "evaluation_seconds": seconds, "score_matmuls_seconds": matmul_only,
               "evaluation_gflops": achieved, "fraction_of_peak": achieved / peak, "target": 0.7}
    print(f"fp32 GEMM: {square:.1f} GFLOP/s square, {same_shape:.1f} GFLOP/s at the eval shape")
    print(f"exact evaluation {args.queries} × {args.gallery}: {seconds:.2f} s "
          f"(score matmuls alone {matmul_only:.2f} s) = {achieved:.1f} GFLOP/s, "
          f"{achieved / peak:.2f} of peak (target ≥ 0.7)")
    write_result("exact_eval_efficiency", figures)


if __name__ == "__main__":
    main()
