"""Data preparation and datasets on the real clip ``videos/tfjs_pose_1.mp4``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from posevid.cli import app
from posevid.crop import crop_square
from posevid.data import ClipDataset, build_dataset
from posevid.data.augment import color_jitter, flip_item, flip_iuv
from posevid.data.prepare import is_done, list_jobs, prepare
from posevid.errors import PosevidError
from posevid.posefiles import read_poses
from posevid.skeleton import COCO18_NAMES


def test_tiny_data_layout_and_crop(tiny_data):
    index = json.loads((tiny_data / "index.json").read_text())
    names = ["tfjs_pose_1_f0-90", "tfjs_pose_1_f90-120"]
    assert index["size"] == 64 and index["train"] == names[:1] and index["test"] == names[1:]
    metas = [json.loads((tiny_data / n / "meta.json").read_text()) for n in names]
    assert [m["frames"] for m in metas] == [90, 30] and metas[1]["frame_range"] == [90, 120]
    assert metas[0]["crop"] == metas[1]["crop"]  # one stable box for the whole video
    clip = tiny_data / "tfjs_pose_1_f0-90"
    assert len(list((clip / "frames").glob("*.png"))) == 90 and len(list((clip / "masks").glob("*.png"))) == 90
    frame = cv2.imread(str(clip / "frames" / "000045.png"))
    mask = cv2.imread(str(clip / "masks" / "000045.png"), cv2.IMREAD_GRAYSCALE)
    assert frame.shape == (64, 64, 3) and set(np.unique(mask)) <= {0, 255}
    # The person fills a good part of the crop and stays inside it.
    cover = (mask > 0).mean()
    assert 0.05 < cover < 0.6
    ys, xs = np.nonzero(mask)
    assert xs.min() > 0 and xs.max() < 63 and ys.min() > 0


def test_poses_match_the_reference_keypoints(tiny_data, shared_data):
    """Our cropped poses, mapped back to the video, agree with the MoveNet reference of the clip."""
    ref = json.loads((shared_data / "videos" / "tfjs_pose_1.json").read_text())
    meta = json.loads((tiny_data / "tfjs_pose_1_f0-90" / "meta.json").read_text())
    poses = read_poses(tiny_data / "tfjs_pose_1_f0-90" / "poses.npz")
    assert (poses.width, poses.height, len(poses)) == (64, 64, 90)
    x0, y0, side = meta["crop"]
    back = poses.xy * side / 64 + np.array([x0, y0])
    errs = []
    for t in range(90):
        for name, kp in ref[t].items():
            j = COCO18_NAMES.index(name)
            if poses.conf[t, j] > 0.5:
                errs.append(np.hypot(back[t, j, 0] - kp["x"], back[t, j, 1] - kp["y"]))
    assert len(errs) > 500
    # 576-pixel frames; the body is ~200 px tall. Median error in source pixels:
    assert np.median(errs) < 8


def test_clip_dataset_items(tiny_data):
    ds = ClipDataset(tiny_data, "train", frames=3)
    assert len(ds) == 88
    item = ds[(10, 7)]
    assert item["frames"].shape == (3, 3, 64, 64) and item["masks"].shape == (3, 1, 64, 64)
    assert item["xy"].shape == (3, 18, 2) and item["conf"].shape == (3, 18)
    assert item["src"].shape == (3, 64, 64) and item["src_xy"].shape == (18, 2)
    assert item["src_mask"].shape == (1, 64, 64)
    assert item["frames"].min() >= -1 and item["frames"].max() <= 1 and item["frames"].std() > 0.1
    assert int(item["start"]) == 10 and int(item["clip"]) == 0
    # Consecutive windows overlap by two frames.
    assert torch.equal(ds[11]["frames"][0], item["frames"][1])
    # Same key -> same item; another seed -> (usually) another source frame.
    assert torch.equal(ds[(10, 7)]["src"], item["src"])
    assert any(not torch.equal(ds[(10, s)]["src"], item["src"]) for s in range(8, 12))
    small = build_dataset({"frames": 1, "size": 32, "source": False}, tiny_data, "test")
    one = small[0]
    assert len(small) == 30 and one["frames"].shape == (1, 3, 32, 32) and "src" not in one
    full = ClipDataset(tiny_data, "test")[0]
    torch.testing.assert_close(one["xy"], full["xy"] / 2)
    with pytest.raises(PosevidError, match="at least 200 frames"):
        ClipDataset(tiny_data, "test", frames=200)
    with pytest.raises(PosevidError, match="data.kind"):
        build_dataset({"kind": "nope"}, tiny_data, "train")


def test_flip_swaps_left_and_right(tiny_data):
    plain = ClipDataset(tiny_data, "train", frames=2)
    flipping = ClipDataset(tiny_data, "train", frames=2, flip=True)
    flipped_seen = 0
    for seed in range(6):
        a, b = plain[(20, seed)], flipping[(20, seed)]
        if torch.equal(a["frames"], b["frames"]):
            continue
        flipped_seen += 1
        expected = flip_item(dict(a))
        for key in expected:
            torch.testing.assert_close(b[key], expected[key])
        # The right wrist (4) of the flipped item is the mirrored left wrist (7).
        if a["conf"][0, 7] > 0:
            assert b["xy"][0, 4, 0] == pytest.approx(63 - float(a["xy"][0, 7, 0]))
        torch.testing.assert_close(b["frames"][..., 0], a["frames"][..., 63])
    assert 0 < flipped_seen < 6


def test_flip_iuv_and_color_jitter():
    iuv = torch.zeros(3, 4, 6)
    iuv[0, :, :3] = 3  # right hand on the left half
    iuv[1] = torch.arange(6.0)
    out = flip_iuv(iuv)
    assert (out[0, :, 3:] == 4).all() and (out[0, :, :3] == 0).all()
    assert torch.equal(out[1, 0], torch.arange(6.0).flip(0))
    assert torch.equal(flip_iuv(out), iuv)
    item = {"src": torch.rand(3, 8, 8) * 2 - 1, "frames": torch.rand(2, 3, 8, 8) * 2 - 1}
    before = {k: v.clone() for k, v in item.items()}
    jittered = color_jitter(item, np.random.default_rng(0), 0.3)
    assert not torch.equal(jittered["src"], before["src"]) and jittered["frames"].abs().max() <= 1
    assert color_jitter(before, np.random.default_rng(0), 0.0)["src"] is before["src"]


def _iuv_frames(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:576, 0:576]
    for t in range(n):
        iuv = np.stack([1 + (xx // 24 + t) % 24, yy % 256, xx % 256], -1).astype(np.uint8)
        cv2.imwrite(str(folder / f"{t:04d}.png"), cv2.cvtColor(iuv, cv2.COLOR_RGB2BGR))


def test_prepare_errors_resume_and_iuv(shared_data, tmp_path):
    video = shared_data / "videos" / "tfjs_pose_1.mp4"
    broken = tmp_path / "in" / "broken.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not a video")
    _iuv_frames(tmp_path / "iuv" / "tfjs_pose_1", 4)
    out = tmp_path / "data"
    index, errors = prepare([broken, video], out, size=32, workers=2, frames="0:4", iuv_dir=tmp_path / "iuv",
                            show_progress=False)
    assert len(errors) == 1 and "broken.mp4" in errors[0]
    assert index["train"] == ["tfjs_pose_1_f0-4"] and not index["test"]
    clip = out / "tfjs_pose_1_f0-4"
    meta = json.loads((clip / "meta.json").read_text())
    assert meta["frames"] == 4 and meta["iuv"]
    # IUV frames are cut with the video's box, nearest-neighbour (part indices stay valid).
    x0, y0, side = meta["crop"]
    src = cv2.cvtColor(cv2.imread(str(tmp_path / "iuv" / "tfjs_pose_1" / "0002.png")), cv2.COLOR_BGR2RGB)
    got = cv2.cvtColor(cv2.imread(str(clip / "iuv" / "000002.png")), cv2.COLOR_BGR2RGB)
    assert np.array_equal(got, crop_square(src, (x0, y0, side), 32, nearest=True))
    item = ClipDataset(out, "train", frames=2)[0]
    assert item["iuv"].shape == (2, 3, 32, 32) and item["src_iuv"].shape == (3, 32, 32)
    assert item["iuv"][:, 0].max() <= 24
    # No stray temporary folders; a rerun skips the finished clip and reports the broken one again.
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "tfjs_pose_1_f0-4"]
    stamp = (clip / "meta.json").stat().st_mtime_ns
    result = CliRunner().invoke(app, ["prepare", str(broken), str(video), "-o", str(out), "--size", "32",
                                      "--frames", "0:4"])
    assert result.exit_code == 2 and "broken.mp4" in result.output
    assert (clip / "meta.json").stat().st_mtime_ns == stamp and is_done(out, "tfjs_pose_1_f0-4")
    with pytest.raises(PosevidError, match="size 32"):
        prepare([video], out, size=64, frames="0:4", show_progress=False)


def test_list_jobs_ranges(shared_data):
    video = shared_data / "videos" / "tfjs_pose_1.mp4"
    (job,) = list_jobs([video], test_frames="100:120")
    assert [(p.name, p.start, p.stop, p.split) for p in job.parts] == [
        ("tfjs_pose_1_f0-100", 0, 100, None), ("tfjs_pose_1_f100-120", 100, 120, "test")]
    (job,) = list_jobs([video, video][:1], max_frames=10)
    assert job.parts[0].stop == 10
    with pytest.raises(PosevidError, match="A:B"):
        list_jobs([video], frames="9:3")
