"""Fuzzing every reader: random, truncated and type-confused input gives ``PosevidError`` (one line naming the
file), never another exception, a hang or a half-valid result.

Targets: pose files (npz, OpenPose file and folder, COCO JSON, PG2 CSV, BVH), DeepMimic mocap (clip and
character file), YAML configs (``config.load_config``) and checkpoints (``train.load_checkpoint``,
``find_checkpoint`` on a run folder, ``load_method``). Inputs are seeds made from the real data, then
truncated, bit-flipped, spliced, token-replaced (numbers -> nan, 1e400, -1, ...), or with a random JSON
subtree swapped in; checkpoints are also re-signed after mutation, so that the payload parser is reached.

The default run tries 19 cases per target (209 in all) (derandomized, so CI is reproducible); ``-m slow`` 1,250 per
target (12,500 in all) with fresh random seeds.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posevid.checkpoints import MAGIC, find_checkpoint, load_checkpoint, load_method, save_checkpoint
from posevid.config import load_config
from posevid.errors import PosevidError
from posevid.methods.spec import MethodSpec
from posevid.mocap import load_mocap
from posevid.posefiles import COCO17_NAMES, read_poses, write_poses
from posevid.poses import Poses
from posevid.skeleton import to_coco18
from time_limits import time_limit

REPO = Path(__file__).resolve().parents[1]
CASE_SECONDS = 10.0  # a case taking longer than this counts as a hang
FAST_CASES = 19  # x 11 targets: 209 cases
SLOW_CASES = 1250


# ---- seeds: small valid files built from the real data -----------------------------------------------

def _real_poses(shared: Path, frames: int = 3) -> Poses:
    data = json.loads((shared / "videos" / "tfjs_pose_1.json").read_text())[:frames]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in data], np.float32)
    conf = np.full(kp.shape[:2], 0.9, np.float32)
    conf[0, 9] = 0
    xy, conf = to_coco18(kp, conf, "coco17")
    return Poses(xy, conf, 576, 576, 30.0)


def _short_bvh(path: Path, frames: int = 3) -> bytes:
    """The hierarchy of a real BVH and its first ``frames`` frames of motion."""
    head, _, motion = path.read_text().partition("MOTION")
    lines = motion.strip().splitlines()
    return (f"{head}MOTION\nFrames: {frames}\n{lines[1]}\n" + "\n".join(lines[2:2 + frames]) + "\n").encode()


def _short_deepmimic(path: Path, frames: int = 3) -> bytes:
    clip = json.loads(path.read_text())
    clip["Frames"] = clip["Frames"][:frames]
    return json.dumps(clip).encode()


def _checkpoint_bytes(payload: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    blob = buf.getvalue()
    return MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob


@pytest.fixture(scope="module")
def seeds(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    tmp = tmp_path_factory.mktemp("seeds")
    poses = _real_poses(shared_data)
    out: dict[str, list[bytes]] = {}
    for name, fmt, target in (("npz", "npz", "p.npz"), ("coco", "coco", "p.json"), ("pg2", "pg2", "p.csv")):
        write_poses(tmp / target, poses, fmt)
        out[name] = [(tmp / target).read_bytes()]
    write_poses(tmp / "op", poses, "openpose")
    out["openpose"] = [p.read_bytes() for p in sorted((tmp / "op").iterdir())]
    mocap = shared_data / "mocap"
    out["bvh"] = [_short_bvh(mocap / "cmu_bvh" / "131_01.bvh"),
                  _short_bvh(mocap / "pymo" / "AV_8Walk_Meredith_HVHA_Rep1.bvh")]
    out["deepmimic"] = [_short_deepmimic(mocap / "deepmimic" / "humanoid3d_jog.txt")]
    out["character"] = [(mocap / "deepmimic" / "character_humanoid3d.txt").read_bytes()]
    out["config"] = [p.read_bytes() for p in sorted((REPO / "configs").glob("*/tiny.yaml"))]
    warp_cfg = load_config(None, ["method=warp"])
    out["checkpoint"] = [_checkpoint_bytes({"version": 1, "step": 3, "config": warp_cfg, "method": {},
                                            "optimizers": {}, "schedulers": {}, "rng": [], "world_size": 1})]
    return out


# ---- mutations ---------------------------------------------------------------------------------------

SPECIAL = [b"", b"0", b"-1", b"-2", b"-6", b"1e9", b"1e30", b"1e300", b"1e-300",
           b"nan", b"NaN", b"inf", b"-Infinity", b"1e400", b"-1e400", b"99999999999999999999999",
           b"1e-320", b"3.5", b"[]", b"{}", b"null", b'"x"', b"true", b"[[[[[[", b"]]}", b"\x00", b"\xff\xfe",
           "\u00e9".encode(), b"\n", b":", b",", b"{", b"}", b"-"]
NUMBER = re.compile(rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\b[A-Za-z_]+\b")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indices) to a node of a parsed JSON / YAML tree."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:60]):
            out += _paths(v, prefix + (i,))
    return out


def _replace(node: object, path: tuple, value: object) -> object:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


@st.composite
def mutated(draw, seeds: list[bytes], structured: str | None = None) -> bytes:
    """A seed after one to three mutations; ``structured`` ("json" / "yaml") adds subtree swaps."""
    data = bytes(draw(st.sampled_from(seeds)))
    kinds = ["truncate", "flip", "tokens", "splice", "random"] + (["subtree"] * 2 if structured else [])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        if kind == "truncate":
            data = data[:draw(st.integers(0, max(len(data) - 1, 0)))]
        elif kind == "flip" and data:
            buf = bytearray(data)
            for _ in range(draw(st.integers(1, 8))):
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
            data = bytes(buf)
        elif kind == "tokens":
            matches = list(NUMBER.finditer(data))
            if matches:
                picked = sorted(set(draw(st.lists(st.integers(0, len(matches) - 1), min_size=1, max_size=4))),
                                reverse=True)
                for i in picked:
                    m = matches[i]
                    data = data[:m.start()] + draw(st.sampled_from(SPECIAL)) + data[m.end():]
        elif kind == "splice":
            a = draw(st.integers(0, len(data)))
            b = draw(st.integers(a, min(len(data), a + 64)))
            data = data[:a] + draw(st.binary(max_size=32) | st.sampled_from(SPECIAL)) + data[b:]
        elif kind == "random":
            data = draw(st.binary(max_size=256))
        elif kind == "subtree":
            try:
                tree = json.loads(data) if structured == "json" else yaml.safe_load(data)
            except (ValueError, yaml.YAMLError, RecursionError):
                continue
            path = draw(st.sampled_from(_paths(tree)))
            tree = _replace(tree, path, draw(json_values))
            data = (json.dumps(tree) if structured == "json" else yaml.safe_dump(tree)).encode()
    return data


# ---- checks ------------------------------------------------------------------------------------------

def _check_poses(poses: Poses) -> None:
    """A reader's result is whole: consistent shapes, finite numbers, a real image size and frame rate."""
    assert isinstance(poses, Poses)
    assert poses.xy.ndim == 3 and poses.xy.shape[2] == 2 and poses.conf.shape == poses.xy.shape[:2]
    assert len(poses) >= 1 and poses.num_joints >= 1
    assert np.isfinite(poses.xy).all() and np.isfinite(poses.conf).all()
    assert ((poses.conf >= 0) & (poses.conf <= 1)).all(), "confidences outside [0, 1]"
    assert poses.width >= 1 and poses.height >= 1 and math.isfinite(poses.fps) and poses.fps > 0


