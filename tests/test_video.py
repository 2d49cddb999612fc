"""Video and image I/O: round trips, atomic writes, and clear errors on bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from posevid.errors import PosevidError
from posevid.video import FRAMES_MARKER, VideoWriter, has_audio, open_video, read_image, write_image


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> list[np.ndarray]:
    """The first 8 frames of the real dancing clip, resized to 96x64 (W x H)."""
    reader = open_video(shared_data / "videos" / "tfjs_pose_1.mp4")
    assert (reader.width, reader.height, reader.frame_count, reader.fps) == (576, 576, 120, 30.0)
    frames = [cv2.resize(f, (96, 64), interpolation=cv2.INTER_AREA) for f in itertools.islice(reader, 8)]
    reader.close()
    return frames


@pytest.mark.parametrize(("name", "max_err"), [("out.mp4", 6.0), ("out.gif", 8.0), ("frames", 0.0), ("dir/", 0.0)])
def test_round_trip(tmp_path: Path, clip: list[np.ndarray], name: str, max_err: float) -> None:
    out = str(tmp_path / name)
    with VideoWriter(out, fps=25) as writer:
        for frame in clip:
            writer.write(frame)
    assert writer.count == len(clip)
    with open_video(out) as reader:
        assert (reader.width, reader.height) == (96, 64)
        back = list(reader)
    assert reader.frame_count in (None, len(clip))
    assert len(back) == len(clip)
    if not name.endswith(("/", "frames")):
        assert reader.fps == pytest.approx(25.0)
    for a, b in zip(clip, back):
        assert b.shape == (64, 96, 3) and b.dtype == np.uint8
        assert np.abs(a.astype(np.int16) - b).mean() <= max_err
    # the frames still differ from each other after the trip (motion survives)
    assert np.abs(back[0].astype(np.int16) - back[-1]).mean() > 1.0


def test_odd_size_mp4_is_padded_to_even(tmp_path: Path, clip: list[np.ndarray]) -> None:
    with VideoWriter(tmp_path / "odd.mp4", fps=30) as writer:
        for frame in clip[:3]:
            writer.write(frame[:63, :95])
    with open_video(tmp_path / "odd.mp4") as reader:
        frames = list(reader)
    assert (reader.width, reader.height, len(frames)) == (96, 64, 3)
    assert np.abs(frames[0][:63, :95].astype(np.int16) - clip[0][:63, :95]).mean() < 6.0


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames"])
def test_failed_write_leaves_nothing(tmp_path: Path, clip: list[np.ndarray], name: str) -> None:
    out = tmp_path / name
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, fps=30) as writer:
        for frame in clip[:4]:
            writer.write(frame)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path: Path, clip: list[np.ndarray]) -> None:
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=30) as writer:
        writer.write(clip[0])
    before = out.read_bytes()
    with pytest.raises(PosevidError, match="first frame"), VideoWriter(out, fps=30) as writer:
        writer.write(clip[1])
        writer.write(clip[2][:32])
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_zero_frames_written_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PosevidError, match="no frames"), VideoWriter(tmp_path / "empty.mp4", fps=30):
        pass
    assert list(tmp_path.iterdir()) == []


def test_folder_output_replaces_old_frames_but_not_other_folders(tmp_path: Path, clip: list[np.ndarray]) -> None:
    out = tmp_path / "frames"
    for count in (5, 2):
        with VideoWriter(out, fps=30) as writer:
            for frame in clip[:count]:
                writer.write(frame)
    assert sorted(p.name for p in out.iterdir()) == [FRAMES_MARKER, "000000.png", "000001.png"]
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PosevidError, match="did not write"), VideoWriter(out, fps=30) as writer:
        writer.write(clip[0])
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, "truncated"])
def test_corrupt_video_raises(tmp_path: Path, shared_data: Path, content: bytes | str) -> None:
    bad = tmp_path / "bad.mp4"
    real = (shared_data / "videos" / "tfjs_pose_1.mp4").read_bytes()
    bad.write_bytes(real[: len(real) // 3] if content == "truncated" else content)
    with pytest.raises(PosevidError, match="bad.mp4"):
        with open_video(bad) as reader:
            for _ in reader:
                pass


def test_a_text_file_is_not_a_video(shared_data: Path) -> None:
    path = shared_data / "mocap/deepmimic/humanoid3d_walk.txt"  # FFmpeg would show it as ANSI art
    with pytest.raises(PosevidError, match="humanoid3d_walk.txt: is a text file, not a video"):
        open_video(path)


def test_missing_and_empty_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(PosevidError, match="no such"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PosevidError, match="no PNG/JPG"):
        open_video(tmp_path / "empty")
    (tmp_path / "fake.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(PosevidError, match="fake.png"):
        open_video(tmp_path / "fake.png")
    with pytest.raises(PosevidError, match="suffix"):
        VideoWriter(tmp_path / "out.xyz", fps=30)


def test_single_image_is_one_frame(shared_data: Path) -> None:
    path = shared_data / "images" / "tfexamples_image2.jpeg"
    with open_video(path) as reader:
        frames = list(reader)
    assert len(frames) == 1 and reader.frame_count == 1
    assert (reader.width, reader.height) == (399, 640)
    np.testing.assert_array_equal(frames[0], read_image(path))


def test_read_image_converts_modes(tmp_path: Path, shared_data: Path) -> None:
    rgb = read_image(shared_data / "images" / "tfexamples_image2.jpeg")
    assert rgb.shape == (640, 399, 3) and rgb.dtype == np.uint8
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    got = read_image(tmp_path / "grey.png")
    assert got.shape == rgb.shape and (got[..., 0] == grey).all() and (got[..., 2] == grey).all()

    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert np.abs(read_image(tmp_path / "deep.png")[..., 1].astype(int) - grey).max() <= 1

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:10, :, 3] = 0  # a transparent band becomes white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    got = read_image(tmp_path / "alpha.png")
    assert (got[:10] == 255).all() and (got[10:] == rgb[10:]).all()


def test_write_image_round_trip_and_atomic(tmp_path: Path, clip: list[np.ndarray]) -> None:
    write_image(tmp_path / "a.png", clip[0])
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), clip[0])
    with pytest.raises(PosevidError, match="uint8"):
        write_image(tmp_path / "b.png", clip[0].astype(np.float32))
    with pytest.raises(PosevidError, match="suffix"):
        write_image(tmp_path / "b.txt", clip[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def _streams(path: Path) -> dict[str, tuple[str, float]]:
    """{kind: (codec, seconds)} of the first video and audio streams of a file (from their packets)."""
    with av.open(str(path)) as c:
        streams = c.streams.video[:1] + c.streams.audio[:1]
        ends = {s.index: 0.0 for s in streams}
        for packet in c.demux(streams):
            if packet.pts is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream.index] = max(ends[packet.stream.index], end)
        return {s.type: (s.codec_context.name, ends[s.index]) for s in streams}


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_audio_is_copied_and_cut_to_the_video(tmp_path: Path, shared_data: Path, clip: list[np.ndarray],
                                              suffix: str) -> None:
    """The dance clip's music (AAC, 8.7 s) under a 2-second result: copied, and cut where the video ends."""
    music = shared_data / "videos" / "animatex_dance_2.mp4"
    assert has_audio(music) and not has_audio(shared_data / "videos" / "tfjs_pose_1.mp4")
    out = tmp_path / f"out{suffix}"
    with VideoWriter(out, 10.0, audio_from=music) as writer:
        for frame in (clip * 3)[:20]:
            writer.write(frame)
    got = _streams(out)
    assert got["video"][0] == "h264" and abs(got["video"][1] - 2.0) < 0.05
    assert got["audio"][0] == "aac" and abs(got["audio"][1] - 2.0) < 0.05
    with open_video(out) as reader:
        assert sum(1 for _ in reader) == 20
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_audio_in_another_codec_is_encoded_to_aac(tmp_path: Path, clip: list[np.ndarray]) -> None:
    """A driving file with PCM audio (which mp4 does not take as it is): the result gets AAC."""
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as c:
        stream = c.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        for i in range(10):  # 1 s of a tone
            frame = av.AudioFrame.from_ndarray((np.sin(np.arange(1600) / 5) * 3000).astype(np.int16)[None],
                                               format="s16", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1600
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 10.0, audio_from=source) as writer:
        for frame in clip[:5]:
            writer.write(frame)
    got = _streams(out)
    assert got["audio"][0] == "aac" and got["audio"][1] <= 0.6


def test_gif_and_folders_take_no_audio(tmp_path: Path, shared_data: Path, clip: list[np.ndarray]) -> None:
    music = shared_data / "videos" / "animatex_dance_2.mp4"
    for name in ("out.gif", "frames/"):
        with VideoWriter(tmp_path / name, 10.0, audio_from=music) as writer:
            writer.write(clip[0])
    with av.open(str(tmp_path / "out.gif")) as c:
        assert not c.streams.audio
