"""The ``posevid`` command line: a thin layer over the Python API.

Heavy modules are imported inside each command so that ``posevid --help`` stays fast.
A ``PosevidError`` is printed as one line (exit code 2); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Pose-guided human video generation.")
poses_app = typer.Typer(no_args_is_help=True, help="Extract, render and convert pose files.")
motion_app = typer.Typer(no_args_is_help=True, help="Pose sequences from motion capture and action labels.")
latents_app = typer.Typer(no_args_is_help=True, help="Appearance latents of the decoupled method.")
app.add_typer(poses_app, name="poses")
app.add_typer(motion_app, name="motion")
app.add_typer(latents_app, name="latents")


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
) -> None:
    """Crop the person in each video, estimate poses and masks, and write a training dataset."""
    from .data.prepare import prepare as run

    index, errors = run(inputs, out, size=size, workers=workers, iuv_dir=iuv, test_fraction=test_fraction,
                        frames=frames, max_frames=max_frames, split=split, test_frames=test_frames,
                        margin=margin)
    print(f"{out}: {len(index['train'])} train / {len(index['test'])} test clips")
    for err in errors:
        print(f"posevid: error: {err}", file=sys.stderr)
    if errors:
        sys.exit(2)


@poses_app.command("extract")
def poses_extract(
    source: str = typer.Argument(..., help="Video, GIF, frame folder or image with one person."),
    out: str = typer.Option(..., "-o", "--out", help="Pose file: .npz, .json (COCO), .csv (PG2) or a folder."),
    fmt: str = typer.Option(None, "--format", help="npz, openpose, coco or pg2 (default: from OUT)."),
    smooth: bool = typer.Option(False, "--smooth", help="Fill short gaps, then apply a one-euro filter."),
) -> None:
    """Estimate COCO-18 poses (MediaPipe BlazePose) in every frame of SOURCE and write them to OUT."""
    from rich.progress import Progress

    from .estimate import estimate_with_masks
    from .posefiles import write_poses
    from .poses import Poses, fill_gaps
    from .poses import smooth as smooth_poses
    from .video import open_video

    with open_video(source) as reader:
        total = reader.frame_count
    frames = []
    with Progress(transient=True) as progress:
        task = progress.add_task("estimating poses", total=total)
        for pose, _ in estimate_with_masks(source):
            frames.append(pose)
            progress.advance(task)
    poses = Poses.concat(frames)
    if smooth:
        poses = smooth_poses(fill_gaps(poses))
    write_poses(out, poses, fmt)
    found = int((poses.conf > 0).any(1).sum())
    print(f"{out}: {len(poses)} frames, a person in {found}")


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
    from .posefiles import read_poses, write_poses

    wh = None
    if size is not None:
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise PosevidError(None, f"--size must look like 256x256, got {size!r}")
        wh = (int(parts[0]), int(parts[1]))
    poses = read_poses(src, input_format, size=wh, fps=fps)
    write_poses(dst, poses, fmt)
    print(f"{dst}: {len(poses)} frames, {poses.width}x{poses.height} at {poses.fps:g} fps")


def _assets() -> Path:
    """The bundled demo media (``assets/`` at the repository root)."""
    from .errors import PosevidError

    folder = Path(__file__).resolve().parents[2] / "assets"
    if not (folder / "tfexamples_image2.jpeg").is_file():
        raise PosevidError(folder, "the bundled demo assets are missing (run from a source checkout)")
    return folder


@app.command()
def animate(
    source: str = typer.Argument(..., help="Photo of the person to animate."),
    driving: str = typer.Argument(None, help="Driving video (mp4, gif, frame folder) or pose file (.npz, .json, .csv); "
                                             "not with --action."),
    out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .gif or a folder of PNG frames."),
    method: str = typer.Option("warp", help="Method: warp (no training) or a trained one with --checkpoint."),
    checkpoint: str = typer.Option(None, help="Checkpoint of a trained method, or a model made by `posevid "
                                              "export` (.onnx, .xml)."),
    backend: str = typer.Option("auto", help="What runs a trained model: torch, onnx (ONNX Runtime), openvino, "
                                             "or auto (the fastest here, measured once and remembered)."),
    precision: str = typer.Option("auto", help="auto (bf16 where the CPU computes it natively; an int8 export "
                                               "stays int8), fp32 or bf16."),
    mode: str = typer.Option("bones", help="bones: the source's limbs turn as the driver's do (its proportions "
                                           "kept); relative: each source joint moves as the driver's; absolute: "
                                           "the driving pose scaled to the source body."),
    size: int = typer.Option(None, help="Crop the photo to a square of this side (pixels) around the person."),
    side_by_side: str = typer.Option(None, "--side-by-side", help="Also write driving | pose | result here."),
    fps: float = typer.Option(None, help="Output frame rate (default: the driving rate)."),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Do not smooth the target poses."),
    save_poses: str = typer.Option(None, "--save-poses", help="Also write the target pose of each frame here "
                                                              "(.npz, .json, .csv or a folder)."),
    action: str = typer.Option(None, help="Instead of DRIVING: generate this action's motion (PSGAN)."),
    motion_checkpoint: str = typer.Option(None, help="PSGAN checkpoint for --action."),
    frames: int = typer.Option(32, help="With --action: number of frames to generate."),
    seed: int = typer.Option(0, help="With --action: noise seed of the generated motion; with --sample-colors: "
                                     "seed of the sampled colour latents."),
    upper_color: str = typer.Option(None, help="Decoupled method: upper-body colour '#rrggbb'."),
    lower_color: str = typer.Option(None, help="Decoupled method: lower-body colour '#rrggbb'."),
    upper_from: str = typer.Option(None, help="Decoupled method: take the upper-body colour from this photo "
                                              "(or a .npy latent)."),
    lower_from: str = typer.Option(None, help="Decoupled method: take the lower-body colour from this photo "
                                              "(or a .npy latent)."),
    sample_colors: bool = typer.Option(False, "--sample-colors", help="Decoupled method: random colour latents "
                                                                      "for the regions not set otherwise."),
) -> None:
    """Animate the person in SOURCE with the motion of DRIVING (or of a generated --action) and write OUT."""
    from .errors import PosevidError
    from .pipeline import animate_to_file
    from .video import open_video

    if (driving is None) == (action is None) or (action is not None) != (motion_checkpoint is not None):
        raise PosevidError("animate", "give DRIVING, or --action with --motion-checkpoint")
    if action is not None:
        from .methods.psgan import motion_for_photo

        driving = motion_for_photo(source, motion_checkpoint, action, frames, seed)

    options: dict = {"sample_colors": True, "seed": seed} if sample_colors else {}
    for region, color, photo in (("upper", upper_color, upper_from), ("lower", lower_color, lower_from)):
        if color and photo:
            raise PosevidError(f"--{region}-color", f"give --{region}-color or --{region}-from, not both")
        if color or photo:
            options[region] = color or photo
    count = animate_to_file(source, driving, out, side_by_side, method=method, checkpoint=checkpoint, mode=mode,
                            size=size, smooth=not no_smooth, fps=fps, method_options=options or None,
                            poses_out=save_poses, backend=backend, precision=precision)
    with open_video(out) as reader:
        print(f"{out}: {count} frames, {reader.width}x{reader.height} at {reader.fps:g} fps")
    if side_by_side:
        print(f"{side_by_side}: side by side (driving | pose | result)")


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
    size: int = typer.Option(256, help="Output side in pixels."),
) -> None:
    """Animate the bundled photo with the bundled dancing clip (warp method, no training).

    Absolute mode: the dancer starts with her arms out and the photo's man has his folded, so applying
    her joint displacements to his pose (relative mode) would bend his limbs out of shape.
    """
    from .pipeline import animate_to_file

    assets = _assets()
    path = Path(out)
    panels = path.with_name(f"{path.stem}_side_by_side{path.suffix or '.mp4'}")
    count = animate_to_file(assets / "tfexamples_image2.jpeg", assets / "tfjs_pose_1.mp4", path, panels,
                            mode="absolute", size=size)
    print(f"{path}: {count} frames\n{panels}: side by side (driving | pose | result)")


@poses_app.command("render")
def poses_render(
    poses_path: str = typer.Argument(..., metavar="POSES", help="Pose file or OpenPose folder."),
    out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .gif or a folder of PNG frames."),
    fps: float = typer.Option(None, help="Frame rate (default: the pose file's)."),
) -> None:
    """Draw each pose of POSES as an OpenPose-style stick figure on black, at the poses' image size."""
    from .posefiles import read_poses
    from .render import stick_figure
    from .video import VideoWriter

    poses = read_poses(poses_path)
    with VideoWriter(out, fps or poses.fps) as writer:
        for pose in poses:
            writer.write(stick_figure(pose.xy[0], pose.conf[0], poses.height, poses.width))
    print(f"{out}: {len(poses)} frames, {poses.width}x{poses.height}")


