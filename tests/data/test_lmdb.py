"""Tests of the LMDB form of the Chinese-CLIP layout on a tiny generated LMDB."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from engine.data import cnclip
from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError, TextRecord
from tests.data.test_cnclip import palette_png, transparent_png

lmdb = pytest.importorskip("lmdb", reason="lmdb is not installed; `pip install 'xmr[lmdb]'` runs these tests")

from engine.data.lmdb_images import write_lmdb_split  # noqa: E402  (needs lmdb only at call time)

TEXTS = [TextRecord(3, "红色的图", (10,)), TextRecord(4, "两张图", (11, 10)), TextRecord(12, "第三张", (11,))]
IMAGES = [(10, palette_png()), (11, transparent_png())]


@pytest.fixture()
def lmdb_dataset(tmp_path: Path) -> Path:
    write_lmdb_split(tmp_path, "valid", TEXTS, IMAGES)
    return tmp_path


def test_lmdb_split_reads_texts_and_images(lmdb_dataset: Path) -> None:
    split = cnclip.load_split(lmdb_dataset, "valid", check_images=True)

    assert split.texts == TEXTS
    assert split.image_ids == [10, 11]
    assert split.load_image(10).getpixel((3, 0)) == (0, 0, 255)
    assert split.load_image(11).getpixel((0, 0)) == (255, 255, 255)


def test_lmdb_splits_are_listed(lmdb_dataset: Path) -> None:
    assert cnclip.list_splits(lmdb_dataset) == ["valid"]


def test_lmdb_pair_with_missing_image_is_reported(lmdb_dataset: Path) -> None:
    env = lmdb.open(str(lmdb_dataset / "lmdb" / "valid" / "pairs"), map_size=2**24)
    with env.begin(write=True) as txn:
        txn.put(b"3", pickle.dumps((99, 20, "没有这张图")))
        txn.put(b"num_samples", b"5")
        txn.put(b"4", pickle.dumps((10, 21, "   ")))
    env.close()

    problems = ProblemLog()
    cnclip.load_split(lmdb_dataset, "valid", skip_bad=True, problems=problems)

    missing = problems.examples[ProblemKind.missing_image][0]
    assert str(missing).endswith("pairs:4: text_id 20 lists image_id 99, which is not in the gallery")
    assert problems.examples[ProblemKind.empty_caption][0].line == 5
    with pytest.raises(DatasetError, match="1 empty caption, 1 missing image"):
        cnclip.load_split(lmdb_dataset, "valid")


def test_lmdb_pair_that_unpickles_a_global_is_rejected(lmdb_dataset: Path) -> None:
    env = lmdb.open(str(lmdb_dataset / "lmdb" / "valid" / "pairs"), map_size=2**24)
    with env.begin(write=True) as txn:
        txn.put(b"0", pickle.dumps((10, 3, Path("x"))))
    env.close()

    split = cnclip.load_split(lmdb_dataset, "valid", skip_bad=True)

    assert split.skipped == {"malformed line": 1}
    assert [record.text_id for record in split.texts] == [4, 12]


def test_lmdb_store_pickles_without_its_handle(lmdb_dataset: Path) -> None:
    split = cnclip.load_split(lmdb_dataset, "valid")
    split.load_image(10)

    copy = pickle.loads(pickle.dumps(split))

    assert copy.load_image(11).size == (2, 2)


class _Sizes(torch.utils.data.Dataset):
    def __init__(self, split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split.image_ids)

    def __getitem__(self, index: int) -> int:
        return self.split.load_image(self.split.image_ids[index]).size[0]


@pytest.mark.parametrize("form", ["lmdb", "tsv"])
def test_dataloader_workers_open_own_handles(tmp_path: Path, form: str) -> None:
    if form == "lmdb":
        write_lmdb_split(tmp_path, "valid", TEXTS, IMAGES)
    else:
        cnclip.write_split(tmp_path, "valid", TEXTS, IMAGES)
    split = cnclip.load_split(tmp_path, "valid")
    split.load_image(10)  # the parent's handle is open before the workers start

    loader = torch.utils.data.DataLoader(_Sizes(split), batch_size=1, num_workers=2)

    assert [int(batch) for batch in loader] == [4, 2]
