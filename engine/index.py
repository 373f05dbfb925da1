"""Retrieval indexes: built once on a gallery, they return each query's top-k gallery items.

Every index scores by inner product, which is the similarity of the embeddings that
``SimilarityCalculator.prepare`` returns: cosine embeddings arrive L2-normalised, so the inner
product is their cosine, and ``dot`` embeddings are compared as they are.

- ``exact``: float32 matrix products in query blocks sized by ``eval.chunk_mb``, so a large
  gallery never needs the whole ``queries × gallery`` score matrix in memory. It is
  ``exhaustive``: evaluation can rank the whole gallery with it.
- ``faiss_flat``: FAISS ``IndexFlatIP``, exact as well, but it returns only the top-k.
- ``faiss_ivfpq``: FAISS ``IndexIVFPQ``, approximate. Its parameters come from ``EvalConfig``,
  and each one left at 0 is derived from the gallery size and width (see ``ivfpq_params``).

NOTE: the torch and faiss-cpu wheels each bundle their own libgomp. Unless the process starts
with ``OMP_WAIT_POLICY=PASSIVE``, idle threads of one spin while the other computes, and FAISS
calls made between torch operations ran up to 5× slower on 2 cores (bench/README.md).
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator

import faiss
import numpy as np
import torch

from engine.config import EvalConfig
from engine.registry import Registry

log = logging.getLogger(__name__)

INDEXES: Registry[Callable[..., "RetrievalIndex"]] = Registry("index")

# FAISS's k-means prints a warning to stderr below this many training vectors per centroid.
# We check the same bound ourselves, so the warning goes through logging and names config keys.
MIN_POINTS_PER_CENTROID = 39


class IndexConfigError(ValueError):
    """Raised when index parameters do not fit the gallery (too few vectors, bad divisor)."""


class RetrievalIndex(ABC):
    """A gallery prepared for search; ``search`` returns scores and gallery positions."""

    exhaustive = False  # True when the index can also score every gallery item (exact ranks)

    def __init__(self, gallery: torch.Tensor, settings: EvalConfig | None = None) -> None:
        if gallery.ndim != 2 or gallery.shape[0] == 0:
            raise ValueError(f"gallery has shape {tuple(gallery.shape)}; expected [items ≥ 1, dim]")
        self.settings = settings or EvalConfig()
        self.size, self.dim = gallery.shape

    @abstractmethod
    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(scores, ids)``, both ``[queries × min(k, gallery)]``, best first.

        ``ids`` are gallery positions; an approximate index pads with -1 (score -inf) when it
        finds fewer than k items.
        """

    @abstractmethod
    def memory_bytes(self) -> int:
        """Return the bytes the index holds for the gallery (vectors, codes, centroids)."""