@app.command()
def train(
    config: str = typer.Argument(..., help="YAML config (configs/<method>/<dataset>.yaml)."),
    overrides: list[str] = typer.Argument(None, help="Config overrides key.sub=value, e.g. train.lr=1e-4."),
    data: str = typer.Option(..., help="Prepared dataset folder (posevid prepare)."),
    out: str = typer.Option(..., help="Run folder: checkpoints/, tb/, samples/, losses.jsonl."),
    steps: int = typer.Option(None, help="Total training steps (overrides train.steps)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the run's newest valid checkpoint."),
    progress: bool = typer.Option(True, help="Show the progress bar."),
) -> None:
    """Train a method; under `torchrun --nproc_per_node N -m posevid train ...` data-parallel."""
    from .config import load_config
    from .train import train as run

    cfg = load_config(config, [*(overrides or []), *([f"train.steps={steps}"] if steps else [])])
    result = run(cfg, data, out, resume=resume, show_progress=progress)
    losses = " ".join(f"{k} {v:.4f}" for k, v in result["losses"].items())
    print(f"{out}: step {result['step']} {losses}".rstrip())


@app.command()
def evaluate(
    generated: str = typer.Argument(None, help="Generated video, GIF or frame folder."),
    real: str = typer.Argument(None, help="Real (ground-truth) video, GIF or frame folder."),
    output: str = typer.Option(..., "-o", "--output", help="Report JSON; report.md is written beside it."),
    plot: str = typer.Option(None, help="Folder for per-frame metric curves (one PNG per metric)."),
    lpips_weights: str = typer.Option(None, help="LPIPS state dict: AlexNet/VGG-16 features + lin0..lin4 heads."),
    vgg_weights: str = typer.Option(None, help="torchvision VGG-19 state dict, for DwNet's perceptual distance."),
    inception_classifier: str = typer.Option(None, help="InceptionV3 fc.weight (1008x2048) file, for IS/mask-IS."),
    checkpoint: str = typer.Option(None, help="Trained run or checkpoint: reconstruct the test clips of --data."),
    data: str = typer.Option(None, help="Prepared dataset (posevid prepare) whose test split is reconstructed."),
    method: str = typer.Option(None, help="Untrained method (warp) to reconstruct --data with, no checkpoint."),
    max_frames: int = typer.Option(None, help="With --data: at most this many frames per test clip."),
    motion: str = typer.Option(None, help="Folder of generated pose sequences (<label>/*.npz): motion metrics "
                                          "against the motion dataset --data (posevid motion dataset)."),
) -> None:
    """Compute the field's metrics (L1, PSNR, SSIM, MS-SSIM, mask-SSIM, LPIPS, FID, KID, IS, AKD, MKR, warping
    error, VGG perceptual distance) of GENERATED against REAL, or of a checkpoint's reconstructions of the
    test clips of --data (source = first frame, driven by the clip's poses); missing weights are named."""
    from .errors import PosevidError
    from .evaluate import evaluate_checkpoint, evaluate_videos, markdown_table, write_report

    weights = {"lpips_weights": lpips_weights, "vgg_weights": vgg_weights, "inception_classifier": inception_classifier}
    if motion is not None:
        from .motion_metrics import evaluate_motion, write_motion_report

        if data is None:
            raise PosevidError("evaluate --motion", "needs --data: the motion dataset of real sequences")
        write_motion_report(evaluate_motion(motion, data), output)
        return
    if data is not None:
        if generated is not None or real is not None:
            raise PosevidError("evaluate", "give either GENERATED REAL or --data with --checkpoint/--method, not both")
        report = evaluate_checkpoint(data, checkpoint, method=method, max_frames=max_frames, **weights)
    elif generated is None or real is None:
        raise PosevidError("evaluate", "give GENERATED and REAL videos, or --data with --checkpoint (or --method warp)")
    else:
        report = evaluate_videos(generated, real, **weights)
    write_report(report, output, plot)
    print(markdown_table(report.metrics), end="")
    print(f"{output}: {len(report.metrics) - 1} metrics")


