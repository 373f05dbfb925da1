"""Tests of `check_dataset` and `xmr data check` on a dataset with one broken row of each kind."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.data import cnclip
from engine.data.check import check_dataset
from engine.data.problems import ProblemKind
from engine.data.records import DatasetError
from tests.data.broken import copy_without_broken_rows, write_broken_dataset
from xmr_tui.cli.main import app


@pytest.fixture()
def broken(tmp_path: Path) -> tuple[Path, dict[ProblemKind, tuple[Path, int]]]:
    root = tmp_path / "broken"
    return root, write_broken_dataset(root)


def test_check_reports_each_kind_once_with_location(broken) -> None:
    root, expected = broken

    result = check_dataset(root)

    train = next(check for check in result.splits if check.split == "train")
    assert not result.ok
    assert set(train.problems.counts) == set(expected)
    for kind, (path, line) in expected.items():
        assert train.problems.counts[kind] == 1, kind
        example = train.problems.examples[kind][0]
        assert (example.path, example.line) == (str(path), line), kind


def test_check_passes_clean_eval_splits(broken) -> None:
    root, _ = broken

    result = check_dataset(root)

    for check in result.splits:
        if check.split != "train":
            assert not check.problems, check.split


def test_check_passes_copy_without_broken_rows(broken, tmp_path) -> None:
    root, _ = broken
    clean = copy_without_broken_rows(root, tmp_path / "clean")

    result = check_dataset(clean)

    assert result.ok
    assert [check.split for check in result.splits] == ["test", "train", "valid"]


def test_invalid_base64_is_an_undecodable_image(tmp_path) -> None:
    root = copy_without_broken_rows(write_broken_dataset(tmp_path / "b") and tmp_path / "b", tmp_path / "c")
    with open(root / "valid_imgs.tsv", "ab") as out:
        out.write(b"7777\t@@not base64@@\n")

    result = check_dataset(root, splits=["valid"])

    problem = result.splits[0].problems.examples[ProblemKind.bad_image][0]
    assert "invalid base64" in problem.message
    assert problem.path == str(root / "valid_imgs.tsv")


def test_check_in_worker_processes_matches_serial(broken) -> None:
    root, _ = broken

    serial = check_dataset(root, splits=["train"])
    parallel = check_dataset(root, splits=["train"], workers=2)

    assert parallel.splits[0].problems.counts == serial.splits[0].problems.counts


def test_loading_broken_split_raises_with_location(broken) -> None:
    root, expected = broken

    with pytest.raises(DatasetError) as raised:
        cnclip.load_split(root, "train", check_images=True, require_images=True)

    message = str(raised.value)
    path, line = expected[ProblemKind.malformed_line]
    assert f"{path}:{line}" in message
    assert "--skip-bad" in message
    assert "\n" not in message


def test_skip_bad_counts_left_out_rows(broken) -> None:
    root, _ = broken

    split = cnclip.load_split(root, "train", check_images=True, require_images=True, skip_bad=True)

    clean_ids = {record.text_id for record in split.texts}
    assert {900, 902, 903}.isdisjoint(clean_ids)
    assert 5000 not in split.image_ids
    assert split.image_ids.count(1000) == 1
    assert split.skipped == {kind.value: 1 for kind in ProblemKind}


def test_missing_image_keeps_other_images(tmp_path) -> None:
    root = tmp_path / "d"
    cnclip.write_split(root, "valid", [], [])
    (root / "valid_texts.jsonl").write_text('{"text_id": 1, "text": "好", "image_ids": [1, 2]}\n', encoding="utf-8")
    (root / "valid_imgs.tsv").write_bytes(b"1\t" + base64.b64encode(b"x") + b"\n")

    split = cnclip.load_split(root, "valid", skip_bad=True)

    assert split.texts[0].image_ids == (1,)
    assert split.skipped == {"missing image": 1}


runner = CliRunner()


def test_cli_check_lists_problems_and_exits_nonzero(broken, tmp_path) -> None:
    root, expected = broken

    result = runner.invoke(app, ["data", "check", str(root), "--db", str(tmp_path / "x.db")])

    assert result.exit_code == 1
    for kind, (path, line) in expected.items():
        assert f"{kind.value}: 1" in result.output, kind
        assert f"{path}:{line}:" in result.output, kind


def test_cli_check_passes_clean_copy(broken, tmp_path) -> None:
    clean = copy_without_broken_rows(broken[0], tmp_path / "clean")

    result = runner.invoke(app, ["data", "check", str(clean), "--db", str(tmp_path / "x.db")])

    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