@INDEXES.register("exact", help="brute-force float32 inner products in query chunks")
class ExactIndex(RetrievalIndex):
    exhaustive = True

    def __init__(self, gallery: torch.Tensor, settings: EvalConfig | None = None) -> None:
        super().__init__(gallery, settings)
        self.gallery = gallery.float().contiguous()

    def chunk_rows(self) -> int:
        """Return how many queries fit in one block of scores within ``eval.chunk_mb``."""
        budget = self.settings.chunk_mb * 2**20 // 4  # float32 scores
        return max(1, budget // self.size)

    def score_chunks(self, queries: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(first_query_index, scores [chunk × gallery])`` for successive query chunks."""
        rows = self.chunk_rows()
        for start in range(0, queries.shape[0], rows):
            yield start, queries[start:start + rows].float() @ self.gallery.T

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = min(k, self.size)
        blocks = [scores.topk(k, dim=1) for _, scores in self.score_chunks(queries)]
        if not blocks:
            return torch.empty(0, k), torch.empty(0, k, dtype=torch.long)
        return torch.cat([b.values for b in blocks]), torch.cat([b.indices for b in blocks])

    def memory_bytes(self) -> int:
        return self.gallery.numel() * 4


def as_faiss_array(vectors: torch.Tensor) -> np.ndarray:
    """Return a C-contiguous float32 NumPy view or copy, the only layout FAISS accepts."""
    return np.ascontiguousarray(vectors.detach().float().cpu().numpy())


class FaissIndex(RetrievalIndex):
    """Shared search for FAISS indexes; subclasses set ``self.index``."""

    index: faiss.Index

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = min(k, self.size)
        scores, ids = self.index.search(as_faiss_array(queries), k)
        return torch.from_numpy(scores), torch.from_numpy(ids)


@INDEXES.register("faiss_flat", help="FAISS IndexFlatIP: exact inner product, top-k only")
class FaissFlatIndex(FaissIndex):
    def __init__(self, gallery: torch.Tensor, settings: EvalConfig | None = None) -> None:
        super().__init__(gallery, settings)
        self.index = faiss.IndexFlatIP(self.dim)
        self.index.add(as_faiss_array(gallery))

    def memory_bytes(self) -> int:
        return self.index.ntotal * self.dim * 4


@dataclass(frozen=True)
class IvfPqParams:
    """Resolved ``IndexIVFPQ`` parameters for one gallery."""

    nlist: int       # inverted lists (coarse k-means centroids)
    nprobe: int      # lists visited per query
    m: int           # sub-quantizers; each codes dim / m components
    nbits: int       # bits per sub-quantizer code (2^nbits centroids each)
    train_size: int  # gallery vectors sampled to train both quantizers


@INDEXES.register("faiss_ivfpq", help="FAISS IndexIVFPQ: inverted lists + product quantization")
class FaissIvfPqIndex(FaissIndex):
    def __init__(self, gallery: torch.Tensor, settings: EvalConfig | None = None) -> None:
        super().__init__(gallery, settings)
        self.params = ivfpq_params(self.size, self.dim, self.settings)
        p = self.params
        log.info("faiss_ivfpq on %d × %d: nlist=%d nprobe=%d m=%d nbits=%d, trained on %d vectors",
                 self.size, self.dim, p.nlist, p.nprobe, p.m, p.nbits, p.train_size)
        self.quantizer = faiss.IndexFlatIP(self.dim)  # kept here: the IVF index only borrows it
        self.index = faiss.IndexIVFPQ(self.quantizer, self.dim, p.nlist, p.m, p.nbits,
                                      faiss.METRIC_INNER_PRODUCT)
        # ivfpq_params already logged any shortage of training vectors under our key names.
        self.index.cp.min_points_per_centroid = 1
        self.index.pq.cp.min_points_per_centroid = 1
        sample = torch.randperm(self.size, generator=torch.Generator().manual_seed(0))[:p.train_size]
        self.index.train(as_faiss_array(gallery[sample]))
        self.index.add(as_faiss_array(gallery))
        self.index.nprobe = p.nprobe

    def memory_bytes(self) -> int:
        p = self.params
        codes = self.index.ntotal * (self.index.code_size + 8)  # a code and an int64 id per vector
        coarse = p.nlist * self.dim * 4
        codebooks = p.m * 2**p.nbits * (self.dim // p.m) * 4
        return codes + coarse + codebooks


def ivfpq_params(gallery_size: int, dim: int, settings: EvalConfig) -> IvfPqParams:
    """Resolve IVF-PQ parameters, deriving each 0 from the gallery and checking explicit ones.

    Raises ``IndexConfigError`` naming the values when they cannot work: a training sample
    smaller than the number of lists or of PQ centroids (FAISS would abort), or a ``pq_m``
    that does not divide ``dim``.
    """
    m = settings.pq_m or default_pq_m(dim)
    if dim % m:
        raise IndexConfigError(
            f"eval.pq_m={m} does not divide the embedding width {dim}; use one of "
            f"{', '.join(str(x) for x in divisors(dim) if x <= 64)} or 0 (auto)")

    limit = min(gallery_size, settings.index_train_size or gallery_size)
    nlist = settings.ivf_nlist or default_nlist(gallery_size)
    nbits = settings.pq_nbits or default_pq_nbits(limit)
    train_size = settings.index_train_size or min(
        gallery_size, max(64 * nlist, MIN_POINTS_PER_CENTROID * 2**nbits))
    _check_training_set(gallery_size, train_size, nlist, nbits)

    nprobe = settings.ivf_nprobe or max(1, nlist // 32)
    if nprobe > nlist:
        raise IndexConfigError(f"eval.ivf_nprobe={nprobe} exceeds eval.ivf_nlist={nlist}; "
                               f"visit at most {nlist} lists")
    return IvfPqParams(nlist=nlist, nprobe=nprobe, m=m, nbits=nbits, train_size=train_size)


def _check_training_set(gallery_size: int, train_size: int, nlist: int, nbits: int) -> None:
    if train_size > gallery_size:
        raise IndexConfigError(f"eval.index_train_size={train_size} exceeds the gallery of "
                               f"{gallery_size} vectors; lower it or use 0 (auto)")
    needed = max(nlist, 2**nbits)
    if train_size < needed:
        raise IndexConfigError(
            f"faiss_ivfpq needs at least {needed} training vectors (nlist={nlist}, "
            f"2^nbits={2**nbits}) but has {train_size} (gallery {gallery_size}); lower "
            "eval.ivf_nlist or eval.pq_nbits, set them to 0 (auto), or use faiss_flat")
    advised = MIN_POINTS_PER_CENTROID * needed
    if train_size < advised:
        log.warning("faiss_ivfpq: %d training vectors for nlist=%d and 2^nbits=%d centroids; "
                    "k-means is unreliable below %d (39 per centroid), so recall may drop",
                    train_size, nlist, 2**nbits, advised)


def default_nlist(gallery_size: int) -> int:
    """Return the power of two nearest √gallery, capped so each list gets 39 training vectors."""
    nearest = 2 ** round(math.log2(math.sqrt(gallery_size)))
    return max(1, min(nearest, gallery_size // MIN_POINTS_PER_CENTROID))


def default_pq_nbits(train_limit: int) -> int:
    """Return 8 bits, or fewer when the sample cannot give 39 vectors to each of 2^nbits centroids."""
    if train_limit < 2:
        raise IndexConfigError(f"a gallery of {train_limit} vector(s) is too small for faiss_ivfpq; "
                               "use exact or faiss_flat")
    affordable = int(math.log2(max(2, train_limit // MIN_POINTS_PER_CENTROID)))
    return max(1, min(8, affordable))


def default_pq_m(dim: int) -> int:
    """Return the largest divisor of ``dim`` not above min(64, dim / 16): ≥ 16 components per code.

    At 8 bits that stores a vector in dim / 16 bytes, 1/64 of float32. Shorter sub-vectors
    code more precisely but train far slower: in faiss-cpu 1.15 (generic build), training
    m=64 on 256-d vectors took 25× as long as m=16 (bench/README.md).
    """
    cap = max(1, min(64, dim // 16))
    return max(x for x in divisors(dim) if x <= cap)


def divisors(n: int) -> list[int]:
    return [x for x in range(1, n + 1) if n % x == 0]
