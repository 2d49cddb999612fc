"""``posevid evaluate --protocol``: each paper's evaluation end to end on a tiny fixture in its dataset's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from layout_fixtures import build_fomm, build_inshop, build_market, build_ubc_fashion
from posevid.cli import app
from posevid.config import load_config
from posevid.data.motion import write_motion_dataset
from posevid.data.prepare import prepare
from posevid.errors import PosevidError
from posevid.protocols import PROTOCOLS, run_protocol
from posevid.train import train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def taichi(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A first-order-model layout (one train video, one test frame folder) prepared at 64x64."""
    tmp = tmp_path_factory.mktemp("taichi")
    prepare([build_fomm(shared_data, tmp / "download")], tmp / "data", size=64, layout="fomm", show_progress=False)
    return tmp / "data"


@pytest.fixture(scope="module")
def market(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("market")
    prepare([build_market(shared_data, tmp / "download")], tmp / "data", layout="market", show_progress=False)
    return tmp / "data"


@pytest.fixture(scope="module")
def dwnet_run(taichi: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DwNet's tiny config trained for 2 steps on the fixture's train clip (a checkpoint to evaluate)."""
    run = tmp_path_factory.mktemp("dwnet") / "run"
    cfg = load_config(REPO / "configs" / "dwnet" / "tiny.yaml",
                      ["train.steps=2", "train.checkpoint_every=2", "train.tensorboard=false", "model.res_blocks=1"])
    train(cfg, taichi, run, show_progress=False, log=lambda msg: None)
    return run


def _run_cli(args: list[str], out: Path) -> dict:
    result = CliRunner().invoke(app, ["evaluate", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_reconstruction_protocol_with_a_checkpoint(taichi: Path, dwnet_run: Path, tmp_path: Path) -> None:
    doc = _run_cli(["--protocol", "reconstruction", "--data", str(taichi), "--checkpoint", str(dwnet_run),
                    "--device", "cpu", "--batch", "3"], tmp_path / "rec.json")
    ours = doc["ours"]
    assert 0 < ours["l1"] < 1 and 0 <= ours["mkr"] <= 1
    # Two training steps make blurs in which the estimator may find no joint: then AKD says so.
    assert isinstance(ours["akd"], float) or "no keypoint" in ours["akd"]["missing"]
    assert "re-identification" in ours["aed"]["missing"]
    assert doc["meta"]["method"] == "dwnet" and doc["meta"]["frames"]["paired"] == 8
    assert doc["published"][0]["values"]["l1"] == 0.063 and "Table 3" in doc["published"][0]["source"]
    table = (tmp_path / "rec.md").read_text()
    assert "| L1 ↓ |" in table and "| AED ↓ | missing:" in table and "First Order Motion Model" in table
    # The same clips through the plain reconstruction evaluation give the same L1.
    assert doc["all_metrics"]["l1"] == ours["l1"]


def test_dwnet_and_decoupled_protocols_name_what_is_missing(taichi: Path, tmp_path: Path) -> None:
    dwnet = run_protocol("dwnet", taichi, method="warp")
    assert "--vgg-weights" in dwnet.ours["perceptual"]["missing"] and dwnet.ours["fid"] > 0
    assert dwnet.ours["st_lpips_vgg"] > 0
    assert any("FID on 8 images" in w for w in dwnet.meta["warnings"])
    assert {r.dataset for r in dwnet.protocol.published} == {"Fashion", "Tai-Chi"}
    decoupled = run_protocol("decoupled", taichi, method="warp", max_items=4)
    assert 0 < decoupled.ours["mask_ms_ssim"] <= 1 and "--lpips-weights" in decoupled.ours["mask_lpips"]["missing"]
    assert decoupled.meta["frames"]["paired"] == 4 and not decoupled.meta["warnings"]  # FID is not in Table 1


@pytest.fixture(scope="module")
def pg2_run(market: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PG2 stage I (small widths) trained for 2 steps on the Market fixture's train pairs (data.kind pg2_pairs)."""
    run = tmp_path_factory.mktemp("pg2") / "run"
    cfg = load_config(REPO / "configs" / "pg2" / "tiny.yaml",
                      ["data.kind=pg2_pairs", "data.size=64", "data.width=32", "model.blocks=3", "model.hidden=8",
                       "model.z_dim=16", "train.batch_size=2", "train.steps=2", "train.checkpoint_every=2",
                       "train.tensorboard=false"])
    train(cfg, market, run, show_progress=False, log=lambda msg: None)
    return run


def test_pg2_pairs_protocol(market: Path, pg2_run: Path, tmp_path: Path) -> None:
    doc = _run_cli(["--protocol", "pg2-pairs", "--data", str(market), "--checkpoint", str(pg2_run)],
                   tmp_path / "pg2.json")
    assert doc["meta"]["method"] == "pg2"
    ours = doc["ours"]
    assert 0 < ours["ssim"] < 1 and 0 < ours["mask_ssim"] < 1 and ours["mask_ssim"] != ours["ssim"]
    assert "--inception-classifier" in ours["is"]["missing"] and "--inception-classifier" in ours["mask_is"]["missing"]
    # FID stands in for IS (named so, with its small-sample warning); ST-LPIPS is labelled as such.
    assert ours["fid"] > 0 and ours["st_lpips_alex"] > 0
    assert any("FID on 2 images" in w for w in doc["meta"]["warnings"])
    table = (tmp_path / "pg2.md").read_text()
    assert "| FID (not in the paper) ↓ |" in table and "in place of IS" in table
    assert "| ST-LPIPS AlexNet (not in the paper) ↓ |" in table and "Ghildyal & Liu" in table
    assert doc["meta"]["items"] == 2 and doc["meta"]["size"] == [64, 128]
    rows = {(r["method"], r["dataset"]): r["values"] for r in doc["published"]}
    assert rows[("PG2", "Market-1501")]["mask_ssim"] == 0.792


def test_pg2_pairs_on_deepfashion_and_dwnet_on_fashion(shared_data: Path, tmp_path: Path) -> None:
    """The two other datasets of these papers, each in its downloaded layout, through their protocols."""
    prepare([build_inshop(shared_data, tmp_path / "inshop")], tmp_path / "deepfashion", layout="deepfashion",
            show_progress=False)
    pairs = run_protocol("pg2-pairs", tmp_path / "deepfashion", method="warp")
    assert pairs.meta["items"] == 2 and pairs.meta["size"] == [176, 256]  # PATN's DeepFashion crops
    assert 0 < pairs.ours["ssim"] < 1 and 0 < pairs.ours["mask_ssim"] < 1 and pairs.ours["fid"] > 0
    prepare([build_ubc_fashion(shared_data, tmp_path / "fashion")], tmp_path / "ubc", size=64, layout="ubc-fashion",
            show_progress=False)
    dwnet = run_protocol("dwnet", tmp_path / "ubc", method="warp", max_items=3)
    assert dwnet.meta["frames"]["paired"] == 3 and dwnet.ours["st_lpips_vgg"] > 0 and dwnet.ours["fid"] > 0
    assert "--vgg-weights" in dwnet.ours["perceptual"]["missing"]


def test_scgan_protocol(taichi: Path, tmp_path: Path) -> None:
    run = tmp_path / "scgan"
    cfg = load_config(REPO / "configs" / "scgan" / "tiny.yaml",
                      ["train.steps=1", "train.checkpoint_every=1", "train.tensorboard=false", "train.amp=false",
                       "model.res_blocks=1", "model.posenet.blocks=1"])
    train(cfg, taichi, run, show_progress=False, log=lambda msg: None)
    doc = _run_cli(["--protocol", "scgan", "--data", str(taichi), "--checkpoint", str(run), "--max-frames", "4"],
                   tmp_path / "scgan.json")
    ours = doc["ours"]
    assert doc["meta"]["method"] == "scgan" and doc["meta"]["frames"]["paired"] == 4
    assert 0 < ours["ssim"] < 1 and "--inception-classifier" in ours["is"]["missing"] and ours["fid"] > 0
    assert doc["published"] == [] and "not in shared/papers" in doc["unpublished"]
    table = (tmp_path / "scgan.md").read_text()
    assert "| metric | ours |\n| --- | --- |\n| SSIM ↑ |" in table and "Published numbers: none" in table


def test_psgan_protocol(shared_data: Path, tmp_path: Path) -> None:
    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ("walk", "crawl", "cartwheel")]
    write_motion_dataset(clips, tmp_path / "motion", frames=16, yaws=(0, 90))
    run = tmp_path / "psgan"
    cfg = load_config(REPO / "configs" / "psgan" / "tiny.yaml",
                      ["train.steps=2", "train.checkpoint_every=2", "train.tensorboard=false"])
    train(cfg, tmp_path / "motion", run, show_progress=False, log=lambda msg: None)
    result = run_protocol("psgan", tmp_path / "motion", run, max_items=2)
    ours = result.ours
    assert result.meta["method"] == "psgan" and result.meta["items"] == 3 * 2 * 3  # actions x starts x samples
    assert 0 <= ours["action_accuracy"] <= 1 and ours["action_accuracy_real"] > 0.5
    assert ours["diversity"] > 0 and ours["smoothness"] > 0 and ours["nearest_train"] > 0


def test_protocol_errors(taichi: Path, market: Path, dwnet_run: Path) -> None:
    with pytest.raises(PosevidError, match="unknown protocol 'fvd'"):
        run_protocol("fvd", taichi, method="warp")
    with pytest.raises(PosevidError, match=r"missing \*-pairs-test.csv"):
        run_protocol("pg2-pairs", taichi, method="warp")
    with pytest.raises(PosevidError, match="not a prepared dataset"):
        run_protocol("reconstruction", market, method="warp")
    with pytest.raises(PosevidError, match="needs --checkpoint"):
        run_protocol("psgan", taichi, method="warp")
    with pytest.raises(PosevidError, match="needs a motion model; 'dwnet' makes no motion"):
        run_protocol("psgan", taichi, dwnet_run)
    assert set(PROTOCOLS) == {"reconstruction", "pg2-pairs", "dwnet", "decoupled", "scgan", "psgan"}
    assert all(np.isfinite(v) for p in PROTOCOLS.values() for r in p.published for v in r.values.values())
