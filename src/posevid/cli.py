"""The ``posevid`` command line: a thin layer over the Python API.

Heavy modules are imported inside each command so that core commands stay fast. Methods add their own
options and subcommands through their specs' ``modify_commandline_options`` (``cli_hooks``); this module names
no method. A ``PosevidError`` is printed as one line (exit code 2); anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .cli_hooks import RootGroup
from .devices import DEVICE_HELP, check_device, resolve_device
from .poses import DEFAULT_RETARGET

if TYPE_CHECKING:
    from .pipeline import Pipeline

app = typer.Typer(cls=RootGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Pose-guided human video generation.")
poses_app = typer.Typer(no_args_is_help=True, help="Extract, render and convert pose files.")
motion_app = typer.Typer(no_args_is_help=True, help="Pose sequences from motion capture and action labels.")
configs_app = typer.Typer(no_args_is_help=True, help="The training configs shipped with posevid.")
app.add_typer(poses_app, name="poses")
app.add_typer(motion_app, name="motion")
app.add_typer(configs_app, name="configs")


@app.callback()
def _main(plugin: list[str] = typer.Option(None, "--plugin", metavar="MODULE",
                                           help="Import this module first (it may register methods); repeatable.")
          ) -> None:
    """Pose-guided human video generation."""
    if plugin:
        from .methods.registry import import_plugins

        import_plugins(plugin)


@app.command()
def prepare(
    inputs: list[str] = typer.Argument(..., help="Videos, frame folders, or folders of videos."),
    out: str = typer.Option(..., "-o", "--out", help="Dataset folder to create or extend."),
    size: int = typer.Option(256, help="Square crop size in pixels (multiple of 16)."),
    workers: int = typer.Option(1, help="Clips prepared in parallel (processes)."),
    iuv: str = typer.Option(None, help="Folder with DensePose IUV per clip: <clip>.mp4 or <clip>/ frames."),
    test_fraction: float = typer.Option(0.2, help="Fraction of clips put in the test split."),
    frames: str = typer.Option(None, help="Frame range A:B (B exclusive) of each video; clip named <stem>_fA-B."),
    max_frames: int = typer.Option(None, help="At most this many frames per clip."),
    split: str = typer.Option(None, help="Put the new clips in this split (train or test) instead of by fraction."),
    test_frames: str = typer.Option(None, help="Also make a test clip of frames A:B of each video (one pass); "
                                               "the train clip is then --frames or the frames before A."),
    margin: float = typer.Option(0.1, help="Crop margin around the person's track, per side, as a fraction."),
    layout: str = typer.Option(None, help="INPUTS is one downloaded dataset in this layout: fomm (TaiChi-HD and "
                                          "the other first-order-model datasets: train/ and test/ of videos or "
                                          "frame folders, kept whole), ubc-fashion (DwNet's Fashion: "
                                          "fashion_{train,test}.txt and the videos), deepfashion or market (PG2/PATN "
                                          "pair and annotation CSVs with the images; copied for data.kind "
                                          "pg2_pairs)."),
    subject: str = typer.Option("body", help="body: person crops with body poses; face: head crops of "
                                             "talking-head videos with the 68 face landmarks and face masks."),
) -> None:
    """Crop the person in each video, estimate poses and masks, and write a training dataset."""
    from .data.prepare import prepare as run
    from .io_utils import check_outputs

    check_outputs({f"input {i + 1}": path for i, path in enumerate(inputs)}, {"dataset folder": out}, replaced=False)
    index, errors = run(inputs, out, size=size, workers=workers, iuv_dir=iuv, test_fraction=test_fraction,
                        frames=frames, max_frames=max_frames, split=split, test_frames=test_frames,
                        margin=margin, layout=layout, subject=subject)
    if "layout" in index:
        counts = index["images"]
        print(f"{out}: {index['layout']} pairs, {counts['train']} train / {counts['test']} test images "
              "(train with data.kind: pg2_pairs)")
        return
    print(f"{out}: {len(index['train'])} train / {len(index['test'])} test clips")
    for err in errors:
        print(f"posevid: error: {err}", file=sys.stderr)
    if errors:
        sys.exit(2)


@poses_app.command("extract")
def poses_extract(
    source: str = typer.Argument(..., help="Video, GIF, frame folder or image with one person: a camera video, or a "
                                           "skeleton (OpenPose/DWPose) or DensePose render."),
    out: str = typer.Option(..., "-o", "--out", help="Pose file: .npz, .json (COCO), .csv (PG2) or a folder."),
    fmt: str = typer.Option(None, "--format", help="npz, openpose, coco or pg2 (default: from OUT)."),
    smooth: bool = typer.Option(False, "--smooth", help="Fill short gaps, then apply a one-euro filter."),
    keypoints: str = typer.Option("body", help="body, body+hands or body+hands+face (MediaPipe Holistic), or "
                                               "face (the face mesh alone: 68 landmarks, for face close-ups)."),
    driving_kind: str = typer.Option(None, "--driving-kind", help="rgb, skeleton or densepose (default: guessed "
                                                                  "from the first frames)."),
    person: str = typer.Option("largest", help="Whom to follow when there are several people: largest, left, right."),
    force: bool = typer.Option(False, "--force", help="Write the poses even when a person shows in under half the "
                                                      "frames or the poses jump."),
) -> None:
    """Estimate COCO-18 poses (MediaPipe BlazePose; with hands and face, Holistic) in every frame of SOURCE, or
    decode them from a skeleton or DensePose render, and write them to OUT."""
    from rich.progress import Progress

    from .driving import Driving
    from .io_utils import check_outputs
    from .posefiles import detect_format, write_poses
    from .poses import Poses, fill_gaps
    from .poses import smooth as smooth_poses

    check_outputs({"video": source}, {"pose file": out})
    if fmt is None:
        detect_format(out, writing=True)
    frames = []
    with Driving(source, driving_kind, keypoints, person, check=not force) as driving, \
            Progress(transient=True) as progress:
        task = progress.add_task("reading poses", total=driving.count)
        for _, pose, _ in driving:
            frames.append(pose)
            progress.advance(task)
    poses = Poses.concat(frames)
    if smooth:
        poses = smooth_poses(fill_gaps(poses))
    write_poses(out, poses, fmt)
    if keypoints == "face":
        from .face import found as face_found

        print(f"{out}: {len(poses)} frames, a face in {int(face_found(poses).sum())}")
    else:
        print(f"{out}: {len(poses)} frames, a person in {int((poses.conf > 0).any(1).sum())}")


@poses_app.command("convert")
def poses_convert(
    src: str = typer.Argument(..., help="Pose file or OpenPose folder to read."),
    dst: str = typer.Argument(..., help="Pose file or folder to write."),
    fmt: str = typer.Option(None, "--format", help="Output format: npz, openpose, coco or pg2 (default: from DST)."),
    input_format: str = typer.Option(None, "--from", help="Input format (default: from SRC)."),
    size: str = typer.Option(None, help="WxH of the images SRC refers to, when SRC does not store it."),
    fps: float = typer.Option(None, help="Frame rate of SRC, when SRC does not store it."),
) -> None:
    """Convert a pose file between formats (npz, OpenPose JSON, COCO JSON, PG2 CSV; BVH in)."""
    from .errors import PosevidError
    from .io_utils import check_outputs
    from .posefiles import read_poses, write_poses

    wh = None
    if size is not None:
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise PosevidError(None, f"--size must look like 256x256, got {size!r}")
        wh = (int(parts[0]), int(parts[1]))
    check_outputs({"pose file": src}, {"output": dst})
    poses = read_poses(src, input_format, size=wh, fps=fps)
    write_poses(dst, poses, fmt)
    print(f"{dst}: {len(poses)} frames, {poses.width}x{poses.height} at {poses.fps:g} fps")


@app.command()
def animate(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(None, help="The photo(s) of the person to animate, then the driving "
                                                  "video(s) (camera, skeleton or DensePose render; mp4, gif, "
                                                  "frame folder) or pose file(s) (.npz, .json, .csv, .bvh, "
                                                  "DeepMimic .txt); photos are told by their suffix. Several "
                                                  "photos or drivers: every photo with every driver, into the "
                                                  "folder OUT. Only the photo with --action."),
    out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .mov, .mkv (with the driving sound), "
                                                     ".gif or a folder of PNG frames; the output folder with several "
                                                     "inputs or --pairs."),
    pairs: str = typer.Option(None, "--pairs", help="YAML list of pairs to animate into the folder OUT: "
                                                    "{source: PHOTO, driving: VIDEO, out: FILE} or [PHOTO, VIDEO]."),
    driving_kind: str = typer.Option(None, "--driving-kind", help="What the driving video shows: rgb (a camera), "
                                                                  "skeleton (an OpenPose/DWPose render) or "
                                                                  "densepose (a part render or raw IUV); guessed "
                                                                  "by default."),
    keypoints: str = typer.Option("body", help="What to estimate on camera video: body, body+hands or "
                                               "body+hands+face (a face close-up's face is found by --subject); "
                                               "with hands, a skeleton render's hands are decoded too."),
    subject: str = typer.Option("auto", help="What to animate: body, face (the portrait's face, from the driver's "
                                             "face landmarks) or auto (face for a face close-up in the photo or "
                                             "the driving video)."),
    person: str = typer.Option("largest", help="Whom to animate and follow when the photo or the clip shows "
                                               "several people: largest, left or right."),
    force: bool = typer.Option(False, "--force", help="Go on with a driver that shows a person in under half "
                                                      "its frames, or poses that jump."),
    photo_pose: str = typer.Option(None, "--photo-pose", help="The photo's person's pose, when it cannot be found "
                                                              "(an illustrated character): OpenPose JSON, COCO "
                                                              "JSON, .npz or .csv, in the photo's pixels."),
    source_iuv: str = typer.Option(None, "--source-iuv", help="The photo's DensePose IUV image, for a DwNet "
                                                              "model trained with IUV (drive it with IUV frames)."),
    method: str = typer.Option(None, help="Method: the checkpoint's, or warp (no training) without --checkpoint."),
    checkpoint: str = typer.Option(None, help="Checkpoint of a trained method, or a model made by `posevid "
                                              "export` (.onnx, .xml)."),
    backend: str = typer.Option("auto", help="What runs a trained model: torch, onnx (ONNX Runtime), openvino, "
                                             "or auto (the fastest here, measured once and remembered)."),
    precision: str = typer.Option("auto", help="auto (bf16 where the CPU computes it natively; an int8 export "
                                               "stays int8), fp32 or bf16."),
    mode: str = typer.Option(DEFAULT_RETARGET, help="pose: the photo's person takes the driving pose (the "
                                                    "driver's bone directions, the photo's lengths and place); "
                                                    "bones: the photo's limbs turn as the driver's do from its "
                                                    "first frame; relative: each joint moves as the driver's; "
                                                    "absolute: the driving pose scaled to the photo's body."),
    size: int = typer.Option(None, help="Longer side of the result in pixels (the photo's whole frame and aspect "
                                        "are kept; default: the photo's size)."),
    width: int = typer.Option(None, help="Width of the result; with --height, the photo is cropped around the "
                                         "person to fill both."),
    height: int = typer.Option(None, help="Height of the result (see --width)."),
    no_audio: bool = typer.Option(False, "--no-audio", help="Do not copy the driving video's sound into the result."),
    side_by_side: str = typer.Option(None, "--side-by-side", help="Also write driving | pose | result here."),
    fps: float = typer.Option(None, help="Output frame rate (default: the driving rate)."),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Do not smooth the target poses."),
    save_poses: str = typer.Option(None, "--save-poses", help="Also write the target pose of each frame here "
                                                              "(.npz, .json, .csv or a folder)."),
    action: str = typer.Option(None, help="Instead of DRIVING: generate this action's motion with a motion "
                                          "model (`posevid motion actions` lists the bundled model's)."),
    motion_checkpoint: str = typer.Option(None, help="Checkpoint of a motion model for --action (default: the "
                                                     "bundled PSGAN)."),
    frames: int = typer.Option(32, help="With --action: number of frames to generate."),
    seed: int = typer.Option(0, help="Noise seed of a generated motion (--action) and of a method's random "
                                     "choices."),
    device: str = typer.Option("auto", help=f"Device of the model: {DEVICE_HELP}."),
) -> None:
    """Animate the person in a photo with the motion of a driver (or of a generated --action) and write OUT;
    or many photos and drivers at once into the folder OUT.

    Methods add their own options below (e.g. the decoupled method's colours)."""
    from .batch import is_photo
    from .cli_hooks import given_method_options
    from .errors import PosevidError
    from .pipeline import AnimateOptions, Pipeline, motion_from_action
    from .video import open_video

    inputs = list(inputs or [])
    photos = [p for p in inputs if is_photo(p)] if len(inputs) != 2 else inputs[:1]
    drivers = [p for p in inputs if p not in photos] if len(inputs) != 2 else inputs[1:]
    many = pairs is not None or len(photos) > 1 or len(drivers) > 1
    if many and (action is not None or side_by_side or save_poses or source_iuv or photo_pose):
        raise PosevidError("animate", "--action, --side-by-side, --save-poses, --source-iuv and --photo-pose take "
                                      "one photo and one driver")
    if not many and (len(photos) != 1 or (not drivers) == (action is None)
                     or (action is None and motion_checkpoint is not None)):
        raise PosevidError("animate", "give a PHOTO and a DRIVER, or a PHOTO with --action (with "
                                      "--motion-checkpoint for your own model)")
    check_device(device)  # resolved when the model is loaded (a method without weights uses none)
    options = AnimateOptions(method=method, checkpoint=checkpoint, mode=mode, size=size, width=width, height=height,
                             smooth=not no_smooth, fps=fps, driving_kind=driving_kind, keypoints=keypoints,
                             person=person, force=force, subject=subject, backend=backend, precision=precision,
                             device=device)
    given = given_method_options(ctx, seed)
    if given is not None:
        options.method_options = given[1]
    pipe = Pipeline(options)
    if given is not None and given[0] != pipe.method:
        raise PosevidError(checkpoint or "animate", f"the options given are method {given[0]!r}'s; this model "
                                                    f"is {pipe.method!r}")
    if many:
        _animate_many(pipe, photos, drivers, pairs, Path(out), audio=not no_audio)
        return
    source = photos[0]
    driving = drivers[0] if drivers else motion_from_action(photo_pose or source, motion_checkpoint, action,
                                                            frames, seed, device)
    count = pipe.to_file(source, driving, out, side_by_side, save_poses, audio=not no_audio, source_iuv=source_iuv,
                         photo_pose=photo_pose)
    with open_video(out) as reader:
        print(f"{out}: {count} frames, {reader.width}x{reader.height} at {reader.fps:g} fps")
    if side_by_side:
        print(f"{side_by_side}: side by side (driving | pose | result)")


def _animate_many(pipe: Pipeline, photos: list[str], drivers: list[str], pairs: str | None, folder: Path,
                  audio: bool) -> None:
    """``animate`` with several inputs: the model loaded once (``pipe``), each driver's poses read once, a
    failing pair reported and the others still run (exit code 2 at the end if any failed)."""
    from .batch import all_pairs, read_pairs, run_batch
    from .driving import Driving
    from .errors import PosevidError

    if folder.suffix:
        raise PosevidError(folder, "with several inputs or --pairs, OUT is a folder (no suffix)")
    if pairs is not None and (photos or drivers):
        raise PosevidError("animate", "give --pairs or photos and drivers, not both")
    todo = read_pairs(pairs, folder) if pairs else all_pairs([Path(p) for p in photos], [Path(d) for d in drivers],
                                                             folder)
    if not todo:
        raise PosevidError("animate", "give at least one photo and one driver")
    opts = pipe.options

    def driving_poses(path: Path):  # a face subject is driven by the driver's face landmarks
        keypoints = "face" if opts.subject == "face" else opts.keypoints
        with Driving(path, opts.driving_kind, keypoints, opts.person, check=not opts.force) as driving:
            return driving.poses()

    def animate_pair(pair, poses) -> int:  # the driver's poses, read once; its sound from its video
        return pipe.to_file(pair.source, poses, pair.out, show_progress=False, audio=audio, audio_from=pair.driving)

    def report(outcome) -> None:
        if outcome.error is None:
            print(f"{outcome.pair.out}: {outcome.frames} frames")
        else:
            print(f"posevid: error: {outcome.error}", file=sys.stderr)

    outcomes = run_batch(todo, animate_pair, driving_poses, report)
    failed = sum(o.error is not None for o in outcomes)
    print(f"{folder}: {len(outcomes) - failed} of {len(outcomes)} animations written")
    if failed:
        sys.exit(2)


@app.command("export")
def export_cmd(
    checkpoint: str = typer.Argument(..., help="Checkpoint or run folder of a trained method."),
    out: str = typer.Option(..., "-o", "--out", help="model.onnx (ONNX) or model.xml (OpenVINO IR, with model.bin)."),
    int8: bool = typer.Option(False, "--int8", help="Quantize to int8, calibrated on real footage; refused when "
                                                    "the result is below --min-psnr from fp32."),
    calibration_photo: str = typer.Option(None, help="Photo to calibrate int8 with (default: the bundled demo "
                                                      "photo)."),
    calibration_driving: str = typer.Option(None, help="Driving video or pose file to calibrate int8 with "
                                                        "(default: the bundled demo clip)."),
    calibration_frames: int = typer.Option(16, help="Frames to calibrate on (as many again are held out to check)."),
    min_psnr: float = typer.Option(30.0, help="Refuse an int8 model further than this (dB) from fp32."),
) -> None:
    """Export a trained method to ONNX or OpenVINO IR, for `posevid animate --checkpoint model.onnx`."""
    from .inference.export import export_model

    meta = export_model(checkpoint, out, int8=int8, calibration=(calibration_photo, calibration_driving),
                        calibration_frames=calibration_frames, min_psnr=min_psnr)
    print(f"{out}: {meta['method']} {meta['precision']}, stages {', '.join(meta['stages'])}")


@app.command()
def demo(
    out: str = typer.Option("out/demo.mp4", "-o", "--out", help="Output video; the side-by-side goes beside it."),
    size: int = typer.Option(256, help="Longer side of the result in pixels."),
) -> None:
    """Animate the bundled photo with the bundled dancing clip (warp method, no training, default retargeting:
    the man, arms folded in the photo, takes the dancer's pose)."""
    from .pipeline import animate_to_file
    from .resources import DEMO_CLIP, DEMO_PHOTO, asset

    path = Path(out)
    panels = path.with_name(f"{path.stem}_side_by_side{path.suffix or '.mp4'}")
    count = animate_to_file(asset(DEMO_PHOTO), asset(DEMO_CLIP), path, panels, size=size)
    print(f"{path}: {count} frames\n{panels}: side by side (driving | pose | result)")


@poses_app.command("render")
def poses_render(
    poses_path: str = typer.Argument(..., metavar="POSES", help="Pose file or OpenPose folder."),
    out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .gif or a folder of PNG frames."),
    fps: float = typer.Option(None, help="Frame rate (default: the pose file's)."),
) -> None:
    """Draw each pose of POSES as an OpenPose-style stick figure on black, at the poses' image size."""
    from .io_utils import check_outputs
    from .posefiles import read_poses, require_coco18
    from .render import stick_figure
    from .video import VideoWriter

    check_outputs({"pose file": poses_path}, {"output": out})
    poses = require_coco18(poses_path, read_poses(poses_path), "drawing")
    with VideoWriter(out, fps or poses.fps) as writer:
        for pose in poses:
            writer.write(stick_figure(pose.xy[0], pose.conf[0], poses.height, poses.width))
    print(f"{out}: {len(poses)} frames, {poses.width}x{poses.height}")


@app.command()
def train(
    config: str = typer.Argument(..., help="YAML config (configs/<method>/<dataset>.yaml), or the name of a packaged "
                                           "one (dwnet/tiny; `posevid configs list`)."),
    overrides: list[str] = typer.Argument(None, help="Config overrides key.sub=value, e.g. train.lr=1e-4."),
    data: str = typer.Option(..., help="Prepared dataset folder (posevid prepare)."),
    out: str = typer.Option(..., help="Run folder: checkpoints/, tb/, samples/, losses.jsonl (a multi-stage "
                                      "method: one such folder per stage, RUN/<n>-<stage>/)."),
    steps: int = typer.Option(None, help="Total training steps of each stage (overrides train.steps)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run's newest valid checkpoint (a "
                                                        "multi-stage run: at the first unfinished stage)."),
    stage: str = typer.Option(None, help="Train only this stage of a multi-stage method."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
    device: str = typer.Option(None, help=f"Device: {DEVICE_HELP} (default: train.device, else auto; under "
                                          "torchrun each process takes its own GPU)."),
) -> None:
    """Train a method, every stage of a multi-stage one in order; data-parallel under torchrun (one process
    per GPU; multi-node: torchrun --nnodes N --nproc_per_node G --rdzv-backend c10d ...)."""
    from .config import load_config
    from .distributed import rank
    from .errors import PosevidError
    from .train import train as run

    if steps is not None and steps < 1:
        raise PosevidError(f"--steps {steps}", "must be at least 1")
    if device is not None:
        resolve_device(device)
    cfg = load_config(config, list(overrides or []))
    result = run(cfg, data, out, resume=resume, show_progress=progress, stage=stage, steps=steps, device=device)
    losses = " ".join(f"{k} {v:.4f}" for k, v in result.get("losses", {}).items())
    where = f" (stage {result['stage']})" if result.get("stage") else ""
    if rank() == 0:
        print(f"{out}: step {result.get('step', 0)}{where} {losses}".rstrip())


@configs_app.command("list")
def configs_list() -> None:
    """The packaged configs, by name (give one to `posevid train` or `posevid configs copy`)."""
    from .resources import config_names

    for name in config_names():
        print(name)


@configs_app.command("copy")
def configs_copy(
    name: str = typer.Argument(..., help="A packaged config, e.g. dwnet/tiny (`posevid configs list`)."),
    folder: str = typer.Argument(..., help="Folder to copy it into (as <method>/<name>.yaml)."),
) -> None:
    """Copy a packaged config into FOLDER to edit it."""
    from .resources import copy_config

    print(copy_config(name, folder))


@app.command()
def evaluate(
    generated: str = typer.Argument(None, help="Generated video, GIF or frame folder."),
    real: str = typer.Argument(None, help="Real (ground-truth) video, GIF or frame folder."),
    output: str = typer.Option(..., "-o", "--output", help="Report JSON; a Markdown table is written beside it."),
    plot: str = typer.Option(None, help="Folder for per-frame metric curves (one PNG per metric)."),
    lpips_weights: str = typer.Option(None, help="LPIPS state dict: AlexNet/VGG-16 features + lin0..lin4 heads."),
    vgg_weights: str = typer.Option(None, help="torchvision VGG-19 state dict, for DwNet's perceptual distance."),
    inception_classifier: str = typer.Option(None, help="InceptionV3 fc.weight (1008x2048) file, for IS/mask-IS."),
    checkpoint: str = typer.Option(None, help="Trained run or checkpoint: reconstruct the test clips of --data."),
    data: str = typer.Option(None, help="Prepared dataset (posevid prepare) whose test split is reconstructed."),
    method: str = typer.Option(None, help="Untrained method (warp) to reconstruct --data with, no checkpoint."),
    max_frames: int = typer.Option(None, help="With --data: at most this many frames per test clip (pairs with "
                                              "--protocol pg2-pairs; initial poses per action with psgan)."),
    protocol: str = typer.Option(None, help="Run a paper's evaluation on --data and put the published numbers "
                                            "beside ours: reconstruction (first-order-model / TPSMM), pg2-pairs "
                                            "(PG2 / PATN test pairs), dwnet, decoupled, scgan, psgan (a motion "
                                            "model on a motion dataset)."),
    device: str = typer.Option("auto", help=f"Device for the model and the network metrics: {DEVICE_HELP}."),
    batch: int = typer.Option(8, help="Frame pairs per batch for the network metrics."),
    motion: str = typer.Option(None, help="Folder of generated pose sequences (<label>/*.npz): motion metrics "
                                          "against the motion dataset --data (posevid motion dataset)."),
) -> None:
    """Compute the field's metrics (L1, PSNR, SSIM, MS-SSIM, mask-SSIM, LPIPS, ST-LPIPS, FID, KID, IS, AKD, MKR,
    warping error, VGG perceptual distance) of GENERATED against REAL, or of a checkpoint's reconstructions of
    the test clips of --data (source = first frame, driven by the clip's poses), or a paper's protocol
    (--protocol); missing weights are named. ST-LPIPS (Ghildyal & Liu, ECCV 2022) is not comparable with LPIPS."""
    from .errors import PosevidError
    from .evaluate import evaluate_checkpoint, evaluate_videos, markdown_table, write_report
    from .io_utils import check_outputs

    check_outputs({"generated video": generated, "real video": real, "dataset": data, "checkpoint": checkpoint,
                   "motion folder": motion}, {"report": output, "plot folder": plot})

    weights = {"lpips_weights": lpips_weights, "vgg_weights": vgg_weights, "inception_classifier": inception_classifier}
    run = {"device": resolve_device(device), "batch": batch}
    if motion is not None:
        from .motion_metrics import evaluate_motion, write_motion_report

        if data is None:
            raise PosevidError("evaluate --motion", "needs --data: the motion dataset of real sequences")
        write_motion_report(evaluate_motion(motion, data), output)
        return
    if protocol is not None:
        from .protocols import markdown, run_protocol, write_protocol_report

        if data is None or generated is not None or real is not None:
            raise PosevidError("evaluate --protocol", "needs --data DIR and --checkpoint CKPT (or --method warp), "
                                                      "not GENERATED REAL")
        result = run_protocol(protocol, data, checkpoint, method=method, max_items=max_frames, show_progress=True,
                              **run, **weights)
        write_protocol_report(result, output)
        print(markdown(result), end="")
        for warning in result.meta["warnings"]:
            print(f"posevid: warning: {warning}", file=sys.stderr)
        return
    if data is not None:
        if generated is not None or real is not None:
            raise PosevidError("evaluate", "give either GENERATED REAL or --data with --checkpoint/--method, not both")
        report = evaluate_checkpoint(data, checkpoint, method=method, max_frames=max_frames, **run, **weights)
    elif generated is None or real is None:
        raise PosevidError("evaluate", "give GENERATED and REAL videos, or --data with --checkpoint (or --method warp)")
    else:
        report = evaluate_videos(generated, real, **run, **weights)
    write_report(report, output, plot)
    print(markdown_table(report.metrics), end="")
    print(f"{output}: {len(report.metrics) - 1} metrics")
    for warning in report.metrics["meta"]["warnings"]:
        print(f"posevid: warning: {warning}", file=sys.stderr)


@motion_app.command("dataset")
def motion_dataset(
    inputs: list[str] = typer.Argument(..., help="Mocap clips (.bvh, DeepMimic .txt), .npz pose files or folders."),
    out: str = typer.Option(..., "-o", "--out", help="Motion dataset folder to write."),
    labels: str = typer.Option(None, help="JSON object: file name, stem or default label -> action label."),
    fps: float = typer.Option(30.0, help="Frame rate of the sequences."),
    frames: int = typer.Option(32, help="Frames per sequence window."),
    yaws: str = typer.Option("0,45,90,135,180,225,270,315", help="Camera yaws in degrees (0 = facing the subject)."),
    stride: int = typer.Option(None, help="Frames between window starts (default frames / 4)."),
    projection: str = typer.Option("orthographic", help="orthographic or weak (weak perspective)."),
    test_fraction: float = typer.Option(0.2, help="Last fraction of each clip held out as the test split."),
    character: str = typer.Option(None, help="DeepMimic character file (default: character_humanoid3d.txt beside "
                                             "each clip)."),
) -> None:
    """Turn labelled mocap and pose files into 2D pose sequences with action labels (for PSGAN)."""
    from .data.motion import read_labels, write_motion_dataset
    from .errors import PosevidError
    from .io_utils import check_outputs

    check_outputs({f"input {i + 1}": path for i, path in enumerate(inputs)}, {"dataset folder": out}, replaced=False)

    try:
        yaw_list = [float(y) for y in yaws.split(",") if y.strip()]
    except ValueError:
        raise PosevidError(f"--yaws {yaws}", "must be comma-separated degrees, e.g. 0,90,180") from None
    index = write_motion_dataset(inputs, out, read_labels(labels), fps=fps, frames=frames, yaws=yaw_list,
                                 stride=stride, projection=projection, test_fraction=test_fraction,
                                 character=character)
    print(f"{out}: {index['train']} train / {index['test']} test sequences of {frames} frames at {fps:g} fps, "
          f"{len(index['labels'])} actions")
    print(f"train PSGAN with: data.labels=[{','.join(index['labels'])}]")


@motion_app.command("actions")
def motion_actions(
    checkpoint: str = typer.Option(None, help="Motion model checkpoint (file or run folder; default: the bundled "
                                              "PSGAN)."),
) -> None:
    """List the action labels a motion model knows (for `posevid animate --action` and `motion generate`)."""
    from .pipeline import motion_actions as actions

    print("\n".join(actions(checkpoint)))


@motion_app.command("evaluate")
def motion_evaluate(
    generated: str = typer.Argument(..., help="Folder of <label>/<name>.npz generated sequences."),
    data: str = typer.Option(..., help="Motion dataset of real sequences (posevid motion dataset)."),
    output: str = typer.Option(None, "-o", "--output", help="Also write the metrics to this JSON file."),
    classifier_steps: int = typer.Option(300, help="Training steps of the action classifier."),
    seed: int = typer.Option(0, help="Seed of the action classifier's training."),
) -> None:
    """Action-classifier accuracy, nearest-training distance, diversity and smoothness of generated motion."""
    from .motion_metrics import evaluate_motion, write_motion_report

    write_motion_report(evaluate_motion(generated, data, classifier_steps, seed), output)


@app.command()
def ui(
    port: int = typer.Option(7860, help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 serves the whole network)."),
    checkpoints: str = typer.Option("runs", help="Folder searched for trained models (run folders, .ckpt files)."),
    device: str = typer.Option("auto", help=f"Device of the models: {DEVICE_HELP}."),
) -> None:
    """Start the web page (http://HOST:PORT): animate a photo with a driving video, pose file or action."""
    from .app import serve
    from .errors import PosevidError

    if not 0 <= port <= 65535:
        raise PosevidError(f"--port {port}", "must be between 0 and 65535")
    resolve_device(device)
    serve(host, port, checkpoints, device=device)


def _import_plugins_first(argv: list[str]) -> None:
    """Import the ``--plugin`` modules before the command line is parsed, so that the methods they register
    add their options and commands too (the option itself is also parsed, for ``--help``)."""
    modules = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--plugin" and i + 1 < len(argv):
            modules.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            modules.append(arg.partition("=")[2])
    if modules:
        from .methods.registry import import_plugins

        import_plugins(modules)


def _terminate(signum: int, frame: object) -> None:
    from .errors import Terminated

    raise Terminated()


def main() -> None:
    """Console-script entry point. A ``PosevidError`` (and a file-system ``OSError``: no space left, permission
    denied) is printed as one line with exit code 2; SIGTERM unwinds like Ctrl-C (exit 143), so no temporary
    file is left behind."""
    from .errors import PosevidError, Terminated
    from .io_utils import os_error

    # Idle OpenMP threads sleep instead of spinning: torch shares the cores with MediaPipe and x264.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        _import_plugins_first(sys.argv[1:])
        app()
    except PosevidError as err:
        print(f"posevid: error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # the file system refused (disk full, read-only, permissions)
        print(f"posevid: error: {os_error(err)}", file=sys.stderr)
        sys.exit(2)
    except MemoryError:
        print("posevid: error: out of memory (an input is too large for this machine)", file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print("posevid: terminated", file=sys.stderr)
        sys.exit(143)
    except KeyboardInterrupt:
        print("posevid: interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
