"""Peak memory of one phase of a run (training, evaluation): resident RAM and CUDA memory.

``getrusage`` reports the process's peak since it started, so evaluation would inherit the
training peak. Linux ≥ 4.0 resets the peak (``VmHWM``) when ``5`` is written to
``/proc/self/clear_refs`` (see proc(5)). Elsewhere a phase reports the lifetime peak, an upper
bound.
"""

from __future__ import annotations

import logging
import resource
import sys
from pathlib import Path
from types import TracebackType

import torch

log = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_rss() -> bool:
    """Reset this process's peak resident memory; return False where the OS does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Return the peak resident memory in MiB since the last reset (else since process start)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # reported in kB
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class PeakMemory:
    """Context manager that records the peak RSS (and CUDA allocation) of the code inside it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rss_mb = 0.0
        self.gpu_mb: float | None = None

    def __enter__(self) -> PeakMemory:
        if not reset_peak_rss():
            log.info("cannot reset the peak RSS on this OS; phase peaks include earlier phases")
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.rss_mb = peak_rss_mb()
        if self.device.type == "cuda":
            self.gpu_mb = torch.cuda.max_memory_allocated(self.device) / 2**20

    def metrics(self, prefix: str) -> dict[str, float]:
        """Return ``{prefix}/peak_rss_mb`` and, on CUDA, ``{prefix}/peak_gpu_mb``."""
        values = {f"{prefix}/peak_rss_mb": self.rss_mb}
        if self.gpu_mb is not None:
            values[f"{prefix}/peak_gpu_mb"] = self.gpu_mb
        return values
