"""PSGAN and SCGAN on CPU (issue 6): what short trainings reach, measured.

``psgan``: a motion dataset of three DeepMimic actions (walk, crawl, cartwheel; yaws 0, 90, 180, 270;
16-frame windows) and ``configs/psgan/tiny.yaml`` trained for ``--psgan-steps``. From the first pose of
every test window and of every 4th training window it generates with the window's own action and with
each other action; an action classifier trained on the real training windows reports how often the
sequence is recognised as the requested action, and how often as the initial pose's action (the
label's effect is the gap between the two). Also: diversity over 4 noise samples, smoothness (mean
joint acceleration) beside the real data's, nearest-training distance.

``scgan``: the tiny clip (``tfjs_pose_1.mp4`` at 64x64), its pose-network stage (``--posenet-steps``), then SCGAN
trained for ``--scgan-steps`` three times: with perturbed target poses (perturb_prob 0.5, jitter 0.03,
drop 0.1) with the semantic term (lambda_sem 0.1) and without it, and with neither. On the test clip it
reports how much the output changes when the target keypoints are jittered (0.05 x size) and 10%
dropped, and the L1 to the real frame with clean and with perturbed poses; the same on the training
clip's frames.

    python -m benchmarks.motion_quality [--only psgan|scgan] [--psgan-steps 300] [--actions walk crawl cartwheel]
        [--posenet-steps 200] [--scgan-steps 1500] [--work out/bench_motion] [--threads 2] [psgan.key=value ...]

Prints one JSON object: machine, settings and the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ACTIONS = ("walk", "crawl", "cartwheel")


def run_psgan(steps: int, work: Path, overrides: list[str], actions: tuple[str, ...] = ACTIONS) -> dict:
    from posevid.checkpoints import load_method
    from posevid.config import load_config
    from posevid.data.motion import MotionDataset, write_motion_dataset
    from posevid.motion_metrics import diversity, nearest_distance, smoothness, train_classifier
    from posevid.train import train

    data = work / "motion"
    clips = [SHARED / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in actions]
    write_motion_dataset(clips, data, frames=16, yaws=(0, 90, 180, 270))
    cfg = load_config(REPO / "configs" / "psgan" / "tiny.yaml",
                      [f"train.steps={steps}", f"train.checkpoint_every={steps}", "train.tensorboard=false",
                       f"data.labels=[{','.join(actions)}]", *overrides])
    t0 = time.perf_counter()
    train(cfg, data, work / "psgan", show_progress=False)
    seconds = time.perf_counter() - t0
    model = load_method(work / "psgan")
    tr = MotionDataset(data, "train", labels=model.labels)
    te = MotionDataset(data, "test", labels=model.labels)
    T = model.frames
    clf = train_classifier(tr.xy, tr.label, len(actions), T, steps=300)
    gen = torch.Generator().manual_seed(0)
    starts = np.concatenate([te.xy[:, :T], tr.xy[::4, :T]])  # real windows whose first poses start the samples
    init = torch.from_numpy(starts[:, 0])
    conf = torch.from_numpy(np.concatenate([te.conf[:, 0], tr.conf[::4, 0]]))
    own = torch.from_numpy(np.concatenate([te.label, tr.label[::4]]))
    as_requested, as_start = [], []
    samples = []
    with torch.no_grad():
        real_pred = clf(torch.from_numpy(te.xy[:, :T])).argmax(1) == torch.from_numpy(te.label)
        for shift in range(len(actions)):
            want = (own + shift) % len(actions)
            seqs = model.generate(want, init, conf, generator=gen)
            pred = clf(seqs).argmax(1)
            if shift:
                as_requested.append((pred == want).float().mean().item())
                as_start.append((pred == own).float().mean().item())
            else:
                own_acc = (pred == own).float().mean().item()
                same = [model.generate(want, init, conf, generator=gen).numpy() for _ in range(4)]
                samples = np.stack(same, 1)
    flat = samples.reshape(-1, *samples.shape[2:])
    return {"train_steps": steps, "overrides": overrides, "train_seconds": round(seconds, 1),
            "test_windows": int(len(te)),
            "starts": int(len(init)), "classifier_acc_real_test": round(real_pred.float().mean().item(), 3),
            "acc_own_action": round(own_acc, 3),
            "other_action_recognised_as_requested": round(float(np.mean(as_requested)), 3),
            "other_action_recognised_as_start": round(float(np.mean(as_start)), 3),
            "chance": round(1 / len(actions), 3), "actions": list(actions),
            "diversity": round(diversity(list(samples)), 4),
            "smoothness": round(smoothness(flat), 4), "smoothness_real": round(smoothness(te.xy[:, :T]), 4),
            "nearest_train": round(float(nearest_distance(flat, tr.xy).mean()), 4),
            "nearest_train_real_test": round(float(nearest_distance(te.xy[:, :T], tr.xy).mean()), 4)}


def run_scgan(posenet_steps: int, steps: int, work: Path) -> dict:
    from posevid.checkpoints import load_method
    from posevid.config import load_config
    from posevid.data.datasets import ClipDataset
    from posevid.data.prepare import prepare
    from posevid.methods.scgan import perturbation_response
    from posevid.train import train

    data = work / "tiny"
    prepare([SHARED / "videos" / "tfjs_pose_1.mp4"], data, size=64, test_frames="90:120", show_progress=False)
    fast = ["train.tensorboard=false", "train.amp=true"]
    test, train_clips = ClipDataset(data, "test", frames=1), ClipDataset(data, "train", frames=1)
    out: dict = {"posenet_steps": posenet_steps, "scgan_steps": steps}
    perturbed = ["model.perturb_prob=0.5", "model.perturb_jitter=0.03"]
    # "semantic": both stages (the pose network, then SCGAN with it); the others: the generator stage alone.
    variants = {"semantic": [f"stages.posenet.train.steps={posenet_steps}",
                             f"stages.posenet.train.checkpoint_every={posenet_steps}", *perturbed],
                "plain": ["model.lambda_sem=0", *perturbed],
                "plain_unperturbed_training": ["model.lambda_sem=0", "model.perturb_prob=0"]}
    for name, extra in variants.items():
        cfg = load_config(REPO / "configs" / "scgan" / "tiny.yaml",
                          [f"stages.generator.train.steps={steps}", f"train.checkpoint_every={steps}",
                           "train.lr=1e-3", *fast, *extra])
        t0 = time.perf_counter()
        train(cfg, data, work / name, show_progress=False, stage=None if name == "semantic" else "generator")
        model = load_method(work / name)
        out[name] = {"seconds": round(time.perf_counter() - t0, 1)}
        for split, clips in (("test", test), ("train", train_clips)):
            response = perturbation_response(model, clips, jitter=0.05, drop=0.1)
            out[name][split] = {k: round(v, 4) for k, v in response.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("psgan", "scgan"))
    parser.add_argument("--psgan-steps", type=int, default=300)
    parser.add_argument("--actions", nargs="+", default=list(ACTIONS),
                        help="DeepMimic actions for PSGAN (humanoid3d_<action>.txt).")
    parser.add_argument("--posenet-steps", type=int, default=200)
    parser.add_argument("--scgan-steps", type=int, default=1500)
    parser.add_argument("--work", default="out/bench_motion")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="PSGAN config overrides key=value, e.g. model.decoder=coords.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                          "torch": torch.__version__}}
    if args.only in (None, "psgan"):
        result["psgan"] = run_psgan(args.psgan_steps, work, args.overrides, tuple(args.actions))
    if args.only in (None, "scgan"):
        result["scgan"] = run_scgan(args.posenet_steps, args.scgan_steps, work)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
