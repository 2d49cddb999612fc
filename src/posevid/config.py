"""Training configs: a YAML file plus ``key.sub=value`` overrides, checked against declared options.

Schema (docs/design.md): ``method`` (a registered name), ``seed``, ``plugins`` (modules a training config
imports first), ``data`` (the options of the dataset kind ``data.kind``, default the method's
``data_kind``; none for a method that reads no dataset, ``data_kind`` None), ``model`` (the method's
``Options``), ``train`` (``TrainOptions``) and, for a multi-stage method, ``stages`` (stage name ->
overrides of ``data`` / ``model`` / ``train`` for that stage, in the order they run). ``resolve_config``
checks every key and value against these dataclasses (an unknown key names the nearest valid one) and
fills in the defaults, so a saved config lists every option. Override values are parsed as YAML scalars
(``train.amp=true``, ``train.betas=[0.5,0.999]``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from . import options
from .errors import PosevidError
from .options import option

TOP_KEYS = ("method", "seed", "plugins", "data", "model", "train", "stages")
STAGE_KEYS = ("data", "model", "train")


@dataclass
class TrainOptions:
    """``train:`` options of the trainer (every method)."""

    batch_size: int = option(4, "samples per step and process", ge=1)
    steps: int = option(1000, "total optimisation steps (of each stage of a multi-stage method)", ge=1)
    lr: float = option(2.0e-4, "Adam learning rate", ge=0)
    betas: tuple[float, float] = option((0.5, 0.999), "Adam betas")
    decay_from: float = option(0.5, "linear decay to 0 from this fraction of the steps (or step, if > 1)", ge=0)
    checkpoint_every: int = option(100, "steps between checkpoints", ge=1)
    keep_checkpoints: int = option(3, "step checkpoints kept (0: all)", ge=0)
    log_every: int = option(10, "steps between TensorBoard scalars", ge=1)
    image_every: int | None = option(None, "steps between sample sheets (default: checkpoint_every)", ge=1)
    amp: bool | Literal["bf16", "fp16", "off"] = option(
        False, "mixed precision: bf16 or fp16 autocast (fp16 with loss scaling), off; true: bf16 where the device "
               "has it (CPUs, Ampere and later GPUs), else fp16")
    workers: int = option(0, "DataLoader worker processes (persistent; pinned memory on CUDA)", ge=0)
    device: str | None = option(None, "auto, cpu, cuda or cuda:N (default auto: this process's GPU when CUDA is "
                                      "present; posevid train --device overrides it)")
    channels_last: bool = option(False, "channels-last memory format for the networks (pays on GPUs with amp)")
    compile: bool = option(False, "torch.compile each trained network (GPUs; the first steps compile)")
    vgg_weights: str | None = option(None, "VGG-19 weights file for perceptual losses (default: ST-LPIPS's "
                                           "VGG-16 from the stlpips-pytorch wheel)")
    perceptual_layers: list[str] = option(["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                                          "the VGG layers the perceptual loss compares")
    init_from: str | None = option(None, "run folder or checkpoint whose matching weights start this run")
    max_minutes: float | None = option(None, "wall-clock budget; a checkpoint is saved when it runs out", gt=0)
    tensorboard: bool = option(True, "write TensorBoard logs under RUN/tb")


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``extra`` into a copy of ``base`` (nested dicts merge, anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in ``cfg`` in place (value parsed as YAML; missing levels are created)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise PosevidError(item, "an override must look like key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise PosevidError(item, f"cannot parse the value ({err.__class__.__name__})") from None
    node = cfg
    parts = key.strip().split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            if part in node and node[part] is not None:
                raise PosevidError(item, f"{part} is not a section")
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file; ``PosevidError`` for a missing, unreadable or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise PosevidError(path, "no such config file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise PosevidError(path, f"not valid YAML ({str(err).splitlines()[0]})") from None
    except (OSError, UnicodeError, RecursionError, ValueError) as err:  # ValueError: e.g. "\U00110000"
        raise PosevidError(path, f"cannot read the config ({type(err).__name__})") from None
    if not isinstance(raw, dict):
        raise PosevidError(path, "a config must be a YAML mapping")
    return raw


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = (),
                import_plugins: bool = True) -> dict[str, Any]:
    """Read a YAML config (None: only ``overrides``), apply ``overrides``, import its ``plugins`` (the
    user's own config names them) and return it checked and completed (``resolve_config``).

    ``path`` may also be the name of a packaged config (``dwnet/tiny``; ``posevid configs list``).
    Raises ``PosevidError`` naming the file or the key at fault.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        from .resources import find_config

        path = find_config(path)
        raw = read_yaml(path)
    for item in overrides:
        apply_override(raw, item)
    try:
        if import_plugins:
            from .methods.registry import import_plugins as run

            plugins = raw.get("plugins") or []
            if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
                raise PosevidError("plugins", f"must be a list of module names, got {plugins!r:.40}")
            run(plugins)
        return resolve_config(raw)
    except PosevidError as err:
        if path is None:
            raise
        raise PosevidError(path, str(err)) from None


def resolve_config(cfg: dict[str, Any], where: str | Path | None = None) -> dict[str, Any]:
    """``cfg`` checked against the options its method, dataset kind and the trainer declare, with every
    default filled in (a new dict: method, seed, plugins, data, model, train[, stages]).

    Never imports a module ``cfg`` names: the method must be registered (``methods.registry``).
    ``where`` (a file) prefixes messages. Raises ``PosevidError`` naming the key.
    """
    try:
        return _resolve(cfg)
    except PosevidError as err:
        if where is None:
            raise
        raise PosevidError(where, str(err)) from None


def _resolve(cfg: Any) -> dict[str, Any]:
    from .methods.registry import method_class

    if not isinstance(cfg, dict):
        raise PosevidError("config", f"must be a mapping, got {cfg!r:.40}")
    for key in cfg:
        if key not in TOP_KEYS:
            raise PosevidError(str(key), options.unknown_message(str(key), list(TOP_KEYS)))
    name = cfg.get("method")
    if not isinstance(name, str) or not name:
        raise PosevidError("method", f"the config names no method (method: <name>), got {name!r:.40}")
    try:
        cls = method_class(name)
    except KeyError as err:
        raise PosevidError("method", str(err.args[0])) from None
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PosevidError("seed", f"must be an integer, got {seed!r:.40}")
    plugins = cfg.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise PosevidError("plugins", f"must be a list of module names, got {plugins!r:.40}")
    sections = {}
    for section in ("data", "model", "train"):
        value = cfg.get(section)
        if value is not None and not isinstance(value, dict):
            raise PosevidError(section, f"must be a mapping of options, got {value!r:.40}")
        sections[section] = value or {}
    kind = sections["data"].get("kind", cls.data_kind)
    if kind is None:  # a method that reads no dataset (one without weights): no data options
        if sections["data"]:
            raise PosevidError("data", f"method {name!r} reads no dataset; leave the data section out")
        data = {}
    else:
        from .data.datasets import dataset_options

        data_options = dataset_options(kind)
        data = {**sections["data"], "kind": kind}
        if data_options is not None:
            data = options.to_dict(options.parse(data_options, data, "data"))
    model = (options.to_dict(options.parse(cls.Options, sections["model"], "model")) if cls.Options is not None
             else copy.deepcopy(sections["model"]))
    train = options.to_dict(options.parse(TrainOptions, sections["train"], "train"))
    out = {"method": name, "seed": seed, "plugins": list(plugins), "data": data, "model": model, "train": train}
    stages = cfg.get("stages")
    if stages is not None:
        out["stages"] = _resolve_stages(cls, stages, out)
    return out


def _resolve_stages(cls: Any, stages: Any, base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``stages:`` checked: known stage names, each a mapping of ``data`` / ``model`` / ``train`` overrides
    that gives a valid config when merged over ``base``."""
    known = list(cls.stage_classes())
    if not known:
        raise PosevidError("stages", f"method {cls.name!r} has a single stage")
    if not isinstance(stages, dict) or not stages:
        raise PosevidError("stages", f"must map stage names ({', '.join(known)}) to overrides, got {stages!r:.40}")
    out = {}
    for name, extra in stages.items():
        if name not in known:
            raise PosevidError(f"stages.{name}", options.unknown_message(str(name), known, "stages"))
        extra = extra or {}
        if not isinstance(extra, dict):
            raise PosevidError(f"stages.{name}", f"must be a mapping of data / model / train, got {extra!r:.40}")
        for key in extra:
            if key not in STAGE_KEYS:
                raise PosevidError(f"stages.{name}.{key}", options.unknown_message(str(key), list(STAGE_KEYS),
                                                                                 f"stages.{name}"))
        try:
            _resolve({k: v for k, v in merge(base, extra).items() if k != "stages"})
        except PosevidError as err:
            raise PosevidError(f"stages.{name}", str(err)) from None
        out[name] = copy.deepcopy(extra)
    return out


def stage_config(cfg: dict[str, Any], stage: str) -> dict[str, Any]:
    """The config of one stage: ``cfg`` with that stage's overrides merged in, ``model.stage`` set to it
    and no ``stages`` section (checked and completed)."""
    extra = (cfg.get("stages") or {}).get(stage) or {}
    out = merge({k: v for k, v in cfg.items() if k != "stages"}, extra)
    out["model"] = {**out.get("model", {}), "stage": stage}
    return resolve_config(out)


def dump_config(cfg: dict[str, Any]) -> str:
    """The config as YAML text (keys in insertion order)."""
    return yaml.safe_dump(cfg, sort_keys=False)