@app.command()
def transfer(
    source: str = typer.Argument(..., help="Photo of the person."),
    target_pose: str = typer.Argument(..., metavar="TARGET_POSE",
                                      help="Pose file (.npz, .json, .csv, OpenPose folder) or an image of another "
                                           "person (its pose is estimated)."),
    out: str = typer.Option(..., "-o", "--out", help="Output image (.png, .jpg)."),
    checkpoint: str = typer.Option(..., help="Trained run or checkpoint (e.g. PG2)."),
    size: int = typer.Option(None, help="Side of the square crop around the person (default: the training size)."),
    frame: int = typer.Option(0, help="Frame of a multi-frame pose file."),
) -> None:
    """Generate the person in SOURCE in the pose of TARGET_POSE (single-image pose transfer)."""
    from .errors import PosevidError
    from .methods.pg2 import transfer as run
    from .video import IMAGE_SUFFIXES, write_image

    if Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise PosevidError(out, f"unknown image suffix; use one of {', '.join(IMAGE_SUFFIXES)}")
    result = run(source, target_pose, checkpoint, size=size, frame=frame)
    write_image(out, result)
    print(f"{out}: {result.shape[1]}x{result.shape[0]}")


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


@motion_app.command("generate")
def motion_generate(
    checkpoint: str = typer.Option(..., help="PSGAN checkpoint (file or run folder)."),
    action: str = typer.Option(..., help="Action label, one the model was trained on."),
    source: str = typer.Option(..., help="Photo whose person's pose starts the motion (or a pose file)."),
    frames: int = typer.Option(32, help="Number of poses to generate."),
    out: str = typer.Option(..., "-o", "--out", help="Pose file to write (.npz, .json, .csv or a folder)."),
    seed: int = typer.Option(0, help="Noise seed: different seeds give different motions."),
) -> None:
    """Generate a pose sequence of ACTION starting from the pose of the person in SOURCE."""
    from .methods.psgan import motion_for_photo
    from .posefiles import write_poses

    poses = motion_for_photo(source, checkpoint, action, frames, seed)
    write_poses(out, poses)
    print(f"{out}: {len(poses)} poses of {action!r}, {poses.width}x{poses.height} at {poses.fps:g} fps")


