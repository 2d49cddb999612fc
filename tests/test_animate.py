"""The main job end to end (photo + driving clip -> video) and its parts: the warp method, smoothing, cropping."""

from __future__ import annotations

import csv
import itertools
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posevid.cli import app
from posevid.crop import crop_square, photo_box
from posevid.errors import PosevidError
from posevid.methods.base import build_method
from posevid.photo import unseen_joints
from posevid.pipeline import Animation, _retarget_frame, animate
from posevid.posefiles import read_poses
from posevid.poses import OneEuroFilter, Poses, body_height, smooth
from posevid.render import pose_mask
from posevid.skeleton import to_coco18
from posevid.video import VideoWriter, open_video, read_image

CLIP_FRAMES = 40
SIZE = 128


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> Path:
    return shared_data / "images" / "tfexamples_image2.jpeg"


@pytest.fixture(scope="module")
def photo_pose(shared_data: Path) -> Poses:
    """The ground-truth COCO keypoints of the photo (row 2 of the landmark truth file) as COCO-18."""
    with open(shared_data / "images" / "tfexamples_pose_landmark_truth.csv") as f:
        row = list(csv.reader(f))[2]
    xy17 = np.array(row, np.float32).reshape(17, 2)
    xy, conf = to_coco18(xy17, np.ones(17, np.float32), "coco17")
    return Poses(xy, conf, 399, 640)


@pytest.fixture(scope="module")
def clip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40 frames of the real dancing clip, re-encoded."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader, VideoWriter(path, reader.fps) as writer:
        for frame in itertools.islice(reader, CLIP_FRAMES):
            writer.write(frame)
    return path


