"""The motion judge (an action classifier trained on real sequences only) and the motion augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posevid.data.motion import build_motion_arrays
from posevid.data.motion_augment import MotionAugment, body_scale, canonical, mirror, start_from, time_warp
from posevid.metrics.inception import fid
from posevid.motion_judge import features, heldout_accuracy, load_judge, seam_velocity, train_judge

ACTIONS = ("walk", "run", "crawl", "jump", "punch")


@pytest.fixture(scope="module")
def views(shared_data: Path) -> tuple[dict, dict]:
    """Five DeepMimic actions, 32-frame windows: yaws 0/90/180/270 (training) and 45/135/225/315 (held out)."""
    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ACTIONS]
    seen, _ = build_motion_arrays(clips, frames=32, yaws=(0, 90, 180, 270), test_fraction=0)
    unseen, _ = build_motion_arrays(clips, frames=32, yaws=(45, 135, 225, 315), test_fraction=0)
    return seen, unseen


def test_judge_recognises_actions_from_unseen_camera_yaws(views: tuple[dict, dict]) -> None:
    seen, unseen = views
    names = sorted(ACTIONS)  # build_motion_arrays sorts the labels
    untrained = heldout_accuracy(train_judge(seen["xy"], seen["conf"], seen["label"], names, 24, steps=1),
                                 unseen["xy"], unseen["label"], 24)
    judge = train_judge(seen["xy"], seen["conf"], seen["label"], names, frames=24, steps=150, batch=32)
    judge = load_judge(judge.state())  # what the benchmark would save and read back
    report = heldout_accuracy(judge, unseen["xy"], unseen["label"], 24)
    assert report["windows"] == len(unseen["xy"]) and set(report["per_label"]) == set(names)
    assert report["accuracy"] >= 0.85, report
    assert untrained["accuracy"] < 0.6, untrained
    # Its features tell real windows of two views apart less than real from frozen (still) sequences.
    real_a, real_b = features(judge, seen["xy"][:, :24]), features(judge, unseen["xy"][:, :24])
    still = features(judge, np.repeat(unseen["xy"][:, :1], 24, axis=1))
    assert fid(real_a, real_b) < 0.5 * fid(still, real_b)


def test_judge_is_invariant_to_position_and_scale(views: tuple[dict, dict]) -> None:
    seen, _ = views
    judge = train_judge(seen["xy"], seen["conf"], seen["label"], sorted(ACTIONS), frames=24, steps=2, batch=8)
    x = torch.from_numpy(seen["xy"][:6, :24])
    assert torch.allclose(judge(x), judge(x * 3.0 + torch.tensor([5.0, -2.0])), atol=1e-4)


def test_augmentations_keep_the_body(views: tuple[dict, dict]) -> None:
    seen, _ = views
    xy, conf = seen["xy"][0], seen["conf"][0]
    canon = canonical(xy, conf)
    assert body_scale(canon, conf) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(canon[0].min(0) + canon[0].max(0)).max() < 1e-5  # first frame's box centred
    flipped, fconf = mirror(xy, conf)
    back, _ = mirror(flipped, fconf)
    assert np.allclose(back, xy)
    slow, _ = time_warp(xy, conf, 0.5, 20)
    assert np.allclose(slow[::2], xy[:10]) and np.allclose(slow[1], (xy[0] + xy[1]) / 2)
    other = seen["xy"][-1, 5]
    blended, _ = start_from(other, np.ones(18, np.float32), xy, conf, blend=8)
    assert np.allclose(blended[0], other, atol=1e-5)  # starts at the given pose
    own = blended[8:] - blended[8:9]  # then moves exactly as the motion (after scaling to the pose's body)
    ratio = body_scale(other[None], np.ones((1, 18))) / body_scale(xy, conf)
    assert np.allclose(own, (xy[8:] - xy[8:9]) * ratio, atol=1e-4)


def test_balanced_sampling_and_start_mixing(shared_data: Path) -> None:
    from posevid.data.motion import MotionDataset, MotionOptions

    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ("kick", "stealthy_walk")]
    arrays = build_motion_arrays(clips, frames=40, yaws=(0, 90))
    counts = np.bincount(arrays[0]["label"][~arrays[0]["test"]])
    assert counts.max() > 5 * counts.min()  # kick is much shorter than the stealthy walk
    opts = MotionOptions(balance=True, speed=(0.8, 1.25), start_mix=1.0, canonical=True, flip=True, rotate=10)
    aug = MotionAugment.from_options(opts, train=True)
    ds = MotionDataset(None, "train", frames=32, augment=aug, arrays=arrays)
    items = [ds[(i, i)] for i in range(200)]
    labels = np.bincount([int(it["label"]) for it in items])
    assert abs(labels[0] - labels[1]) < 50  # about 100 each
    assert all(it["xy"].shape == (32, 18, 2) and torch.isfinite(it["xy"]).all() for it in items)
    sizes = [float(body_scale(it["xy"].numpy(), it["conf"].numpy())) for it in items]
    assert np.mean(sizes) == pytest.approx(1, abs=0.02)


def test_label_weights_draw_an_action_more_often(shared_data: Path) -> None:
    """``data.label_weights`` on top of ``balance``: walk weighted 3 is drawn about 3 times as often as run; a
    name that is not a training action, or weights without balance, are refused."""
    from posevid.data.motion import MotionDataset, MotionOptions
    from posevid.errors import PosevidError

    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ("run", "walk")]
    arrays = build_motion_arrays(clips, frames=40, yaws=(0,))
    counts = {}
    for weights in (None, {"walk": 3}):
        opts = MotionOptions(balance=True, label_weights=weights)
        ds = MotionDataset(None, "train", frames=32, augment=MotionAugment.from_options(opts, train=True),
                           arrays=arrays)
        counts[bool(weights)] = np.bincount([int(ds[(i, i)]["label"]) for i in range(400)], minlength=2)
    assert abs(counts[False][1] - 200) < 40  # balanced: half walk
    assert abs(counts[True][1] - 300) < 35, counts  # weighted: three quarters walk
    with pytest.raises(ValueError, match="needs data.balance"):
        MotionAugment.from_options(MotionOptions(label_weights={"walk": 3}), train=True)
    with pytest.raises(ValueError, match="positive"):
        MotionAugment.from_options(MotionOptions(balance=True, label_weights={"walk": 0}), train=True)
    with pytest.raises(PosevidError, match="jog"):
        MotionDataset(None, "train", frames=32, arrays=arrays, augment=MotionAugment.from_options(
            MotionOptions(balance=True, label_weights={"jog": 2}), train=True))


def test_phase_matching_across_views(shared_data: Path) -> None:
    """``match_view``: the motion a start pose blends into may come from any camera yaw (the nearest pose
    wins); without it only from the start pose's own yaw."""
    from posevid.data.motion import MotionDataset, MotionOptions

    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ("run", "walk")]
    arrays = build_motion_arrays(clips, frames=40, yaws=(0, 10))  # two nearly equal views
    chosen = {}
    for view in (False, True):
        opts = MotionOptions(start_mix=1.0, match_phase=True, match_view=view, canonical=True)
        ds = MotionDataset(None, "train", frames=32, augment=MotionAugment.from_options(opts, train=True),
                           arrays=arrays)
        rng = np.random.default_rng(0)
        same = np.flatnonzero(ds.yaw == 0)
        walks = np.flatnonzero(ds.label == 1)
        picks = [ds._nearest_phase(same, int(rng.choice(walks)), int(rng.choice(same)), int(rng.integers(40)), rng)[0]
                 for _ in range(40)]
        assert all(ds.label[p] == 1 for p in picks)  # always the requested action
        chosen[view] = set(ds.yaw[picks].tolist())
    assert chosen[False] == {0} and chosen[True] == {0, 10}


def test_seam_velocity_finds_jumps() -> None:
    t = np.arange(1 + 3 * 15, dtype=np.float32)
    smooth = np.stack([t, t], -1)[None, :, None] * np.ones((2, 1, 18, 1), np.float32) * 0.01
    even = seam_velocity(smooth, 16, 0)
    assert even["speed_ratio"] == pytest.approx(1.0, rel=1e-4)
    assert even["seam_speed"] == pytest.approx(0.01 * 2 ** 0.5, rel=1e-4)
    jumpy = smooth.copy()
    jumpy[:, 16:] += 0.1  # a jump at the first seam (step 15 -> 16)
    assert seam_velocity(jumpy, 16, 0)["speed_ratio"] > 3
    assert seam_velocity(jumpy, 16, 2)["speed_ratio"] > 1.5  # within a 2-frame overlap
