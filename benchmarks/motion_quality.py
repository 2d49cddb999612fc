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
    python -m benchmarks.motion_quality --only label [--checkpoint CKPT] [--judge-cache out/motion_judge]

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


def _canonical(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    from posevid.data.motion_augment import canonical

    return np.stack([canonical(s, c) for s, c in zip(xy, conf)])


def _pairwise(xy: np.ndarray) -> float:
    """Mean per-joint distance over all pairs of sequences (N, T, J, 2)."""
    flat = torch.from_numpy(np.ascontiguousarray(xy)).float()
    d = (flat[:, None] - flat[None]).norm(dim=-1).mean((2, 3))
    n = len(xy)
    return float(d.sum() / max(n * (n - 1), 1))


def _cached_judge(folder: Path | None, key: dict, train_fn):
    """The judge trained by ``train_fn`` for settings ``key``, kept in ``folder`` (named by a hash of ``key``)
    and read back when the same settings come again (None: always trained)."""
    import hashlib

    from posevid.motion_judge import load_judge

    if folder is None:
        return train_fn()
    path = folder / f"judge-{hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        return load_judge(torch.load(path, weights_only=True))
    judge = train_fn()
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(judge.state(), path)
    return judge


def run_label(checkpoint: str | None, starts: int, judge_steps: int, chunks: int, train_seconds: float | None,
              seed: int = 0, judge_cache: Path | None = None, judge_seed: int | None = None) -> dict:
    """The bundled PSGAN (or ``checkpoint``) judged by an action classifier trained on real windows only.

    Real data: every mocap clip, windows as in the model's ``data.build``; the judge trains on the
    training windows of the model's 8 camera yaws; everything judged comes from 8 other yaws (22.5 + 45k
    degrees) that neither PSGAN nor the judge saw. For each action, ``starts`` sequences start from first
    poses of other actions' windows (requested-label accuracy) and ``starts`` from its own (diversity,
    motion FID against the real windows of the held-out yaws, whose two halves give the reference FID).
    ``judge_cache``: a folder where the judge is kept for the next run with the same settings; ``judge_seed``: the
    judge's own seed (default ``seed``; the starts and noise keep ``seed``), to see how much the judge alone moves
    the measures.
    Seams: ``chunks`` chained samples from the own-action starts, with the model's overlap and without.
    """
    from posevid.checkpoints import find_checkpoint
    from posevid.data.motion import build_motion_arrays
    from posevid.methods.psgan import PSGAN, load_psgan
    from posevid.metrics.inception import fid
    from posevid.motion_judge import features, heldout_accuracy, predict, seam_velocity, train_judge
    from posevid.resources import motion_model

    path = Path(checkpoint) if checkpoint else motion_model()
    model = load_psgan(path)
    payload, found = find_checkpoint(path)
    step = payload.get("step")
    assert isinstance(model, PSGAN)
    build = dict(model.cfg["data"]["build"])
    build["labels"] = build.pop("label_map", None)
    clips = [SHARED / "mocap"]
    t0 = time.perf_counter()
    real, index = build_motion_arrays(clips, **build)
    held, _ = build_motion_arrays(clips, **{**build, "yaws": [22.5 + 45 * k for k in range(8)]})
    names = model.labels
    remap = np.array([names.index(n) for n in index["labels"]])
    real["label"], held["label"] = remap[real["label"]], remap[held["label"]]
    T = model.frames
    train = ~real["test"]
    judge_seed = seed if judge_seed is None else judge_seed
    judge = _cached_judge(judge_cache, {"build": build, "labels": names, "frames": T, "steps": judge_steps,
                                        "seed": judge_seed},
                          lambda: train_judge(real["xy"][train], real["conf"][train], real["label"][train], names, T,
                                              judge_steps, seed=judge_seed))
    judge_seconds = time.perf_counter() - t0
    judge_yaws = heldout_accuracy(judge, held["xy"], held["label"], T)
    judge_time = heldout_accuracy(judge, real["xy"][~train], real["label"][~train], T)
    blend = int(model.cfg["data"].get("blend", 8))
    ceiling = _real_from_other_starts(model, held, {**index, "labels": names}, judge, blend, seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    K = len(names)
    per_label, as_start, own_acc, after, mistaken = {}, [], {}, {}, {}
    other_seqs, own_seqs, own_starts = [], [], []
    div_gen, div_real = {}, {}
    t1 = time.perf_counter()
    for k in range(K):
        for own in (False, True):
            pool = np.flatnonzero((held["label"] == k) == own)
            pick = rng.choice(pool, starts, replace=len(pool) < starts)
            init, conf = torch.from_numpy(held["xy"][pick, 0]), torch.from_numpy(held["conf"][pick, 0])
            seqs = model.generate(torch.full((starts,), k), init, conf, T, generator=gen).numpy()
            pred = predict(judge, seqs)
            if own:
                own_acc[names[k]] = float((pred == k).mean())
                own_seqs.append(seqs)
                own_starts.append(pick)
                div_gen[names[k]] = _pairwise(_canonical(seqs, np.ones(seqs.shape[:3], np.float32)))
                mine = np.flatnonzero(held["label"] == k)
                div_real[names[k]] = _pairwise(_canonical(held["xy"][mine, :T], held["conf"][mine, :T]))
            else:
                per_label[names[k]] = float((pred == k).mean())
                after[names[k]] = float((predict(judge, seqs[:, blend:]) == k).mean())
                wrong = np.bincount(pred[pred != k], minlength=K)
                if wrong.any():
                    mistaken[names[k]] = [names[int(wrong.argmax())], round(float(wrong.max() / len(pred)), 2)]
                as_start.append(float((pred == held["label"][pick]).mean()))
                other_seqs.append(seqs)
    gen_seconds = time.perf_counter() - t1
    # noise diversity: 4 samples from one start per action
    noise = []
    for k, pick in enumerate(own_starts):
        init = torch.from_numpy(held["xy"][pick[:1], 0]).expand(4, -1, -1)
        conf = torch.from_numpy(held["conf"][pick[:1], 0]).expand(4, -1)
        noise.append(_pairwise(_canonical(model.generate(torch.full((4,), k), init, conf, T, generator=gen).numpy(),
                                          np.ones((4, T, init.shape[1]), np.float32))))
    f_real = features(judge, held["xy"][:, :T])
    half = rng.permutation(len(f_real))
    f_own, f_other = features(judge, np.concatenate(own_seqs)), features(judge, np.concatenate(other_seqs))
    seams = {}
    starts_all = np.concatenate(own_starts)[::4]
    labels_all = np.repeat(np.arange(K), starts)[::4]
    for overlap in sorted({model.chain_overlap, 0}):
        model.chain_overlap = overlap
        long = model.generate(torch.from_numpy(labels_all), torch.from_numpy(held["xy"][starts_all, 0]),
                              torch.from_numpy(held["conf"][starts_all, 0]), chunks * (T - 1 - overlap) + 1,
                              generator=gen).numpy()
        seams[f"overlap_{overlap}"] = {k: round(v, 4) for k, v in seam_velocity(long, T, overlap).items()}
    ratios = [div_gen[n] / div_real[n] for n in names]
    return {"checkpoint": str(found), "checkpoint_bytes": found.stat().st_size,
            "train_seconds": train_seconds, "model_step": step, "labels": names, "frames": T,
            "starts_per_label": starts, "judge": {"steps": judge_steps, "seed": judge_seed,
                                                  "seconds": round(judge_seconds, 1),
                                                  "accuracy_heldout_yaws": round(judge_yaws["accuracy"], 3),
                                                  "accuracy_heldout_time": round(judge_time["accuracy"], 3),
                                                  "per_label_heldout_yaws": {k: round(v, 2) for k, v in
                                                                             judge_yaws["per_label"].items()},
                                                  "confusions_heldout_time": _confusions(
                                                      judge, real["xy"][~train, :T], real["label"][~train])},
            "real_from_other_starts": ceiling,
            "requested_accuracy_from_other_actions": round(float(np.mean(list(per_label.values()))), 3),
            "recognised_as_start_action": round(float(np.mean(as_start)), 3),
            "requested_accuracy_per_label": {k: round(v, 2) for k, v in per_label.items()},
            "requested_accuracy_after_transition": round(float(np.mean(list(after.values()))), 3),
            "requested_accuracy_after_transition_per_label": {k: round(v, 2) for k, v in after.items()},
            "requested_most_mistaken_for": mistaken,
            "own_start_accuracy": round(float(np.mean(list(own_acc.values()))), 3),
            "diversity_generated": round(float(np.mean(list(div_gen.values()))), 4),
            "diversity_real": round(float(np.mean(list(div_real.values()))), 4),
            "diversity_ratio_mean": round(float(np.mean(ratios)), 3),
            "diversity_ratio_min": round(float(np.min(ratios)), 3),
            "diversity_ratio_per_label": {n: round(r, 2) for n, r in zip(names, ratios)},
            "diversity_noise_only": round(float(np.mean(noise)), 4),
            "motion_fid_own_starts": round(fid(f_own, f_real), 2),
            "motion_fid_other_starts": round(fid(f_other, f_real), 2),
            "motion_fid_real_halves": round(fid(f_real[half[::2]], f_real[half[1::2]]), 2),
            "seams": seams, "generate_seconds": round(gen_seconds, 1)}


def _confusions(judge, xy: np.ndarray, labels: np.ndarray) -> list[list]:
    """The judge's mistakes on real windows: [true, predicted, fraction of the true label's windows]."""
    from posevid.motion_judge import predict

    pred = predict(judge, xy)
    out = []
    for k, name in enumerate(judge.labels):
        mine = pred[labels == k]
        for j in np.unique(mine[mine != k]):
            out.append([name, judge.labels[int(j)], round(float((mine == j).mean()), 2)])
    return out


def _real_from_other_starts(model, held: dict, index: dict, judge, blend: int, seed: int, per_label: int = 40) -> dict:
    """The ceiling of the requested-label measure: real windows of the held-out yaws made to start from a pose
    of another window and blend into their own motion over ``blend`` frames (PSGAN's training data,
    ``data.start_mix`` 1), judged on all frames and on the frames after the blend."""
    from posevid.data.motion import MotionDataset, MotionOptions, _augment
    from posevid.motion_judge import predict

    d = model.cfg["data"]
    keys = ("flip", "balance", "speed", "rotate", "match_phase", "match_view", "canonical")
    opts = MotionOptions(labels=model.labels, frames=model.frames, start_mix=1.0, blend=blend,
                         **{k: d[k] for k in keys if k in d})
    arrays = {**held, "test": np.zeros_like(held["test"])}
    data = MotionDataset(None, "train", frames=model.frames, labels=model.labels, augment=_augment(opts, "train"),
                         arrays=(arrays, index))
    items = [data[(i, seed * 100003 + i)] for i in range(per_label * len(model.labels))]
    xy = torch.stack([it["xy"] for it in items]).numpy()
    labels = np.array([int(it["label"]) for it in items])

    def score(pred: np.ndarray) -> float:
        return round(float(np.mean([(pred[labels == k] == k).mean() for k in np.unique(labels)])), 3)

    full, late = predict(judge, xy), predict(judge, xy[:, blend:])
    def per_label(pred: np.ndarray) -> dict[str, float]:
        return {model.labels[k]: round(float((pred[labels == k] == k).mean()), 2) for k in np.unique(labels)}

    return {"windows": int(len(xy)), "blend": blend, "accuracy_all_frames": score(full),
            "accuracy_after_transition": score(late), "per_label_all_frames": per_label(full),
            "per_label_after_transition": per_label(late)}


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
    parser.add_argument("--only", choices=("psgan", "label", "scgan"))
    parser.add_argument("--psgan-steps", type=int, default=300)
    parser.add_argument("--actions", nargs="+", default=list(ACTIONS),
                        help="DeepMimic actions for PSGAN (humanoid3d_<action>.txt).")
    parser.add_argument("--posenet-steps", type=int, default=200)
    parser.add_argument("--scgan-steps", type=int, default=1500)
    parser.add_argument("--work", default="out/bench_motion")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", help="label: a PSGAN checkpoint instead of the bundled model.")
    parser.add_argument("--starts", type=int, default=24, help="label: sequences per action and start kind.")
    parser.add_argument("--judge-steps", type=int, default=1500, help="label: training steps of the judge.")
    parser.add_argument("--chunks", type=int, default=4, help="label: chained samples per long sequence.")
    parser.add_argument("--judge-cache", default="out/motion_judge",
                        help="label: folder keeping the trained judge between runs ('' to always train it).")
    parser.add_argument("--judge-seed", type=int, help="label: the judge's seed (default 0, as the starts').")
    parser.add_argument("--train-seconds", type=float, help="label: the measured training time, to report.")
    parser.add_argument("overrides", nargs="*", help="PSGAN config overrides key=value, e.g. model.decoder=coords.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
                          "torch": torch.__version__, "load_before": os.getloadavg()}}
    if args.only in (None, "psgan"):
        result["psgan"] = run_psgan(args.psgan_steps, work, args.overrides, tuple(args.actions))
    if args.only in (None, "label"):
        result["label"] = run_label(args.checkpoint, args.starts, args.judge_steps, args.chunks, args.train_seconds,
                                    judge_cache=Path(args.judge_cache) if args.judge_cache else None,
                                    judge_seed=args.judge_seed)
    if args.only in (None, "scgan"):
        result["scgan"] = run_scgan(args.posenet_steps, args.scgan_steps, work)
    result["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