def _akd(a: Poses, b: Poses, threshold: float = 0.5) -> np.ndarray:
    """(T,) mean pixel distance over the joints visible in both (NaN where none is)."""
    both = (a.conf > threshold) & (b.conf > threshold)
    dist = np.linalg.norm(a.xy - b.xy, axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where(both.any(1), (dist * both).sum(1) / both.sum(1), np.nan)


def test_animate_cli_follows_the_driving_motion(tmp_path: Path, photo: Path, clip: Path) -> None:
    """The default retargeting: the man of the photo (arms folded) takes the dancer's pose (arms out); the
    result keeps the photo's whole frame and aspect ratio (399x640 -> 80x128 with --size 128)."""
    from posevid.estimate import estimate_poses

    out, panels, saved = tmp_path / "out.mp4", tmp_path / "panels.mp4", tmp_path / "targets.npz"
    result = CliRunner().invoke(app, ["animate", str(photo), str(clip), "-o", str(out), "--size", str(SIZE),
                                      "--side-by-side", str(panels), "--save-poses", str(saved)])
    assert result.exit_code == 0, result.output
    width = 80
    with open_video(out) as reader:
        assert (reader.width, reader.height, reader.fps) == (width, SIZE, 30.0)
        assert sum(1 for _ in reader) == CLIP_FRAMES
    with open_video(panels) as reader:
        assert (reader.width, reader.height) == (SIZE + 2 * width, SIZE)  # the square clip, the pose, the result
        assert sum(1 for _ in reader) == CLIP_FRAMES

    targets = read_poses(saved)
    assert (targets.width, targets.height, len(targets)) == (width, SIZE, CLIP_FRAMES)
    with Animation(photo, str(clip), size=SIZE) as anim:
        source = anim.source_pose
    got = estimate_poses(out)
    assert len(got) == len(targets) == CLIP_FRAMES
    to_target = _akd(got, targets)
    to_source = _akd(got, Poses.concat([source] * CLIP_FRAMES))
    moved = _akd(targets, Poses.concat([source] * CLIP_FRAMES), threshold=0.0) > 0.05 * SIZE
    print(f"AKD to targets {np.nanmean(to_target):.2f} px ({100 * np.nanmean(to_target) / SIZE:.1f}% of {SIZE}); "
          f"moved frames {moved.sum()}: AKD to targets {np.nanmean(to_target[moved]):.2f} px, "
          f"to the still source pose {np.nanmean(to_source[moved]):.2f} px")
    assert np.isfinite(to_target).mean() > 0.85  # the person is found again in nearly every frame
    assert np.nanmean(to_target) < 0.08 * SIZE
    assert moved.sum() >= 10
    # 0.6: the photo's man wears a black suit, so a leg the driver lifts in front of the other is black on
    # black and BlazePose places its knee and ankle poorly (on the catalog and yoga photos the mesh warp's
    # AKD to the targets is under a third of that to the still source)
    assert np.nanmean(to_target[moved]) < 0.6 * np.nanmean(to_source[moved])


def test_warp_animator_identity_and_shift(shared_data: Path, photo: Path, photo_pose: Poses) -> None:
    rgb = read_image(photo)
    method = build_method({"method": "warp"})
    assert not method.capabilities.trains
    with pytest.raises(PosevidError, match="nothing to train"):
        method.train_step({})
    from posevid.train import train

    with pytest.raises(PosevidError, match="has nothing to train"):  # refused before anything is written
        train(method.cfg, shared_data, shared_data / "never-written")
    animator = method.animator()
    animator.reset(rgb, photo_pose)  # no mask: the PG2 pose mask stands in for it
    same = animator.step(photo_pose)
    assert same.shape == rgb.shape and same.dtype == np.uint8
    diff = np.abs(same.astype(np.int16) - rgb).mean(-1)
    mask = pose_mask(photo_pose.xy[0], photo_pose.conf[0], 640, 399) > 0
    far = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    # The person and the far background stay put (at the pose mask's edges the refined alpha mixes in the plate).
    assert diff[mask].mean() < 3.0 and diff[far].mean() < 1.0
    assert animator.alpha.shape == mask.shape and (animator.alpha[mask] > 0.5).mean() > 0.95  # drawn silhouette

    shifted = Poses(photo_pose.xy + np.array([40, 0], np.float32), photo_pose.conf, 399, 640)
    moved = animator.step(shifted).astype(np.int16)
    torso = (slice(180, 280), slice(170, 230))  # chest and belly, between the shoulders and the hips
    right = (torso[0], slice(210, 270))
    assert np.abs(moved[right] - rgb[torso]).mean() < 0.3 * np.abs(moved[torso] - rgb[torso]).mean()


def test_online_smoother_matches_offline_one_euro(photo_pose: Poses) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(30, dtype=np.float32)[:, None, None]
    sway = np.concatenate([np.sin(t / 5) * 30, np.cos(t / 7) * 10], -1)
    xy = photo_pose.xy + sway + rng.normal(0, 2, (30, 18, 2))
    seq = Poses(xy.astype(np.float32), np.ones((30, 18), np.float32), 399, 640, 30.0)
    offline = smooth(seq, "one_euro")
    online = OneEuroFilter(30.0, float(np.median(body_height(seq))))
    streamed = Poses.concat([online(p) for p in seq])
    np.testing.assert_allclose(streamed.xy, offline.xy, atol=1e-3)
    assert np.abs(np.diff(streamed.xy, 2, axis=0)).mean() < np.abs(np.diff(seq.xy, 2, axis=0)).mean()


def test_online_smoother_bridges_short_gaps_only(photo_pose: Poses) -> None:
    online = OneEuroFilter(30.0, 400.0, max_gap=3)
    online(photo_pose)
    gone = Poses(photo_pose.xy, np.where(np.arange(18) == 4, 0.0, 1.0)[None], 399, 640)
    held = [online(gone).conf[0, 4] for _ in range(5)]
    assert held[:3] == [1.0, 1.0, 1.0] and held[3:] == [0.0, 0.0]


def test_retarget_reference_frame_gives_the_source_pose(photo_pose: Poses) -> None:
    driving = Poses(photo_pose.xy * 0.5 + 20, photo_pose.conf, 300, 400)
    same = _retarget_frame(driving, driving, photo_pose, "relative")
    np.testing.assert_allclose(same.xy, photo_pose.xy, atol=1e-3)
    up = Poses(driving.xy - np.array([0, 10], np.float32), driving.conf, 300, 400)
    lifted = _retarget_frame(driving, up, photo_pose, "relative")
    np.testing.assert_allclose(lifted.xy - photo_pose.xy, np.tile([0, -20], (1, 18, 1)), atol=1e-3)


def test_square_crop_holds_the_person(photo: Path, photo_pose: Poses) -> None:
    rgb = read_image(photo)
    mask = (rgb.min(-1) < 200).astype(np.float32)  # the man on a white background
    x0, y0, side = photo_box(photo_pose, mask)
    crop = crop_square(rgb, (x0, y0, side), 96)
    pose = photo_pose.crop(x0, y0, side, side, 96, 96)
    assert crop.shape == (96, 96, 3)
    assert (pose.xy >= 0).all() and (pose.xy < 96).all()
    small = crop_square(mask, (x0, y0, side), 96)
    assert small.dtype == np.float32
    rows = np.flatnonzero(small.max(1) > 0.5)
    assert rows.max() >= 0.9 * 96 and rows.min() >= 0.15 * 96  # feet near the bottom, room above the head
    assert abs(small.sum() / 96**2 - mask.sum() / side**2) < 0.02  # the whole person is inside


def test_threads_do_not_change_the_frames(photo: Path, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding, estimation and warping run in three threads at once; the frames are those of one thread."""
    from posevid import driving, pipeline
    from posevid.prefetch import Inline

    def first(n: int) -> np.ndarray:
        frames = animate(photo, clip, size=96)
        try:
            return np.stack(list(itertools.islice(frames, n)))
        finally:
            frames.close()

    threaded = first(12)

    monkeypatch.setattr(pipeline, "Prefetch", Inline)
    monkeypatch.setattr(driving, "Prefetch", Inline)
    assert np.array_equal(first(12), threaded)


def test_animate_from_poses_with_fps_and_panels(photo: Path, photo_pose: Poses) -> None:
    t = np.arange(30, dtype=np.float32)[:, None, None]
    wave = photo_pose.xy + np.concatenate([np.zeros_like(t), np.sin(t / 4) * 20], -1) * (np.arange(18) == 4)[
        None, :, None]
    driving = Poses(wave.astype(np.float32), np.ones((30, 18), np.float32), 399, 640, 30.0)
    frames = list(animate(photo, driving, size=64, fps=15, side_by_side=True))
    assert len(frames) == 15
    left = round(399 * 64 / 640)  # the driving stick figure, at the driving poses' aspect
    width = 40  # the result and its pose: the photo's aspect, even sides
    assert all(f.shape == (64, left + 2 * width, 3) for f in frames)
    assert frames[0][:, :left].max() > 100 and frames[0][:, left:left + width].max() > 100


def test_package_level_animate_is_a_plain_function(photo: Path, photo_pose: Poses) -> None:
    import inspect
    import types

    import posevid
    import posevid.pipeline  # importing the pipeline module does not rebind posevid.animate

    assert isinstance(posevid.animate, types.FunctionType) and posevid.animate is posevid.pipeline.animate
    assert list(inspect.signature(posevid.animate).parameters)[:2] == ["source", "driving"]
    frames = list(posevid.animate(photo, Poses.concat([photo_pose] * 2), size=64))
    assert len(frames) == 2 and frames[0].shape == (64, 40, 3)


def test_animate_rejects_bad_input(tmp_path: Path, photo: Path, clip: Path) -> None:
    with pytest.raises(PosevidError, match="needs --checkpoint"):
        next(animate(photo, clip, method="pg2"))
    blank = tmp_path / "blank.png"
    from posevid.video import write_image

    write_image(blank, np.full((128, 96, 3), 255, np.uint8))
    with pytest.raises(PosevidError, match="no person"):
        next(animate(blank, clip))
    nobody = Poses.empty(5, 399, 640)
    with pytest.raises(PosevidError, match="a person was found in only 0 of 5 frames"):
        list(animate(photo, nobody, size=64))
    with pytest.raises(PosevidError, match="no person found in any driving frame"):
        list(animate(photo, nobody, size=64, force=True))
    result = CliRunner().invoke(app, ["animate", str(photo), str(tmp_path / "missing.mp4"), "-o",
                                      str(tmp_path / "o.mp4")])
    assert result.exit_code != 0 and isinstance(result.exception, PosevidError)
    assert not (tmp_path / "o.mp4").exists()


def test_poses_render_cli(tmp_path: Path, photo_pose: Poses) -> None:
    from posevid.posefiles import write_poses

    write_poses(tmp_path / "p.npz", Poses.concat([photo_pose] * 5))
    result = CliRunner().invoke(app, ["poses", "render", str(tmp_path / "p.npz"), "-o", str(tmp_path / "s.gif")])
    assert result.exit_code == 0, result.output
    with open_video(tmp_path / "s.gif") as reader:
        frames = list(reader)
    assert len(frames) == 5 and frames[0].shape == (640, 399, 3) and frames[0].max() > 100


def test_pipeline_loads_once_checks_at_the_call_and_reports_its_frames(photo: Path, photo_pose: Poses,
                                                                        tmp_path: Path) -> None:
    from posevid.pipeline import AnimateOptions, Pipeline

    pipe = Pipeline(AnimateOptions(size=64, mode="absolute"))
    model = pipe.model
    driving = Poses.concat([photo_pose] * 3)
    frames = pipe(photo, driving)
    assert (frames.width, frames.height, frames.frame_count, frames.fps) == (40, 64, 3, driving.fps)
    assert [f.shape for f in frames] == [(64, 40, 3)] * 3  # the photo's aspect, longer side 64
    assert len(list(pipe(photo, driving[:2]))) == 2 and pipe.model is model  # the model is reused
    with pytest.raises(PosevidError, match="missing.jpg"):
        pipe(tmp_path / "missing.jpg", driving)  # at the call, not at the first frame
    with pytest.raises(PosevidError, match="missing.mp4"):
        animate(photo, tmp_path / "missing.mp4")
    with pytest.raises(PosevidError, match="mode sideways"):
        AnimateOptions(mode="sideways")


def test_landscape_photo_keeps_its_whole_frame(shared_data: Path, tmp_path: Path) -> None:
    """The 1000x667 beach photo: --size sets the longer side (96x64), nothing is padded; --width and
    --height both (64x64) crop the photo around the man, still without padding."""
    photo = shared_data / "images" / "tfjs_pose.jpg"
    rgb = read_image(photo)
    with Animation(photo, Poses.empty(1, 1000, 667), force=True) as anim:
        still = anim.source_pose  # the man's own pose drives him: the frame should be the photo
    frames = list(animate(photo, Poses.concat([still] * 2), size=96))
    assert frames[0].shape == (64, 96, 3)
    small = cv2.resize(rgb, (96, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0].astype(int) - small).mean() < 6
    square = list(animate(photo, Poses.concat([still] * 2), width=64, height=64))[0]
    assert square.shape == (64, 64, 3)
    side = 667  # the photo's height: the square crop is 667 wide, centred on the man as far as the photo allows
    centre = float((still.xy[0, 8, 0] + still.xy[0, 11, 0]) / 2)
    x0 = int(np.clip(round(centre - side / 2), 0, 1000 - side))
    crop = cv2.resize(rgb[:, x0:x0 + side], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(square.astype(int) - crop).mean() < 8
    for frame in (frames[0], square):  # no streaks: the outer columns are not copies of each other
        assert (np.diff(frame[:, :3].astype(int), axis=1) != 0).any(axis=(0, 2)).all()
        assert (np.diff(frame[:, -3:].astype(int), axis=1) != 0).any(axis=(0, 2)).all()


def test_driving_sound_is_kept_cut_to_length_or_dropped(shared_data: Path, tmp_path: Path, photo: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    import av

    from posevid.pipeline import animate_to_file

    dance = shared_data / "videos" / "animatex_dance_2.mp4"  # 24 fps, with music
    music = tmp_path / "music.mp4"  # its first second, with its sound
    with open_video(dance) as reader, VideoWriter(music, reader.fps, audio_from=dance) as writer:
        for frame in itertools.islice(reader, 24):
            writer.write(cv2.resize(frame, (128, 190), interpolation=cv2.INTER_AREA))

    def sound(path: Path) -> float | None:
        """Seconds of audio in ``path`` (None without an audio stream)."""
        with av.open(str(path)) as c:
            if not c.streams.audio:
                return None
            packets = [p for p in c.demux(c.streams.audio[0]) if p.pts is not None]
            return float(max((p.pts + p.duration) * p.time_base for p in packets))

    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(app, ["animate", str(photo), str(music), "-o", str(out), "--size", "64"])
    assert result.exit_code == 0, result.output
    assert 0.9 < sound(out) <= 1.01  # the result is 1 s long: so is its sound
    result = CliRunner().invoke(app, ["animate", str(photo), str(music), "-o", str(out), "--size", "64", "--no-audio"])
    assert result.exit_code == 0, result.output
    assert sound(out) is None
    with caplog.at_level(logging.WARNING, logger="posevid"):
        animate_to_file(photo, music, tmp_path / "out.gif", size=64, show_progress=False)
    notes = [r.getMessage() for r in caplog.records if "audio is not kept" in r.getMessage()]
    assert len(notes) == 1 and notes[0].startswith(str(tmp_path / "out.gif"))


def test_half_body_photo_keeps_what_it_does_not_show_still(photo: Path, photo_pose: Poses, clip: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The businessman cut at mid-thigh, driven by the dancer (knee lifts): his knees and ankles are not in
    the photo, so no target invents them below its edge; one note says so."""
    rgb = read_image(photo)
    cut = int((photo_pose.xy[0, 8, 1] + photo_pose.xy[0, 9, 1]) / 2)
    with caplog.at_level(logging.WARNING, logger="posevid"), Animation(rgb[:cut], str(clip)) as anim:
        source = anim.source_pose
        targets = [target for _, _, target in itertools.islice(anim.targets(), 20)]
    notes = [r.getMessage() for r in caplog.records if "only part of the body" in r.getMessage()]
    assert len(notes) == 1 and "knee" in notes[0] and anim.notes == notes
    legs = [9, 10, 12, 13]
    assert unseen_joints(source)[legs].all()  # outside the photo, or guessed by BlazePose with a low visibility
    for target in targets:
        np.testing.assert_array_equal(target.xy[0, legs], source.xy[0, legs])
        np.testing.assert_array_equal(target.conf[0, legs], source.conf[0, legs])
    moved = max(np.abs(t.xy[0, 4] - source.xy[0, 4]).max() for t in targets)
    assert moved > 5  # the arms follow the dancer


def test_photo_with_a_tiny_person_is_refused(tmp_path: Path, photo: Path, photo_pose: Poses) -> None:
    canvas = np.full((640, 1600, 3), 255, np.uint8)
    canvas[480:640, 700:800] = cv2.resize(read_image(photo), (100, 160), interpolation=cv2.INTER_AREA)
    tiny = tmp_path / "tiny.png"
    from posevid.video import write_image

    write_image(tiny, canvas)
    with pytest.raises(PosevidError, match="tiny.png: (the person is too small|no person found)"):
        next(animate(tiny, Poses.concat([photo_pose] * 2), size=160))
