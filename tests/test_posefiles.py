"""Pose files: round trips through every format, foreign files, and a clean error for every malformed one."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import add_hands_and_face
from posevid.cli import app
from posevid.errors import PosevidError
from posevid.posefiles import COCO17_NAMES, detect_format, read_poses, write_poses
from posevid.poses import Poses
from posevid.skeleton import to_coco18


@pytest.fixture(scope="module")
def real_poses(shared_data: Path) -> Poses:
    """40 frames of the dancing clip's reference keypoints, with some joints and one whole frame missing.

    Built from COCO-17, so the neck is the mid-shoulder point as every format expects.
    """
    frames = json.loads((shared_data / "videos/tfjs_pose_1.json").read_text())[:40]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in frames], np.float32)
    conf = np.full(kp.shape[:2], 0.9, np.float32)
    conf[5:9, 9] = 0  # a wrist lost for a while
    conf[12] = 0  # nobody in frame 12
    conf[20:, 15] = 0.4  # a weak ankle
    xy, conf = to_coco18(kp, conf, "coco17")
    return Poses(xy, conf, 576, 576, 25.0)


def check_error(err: pytest.ExceptionInfo[PosevidError], path: Path) -> None:
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_npz_round_trip_is_exact(tmp_path: Path, real_poses: Poses) -> None:
    write_poses(tmp_path / "p.npz", real_poses)
    back = read_poses(tmp_path / "p.npz")
    np.testing.assert_array_equal(back.xy, real_poses.xy)
    np.testing.assert_array_equal(back.conf, real_poses.conf)
    assert (back.width, back.height, back.fps) == (576, 576, 25.0)
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temporary file left behind


def test_openpose_round_trip(tmp_path: Path, real_poses: Poses) -> None:
    out = tmp_path / "openpose"
    write_poses(out, real_poses)
    files = sorted(out.iterdir())
    assert len(files) == 40 and all(f.name.endswith("_keypoints.json") for f in files)
    assert json.loads(files[12].read_text())["people"] == []
    back = read_poses(out, fps=25)
    np.testing.assert_allclose(back.xy, real_poses.xy, atol=1e-3)
    np.testing.assert_allclose(back.conf, real_poses.conf, atol=1e-3)
    assert (back.width, back.height, back.fps) == (576, 576, 25.0)
    one = read_poses(files[3])  # a single frame file
    assert len(one) == 1 and np.allclose(one.xy[0], real_poses.xy[3], atol=1e-3)
    # Writing again replaces the old frames.
    write_poses(out, real_poses[:5], "openpose")
    assert len(read_poses(out)) == 5


def test_coco_round_trip(tmp_path: Path, real_poses: Poses) -> None:
    write_poses(tmp_path / "p.json", real_poses)
    data = json.loads((tmp_path / "p.json").read_text())
    assert len(data["images"]) == 40 and len(data["annotations"]) == 39
    assert data["categories"][0]["keypoints"] == list(COCO17_NAMES)
    assert detect_format(tmp_path / "p.json") == "coco"
    back = read_poses(tmp_path / "p.json")
    np.testing.assert_allclose(back.xy, real_poses.xy, atol=0.01)
    np.testing.assert_array_equal(back.conf > 0, real_poses.conf > 0)
    assert (back.width, back.height, back.fps) == (576, 576, 25.0)


@pytest.fixture(scope="module")
def whole_poses(real_poses: Poses) -> Poses:
    """``real_poses`` with depth, hands and face (confidences on a 0.001 grid, as JSON keeps them)."""
    poses = add_hands_and_face(real_poses)
    z = np.where(poses.conf > 0, np.linspace(-50, 50, 18, dtype=np.float32)[None], 0)
    return dataclasses.replace(poses, z=z, hand_conf=np.round(poses.hand_conf, 3))


def test_npz_keeps_depth_hands_and_face_exactly(tmp_path: Path, whole_poses: Poses) -> None:
    write_poses(tmp_path / "p.npz", whole_poses)
    back = read_poses(tmp_path / "p.npz")
    for name in ("xy", "conf", "z", "hand_xy", "hand_conf", "face_xy", "face_conf"):
        np.testing.assert_array_equal(getattr(back, name), getattr(whole_poses, name))
    feet = dataclasses.replace(whole_poses, foot_xy=whole_poses.xy[:, [[13, 13], [10, 10]]] + 5,
                               foot_conf=whole_poses.conf[:, [[13, 13], [10, 10]]])
    write_poses(tmp_path / "f.npz", feet)
    np.testing.assert_array_equal(read_poses(tmp_path / "f.npz").foot_xy, feet.foot_xy)
    write_poses(tmp_path / "body.npz", whole_poses.body_only())
    assert set(np.load(tmp_path / "body.npz").files) == {"xy", "conf", "size", "fps"}
    assert read_poses(tmp_path / "body.npz").hand_xy is None


def test_openpose_hands_and_face(tmp_path: Path, whole_poses: Poses) -> None:
    write_poses(tmp_path / "op", whole_poses)
    frame = json.loads(sorted((tmp_path / "op").iterdir())[1].read_text())["people"][0]
    assert len(frame["hand_left_keypoints_2d"]) == 63 and frame["hand_right_keypoints_2d"] == []  # dropped there
    face = np.array(frame["face_keypoints_2d"]).reshape(70, 3)  # OpenPose's 70: iBUG 68 and two pupils
    np.testing.assert_allclose(face[68, :2], whole_poses.face_xy[1, 36:42].mean(0), atol=1e-3)
    back = read_poses(tmp_path / "op", fps=25)
    assert back.z is None
    for name in ("hand_xy", "hand_conf", "face_xy", "face_conf"):
        np.testing.assert_allclose(getattr(back, name), getattr(whole_poses, name), atol=1e-3)
    # DWPose writes 68 face points and may leave out the hands.
    frame["face_keypoints_2d"] = face[:68].ravel().tolist()
    del frame["hand_left_keypoints_2d"], frame["hand_right_keypoints_2d"]
    (tmp_path / "dw.json").write_text(json.dumps({"people": [frame], "canvas_width": 576, "canvas_height": 576}))
    dw = read_poses(tmp_path / "dw.json")
    assert not dw.has_hands and np.allclose(dw.face_xy[0], whole_poses.face_xy[1], atol=1e-3)
    # Body-only poses write empty hand and face lists, as before.
    write_poses(tmp_path / "plain", whole_poses.body_only()[:2])
    plain = json.loads(sorted((tmp_path / "plain").iterdir())[0].read_text())["people"][0]
    assert plain["hand_left_keypoints_2d"] == [] and plain["face_keypoints_2d"] == []


def test_coco_wholebody_round_trip(tmp_path: Path, whole_poses: Poses) -> None:
    write_poses(tmp_path / "p.json", whole_poses)
    ann = json.loads((tmp_path / "p.json").read_text())["annotations"][1]
    assert len(ann["lefthand_kpts"]) == 63 and len(ann["face_kpts"]) == 204 and len(ann["foot_kpts"]) == 18
    assert ann["lefthand_valid"] and not ann["righthand_valid"] and ann["face_valid"]
    back = read_poses(tmp_path / "p.json")
    for xy, conf in (("hand_xy", "hand_conf"), ("face_xy", "face_conf")):
        np.testing.assert_array_equal(getattr(back, conf), getattr(whole_poses, conf) > 0)
        np.testing.assert_allclose(getattr(back, xy), getattr(whole_poses, xy), atol=0.01)
    # One list of all 133 whole-body points (DWPose's order: body, feet, face, left hand, right hand).
    data = json.loads((tmp_path / "p.json").read_text())
    for a in data["annotations"]:
        a["keypoints"] = a["keypoints"] + a.pop("foot_kpts") + a.pop("face_kpts") + a.pop("lefthand_kpts") \
            + a.pop("righthand_kpts")
    (tmp_path / "flat.json").write_text(json.dumps(data))
    flat = read_poses(tmp_path / "flat.json")
    np.testing.assert_allclose(flat.hand_xy, back.hand_xy)
    np.testing.assert_allclose(flat.face_xy, back.face_xy)
    np.testing.assert_allclose(flat.xy, back.xy)


def test_pg2_round_trip_and_patn_layout(tmp_path: Path, real_poses: Poses) -> None:
    poses = Poses(np.rint(real_poses.xy), (real_poses.conf > 0).astype(np.float32), 576, 576)
    write_poses(tmp_path / "annotation.csv", poses)
    lines = (tmp_path / "annotation.csv").read_text().splitlines()
    assert lines[0] == "name:keypoints_y:keypoints_x" and len(lines) == 41
    assert lines[13].endswith(": " + str([-1] * 18))
    back = read_poses(tmp_path / "annotation.csv", size=(576, 576))
    np.testing.assert_array_equal(back.xy, poses.xy)
    np.testing.assert_array_equal(back.conf, poses.conf)


def test_reads_a_patn_fashion_annotation(tmp_path: Path) -> None:
    # A row as in PATN's fasion-resize-annotation-train.csv (176x256 images, y list then x list).
    row = ("fashionMENTees_Tanksid0000404701_7additional.jpg: [26, 54, 52, 91, -1, 56, 97, 130, 133, 189, 241, "
           "133, 189, 240, 21, 21, 24, 25]: [87, 88, 65, 61, -1, 111, 116, 118, 74, 71, 68, 101, 102, 104, 83, 93, "
           "76, 100]")
    path = tmp_path / "fasion-resize-annotation-train.csv"
    path.write_text("name:keypoints_y:keypoints_x\n" + row + "\n")
    poses = read_poses(path)
    assert (poses.width, poses.height) == (176, 256)
    assert poses.conf[0, 4] == 0 and poses.conf.sum() == 17
    assert poses.xy[0, 0].tolist() == [87, 26] and poses.xy[0, 4].tolist() == [0, 0]
    market = tmp_path / "market-annotation-test.csv"
    market.write_text("name:keypoints_y:keypoints_x\n0002_c1s1_000451_03.jpg: " + str([10] * 18) + ": "
                      + str([5] * 18) + "\n")
    assert (read_poses(market).width, read_poses(market).height) == (64, 128)


def test_reads_body25_and_keeps_the_most_confident_person(tmp_path: Path, real_poses: Poses) -> None:
    body25 = np.zeros((25, 3), np.float32)
    coco_of_body25 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    body25[coco_of_body25, :2] = real_poses.xy[0]
    body25[coco_of_body25, 2] = real_poses.conf[0]
    body25[8] = [300, 330, 0.9]  # BODY_25's mid-hip, which COCO-18 does not have
    faint = np.full((18, 3), 0.1, np.float32)
    frame = {"version": 1.3, "people": [{"pose_keypoints_2d": faint.ravel().tolist()},
                                        {"pose_keypoints_2d": body25.ravel().tolist()}]}
    (tmp_path / "clip_000000000000_keypoints.json").write_text(json.dumps(frame))
    poses = read_poses(tmp_path, size=(576, 576))
    np.testing.assert_allclose(poses.xy[0], real_poses.xy[0], atol=1e-4)
    # Without a canvas size the image is the smallest one holding every point.
    fitted = read_poses(tmp_path)
    assert fitted.width == int(np.ceil(real_poses.xy[0, :, 0].max() + 1))


def test_bvh_goes_to_the_mocap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "walk.bvh"
    path.write_text("HIERARCHY\n")
    fake = types.ModuleType("posevid.mocap")
    fake.read_bvh = lambda p: Poses.empty(3, 64, 64, fps=120)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "posevid.mocap", fake)
    assert len(read_poses(path)) == 3
    monkeypatch.setitem(sys.modules, "posevid.mocap", None)
    with pytest.raises(PosevidError, match="posevid.mocap") as err:
        read_poses(path)
    check_error(err, path)


def test_reads_a_deepmimic_clip_and_refuses_other_text(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "mocap/deepmimic/humanoid3d_walk.txt"
    assert detect_format(path) == "deepmimic"
    poses = read_poses(path)
    assert poses.fps == 30 and len(poses) >= 30 and (poses.conf > 0).all()
    for name, text in (("notes.txt", "walk, then run\n"), ("list.txt", "[1, 2]"), ("ansi.txt", "\x1b[31mred\x1b[0m\n")):
        (tmp_path / name).write_text(text)
        with pytest.raises(PosevidError, match=rf"{name}: a \.txt pose file must be a DeepMimic motion .*"
                                               r"accepted pose files: \.npz, .*\.bvh, DeepMimic \.txt") as err:
            read_poses(tmp_path / name)
        assert "\n" not in str(err.value)


def test_reads_a_real_bvh_clip(shared_data: Path) -> None:
    poses = read_poses(shared_data / "mocap/cmu_bvh/131_01.bvh")
    assert len(poses) > 900 and poses.fps == 120 and poses.num_joints == 18
    assert (poses.conf > 0).all()


def truncated(text: str) -> str:
    return text[: len(text) // 2]


@pytest.mark.parametrize("case", [
    "npz_truncated", "npz_not_a_zip", "npz_missing_keys", "npz_bad_shapes", "npz_pickled", "npz_bad_hands",
    "openpose_truncated", "openpose_wrong_length", "openpose_no_people", "openpose_empty_folder",
    "openpose_bad_hand", "openpose_bad_face",
    "coco_truncated", "coco_wrong_length", "coco_unknown_image", "coco_no_images", "coco_bad_face",
    "pg2_truncated", "pg2_no_header", "pg2_wrong_count", "pg2_not_numbers", "pg2_binary",
    "json_neither", "unknown_suffix", "missing",
])
def test_malformed_files_give_one_line_errors(tmp_path: Path, real_poses: Poses, case: str) -> None:
    def valid(name: str) -> Path:
        path = tmp_path / name
        write_poses(path, real_poses)
        return path

    if case.startswith("npz"):
        path = valid("p.npz")
        if case == "npz_truncated":
            path.write_bytes(path.read_bytes()[:300])
        elif case == "npz_not_a_zip":
            path.write_text("hello")
        elif case == "npz_missing_keys":
            with open(path, "wb") as f:
                np.savez(f, xy=real_poses.xy)
        elif case == "npz_bad_shapes":
            with open(path, "wb") as f:
                np.savez(f, xy=real_poses.xy, conf=real_poses.conf[:3], size=[576, 576], fps=25.0)
        elif case == "npz_bad_hands":
            with open(path, "wb") as f:
                np.savez(f, xy=real_poses.xy, conf=real_poses.conf, size=[576, 576], fps=25.0,
                         hand_xy=np.zeros((40, 2, 20, 2)), hand_conf=np.zeros((40, 2, 20)))
        else:
            with open(path, "wb") as f:
                np.savez(f, xy=np.array([{"a": 1}], dtype=object), conf=real_poses.conf, size=[5, 5], fps=1.0)
    elif case.startswith("openpose"):
        path = valid("op")
        first = sorted(path.iterdir())[0]
        if case == "openpose_truncated":
            first.write_text(truncated(first.read_text()))
        elif case == "openpose_wrong_length":
            first.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 50}]}))
        elif case == "openpose_no_people":
            first.write_text(json.dumps({"version": 1.3}))
        elif case in ("openpose_bad_hand", "openpose_bad_face"):
            person = json.loads(first.read_text())["people"][0]
            person["hand_left_keypoints_2d" if case.endswith("hand") else "face_keypoints_2d"] = [1.0] * 60
            first.write_text(json.dumps({"people": [person]}))
        else:
            for f in path.iterdir():
                f.unlink()
    elif case.startswith("coco"):
        path = valid("p.json")
        data = json.loads(path.read_text())
        if case == "coco_truncated":
            path.write_text(truncated(path.read_text()))
        elif case == "coco_wrong_length":
            data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:-3]
            path.write_text(json.dumps(data))
        elif case == "coco_bad_face":
            data["annotations"][0]["face_kpts"] = [1.0] * 200
            path.write_text(json.dumps(data))
        elif case == "coco_unknown_image":
            data["annotations"][0]["image_id"] = 999
            path.write_text(json.dumps(data))
        else:
            data["images"] = []
            path.write_text(json.dumps(data))
    elif case.startswith("pg2"):
        path = valid("p.csv")
        lines = path.read_text().splitlines()
        if case == "pg2_truncated":
            path.write_text(truncated(path.read_text()))
        elif case == "pg2_no_header":
            path.write_text("\n".join(lines[1:]))
        elif case == "pg2_wrong_count":
            path.write_text(lines[0] + "\na.jpg: [1, 2]: [3, 4]\n")
        elif case == "pg2_not_numbers":
            path.write_text(lines[0] + "\na.jpg: [1, 2: [3, 4]\n")
        else:
            path.write_bytes(b"\xff\xfe\x00garbage")
    elif case == "json_neither":
        path = tmp_path / "x.json"
        path.write_text("[1, 2, 3]")
    elif case == "unknown_suffix":
        path = tmp_path / "x.txt"
        path.write_text("1 2 3")
    else:
        path = tmp_path / "nothing.npz"
    with pytest.raises(PosevidError) as err:
        read_poses(path)
    check_error(err, path if not case.startswith("openpose") or case.endswith("folder") else sorted(path.iterdir())[0])


@pytest.mark.parametrize("name", ["p.npz", "p.json", "p.csv", "op"])
def test_corrupted_files_never_raise_anything_but_posevid_errors(tmp_path: Path, real_poses: Poses,
                                                                  name: str) -> None:
    good = tmp_path / "good" / name
    write_poses(good, real_poses[:4])
    target = good / sorted(p.name for p in good.iterdir())[1] if good.is_dir() else good
    original = target.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(60):
        data = bytearray(original)
        if rng.random() < 0.3:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            for i in rng.integers(0, len(data), int(rng.integers(1, 6))):
                data[i] = int(rng.integers(0, 256))
        target.write_bytes(bytes(data))
        try:
            poses = read_poses(good)
            assert np.isfinite(poses.xy).all()
            outcomes.add("read")
        except PosevidError as err:
            assert "\n" not in str(err)
            outcomes.add("error")
    assert "error" in outcomes


def test_failed_writes_leave_no_file(tmp_path: Path, real_poses: Poses) -> None:
    odd = Poses(real_poses.xy[:, :17], real_poses.conf[:, :17], 576, 576)
    with pytest.raises(PosevidError, match="COCO-18"):
        write_poses(tmp_path / "p.csv", odd)
    with pytest.raises(PosevidError, match="format"):
        write_poses(tmp_path / "p.npz", real_poses, "yaml")
    keep = tmp_path / "photos"
    keep.mkdir()
    (keep / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(PosevidError, match="other files"):
        write_poses(keep, real_poses, "openpose")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]
    assert [p.name for p in keep.iterdir()] == ["holiday.jpg"]


def test_cli_convert(tmp_path: Path, real_poses: Poses) -> None:
    write_poses(tmp_path / "p.csv", real_poses)
    runner = CliRunner()
    result = runner.invoke(app, ["poses", "convert", str(tmp_path / "p.csv"), str(tmp_path / "op"),
                                 "--size", "576x576", "--fps", "25"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["poses", "convert", str(tmp_path / "op"), str(tmp_path / "p.out"), "--format", "npz",
                                 "--fps", "25"])
    assert result.exit_code == 0, result.output
    back = read_poses(tmp_path / "p.out", "npz")
    assert (back.width, back.height, back.fps, len(back)) == (576, 576, 25.0, 40)
    np.testing.assert_allclose(back.xy, np.where(real_poses.conf[..., None] > 0, np.rint(real_poses.xy), 0))
    result = runner.invoke(app, ["poses", "convert", str(tmp_path / "p.csv"), str(tmp_path / "q.npz"), "--size", "big"])
    assert isinstance(result.exception, PosevidError)
    assert not (tmp_path / "q.npz").exists()
