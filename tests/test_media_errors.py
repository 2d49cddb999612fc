"""Bad and unusual media through the animate API and CLI: a clear ``PosevidError`` or a sensible result, and
never a file (or a leftover temporary) under the output name when the run fails.

Driving videos: truncated, bit-flipped, zero-frame, without a video stream, random bytes, an empty frame folder,
a zeroed stretch (the decoder conceals it: every frame comes out), a person leaving the frame mid-clip (the
last target pose is held). Source photos: no person, absurd dimensions (refused), very large (downscaled to
``MAX_SOURCE_SIDE`` = 4096 px, the page's limit too, with a logged note), grayscale, RGBA, 16-bit grey and
16-bit RGB (converted to 8-bit RGB).
"""

from __future__ import annotations

import itertools
import json
import logging
import struct
import sys
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from posevid.app import MAX_SIDE as UI_MAX_SIDE
from posevid.cli import main
from posevid.errors import PosevidError
from posevid.pipeline import MAX_SOURCE_SIDE, Animation, animate_to_file
from posevid.posefiles import COCO17_NAMES, write_poses
from posevid.poses import Poses, body_height
from posevid.skeleton import to_coco18
from posevid.video import VideoWriter, open_video, read_image

CLIP = 12  # frames of the real clip used as the driving video
SIZE = 64


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> Path:
    return shared_data / "images" / "tfexamples_image2.jpeg"


@pytest.fixture(scope="module")
def clip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first frames of the real dancing clip, shrunk to 192x192 and re-encoded (mp4, +faststart)."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader, VideoWriter(path, reader.fps) as writer:
        for frame in itertools.islice(reader, CLIP):
            writer.write(cv2.resize(frame, (192, 192), interpolation=cv2.INTER_AREA))
    return path


@pytest.fixture(scope="module")
def pose_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five frames of the clip's reference keypoints as a pose file (a driving input with no decoding)."""
    frames = json.loads((shared_data / "videos" / "tfjs_pose_1.json").read_text())[:5]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in frames], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2], np.float32), "coco17")
    path = tmp_path_factory.mktemp("poses") / "driving.npz"
    write_poses(path, Poses(xy, conf, 576, 576, 30.0))
    return path


def _no_output(out: Path) -> None:
    """Nothing under the output name, and no temporary file beside it."""
    assert not out.exists()
    if out.parent.is_dir():
        assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.stem}.tmp")]


