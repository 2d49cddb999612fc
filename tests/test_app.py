"""The web page: input checks and caps, checkpoint discovery, and a real run in headless Chromium."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from posevid.app import (
    MAX_FRAMES,
    MAX_SIDE,
    Workspace,
    animate_request,
    bundled_motion_models,
    check_driving,
    check_photo,
    find_checkpoints,
    user_message,
)
from posevid.errors import PosevidError
from posevid.poses import Poses
from posevid.video import VideoWriter, open_video

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
OUT = Path(__file__).resolve().parents[1] / "out"
CLIP_FRAMES = 20


@pytest.fixture(scope="module")
def clip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first ``CLIP_FRAMES`` frames of the tfjs dancing clip (576x576, 30 fps)."""
    path = tmp_path_factory.mktemp("clip") / "dance.mp4"
    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader, VideoWriter(path, reader.fps) as writer:
        for i, frame in enumerate(reader):
            if i == CLIP_FRAMES:
                break
            writer.write(frame)
    return path


def test_workspace_keeps_only_the_newest_folders() -> None:
    work = Workspace(keep=3, grace=0.0)
    made = [work.new() for _ in range(5)]
    assert [p.exists() for p in made] == [False, False, True, True, True]
    assert all(not any(p.iterdir()) for p in made[2:])


def test_workspace_keeps_young_folders() -> None:
    """A folder whose request may still run or be downloaded is not deleted, however many come after it."""
    work = Workspace(keep=2, grace=0.5)
    young = [work.new() for _ in range(4)]
    assert all(p.exists() for p in young)
    time.sleep(0.6)
    later = work.new()
    assert [p.exists() for p in young] == [False, False, False, True] and later.exists()


