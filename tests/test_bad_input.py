"""Adversarial input through the command line (issue 20): hangs, inputs an output would destroy, output paths
that cannot be written, numbers out of range, checkpoints that name modules, misleading messages.

Each table case builds its bad input in a fresh folder beside copies of small real inputs, runs ``posevid``'s
entry point in this process under a time limit, and asserts: exit code 2 within ``CASE_SECONDS``, exactly one
``posevid: error:`` line that names the file at fault and says the problem, no traceback, and the folder
exactly as it was (no output or temporary file; every input byte for byte the same).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from posevid.checkpoints import MAGIC
from posevid.cli import main
from posevid.config import load_config
from posevid.posefiles import COCO17_NAMES, write_poses
from posevid.poses import Poses
from posevid.skeleton import to_coco18
from posevid.video import VideoWriter, open_video
from time_limits import time_limit

REPO = Path(__file__).resolve().parents[1]
CASE_SECONDS = 20.0  # a case running longer counts as a hang
ANIMATE = ["animate", "photo.jpg"]


# ---- the inputs every case starts from -------------------------------------------------------------------

@pytest.fixture(scope="module")
def materials(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Small real inputs by file name: a photo, a 5-frame pose file, an 8-frame 96x96 clip, a short BVH."""
    tmp = tmp_path_factory.mktemp("materials")
    frames = json.loads((shared_data / "videos" / "tfjs_pose_1.json").read_text())[:5]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in frames], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2], np.float32), "coco17")
    write_poses(tmp / "drive.npz", Poses(xy, conf, 576, 576, 30.0))
    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader, VideoWriter(tmp / "clip.mp4", 30) as w:
        for _, frame in zip(range(8), reader):
            w.write(frame[::6, ::6])
    head, _, motion = (shared_data / "mocap" / "cmu_bvh" / "131_01.bvh").read_text().partition("MOTION")
    lines = motion.strip().splitlines()
    bvh = f"{head}MOTION\nFrames: 3\n{lines[1]}\n" + "\n".join(lines[2:5]) + "\n"
    return {"photo.jpg": (shared_data / "images" / "tfexamples_image2.jpeg").read_bytes(),
            "drive.npz": (tmp / "drive.npz").read_bytes(), "clip.mp4": (tmp / "clip.mp4").read_bytes(),
            "walk.bvh": bvh.encode()}


def _npz(path: Path, xy: np.ndarray, fps: float = 30.0) -> None:
    np.savez(path, xy=xy.astype(np.float32), conf=np.ones(xy.shape[:2], np.float32),
             size=np.array([576, 576]), fps=np.float64(fps))


def _pose_array(joints: int, frames: int = 3) -> np.ndarray:
    return np.random.default_rng(0).uniform(100, 400, (frames, joints, 2))


