"""Peak memory of checking and iterating a large Chinese-CLIP split (100k rows by default).

    python bench/data_scale.py                      # 100k rows in a temporary folder
    python bench/data_scale.py --rows 10000 20000   # several sizes, to see how memory grows
    python bench/data_scale.py --workers 2          # decode in 2 processes during the check

For each size it writes `train_imgs.tsv` (small random PNGs) and `train_texts.jsonl` (one
caption per image). It then runs each phase in a fresh Python process and prints that process's
peak RSS (ru_maxrss). `baseline` only imports the reader, `check` runs `check_dataset` (scan,
index and decode every image), `iterate` loads the split from the cached index and decodes
every image in file order. Worker processes of `--workers` are not included in the figure.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPOSITORY = Path(__file__).resolve().parent.parent

PHASES = {
    "baseline": "import engine.data.cnclip, engine.data.check",
    "check": (
        "from engine.data.check import check_dataset\n"
        "result = check_dataset(ROOT, workers=WORKERS)\n"
        "assert result.ok, result.report_lines()"
    ),
    "iterate": (
        "from engine.data import cnclip\n"
        "split = cnclip.load_split(ROOT, 'train', check_images=True, require_images=True)\n"
        "for image_id in split.image_ids:\n"
        "    split.load_image(image_id)\n"
        "assert len(split.image_ids) == ROWS"
    ),
}

MEASURE = """
import resource, sys, time
from pathlib import Path
ROOT, ROWS, WORKERS = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
{body}
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def small_png(rng: random.Random, size: int) -> bytes:
    """Encode a size×size image of random blocks (so PNG cannot compress it to nothing)."""
    image = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_split(root: Path, rows: int, image_size: int, seed: int = 0) -> None:
    """Write a `train` split of `rows` images and captions, streaming so the writer stays small."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "train_imgs.tsv", "wb") as images, \
            open(root / "train_texts.jsonl", "w", encoding="utf-8") as texts:
        for image_id in range(rows):
            images.write(b"%d\t%s\n" % (image_id, base64.urlsafe_b64encode(small_png(rng, image_size))))
            caption = {"text_id": image_id, "text": f"第{image_id}张随机色块图片", "image_ids": [image_id]}
            texts.write(json.dumps(caption, ensure_ascii=False) + "\n")


def run_phase(name: str, root: Path, rows: int, workers: int, cache: Path) -> tuple[float, float]:
    """Run one phase in a fresh process; return (seconds, peak RSS in MiB)."""
    script = MEASURE.format(body=PHASES[name])
    environment = {**os.environ, "XMR_CACHE": str(cache), "PYTHONPATH": str(REPOSITORY)}
    output = subprocess.run([sys.executable, "-c", script, str(root), str(rows), str(workers)],
                            check=True, capture_output=True, text=True, env=environment, cwd=REPOSITORY)
    seconds, peak = output.stdout.split()[-2:]
    return float(seconds), float(peak)


def measure(rows: int, image_size: int, workers: int, folder: Path) -> None:
    root = folder / f"rows-{rows}"
    started = time.perf_counter()
    if not (root / "train_texts.jsonl").is_file():  # reused with --keep
        write_split(root, rows, image_size)
    size_mb = (root / "train_imgs.tsv").stat().st_size / 2**20
    print(f"{rows} rows: wrote {size_mb:.1f} MiB of tsv in {time.perf_counter() - started:.1f} s")
    cache = folder / f"cache-{rows}"
    shutil.rmtree(cache, ignore_errors=True)  # so the check phase scans and decodes from scratch
    for name in PHASES:
        seconds, peak = run_phase(name, root, rows, workers, cache)
        print(f"  {name:8s} {seconds:7.1f} s   peak RSS {peak:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000], help="split sizes to measure")
    parser.add_argument("--image-size", type=int, default=16, help="side of the generated images in pixels")
    parser.add_argument("--workers", type=int, default=0, help="decoding processes of the check (0 = serial)")
    parser.add_argument("--keep", type=Path, default=None, help="write the data here and keep it")
    arguments = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, images {arguments.image_size} px, "
          f"check workers {arguments.workers}")
    if arguments.keep:
        for rows in arguments.rows:
            measure(rows, arguments.image_size, arguments.workers, arguments.keep)
        return
    with tempfile.TemporaryDirectory(prefix="xmr-data-scale-") as folder:
        for rows in arguments.rows:
            measure(rows, arguments.image_size, arguments.workers, Path(folder))


if __name__ == "__main__":
    main()