def test_photo_caps(tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.new("RGB", (MAX_SIDE + 904, 300), (200, 180, 160)).save(wide)
    path, note = check_photo(wide, tmp_path)
    assert path != wide and "scaled down from 5000x300 to 4096x246" in note
    assert Image.open(path).size == (4096, 246)
    huge = tmp_path / "huge.png"
    Image.new("1", (10000, 6000)).save(huge)
    with pytest.raises(PosevidError, match="10000x6000 .60 megapixels.; the limit is 50 megapixels"):
        check_photo(huge, tmp_path)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(PosevidError, match="not an image"):
        check_photo(text, tmp_path)


def test_driving_caps(tmp_path: Path, clip: Path) -> None:
    assert check_driving(clip) == clip
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is text, not a video\n")
    with pytest.raises(PosevidError, match="cannot open the video") as err:
        check_driving(fake)
    assert user_message(err.value, [fake]).startswith("fake.mp4: ")
    assert str(tmp_path) not in user_message(err.value, [fake])
    long = tmp_path / "long.mp4"
    with VideoWriter(long, 30) as writer:
        for i in range(MAX_FRAMES + 1):
            writer.write(np.full((16, 16, 3), i % 256, np.uint8))
    with pytest.raises(PosevidError, match=f"has {MAX_FRAMES + 1} frames; the limit is {MAX_FRAMES}"):
        check_driving(long)
    poses = Poses(np.zeros((MAX_FRAMES + 1, 18, 2), np.float32), np.zeros((MAX_FRAMES + 1, 18), np.float32),
                  64, 64, 30.0)
    from posevid.posefiles import write_poses

    write_poses(tmp_path / "long.npz", poses)
    with pytest.raises(PosevidError, match=f"has {MAX_FRAMES + 1} poses"):
        check_driving(tmp_path / "long.npz")


def test_photo_without_a_person_is_refused(tmp_path: Path, clip: Path) -> None:
    empty = tmp_path / "wall.png"
    Image.new("RGB", (200, 300), (120, 130, 140)).save(empty)
    with pytest.raises(PosevidError, match="no person found in the photo"):
        list(animate_request(empty, clip, tmp_path))
    with pytest.raises(PosevidError, match="upload a driving video"):
        list(animate_request(empty, None, tmp_path))
    assert not list(tmp_path.glob("*.mp4"))


def test_a_drawn_character_animates_with_its_pose_uploaded(shared_data: Path, clip: Path, tmp_path: Path) -> None:
    """The illustrated creature, which the detector does not find: the page's message says where to give its
    pose (not the command line's option); with the pose file, every frame of the clip is animated."""
    photo = shared_data / "images" / "animatex_2.jpeg"
    with pytest.raises(PosevidError) as err:
        list(animate_request(photo, clip, tmp_path, size=96))
    message = user_message(err.value, [photo])
    assert "upload its pose under \"The photo's pose\"" in message and "--photo-pose" not in message
    pose = Path(__file__).resolve().parents[1] / "docs" / "gallery" / "poses" / "animatex_2.json"
    outcome = list(animate_request(photo, clip, tmp_path, size=96, photo_pose=pose))[-1]
    assert (outcome.done, outcome.width, outcome.height) == (CLIP_FRAMES, 64, 96)
    with open_video(outcome.video) as reader:
        assert sum(1 for _ in reader) == CLIP_FRAMES


def test_length_cap_holds_when_the_container_has_no_frame_count(shared_data: Path, clip: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import posevid.app

    mkv = tmp_path / "dance.mkv"  # Matroska stores no frame count: counted from its packets before decoding
    with open_video(clip) as reader, VideoWriter(mkv, reader.fps) as writer:
        for frame in reader:
            writer.write(frame)
    monkeypatch.setattr(posevid.app, "MAX_FRAMES", 8)
    photo = shared_data / "images" / "tfexamples_image2.jpeg"
    with pytest.raises(PosevidError, match="has 20 frames; the limit is 8"):
        list(animate_request(photo, mkv, tmp_path, size=64))
    assert not list(tmp_path.glob("*.mp4"))


def test_checkpoints_are_found(tmp_path: Path) -> None:
    from posevid.checkpoints import save_checkpoint

    run = tmp_path / "runs" / "motion"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("method: psgan\ndata: {labels: [walk, jog]}\n")
    save_checkpoint(run / "checkpoints" / "latest.ckpt", {"config": {"method": "psgan"}})
    save_checkpoint(tmp_path / "runs" / "loose" / "pg2.ckpt", {"config": {"method": "pg2", "data": {"size": 64}}})
    (tmp_path / "runs" / "broken.ckpt").write_bytes(b"garbage")
    (tmp_path / "runs" / "empty_run").mkdir()
    (tmp_path / "runs" / "empty_run" / "config.yaml").write_text("method: dwnet\n")
    found = find_checkpoints(tmp_path / "runs")
    assert [(c.label, c.method, c.labels) for c in found] == [
        ("motion (psgan)", "psgan", ("walk", "jog")), ("loose/pg2.ckpt (pg2)", "pg2", ())]
    assert find_checkpoints(tmp_path / "missing") == []


@pytest.fixture(scope="module")
def psgan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny PSGAN saved as a training run (runs/psgan-tiny): enough to drive the action path."""
    from posevid.checkpoints import save_checkpoint
    from posevid.config import dump_config, load_config
    from posevid.methods.psgan import PSGAN

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "psgan" / "tiny.yaml")
    run = tmp_path_factory.mktemp("runs") / "psgan-tiny"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(dump_config(cfg))
    save_checkpoint(run / "checkpoints" / "latest.ckpt", {"config": cfg, "method": PSGAN(cfg).state_dict()})
    return run


def test_action_drives_the_photo(shared_data: Path, psgan_run: Path, tmp_path: Path) -> None:
    photo = shared_data / "images" / "tfexamples_image2.jpeg"
    [found] = find_checkpoints(psgan_run.parent)
    assert found.labels == ("walk", "crawl", "cartwheel") and found.path == str(psgan_run)
    *_, outcome = animate_request(photo, None, tmp_path, action="crawl", motion_checkpoint=found.path, frames=6,
                                  size=64)
    with open_video(outcome.video) as reader:
        assert len(list(reader)) == 6 and (reader.width, reader.height) == (40, 64)  # the photo's aspect
    assert outcome.driving_pose.shape[2] == 3 and outcome.driving_pose.any()  # the first generated pose, drawn
    with pytest.raises(PosevidError, match="unknown action 'fly'"):
        list(animate_request(photo, None, tmp_path, action="fly", motion_checkpoint=found.path, frames=6))
    [bundled] = bundled_motion_models()  # offered first in the page; used when no motion model is picked
    assert bundled.label == "bundled (psgan)" and "walk" in bundled.labels and bundled.motion
    (tmp_path / "bundled").mkdir()
    *_, outcome = animate_request(photo, None, tmp_path / "bundled", action="walk", frames=5, size=64)
    with open_video(outcome.video) as reader:
        assert len(list(reader)) == 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_page_animates_in_chromium(shared_data: Path, clip: Path, psgan_run: Path, tmp_path: Path) -> None:
    """Upload a bad video (message in the page), then the photo and a real clip; the result plays; the
    bundled PSGAN is the motion model offered first, with walk."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: `make test` installs it when run as root "
                    "(apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from posevid.app import serve

    photo = shared_data / "images" / "tfexamples_image2.jpeg"
    fake = tmp_path / "broken.mp4"
    fake.write_text("this is text, not a video\n")
    port = _free_port()
    demo = serve(port=port, checkpoints=psgan_run.parent, block=False)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.locator("#limits")).to_contain_text(f"{MAX_FRAMES} frames")
            page.locator("#photo input[type=file]").set_input_files(photo)
            page.locator("#driving input[type=file]").set_input_files(fake)
            page.locator("#animate").click()
            status = page.locator("#status")
            expect(status).to_contain_text("broken.mp4: cannot open the video", timeout=30_000)
            assert str(tmp_path) not in status.inner_text() and "/tmp" not in status.inner_text()

            page.reload()  # the server still answers: a good request after the bad one
            page.locator("#photo input[type=file]").set_input_files(photo)
            page.locator("#driving input[type=file]").set_input_files(clip)
            expect(page.get_by_text("The photo's pose (for a drawn character")).to_be_visible()
            page.locator("#size").get_by_text("128", exact=True).click()
            page.locator("#mode").get_by_text("absolute", exact=True).click()
            page.locator("#animate").click()
            expect(status).to_contain_text(f"Done: {CLIP_FRAMES} frames, 80x128", timeout=45_000)
            expect(page.locator("#photo-pose img")).to_be_visible()
            expect(page.locator("#driving-pose img")).to_be_visible()
            page.wait_for_function("() => { const v = document.querySelector('#result video');"
                                   " return v && v.readyState >= 2 && v.duration > 0 && !v.error; }", timeout=15_000)
            href = page.locator("#download a").first.get_attribute("href")
            assert href and href.endswith("result.mp4")
            response = page.request.get(href if href.startswith("http") else f"http://127.0.0.1:{port}{href}")
            assert response.ok
            video = tmp_path / "downloaded.mp4"
            video.write_bytes(response.body())
            OUT.mkdir(exist_ok=True)
            page.screenshot(path=str(OUT / "ui_test.png"), full_page=True)
            page.locator("#kind").get_by_text("Generated action (PSGAN)", exact=True).click()
            expect(page.locator("#motion-checkpoint input")).to_have_value("bundled (psgan)")  # offered first
            expect(page.locator("#action input")).to_have_value("walk")
            browser.close()
    finally:
        demo.close()
    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    with open_video(video) as reader:
        frames = list(reader)
    assert len(frames) == CLIP_FRAMES and frames[0].shape == (128, 80, 3)  # the photo's aspect
    assert np.ptp(np.stack(frames).astype(np.float32), axis=0).mean() > 1.0  # the person moves