def _huge_png(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` 1-bit pixels (a few bytes of data)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def signed_checkpoint(path: Path, config: dict) -> None:
    """A checkpoint with ``config``, signed as posevid signs them (anyone can)."""
    buf = io.BytesIO()
    torch.save({"version": 1, "step": 1, "config": config, "method": {}}, buf)
    blob = buf.getvalue()
    path.write_bytes(MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob)


def _config(method: str, /, **changes: object) -> dict:
    cfg = load_config(None, [f"method={method}"])
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            cfg[section][name] = value
        else:
            cfg[section] = value
    return cfg


def _frames_folder(tmp: Path) -> None:
    (tmp / "frames").mkdir()
    with open_video(tmp / "clip.mp4") as reader:
        for i, frame in enumerate(reader):
            (tmp / "frames" / f"{i:03d}.png").write_bytes(_png(frame))


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _symlink(link: str, target: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / link).symlink_to(target)

    return make


def _user_photos(tmp: Path) -> None:
    (tmp / "photos").mkdir()
    (tmp / "photos" / "holiday.png").write_bytes(_png(np.full((8, 8, 3), 200, np.uint8)))


def _bvh_channels(count: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        text = (tmp / "walk.bvh").read_text()
        (tmp / "bad.bvh").write_text(text.replace("CHANNELS 3", f"CHANNELS {count}", 1))

    return make


@dataclass
class Case:
    argv: list[str]
    where: str  # the file (or option) the error line must name
    problem: str  # text the error line must hold
    setup: Callable[[Path], None] | None = None
    data: bool = field(default=False)  # give train an empty --data folder


def _train(*extra: str, out: str = "run") -> list[str]:
    return ["train", "dwnet/tiny", "--data", "data", "--out", out, *extra]


CASES: dict[str, Case] = {
    # hangs
    "bvh_negative_channels": Case([*ANIMATE, "bad.bvh", "-o", "out.mp4"], "bad.bvh", "CHANNELS -2",
                                  _bvh_channels("-2")),
    "bvh_negative_channels_motion_dataset": Case(["motion", "dataset", "bad.bvh", "-o", "ds"], "bad.bvh",
                                                 "CHANNELS -2", _bvh_channels("-2")),
    "bvh_too_many_channels": Case(["poses", "convert", "bad.bvh", "out.npz"], "bad.bvh", "CHANNELS 99",
                                  _bvh_channels("99")),
    "motion_dataset_fps_1e9": Case(["motion", "dataset", "drive.npz", "-o", "ds", "--fps", "1e9"], "--fps",
                                   "out of range"),
    "motion_dataset_stride_0": Case(["motion", "dataset", "drive.npz", "-o", "ds", "--stride", "0"], "drive.npz",
                                    "stride >= 1"),
    "train_batch_size_negative": Case(_train("train.batch_size=-1"), "train.batch_size", "at least 1", data=True),
    "animate_fps_1e9": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--fps", "1e9"], "--fps", "out of range"),
    # numbers
    "animate_fps_inf": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--fps", "inf"], "--fps", "out of range"),
    "animate_fps_nan": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--fps", "nan"], "--fps", "out of range"),
    "render_fps_inf": Case(["poses", "render", "drive.npz", "-o", "r.mp4", "--fps", "inf"], "r.mp4", "out of range"),
    "render_fps_1e9": Case(["poses", "render", "drive.npz", "-o", "r.mp4", "--fps", "1e9"], "r.mp4", "out of range"),
    "pose_file_fps_1e300": Case([*ANIMATE, "fast.npz", "-o", "out.mp4"], "fast.npz", "out of range",
                                lambda t: _npz(t / "fast.npz", _pose_array(18), 1e300)),
    "pose_file_fps_1e-300": Case([*ANIMATE, "slow.npz", "-o", "out.mp4"], "slow.npz", "out of range",
                                 lambda t: _npz(t / "slow.npz", _pose_array(18), 1e-300)),
    "joint_at_1e30": Case([*ANIMATE, "far.npz", "-o", "out.mp4"], "far.npz", "pixels away",
                          lambda t: _npz(t / "far.npz", np.where(np.arange(18)[None, :, None] == 4, 1e30,
                                                                 _pose_array(18)))),
    **{f"npz_{n}_joints": Case([*ANIMATE, f"j{n}.npz", "-o", "out.mp4"], f"j{n}.npz", f"holds {n} joints",
                               lambda t, n=n: _npz(t / f"j{n}.npz", _pose_array(n)))
       for n in (0, 1, 17, 100)},
    **{f"render_{n}_joints": Case(["poses", "render", f"j{n}.npz", "-o", "r.mp4"], f"j{n}.npz", "COCO-18",
                                  lambda t, n=n: _npz(t / f"j{n}.npz", _pose_array(n)))
       for n in (0, 17)},
    # inputs an output would destroy
    "extract_into_the_frame_folder": Case(["poses", "extract", "frames", "-o", "frames"], "frames",
                                          "is the video", _frames_folder),
    "evaluate_report_onto_the_video": Case(["evaluate", "clip.mp4", "clip.mp4", "-o", "clip.mp4"], "clip.mp4",
                                           "is the generated video"),
    "prepare_into_the_video": Case(["prepare", "clip.mp4", "-o", "clip.mp4"], "clip.mp4", "is the input 1"),
    "motion_dataset_onto_its_input": Case(["motion", "dataset", "drive.npz", "-o", "drive.npz"], "drive.npz",
                                          "is the input 1"),
    "out_empty_path": Case([*ANIMATE, "drive.npz", "-o", ""], "output", "an empty path"),
    "driving_empty_path": Case([*ANIMATE, "", "-o", "out.mp4"], "driving input", "an empty path"),
    "convert_onto_itself": Case(["poses", "convert", "drive.npz", "drive.npz"], "drive.npz", "is the pose file"),
    "render_onto_the_pose_folder": Case(["poses", "render", "op", "-o", "op"], "op", "is the pose file",
                                        lambda t: write_poses(t / "op", Poses(_pose_array(18), np.ones((3, 18)),
                                                                               576, 576), "openpose")),
    "out_is_the_driving_video": Case([*ANIMATE, "clip.mp4", "-o", "clip.mp4"], "clip.mp4", "is the driving input"),
    "out_is_the_driving_folder": Case([*ANIMATE, "frames", "-o", "frames"], "frames", "is the driving input",
                                      _frames_folder),
    "out_holds_the_driving_folder": Case([*ANIMATE, "frames", "-o", "."], ".", "an output never replaces an input",
                                         _frames_folder),
    "side_by_side_is_the_driving_video": Case([*ANIMATE, "clip.mp4", "-o", "out.mp4", "--side-by-side",
                                               "clip.mp4"], "clip.mp4", "is the driving input"),
    "save_poses_is_the_driving_poses": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--save-poses", "drive.npz"],
                                            "drive.npz", "is the driving input"),
    "out_is_a_folder_of_the_users_photos": Case([*ANIMATE, "drive.npz", "-o", "photos"], "photos",
                                                "did not write", _user_photos),
    "out_and_side_by_side_the_same": Case([*ANIMATE, "drive.npz", "-o", "x.mp4", "--side-by-side", "x.mp4"],
                                          "x.mp4", "is also the output"),
    # output paths that cannot be written
    "out_parent_is_a_file": Case([*ANIMATE, "drive.npz", "-o", "plain/out.mp4"], "plain/out.mp4", "is a file",
                                 lambda t: (t / "plain").write_text("a file")),
    "out_symlink_loop": Case([*ANIMATE, "drive.npz", "-o", "loop.mp4"], "loop.mp4", "symlink loop",
                             _symlink("loop.mp4", "loop.mp4")),
    "out_folder_is_a_symlink_loop": Case([*ANIMATE, "drive.npz", "-o", "loop/out.mp4"], "loop/out.mp4",
                                         "symlink loop", _symlink("loop", "loop")),
    "out_symlink_to_a_folder": Case([*ANIMATE, "drive.npz", "-o", "link"], "link", "symlink to a folder",
                                    lambda t: ((t / "dir").mkdir(), (t / "link").symlink_to("dir"))),
    "out_name_of_300_characters": Case([*ANIMATE, "drive.npz", "-o", "a" * 300 + ".mp4"], "a" * 300,
                                       "too long"),
    "save_poses_unknown_suffix": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--save-poses", "p.xyz"], "p.xyz",
                                      "unknown pose file type"),
    "train_out_is_a_file": Case(_train(out="drive.npz"), "drive.npz", "is a file", data=True),
    # photos
    "photo_is_a_folder": Case(["animate", "photos", "drive.npz", "-o", "out.mp4"], "photos", "is a folder",
                              _user_photos),
    "photo_is_a_symlink_loop": Case(["animate", "me.jpg", "drive.npz", "-o", "out.mp4"], "me.jpg", "symlink loop",
                                    _symlink("me.jpg", "me.jpg")),
    "photo_28000_square_1_bit": Case(["animate", "big.png", "drive.npz", "-o", "out.mp4"], "big.png",
                                     "megapixels", lambda t: _huge_png(t / "big.png", 28000, 28000)),
    "photo_20000_square": Case(["animate", "big.png", "drive.npz", "-o", "out.mp4"], "big.png", "megapixels",
                               lambda t: _huge_png(t / "big.png", 20000, 20000)),
    "driving_txt_not_deepmimic": Case([*ANIMATE, "notes.txt", "-o", "out.mp4"], "notes.txt",
                                      "accepted pose files", lambda t: (t / "notes.txt").write_text("walk, run\n")),
    "poses_unknown_suffix": Case(["poses", "render", "drive.xyz", "-o", "r.mp4"], "drive.xyz",
                                 "unknown pose file type", lambda t: (t / "drive.xyz").write_text("x")),
    # checkpoints
    "checkpoint_names_a_plugin": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--checkpoint", "evil.ckpt"],
                                      "evil.ckpt", "plugin module 'this'",
                                      lambda t: signed_checkpoint(t / "evil.ckpt", _config("warp", plugins=["this"]))),
    "checkpoint_names_an_unregistered_method": Case(
        [*ANIMATE, "drive.npz", "-o", "out.mp4", "--checkpoint", "evil.ckpt"], "evil.ckpt", "not registered",
        lambda t: signed_checkpoint(t / "evil.ckpt", _config("warp", method="this"))),
    "checkpoint_data_size_1e9": Case([*ANIMATE, "drive.npz", "-o", "out.mp4", "--checkpoint", "big.ckpt"],
                                     "big.ckpt", "data.size",
                                     lambda t: signed_checkpoint(t / "big.ckpt", _config("pg2", data__size=10**9))),
    "prepare_test_fraction_2": Case(["prepare", "clip.mp4", "-o", "ds", "--test-fraction", "2"], "--test-fraction",
                                    "[0, 1]"),
    "ui_port_negative": Case(["ui", "--port", "-1"], "--port", "between 0 and 65535"),
    # config values (refused before a run folder is made)
    **{f"train_{key}={value}": Case(_train(f"train.{key}={value}"), f"train.{key}", problem, data=True)
       for key, value, problem in [("lr", "abc", "must be a number"), ("lr", "-1", "at least 0"),
                                   ("batch_size", "0", "at least 1"), ("steps", "abc", "must be an integer"),
                                   ("betas", "[0.5]", "list of 2 values"), ("workers", "-1", "at least 0"),
                                   ("device", "cuda", "no CUDA device")]},
    "model_ngf=0": Case(_train("model.ngf=0"), "model.ngf", "at least 1", data=True),
    "train_steps_0": Case(_train("--steps", "0"), "--steps", "at least 1", data=True),
}


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed): kind, and the bytes' hash or the link's target."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
            seconds: float = CASE_SECONDS) -> tuple[int | str | None, str, float]:
    """``posevid ARGV`` in this process: (exit code, stderr, seconds)."""
    monkeypatch.setattr(sys, "argv", ["posevid", *argv])
    start = time.perf_counter()
    with time_limit(seconds), pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err, time.perf_counter() - start


def assert_one_line_error(code: int | str | None, err: str, where: str, problem: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("posevid: error:")]
    assert code == 2 and len(errors) == 1, err
    assert "Traceback" not in err and where in errors[0] and problem in errors[0], errors[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_touches_nothing(name: str, materials: dict[str, bytes], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    case = CASES[name]
    for file, data in materials.items():
        (tmp_path / file).write_bytes(data)
    if case.data:
        (tmp_path / "data").mkdir()
    if case.setup is not None:
        case.setup(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, err, _ = run_cli(case.argv, monkeypatch, capsys)
    assert_one_line_error(code, err, case.where, case.problem)
    assert snapshot(tmp_path) == before


def test_loading_a_checkpoint_imports_nothing_from_the_working_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """As under ``python -m posevid`` (the working folder first on sys.path) with a module of the checkpoint's
    name there: neither its plugin nor its method name imports it, on the command line or the page."""
    from posevid.app import read_checkpoint
    from posevid.checkpoints import load_method
    from posevid.errors import PosevidError

    probe = "posevid_probe_plugin"
    (tmp_path / f"{probe}.py").write_text("from pathlib import Path\nPath('imported').write_text('yes')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for field_name, config in (("plugins", _config("warp", plugins=[probe])),
                               ("method", _config("warp", method=probe))):
        ckpt = tmp_path / f"{field_name}.ckpt"
        signed_checkpoint(ckpt, config)
        code, err, _ = run_cli(["animate", "photo.jpg", "drive.npz", "-o", "out.mp4", "--checkpoint", str(ckpt)],
                               monkeypatch, capsys)
        assert_one_line_error(code, err, str(ckpt), probe)
        with pytest.raises(PosevidError, match=probe):
            load_method(ckpt)
        with contextlib.suppress(PosevidError):  # the page's upload reads the checkpoint's config only
            read_checkpoint(ckpt)
    assert probe not in sys.modules and not (tmp_path / "imported").exists()


def test_motion_dataset_refuses_pickled_arrays(tmp_path: Path) -> None:
    from posevid.data.motion import load_motion_arrays
    from posevid.errors import PosevidError

    (tmp_path / "index.json").write_text(json.dumps({"kind": "motion", "labels": ["walk"]}))
    np.savez(tmp_path / "sequences.npz", xy=np.array([{"a": 1}], dtype=object), conf=np.zeros(1),
             label=np.zeros(1), source=np.zeros(1), yaw=np.zeros(1), test=np.zeros(1, bool))
    with pytest.raises(PosevidError, match="sequences.npz"):
        load_motion_arrays(tmp_path)


def test_page_names_a_photo_that_is_not_an_image_in_one_line(tmp_path: Path) -> None:
    """Gradio cannot open the upload; our check says what is wrong with the file's own name, on one line."""
    import gradio as gr
    from gradio.data_classes import ImageData

    from posevid.app import _raw_path_on_failure, animate_request, user_message
    from posevid.errors import PosevidError

    upload = tmp_path / "gradio" / "0123abcd" / "holiday.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_text("not an image at all")
    image = gr.Image(type="filepath", image_mode=None)
    with pytest.raises(Exception):  # noqa: B017 - Gradio's own failure, whatever its type
        image.preprocess(ImageData(path=str(upload), orig_name="holiday.jpg"))
    path = _raw_path_on_failure(image.preprocess)(ImageData(path=str(upload), orig_name="holiday.jpg"))
    with pytest.raises(PosevidError) as err:
        list(animate_request(path, None, tmp_path / "work"))
    message = user_message(err.value, [path])
    assert message == "holiday.jpg: not an image (or a format Pillow cannot read)"


def test_page_refuses_a_bvh_with_negative_channels_at_once(materials: dict[str, bytes], tmp_path: Path) -> None:
    """The page reads driving pose files with the same reader: one line, no hang blocking later requests."""
    from posevid.app import check_driving
    from posevid.errors import PosevidError

    (tmp_path / "walk.bvh").write_bytes(materials["walk.bvh"])
    _bvh_channels("-2")(tmp_path)
    with time_limit(CASE_SECONDS), pytest.raises(PosevidError, match="CHANNELS -2"):
        check_driving(tmp_path / "bad.bvh")


# ---- short or wrongly timed video ---------------------------------------------------------------------

def _write_clip(path: Path, frames: int, times_ms: list[int] | None = None, rate: int | None = 30) -> Path:
    from fractions import Fraction

    with av.open(str(path), "w", options={"movflags": "+faststart"} if path.suffix == ".mp4" else {}) as c:
        stream = c.add_stream("libx264", rate=rate) if rate else c.add_stream("libx264")
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), (i * 37) % 255, np.uint8), format="rgb24")
            frame.pts = times_ms[i] if times_ms else round(i * 1000 / 30)
            frame.time_base = Fraction(1, 1000)
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def test_a_video_cut_short_says_how_many_frames_decode(tmp_path: Path) -> None:
    whole = _write_clip(tmp_path / "whole.mp4", 20)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 9 // 10])  # faststart: the index (20 frames) is whole, the data is not
    with open_video(cut) as reader:
        count = sum(1 for _ in reader)
        note = reader.shortfall()
    assert reader.frame_count == 20 and count < 20
    assert note is not None and str(cut) in note and f"only {count}" in note and "\n" not in note
    with open_video(whole) as reader:
        assert sum(1 for _ in reader) == 20 and reader.shortfall() is None


@pytest.mark.slow
def test_a_cut_driving_video_is_named_on_the_command_line_and_the_page(materials: dict[str, bytes], tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The frames that decode are animated (exit 0), and one line says how many of the declared frames came (a
    ``posevid`` logger warning: the command line prints it on stderr; pytest captures it here)."""
    from posevid.app import animate_request

    for file, data in materials.items():
        (tmp_path / file).write_bytes(data)
    data = materials["clip.mp4"]
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 9 // 10])
    monkeypatch.chdir(tmp_path)
    code, err, _ = run_cli([*ANIMATE, "cut.mp4", "-o", "out.mp4", "--size", "64"], monkeypatch, capsys, 120)
    assert code in (0, None) and "Traceback" not in err, err
    notes = [r.getMessage() for r in caplog.records if "declares 8 frames but only" in r.getMessage()]
    assert len(notes) == 1 and "cut.mp4" in notes[0] and "\n" not in notes[0], notes
    outcome = list(animate_request(tmp_path / "photo.jpg", tmp_path / "cut.mp4", tmp_path / "page", size=64))[-1]
    assert any("declares 8 frames but only" in note for note in outcome.notes), outcome.notes


@pytest.mark.parametrize("rate", [30, None])
def test_variable_frame_rate_mkv_gets_its_real_rate(tmp_path: Path, rate: int | None) -> None:
    """Frames 50 ms and 33 ms apart (about 24 fps): the rate comes from the time stamps, not the time base."""
    times = list(np.cumsum([0] + [50 if i % 2 else 33 for i in range(19)]))
    mkv = _write_clip(tmp_path / "vfr.mkv", 20, [int(t) for t in times], rate)
    with open_video(mkv) as reader:
        assert reader.frame_count == 20 and 22 < reader.fps < 26, reader.fps


# ---- signals, the file system refusing, stale temporaries ----------------------------------------------

def test_sigterm_unwinds_like_ctrl_c(materials: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    """SIGTERM while frames are written (sent from the writer, in this process): exit 143, no file left."""
    import posevid.video

    (tmp_path / "drive.npz").write_bytes(materials["drive.npz"])
    write = posevid.video.VideoWriter.write

    def write_then_terminate(self, frame):
        write(self, frame)
        if self.count == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(posevid.video.VideoWriter, "write", write_then_terminate)
    monkeypatch.chdir(tmp_path)
    for target in ("r.mp4", "frames"):
        code, err, _ = run_cli(["poses", "render", "drive.npz", "-o", target], monkeypatch, capsys)
        assert code == 143 and "posevid: terminated" in err and "Traceback" not in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["drive.npz"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.slow
def test_sigterm_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A real SIGTERM from outside to ``python -m posevid poses render`` writing a long video."""
    poses = Poses(_pose_array(18, 4000), np.ones((4000, 18), np.float32), 256, 256, 30.0)
    write_poses(tmp_path / "long.npz", poses)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "posevid", "poses", "render", "long.npz", "-o", "r.mp4"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".r.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "posevid: terminated" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.npz"]


def test_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    from posevid.io_utils import atomic_path

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.tmp-{int(dead.stdout)}.mp4"
    alive = tmp_path / f".out.tmp-{os.getppid()}.mp4"  # a running process's: kept
    stale.write_bytes(b"partial")
    alive.write_bytes(b"in progress")
    with atomic_path(tmp_path / "out.mp4") as tmp:
        tmp.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "out.mp4"]


def test_a_folder_we_may_not_write_into_is_named_before_any_work(materials: dict[str, bytes], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """A read-only output folder (simulated: the tests run as root, for whom every folder is writable)."""
    import posevid.io_utils

    (tmp_path / "drive.npz").write_bytes(materials["drive.npz"])
    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(posevid.io_utils.os, "access", lambda path, mode: Path(path).name != "locked")
    monkeypatch.chdir(tmp_path)
    code, err, _ = run_cli(["poses", "render", "drive.npz", "-o", "locked/r.mp4"], monkeypatch, capsys)
    assert_one_line_error(code, err, "locked/r.mp4", "permission denied")
    assert sorted(p.name for p in (tmp_path / "locked").iterdir()) == []


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS", "EACCES"])
@pytest.mark.parametrize("target", ["r.mp4", "frames"])
def test_file_system_refusing_a_write_is_one_line(errno_name: str, target: str, materials: dict[str, bytes],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    """Disk full, a read-only file system, permission denied while writing frames: one line naming the output,
    exit 2, nothing left (the user is root here, so the refusals are injected where frames are written)."""
    import errno

    import posevid.video

    (tmp_path / "drive.npz").write_bytes(materials["drive.npz"])
    before = snapshot(tmp_path)
    code = getattr(errno, errno_name)

    def refuse(self, frame):
        raise OSError(code, os.strerror(code), str(self._tmp))

    monkeypatch.setattr(posevid.video.VideoWriter, "write", refuse)
    monkeypatch.chdir(tmp_path)
    code_, err, _ = run_cli(["poses", "render", "drive.npz", "-o", target], monkeypatch, capsys)
    assert_one_line_error(code_, err, target, os.strerror(code))
    assert snapshot(tmp_path) == before
