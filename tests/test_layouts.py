"""``posevid prepare --layout``: the layouts users download, built tiny from ../shared/data in their exact form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from layout_fixtures import build_fomm, build_inshop, build_market, build_ubc_fashion, dance_frames
from posevid.cli import main
from posevid.data.layouts import inshop_name, read_layout
from posevid.data.prepare import prepare
from posevid.errors import PosevidError
from posevid.methods.pg2.data import PG2PairDataset
from posevid.video import open_video, read_image


def test_fomm_layout_keeps_splits_and_framing(shared_data: Path, tmp_path: Path) -> None:
    root = build_fomm(shared_data, tmp_path / "taichi")
    layout = read_layout("fomm", root)
    assert [(c.name, c.split) for c in layout.clips] == [("dancer#000#008", "train"), ("dancer#090#098", "test")]
    index, errors = prepare([root], tmp_path / "out", size=64, layout="fomm", show_progress=False)
    assert not errors and index["train"] == ["dancer#000#008"] and index["test"] == ["dancer#090#098"]
    clip = tmp_path / "out" / "dancer#090#098"
    meta = json.loads((clip / "meta.json").read_text())
    assert meta["crop"] == [0, 0, 64] and meta["frames"] == 8  # the dataset's crops are kept whole
    # Frame folders are PNG: the prepared frames are the dataset's frames, pixel for pixel.
    with open_video(clip / "frames") as reader:
        assert all(np.array_equal(a, b) for a, b in zip(reader, dance_frames(shared_data, 90, 8), strict=True))
    assert np.load(clip / "poses.npz")["conf"].shape == (8, 18)

    shutil.rmtree(root / "test")
    with pytest.raises(PosevidError, match=r"taichi: missing test/"):
        read_layout("taichi", root)


def test_ubc_fashion_layout(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    root = build_ubc_fashion(shared_data, tmp_path / "fashion")
    index, errors = prepare([root], tmp_path / "out", size=64, layout="ubc-fashion", show_progress=False)
    assert not errors and index["train"] == ["A1xTrainSquats"] and index["test"] == ["A2yTestSquats"]
    meta = json.loads((tmp_path / "out" / "A2yTestSquats" / "meta.json").read_text())
    assert meta["crop"][2] < 256 and meta["frames"] == 6  # cropped around the person of a portrait video

    (root / "test" / "A2yTestSquats.mp4").unlink()
    with pytest.raises(PosevidError, match=r"fashion/test: missing A2yTestSquats.mp4"):
        read_layout("ubc-fashion", root)
    (root / "fashion_train.txt").unlink()
    monkeypatch.setattr("sys.argv", ["posevid", "prepare", str(root), "-o", str(tmp_path / "o2"),
                                     "--layout", "ubc-fashion"])
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "missing fashion_train.txt" in err and len(err.strip().splitlines()) == 1


def test_inshop_names_as_patn() -> None:
    assert inshop_name(Path("WOMEN/Blouses_Shirts/id_00000001/02_4_full.jpg")) == \
        "fashionWOMENBlouses_Shirtsid0000000102_4full.jpg"


def test_deepfashion_inshop_layout(shared_data: Path, tmp_path: Path) -> None:
    root = build_inshop(shared_data, tmp_path / "inshop")
    info, errors = prepare([root], tmp_path / "out", layout="deepfashion", show_progress=False)
    assert not errors and info["images"] == {"train": 2, "test": 2}
    out = tmp_path / "out"
    img = read_image(out / "test" / "fashionWOMENDressesid0000000101_1front.jpg")
    assert img.shape == (256, 176, 3)  # PATN's crop of the 256x256 In-shop image
    data = PG2PairDataset(out, "test", 128, 88)
    item = data[0]
    assert item["src"].shape == (3, 128, 88) and item["frames"].shape == (1, 3, 128, 88)
    assert item["conf"].sum() > 8  # the annotations are the people's keypoints

    (root / "fasion-resize-annotation-test.csv").unlink()
    with pytest.raises(PosevidError, match=r"inshop: missing fasion-resize-annotation-test.csv"):
        read_layout("deepfashion", root)


def test_market_layout(shared_data: Path, tmp_path: Path) -> None:
    root = build_market(shared_data, tmp_path / "market")
    info, _ = prepare([root], tmp_path / "out", layout="market", show_progress=False)
    assert info["layout"] == "market" and sorted(p.name for p in (tmp_path / "out" / "test").iterdir()) == \
        ["0003_c1s1_000551_01.jpg", "0003_c3s1_000476_02.jpg"]
    assert PG2PairDataset(tmp_path / "out", "train", 128, 64)[1]["src"].shape == (3, 128, 64)

    (root / "bounding_box_test" / "0003_c3s1_000476_02.jpg").unlink()
    with pytest.raises(PosevidError, match=r"missing 0003_c3s1_000476_02.jpg \(named in market-pairs-test.csv\)"):
        read_layout("market", root)
    with pytest.raises(PosevidError, match="unknown layout 'mnist'"):
        read_layout("mnist", root)