def _zero_frame_avi(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def _no_stream_mov(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def _damaged(clip: Path, tmp: Path, kind: str) -> Path:
    data = clip.read_bytes()
    if kind == "truncated_10":
        return _write(tmp / "trunc10.mp4", data[: len(data) // 10])
    if kind == "truncated_60":
        return _write(tmp / "trunc60.mp4", data[: len(data) * 6 // 10])
    if kind == "bit_flips":
        buf = bytearray(data)
        for i in np.random.default_rng(0).integers(len(buf) // 4, len(buf), 60):
            buf[i] ^= 0xFF
        return _write(tmp / "flipped.mp4", bytes(buf))
    if kind == "random_bytes":
        return _write(tmp / "noise.mp4", np.random.default_rng(1).bytes(5000))
    if kind == "zero_frames":
        return _zero_frame_avi(tmp / "zero.avi")
    if kind == "no_video_stream":
        return _no_stream_mov(tmp / "nostream.mov")
    (tmp / "frames").mkdir()
    (tmp / "frames" / "notes.txt").write_text("no frames here")
    return tmp / "frames"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["truncated_10", "truncated_60", "bit_flips", "random_bytes", "zero_frames",
                                  "no_video_stream", "empty_folder"])
def test_damaged_driving_video_fails_cleanly(kind: str, photo: Path, clip: Path, tmp_path: Path) -> None:
    driving = _damaged(clip, tmp_path, kind)
    out = tmp_path / "out" / "result.mp4"
    panels = tmp_path / "out" / "panels.mp4"
    with pytest.raises(PosevidError) as err:
        animate_to_file(photo, driving, out, side_by_side_out=panels, size=SIZE, show_progress=False)
    message = str(err.value)
    assert str(driving) in message and "\n" not in message
    _no_output(out)
    _no_output(panels)


def test_cli_reports_one_line_and_exit_code_2(photo: Path, clip: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Through the ``posevid`` entry point: one ``posevid: error:`` line on stderr, exit 2, no output file."""
    driving = _damaged(clip, tmp_path, "truncated_10")
    out = tmp_path / "result.mp4"
    monkeypatch.setattr(sys, "argv", ["posevid", "animate", str(photo), str(driving), "-o", str(out), "--size",
                                      str(SIZE)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("posevid: error:")]
    assert len(errors) == 1 and str(driving) in errors[0] and "Traceback" not in err, err
    _no_output(out)


def test_concealed_damage_still_gives_every_frame(photo: Path, clip: Path, tmp_path: Path) -> None:
    """A zeroed stretch inside the stream: FFmpeg conceals it, and every driving frame gives an output frame."""
    data = bytearray(clip.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 1500] = bytes(1500)
    driving = _write(tmp_path / "zeroed.mp4", bytes(data))
    out = tmp_path / "result.mp4"
    assert animate_to_file(photo, driving, out, size=SIZE, show_progress=False) == CLIP
    with open_video(out) as reader:
        assert sum(1 for _ in reader) == CLIP


def test_person_leaving_the_frame_holds_the_last_pose(photo: Path, clip: Path, tmp_path: Path) -> None:
    """The dancer slides out of the picture from frame 4 and is gone from frame 8: the output keeps every frame,
    and once nobody is seen the target pose (and so the frame) stays the last one. (A person in under half
    the frames stops the run unless forced: ``test_driving.py``.)"""
    driving = tmp_path / "leaving.mp4"
    with open_video(clip) as reader, VideoWriter(driving, reader.fps) as writer:
        for t, frame in enumerate(reader):
            shift = max(0, t - 3) * frame.shape[1] // 4
            wall = np.median(frame.reshape(-1, 3), axis=0).astype(np.uint8)
            moved = np.empty_like(frame)
            moved[:] = wall
            if shift < frame.shape[1]:
                moved[:, shift:] = frame[:, :frame.shape[1] - shift]
            writer.write(moved)
    seen, targets, results = [], [], []
    with Animation(photo, driving, size=SIZE, force=True) as anim:  # __iter__ unrolled, to see each driving pose
        anim.animator.reset(anim.source, anim.source_pose, anim.source_mask)
        for _, pose, target in anim.targets():
            seen.append(bool((pose.conf > 0).any()))
            targets.append(target)
            results.append(anim.animator.step(target))
    assert len(results) == CLIP and all(r.shape == (SIZE, 40, 3) for r in results)  # the photo's aspect
    assert seen[0] and not seen[-1]
    gone = seen.index(False) if False in seen else CLIP
    assert not any(seen[gone:]), seen
    for t in range(gone + 1, CLIP):
        np.testing.assert_array_equal(targets[t].xy, targets[gone].xy)
        np.testing.assert_array_equal(results[t], results[gone])


def _huge_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression-bomb shape), with one tiny IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _write(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                  + chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", ["no_person", "absurd_size", "not_an_image", "missing"])
def test_bad_source_photo_fails_cleanly(kind: str, pose_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    if kind == "no_person":
        Image.fromarray(np.full((160, 120, 3), (40, 90, 160), np.uint8)).save(source)
    elif kind == "absurd_size":
        _huge_png_header(source, 60000, 60000)
    elif kind == "not_an_image":
        _write(source, b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    out = tmp_path / "out.gif"
    with pytest.raises(PosevidError) as err:
        animate_to_file(source, pose_file, out, size=SIZE, show_progress=False)
    assert str(source) in str(err.value) and "\n" not in str(err.value)
    if kind == "no_person":
        assert "no person" in str(err.value)
    _no_output(out)


def _check_downscaled(source: Path, pose_file: Path, width: int, height: int, limit: int,
                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="posevid"), Animation(source, pose_file) as anim:
        first, _ = next(iter(anim))
    expected = (limit, 2 * round(width * limit / height / 2))  # the photo's aspect, even sides
    assert (anim.height, anim.width) == expected and first.shape == (*expected, 3)
    assert anim.source_pose.height == limit and body_height(anim.source_pose)[0] > 0.5 * limit
    assert any("downscaled" in n and f"{width}x{height}" in n for n in anim.notes)
    assert any("downscaled" in r.getMessage() for r in caplog.records)


def test_large_photo_is_downscaled_with_a_note(photo: Path, pose_file: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    """The real photo (399x640) against a limit lowered to 512: downscaled to 320x512, with a logged note."""
    assert MAX_SOURCE_SIDE == UI_MAX_SIDE  # the page and the API accept the same photos
    monkeypatch.setattr("posevid.pipeline.MAX_SOURCE_SIDE", 512)
    _check_downscaled(photo, pose_file, 399, 640, 512, caplog)


@pytest.mark.slow
def test_very_large_photo_is_downscaled_with_a_note(photo: Path, pose_file: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A 2805x4500 photo (the real one, upscaled) comes out at the real limit, 2550x4096."""
    big = cv2.resize(read_image(photo), (2805, 4500), interpolation=cv2.INTER_LINEAR)
    source = tmp_path / "big.jpg"
    Image.fromarray(big).save(source, quality=90)
    _check_downscaled(source, pose_file, 2805, 4500, MAX_SOURCE_SIDE, caplog)


def _variants(rgb: np.ndarray, tmp: Path) -> dict[str, Path]:
    """The photo as grayscale, RGBA (transparent outside a box around the person), 16-bit grey, 16-bit RGB."""
    out = {}
    Image.fromarray(rgb).convert("L").save(out.setdefault("gray", tmp / "gray.png"))
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    alpha[20:-20, 20:-20] = 255
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(out.setdefault("rgba", tmp / "rgba.png"))
    grey16 = np.asarray(Image.fromarray(rgb).convert("L"), np.uint16) * 257
    Image.fromarray(grey16).save(out.setdefault("gray16", tmp / "gray16.png"))
    cv2.imwrite(str(out.setdefault("rgb16", tmp / "rgb16.png")), rgb[..., ::-1].astype(np.uint16) * 257)
    return out


def test_unusual_pixel_formats_animate(photo: Path, pose_file: Path, tmp_path: Path) -> None:
    """Grey, RGBA, 16-bit grey and 16-bit RGB photos are read as 8-bit RGB; the two odd ones go through animate."""
    rgb = read_image(photo)
    for name, source in _variants(rgb, tmp_path).items():
        img = read_image(source)
        assert img.dtype == np.uint8 and img.shape == rgb.shape, name
        if name == "rgb16":
            assert np.abs(img.astype(int) - rgb).max() <= 1
        if name == "rgba":  # transparent pixels composited over white
            assert (img[:10] == 255).all()
        if name not in ("rgba", "gray16"):
            continue
        out = tmp_path / f"{name}.mp4"
        assert animate_to_file(source, pose_file, out, size=SIZE, show_progress=False) == 5, name
        with open_video(out) as reader:
            frames = list(reader)
        assert len(frames) == 5 and frames[0].shape == (SIZE, 40, 3)  # the 399x640 photo's aspect
        assert frames[0].std() > 5  # a picture, not a blank