@motion_app.command("sample")
def motion_sample(
    checkpoint: str = typer.Option(..., help="PSGAN checkpoint (file or run folder)."),
    data: str = typer.Option(..., help="Motion dataset whose sequences give the initial poses."),
    out: str = typer.Option(..., "-o", "--out", help="Folder for <label>/<start>_<sample>.npz pose files."),
    split: str = typer.Option("test", help="Split the initial poses come from (train or test)."),
    starts: int = typer.Option(8, help="Initial poses per action."),
    samples: int = typer.Option(3, help="Noise samples per initial pose."),
    frames: int = typer.Option(None, help="Poses per sequence (default: the trained length)."),
    size: int = typer.Option(256, help="Image size the written poses refer to."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Sample sequences for every action from real initial poses (input of `posevid motion evaluate`)."""
    from .methods.psgan import sample_to_folder

    count = sample_to_folder(checkpoint, data, out, split, starts, samples, frames, size, seed)
    print(f"{out}: {count} sequences")


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
def recolor(
    source: str = typer.Argument(..., help="Photo of the person to animate."),
    driving: str = typer.Argument(..., help="Driving video or pose file (its frame count must be known)."),
    checkpoint: str = typer.Option(..., help="Checkpoint of a trained decoupled model (stage generator)."),
    start: str = typer.Option(..., "--from", help="Start colour '#rrggbb', a .npy latent or a photo."),
    end: str = typer.Option(..., "--to", help="End colour '#rrggbb', a .npy latent or a photo."),
    out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .gif or a folder of PNG frames."),
    region: str = typer.Option("upper", help="Body region whose colour moves: upper, lower or both."),
    mode: str = typer.Option("bones", help="Pose retargeting: bones, relative or absolute (see animate)."),
    size: int = typer.Option(None, help="Crop the photo to a square of this side (default: the training size)."),
    no_smooth: bool = typer.Option(False, "--no-smooth", help="Do not smooth the target poses."),
) -> None:
    """Animate SOURCE with DRIVING while one region's colour latent moves linearly from --from to --to."""
    from .methods.decoupled import recolor_to_file

    count = recolor_to_file(source, driving, checkpoint, start, end, out, region, mode, size, not no_smooth)
    print(f"{out}: {count} frames, {region} colour {start} -> {end}")


@latents_app.command("plot")
def latents_plot(
    checkpoint: str = typer.Option(..., help="Checkpoint of a decoupled model (any stage after encoders)."),
    data: str = typer.Option(..., help="Prepared dataset; random training frames are recoloured and encoded."),
    out: str = typer.Option(..., "-o", "--out", help="Output PNG."),
    samples: int = typer.Option(500, help="Number of recoloured frames."),
    region: str = typer.Option("upper", help="upper or lower body encoder."),
    seed: int = typer.Option(0, help="Seed of the frame and colour draws."),
) -> None:
    """PCA plot of encoded colour latents, each point in the colour it was recoloured with (section 4.5)."""
    from .methods.decoupled import latents_plot as run

    print(f"{run(checkpoint, data, out, samples, region, seed)}: {samples} latents")


@latents_app.command("encode")
def latents_encode(
    photo: str = typer.Argument(..., help="Photo of a person."),
    checkpoint: str = typer.Option(..., help="Checkpoint of a decoupled model."),
    out: str = typer.Option(..., "-o", "--out", help="Output .npy: [z_up, z_down]."),
    upper_color: str = typer.Option(None, help="Recolour the upper body '#rrggbb' before encoding."),
    lower_color: str = typer.Option(None, help="Recolour the lower body '#rrggbb' before encoding."),
) -> None:
    """Encode the clothing colours of PHOTO to a latent file for `animate --upper-from` / `recolor --from`."""
    import numpy as np

    from .io_utils import atomic_path
    from .methods.decoupled import encode_photo

    z = encode_photo(checkpoint, photo, {"upper": upper_color, "lower": lower_color})
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, z)
    print(f"{out}: latent of {z.size} values")


@app.command()
def ui(
    port: int = typer.Option(7860, help="Port to serve the page on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 serves the whole network)."),
    checkpoints: str = typer.Option("runs", help="Folder searched for trained models (run folders, .ckpt files)."),
) -> None:
    """Start the web page (http://HOST:PORT): animate a photo with a driving video, pose file or action."""
    from .app import serve

    serve(host, port, checkpoints)


def main() -> None:
    """Console-script entry point."""
    from .errors import PosevidError

    # Idle OpenMP threads sleep instead of spinning: torch shares the cores with MediaPipe and x264.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except PosevidError as err:
        print(f"posevid: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("posevid: interrupted", file=sys.stderr)
        sys.exit(130)
