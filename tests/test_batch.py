"""Many animations in one call: photos x drivers into a folder, a YAML list of pairs, a failing pair reported
while the others run; choosing a person in a photo with two."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posevid.batch import read_pairs
from posevid.cli import app
from posevid.errors import PosevidError
from posevid.video import VideoWriter, has_audio, open_video, read_image, write_image


def cut(source: Path, out: Path, frames: int, sound: bool = False) -> Path:
    with open_video(source) as reader, VideoWriter(out, reader.fps, audio_from=source if sound else None) as writer:
        for frame in itertools.islice(reader, frames):
            writer.write(frame)
    return out


def frames_in(path: Path) -> int:
    with open_video(path) as reader:
        return sum(1 for _ in reader)


def test_photos_times_drivers_with_a_failing_driver(shared_data: Path, tmp_path: Path) -> None:
    photos = [shared_data / "images/tfexamples_image2.jpeg", shared_data / "images/animateanyone_anyone-11.png"]
    dance = cut(shared_data / "videos/tfjs_pose_1.mp4", tmp_path / "dance.mp4", 8)
    kps = cut(shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4", tmp_path / "kps.mp4", 8)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a motion\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["animate", *map(str, photos), str(dance), str(kps), str(notes), "-o", str(out),
                                      "--size", "64"])
    assert result.exit_code == 2, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == ["animateanyone_anyone-11__dance.mp4", "animateanyone_anyone-11__kps.mp4",
                       "tfexamples_image2__dance.mp4", "tfexamples_image2__kps.mp4"]
    assert all(frames_in(out / name) == 8 for name in written)
    assert result.output.count("notes.txt") == 2 and "4 of 6 animations written" in result.output


def test_each_result_keeps_its_drivers_sound(shared_data: Path, tmp_path: Path) -> None:
    music = cut(shared_data / "videos/animatex_dance_3.mp4", tmp_path / "music.mp4", 6, sound=True)
    silent = cut(shared_data / "videos/tfjs_pose_1.mp4", tmp_path / "silent.mp4", 6)
    assert has_audio(music) and not has_audio(silent)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["animate", str(shared_data / "images/tfexamples_image2.jpeg"), str(music),
                                      str(silent), "-o", str(out), "--size", "64"])
    assert result.exit_code == 0, result.output
    assert has_audio(out / "tfexamples_image2__music.mp4") and not has_audio(out / "tfexamples_image2__silent.mp4")


def test_a_yaml_list_of_pairs(shared_data: Path, tmp_path: Path) -> None:
    cut(shared_data / "videos/tfjs_pose_1.mp4", tmp_path / "dance.mp4", 6)
    (tmp_path / "photo.jpeg").write_bytes((shared_data / "images/tfexamples_image2.jpeg").read_bytes())
    pairs = tmp_path / "pairs.yaml"
    pairs.write_text("- [photo.jpeg, dance.mp4]\n- {source: photo.jpeg, driving: dance.mp4, out: again.gif}\n")
    assert [p.out.name for p in read_pairs(pairs, tmp_path / "out")] == ["photo__dance.mp4", "again.gif"]
    result = CliRunner().invoke(app, ["animate", "--pairs", str(pairs), "-o", str(tmp_path / "out"), "--size", "64"])
    assert result.exit_code == 0, result.output
    assert frames_in(tmp_path / "out" / "again.gif") == 6
    pairs.write_text("- {source: photo.jpeg}\n")
    with pytest.raises(PosevidError, match="item 1 is not a pair"):
        read_pairs(pairs, tmp_path)
    result = CliRunner().invoke(app, ["animate", "--pairs", str(pairs), "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code != 0 and "OUT is a folder" in str(result.exception)


def test_the_chosen_person_of_a_photo_with_two(shared_data: Path, tmp_path: Path) -> None:
    man = read_image(shared_data / "images/animateanyone_anyone-11.png")
    woman = read_image(shared_data / "images/animateanyone_anyone-3.png")
    woman = cv2.resize(woman, (woman.shape[1] * 3 // 4, woman.shape[0] * 3 // 4))
    woman = np.concatenate([np.full((man.shape[0] - woman.shape[0], woman.shape[1], 3), 255, np.uint8), woman])
    write_image(tmp_path / "two.png", np.concatenate([woman, man], 1))
    dance = cut(shared_data / "videos/tfjs_pose_1.mp4", tmp_path / "dance.mp4", 4)
    from posevid.pipeline import Animation

    photo = tmp_path / "two.png"
    with Animation(photo, dance) as largest, Animation(photo, dance, person="left") as left:
        assert "2 people in the photo; animating the largest" in largest.notes[0]
        assert largest.source_pose.xy[0, 1, 0] > woman.shape[1] > left.source_pose.xy[0, 1, 0]
