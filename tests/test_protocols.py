"""``posevid evaluate --protocol``: each paper's evaluation end to end on a tiny fixture in its dataset's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from layout_fixtures import build_fomm, build_market
from posevid.cli import app
from posevid.config import load_config
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


def test_pg2_pairs_protocol(market: Path, tmp_path: Path) -> None:
    doc = _run_cli(["--protocol", "pg2-pairs", "--data", str(market), "--method", "warp"], tmp_path / "pg2.json")
    ours = doc["ours"]
    assert 0 < ours["ssim"] < 1 and 0 < ours["mask_ssim"] < 1 and ours["mask_ssim"] != ours["ssim"]
    assert "--inception-classifier" in ours["is"]["missing"] and "--inception-classifier" in ours["mask_is"]["missing"]
    assert doc["meta"]["items"] == 2 and doc["meta"]["size"] == [64, 128]
    rows = {(r["method"], r["dataset"]): r["values"] for r in doc["published"]}
    assert rows[("PG2", "Market-1501")]["mask_ssim"] == 0.792


def test_protocol_errors(taichi: Path, market: Path) -> None:
    with pytest.raises(PosevidError, match="unknown protocol 'fvd'"):
        run_protocol("fvd", taichi, method="warp")
    with pytest.raises(PosevidError, match=r"missing \*-pairs-test.csv"):
        run_protocol("pg2-pairs", taichi, method="warp")
    with pytest.raises(PosevidError, match="not a prepared dataset"):
        run_protocol("reconstruction", market, method="warp")
    assert set(PROTOCOLS) == {"reconstruction", "pg2-pairs", "dwnet", "decoupled"}
    assert all(np.isfinite(v) for p in PROTOCOLS.values() for r in p.published for v in r.values.values())
