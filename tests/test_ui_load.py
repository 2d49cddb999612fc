"""The UI server under load: 8 concurrent requests (5 good, 3 bad) are queued and served one at a time, none
crashes the server, and its temporary files stay bounded while it runs and are removed when it stops.

``posevid ui`` runs in a subprocess with its own ``TMPDIR`` and ``GRADIO_TEMP_DIR``; the requests go through
``gradio_client`` (the page's ``/on_animate`` endpoint) from 8 threads at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posevid.app import KEEP
from posevid.posefiles import COCO17_NAMES, write_poses
from posevid.poses import Poses
from posevid.skeleton import to_coco18
from posevid.video import open_video

REQUESTS = 8
FRAMES = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real photo, a short real pose file, and three bad inputs: a corrupt video, a photo with nobody in it,
    and a pose file that is not one."""
    folder = tmp_path_factory.mktemp("ui_inputs")
    frames = json.loads((shared_data / "videos" / "tfjs_pose_1.json").read_text())[:FRAMES]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in frames], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2], np.float32), "coco17")
    write_poses(folder / "dance.npz", Poses(xy, conf, 576, 576, 30.0))
    (folder / "broken.mp4").write_bytes((shared_data / "videos" / "tfjs_pose_1.mp4").read_bytes()[:5000])
    Image.fromarray(np.full((200, 150, 3), (30, 120, 60), np.uint8)).save(folder / "nobody.png")
    (folder / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return {"photo": shared_data / "images" / "tfexamples_image2.jpeg", "poses": folder / "dance.npz",
            "broken": folder / "broken.mp4", "nobody": folder / "nobody.png", "bad_poses": folder / "bad.npz"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``posevid ui`` in a subprocess: yields (url, its TMPDIR, its Gradio cache, the process)."""
    root = tmp_path_factory.mktemp("ui_server")
    tmp, cache = root / "tmp", root / "gradio"
    tmp.mkdir()
    cache.mkdir()
    port = _free_port()
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(cache),
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1", "NO_PROXY": "127.0.0.1,localhost"}
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "posevid", "ui", "--port", str(port), "--checkpoints",
                             str(root / "runs")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the UI server did not start"
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                if page.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    yield url, tmp, cache, proc, root / "server.log"
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


def _request(url: str, photo: Path, driving: Path, download: Path) -> tuple[str, object]:
    """One page request (warp, relative, 128 px): ("ok", outputs) or ("error", message)."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=str(download), analytics_enabled=False)
    try:
        out = client.predict(handle_file(str(photo)), "Driving video or pose file", handle_file(str(driving)), None,
                             None, 32, 0, "warp", None, "relative", "128", api_name="/on_animate")
        return "ok", out
    except Exception as err:  # gradio_client turns the page's gr.Error into an AppError
        return "error", f"{type(err).__name__}: {err}"


def test_eight_concurrent_requests_are_queued_and_served(server, inputs, tmp_path: Path) -> None:
    url, tmp, cache, proc, log = server
    plan = [("photo", "poses")] * 5 + [("photo", "broken"), ("nobody", "poses"), ("photo", "bad_poses")]
    order = [0, 5, 1, 6, 2, 7, 3, 4]  # good and bad requests interleaved
    started = time.monotonic()
    with ThreadPoolExecutor(REQUESTS) as pool:
        futures = [pool.submit(_request, url, inputs[plan[i][0]], inputs[plan[i][1]], tmp_path / f"dl{i}")
                   for i in order]
        results = {i: f.result(timeout=900) for i, f in zip(order, futures)}
    elapsed = time.monotonic() - started
    assert proc.poll() is None, "the server died"
    for i in range(5):
        kind, out = results[i]
        assert kind == "ok", (out, log.read_text()[-3000:])
        status, video = out[0], out[1]
        assert "Done: 4 frames, 128x128" in status, status
        with open_video(video["video"] if isinstance(video, dict) else video) as reader:
            assert sum(1 for _ in reader) == FRAMES and (reader.width, reader.height) == (128, 128)
    for i, expected in ((5, "broken.mp4"), (6, "no person"), (7, "bad.npz")):
        kind, message = results[i]
        assert kind == "error" and expected in message, message
        assert "internal error" not in message and "Traceback" not in message
    text = log.read_text()
    assert "the request failed" not in text and "/src/posevid/" not in text, text[-3000:]  # no posevid bug logged
    # The server is still up and answers a ninth request.
    assert _request(url, inputs["photo"], inputs["poses"], tmp_path / "after")[0] == "ok"
    # The per-request folders stay bounded while the server runs.
    roots = list(tmp.glob("posevid-ui-*"))
    assert len(roots) == 1
    assert len([p for p in roots[0].iterdir() if p.is_dir()]) <= KEEP
    print(f"{REQUESTS} concurrent requests served in {elapsed:.1f} s")


def test_server_stops_cleanly_and_removes_its_files(server, inputs) -> None:
    url, tmp, cache, proc, log = server
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert not list(tmp.glob("posevid-ui-*")), "the request folders outlived the server"
    leftovers = [p for p in [*tmp.rglob("*"), *cache.rglob("*")] if p.is_file()]
    assert not leftovers, leftovers[:5]  # uploads, results and previews in Gradio's cache are gone too