def _run_case(where: Path | tuple[Path, ...], call: Callable[[], object], check: Callable[[object], None]) -> str:
    """Run one reader call: ``PosevidError`` (one line naming a file of ``where`` or a file in that folder),
    or a result passing ``check``."""
    try:
        with time_limit(CASE_SECONDS):
            result = call()
    except PosevidError as err:
        message = str(err)
        assert "\n" not in message, message
        places = where if isinstance(where, tuple) else (where,)
        assert err.where and any(Path(err.where) in (p, p.parent) or Path(err.where).parent == p for p in places), \
            message
        return "error"
    check(result)
    return "ok"


def _fuzz(cases: int, fast: bool):
    """Hypothesis settings: derandomized and small in the default run, random and large with ``-m slow``."""
    return settings(max_examples=cases, deadline=None, derandomize=fast, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


def _write(path: Path, data: bytes) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    path.write_bytes(data)
    return path


# ---- targets -----------------------------------------------------------------------------------------

def _target_npz(seeds, tmp):
    @given(mutated(seeds["npz"]))
    def case(data):
        path = _write(tmp / "fuzz.npz", data)
        _run_case(path, lambda: read_poses(path), _check_poses)
    return case


def _target_openpose_file(seeds, tmp):
    @given(mutated(seeds["openpose"], "json"))
    def case(data):
        path = _write(tmp / "fuzz_keypoints.json", data)
        _run_case(path, lambda: read_poses(path, "openpose"), _check_poses)
    return case


def _target_openpose_folder(seeds, tmp):
    names = st.sampled_from(["a_000000000000_keypoints.json", "a_000000000001_keypoints.json", "b_7.json",
                             "x.json", "frame.json", "9.json"])

    @given(st.lists(st.tuples(names, mutated(seeds["openpose"], "json")), min_size=1, max_size=3),
           st.booleans())
    def case(files, subdir):
        folder = tmp / "op_fuzz"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name, data in files:
            (folder / name).write_bytes(data)
        if subdir:
            (folder / "nested.json").mkdir(exist_ok=True)  # a folder that looks like a frame file
        _run_case(folder, lambda: read_poses(folder), _check_poses)
    return case


def _target_coco(seeds, tmp):
    @given(mutated(seeds["coco"], "json"))
    def case(data):
        path = _write(tmp / "fuzz_coco.json", data)
        _run_case(path, lambda: read_poses(path), _check_poses)
    return case


def _target_pg2(seeds, tmp):
    @given(mutated(seeds["pg2"]), st.booleans())
    def case(data, market):
        path = _write(tmp / ("market_fuzz.csv" if market else "fuzz.csv"), data)
        _run_case(path, lambda: read_poses(path), _check_poses)
    return case


def _target_bvh(seeds, tmp):
    @given(mutated(seeds["bvh"]), st.booleans())
    def case(data, resample):
        path = _write(tmp / "fuzz.bvh", data)
        if resample:
            _run_case(path, lambda: load_mocap(path, yaw=30, fps=30, size=64)[0], _check_poses)
        else:
            _run_case(path, lambda: read_poses(path), _check_poses)
    return case


def _target_deepmimic(seeds, tmp):
    @given(mutated(seeds["deepmimic"], "json"), mutated(seeds["character"], "json"), st.booleans())
    def case(clip, character, damage_character):
        path = _write(tmp / "humanoid3d_fuzz.txt", clip if not damage_character else seeds["deepmimic"][0])
        char = _write(tmp / "character_fuzz.txt", character if damage_character else seeds["character"][0])
        _run_case((path, char),
                  lambda: load_mocap(path, fps=30, size=64, character=char)[0], _check_poses)
    return case


def _check_config(cfg: object) -> None:
    assert isinstance(cfg, dict) and isinstance(cfg["method"], str) and cfg["method"]
    for section in ("data", "model", "train"):
        assert isinstance(cfg[section], dict), f"{section} is {cfg[section]!r}"
    assert isinstance(cfg["plugins"], list)


def _target_config(seeds, tmp):
    @given(mutated(seeds["config"], "yaml"))
    def case(data):
        path = _write(tmp / "fuzz.yaml", data)
        _run_case(path, lambda: load_config(path), _check_config)
    return case


def _check_method(method: object) -> None:
    """A built method in eval mode: a network, or a method without weights (``warp``) that has none."""
    assert isinstance(method, MethodSpec)
    if isinstance(method, torch.nn.Module):
        assert not method.training
    else:
        assert method.state_dict() == {}


def _target_checkpoint(seeds, tmp):
    """Mutated checkpoint files, re-signed half of the time so that the payload itself is parsed."""
    @given(mutated(seeds["checkpoint"]), st.booleans(), st.booleans())
    def case(data, resign, rebuild):
        if resign and b"\n" in data:
            blob = data.partition(b"\n")[2]
            data = MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob
        path = _write(tmp / "fuzz.ckpt", data)
        if rebuild:
            _run_case(path, lambda: load_method(path), _check_method)
        else:
            _run_case(path, lambda: load_checkpoint(path), lambda p: isinstance(p, dict) or pytest.fail(repr(p)))
    return case


def _target_payload(seeds, tmp):
    """Well-signed checkpoints whose payload has the wrong structure (random values in any field)."""
    keys = st.sampled_from(["version", "step", "config", "method", "optimizers", "schedulers", "rng"])
    values = json_values | st.builds(lambda n: torch.zeros(n), st.integers(0, 3)) | st.just({"method": "warp"})

    @given(st.dictionaries(keys, values, max_size=7), st.booleans())
    def case(payload, full):
        base = {"version": 1, "step": 3, "config": load_config(None, ["method=warp"]), "method": {}}
        path = _write(tmp / "payload.ckpt", _checkpoint_bytes({**base, **payload} if full else payload))
        _run_case(path, lambda: load_method(path), _check_method)
    return case


def _target_run_folder(seeds, tmp):
    """A run folder whose checkpoints are all damaged in different ways: the newest valid one is found."""
    good = seeds["checkpoint"][0]

    @given(st.lists(mutated(seeds["checkpoint"]), min_size=1, max_size=3), st.booleans())
    def case(damaged, keep_one):
        run = tmp / "run_fuzz"
        shutil.rmtree(run, ignore_errors=True)
        (run / "checkpoints").mkdir(parents=True)
        names = ["latest.ckpt", "step_0000009.ckpt", "step_0000006.ckpt"]
        for name, data in zip(names, damaged):
            (run / "checkpoints" / name).write_bytes(data)
        if keep_one:
            save_checkpoint(run / "checkpoints" / "step_0000003.ckpt", good.partition(b"\n")[2])

        def check(found):
            payload, path = found
            assert isinstance(payload, dict)
            if keep_one and path.name == "step_0000003.ckpt":
                assert payload["step"] == 3
        _run_case(run, lambda: find_checkpoint(run), check)
        if keep_one:  # a valid checkpoint is there: the folder never fails as a whole
            find_checkpoint(run)
    return case


TARGETS = {name.removeprefix("_target_"): fn for name, fn in globals().items() if name.startswith("_target_")}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_readers(target: str, seeds, tmp_path_factory: pytest.TempPathFactory) -> None:
    """19 derandomized cases per reader (209 in all) in the default run."""
    case = TARGETS[target](seeds, tmp_path_factory.mktemp(f"fuzz_{target}"))
    _fuzz(FAST_CASES, fast=True)(case)()


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_readers_long(target: str, seeds, tmp_path_factory: pytest.TempPathFactory) -> None:
    """1,250 random cases per reader (12,500 in all)."""
    case = TARGETS[target](seeds, tmp_path_factory.mktemp(f"fuzz_{target}"))
    _fuzz(SLOW_CASES, fast=False)(case)()


def _deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("case", ["deep_openpose", "deep_coco", "deep_pg2", "deepmimic_hours", "bvh_nanosecond",
                                  "yaml_laughs", "yaml_deep", "npz_huge_header", "coco_huge_canvas"])
def test_pathological_inputs_fail_fast(case: str, seeds, tmp_path: Path) -> None:
    """Inputs built to exhaust the stack, the memory or the clock are refused quickly with ``PosevidError``."""
    if case == "deep_openpose":
        path = _write(tmp_path / "a_keypoints.json", b'{"people": ' + _deep_json(100_000) + b"}")
        call = lambda: read_poses(path, "openpose")  # noqa: E731
    elif case == "deep_coco":
        path = _write(tmp_path / "c.json", b'{"annotations": [], "images": ' + _deep_json(100_000) + b"}")
        call = lambda: read_poses(path)  # noqa: E731
    elif case == "deep_pg2":
        path = _write(tmp_path / "p.csv", b"name:keypoints_y:keypoints_x\na.jpg:" + _deep_json(50_000) + b":[]\n")
        call = lambda: read_poses(path)  # noqa: E731
    elif case == "deepmimic_hours":  # one keyframe lasting 30 hours: 3 million frames at 30 fps
        clip = json.loads(seeds["deepmimic"][0])
        clip["Frames"][0][0] = 108_000.0
        path = _write(tmp_path / "humanoid3d_long.txt", json.dumps(clip).encode())
        _write(tmp_path / "character_humanoid3d.txt", seeds["character"][0])
        call = lambda: load_mocap(path, fps=30)  # noqa: E731
    elif case == "bvh_nanosecond":  # native rate a billion frames per second
        path = _write(tmp_path / "fast.bvh", re.sub(rb"Frame Time: \S+", b"Frame Time: 1e-9", seeds["bvh"][0]))
        call = lambda: read_poses(path)  # noqa: E731
    elif case == "yaml_laughs":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
        path = _write(tmp_path / "laughs.yaml", ("\n".join(lines) + "\nmethod: 7\n").encode())
        call = lambda: load_config(path)  # noqa: E731
    elif case == "yaml_deep":
        path = _write(tmp_path / "deep.yaml", b"method: warp\nmodel: " + _deep_json(5_000) + b"\n")
        call = lambda: load_config(path)  # noqa: E731
    elif case == "npz_huge_header":  # an .npy header promising 10^12 floats, with no data behind it
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 2), }"
        header += b" " * (127 - 10 - len(header)) + b"\n"
        npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
        buf = io.BytesIO()
        import zipfile
        with zipfile.ZipFile(buf, "w") as zf:
            for name in ("xy", "conf", "size", "fps"):
                zf.writestr(f"{name}.npy", npy)
        path = _write(tmp_path / "huge.npz", buf.getvalue())
        call = lambda: read_poses(path)  # noqa: E731
    else:  # coco_huge_canvas
        data = json.loads(seeds["coco"][0])
        for image in data["images"]:
            image["width"] = 10 ** 12
        path = _write(tmp_path / "huge.json", json.dumps(data).encode())
        call = lambda: read_poses(path)  # noqa: E731
    with time_limit(20), pytest.raises(PosevidError) as err:
        call()
    assert "\n" not in str(err.value)
