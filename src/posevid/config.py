"""Training configs: a YAML file plus ``key.sub=value`` overrides, merged over the trainer's defaults.

Override values are parsed as YAML scalars (``train.amp=true``, ``train.betas=[0.5,0.999]``,
``model.norm=instance``). Schema (docs/design.md): ``method``, ``seed``, ``data``, ``model``, ``train``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .errors import PosevidError

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "plugins": [],  # extra modules imported before building (they register methods / dataset kinds)
    "data": {"kind": "clips", "frames": 1, "flip": False},
    "model": {},
    "train": {"batch_size": 4, "steps": 1000, "lr": 2.0e-4, "betas": [0.5, 0.999], "decay_from": 0.5,
              "checkpoint_every": 100, "keep_checkpoints": 3, "log_every": 10, "image_every": None,
              "amp": False, "workers": 0, "device": None, "vgg_weights": None,
              "perceptual_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], "init_from": None,
              "max_minutes": None, "tensorboard": True},
}


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


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a YAML config (None = defaults only), merge it over ``DEFAULTS`` and apply ``overrides``.

    Raises ``PosevidError`` for a missing or malformed file, or a config without ``method``.
    """
    raw: dict[str, Any] = {}
    if path is not None:
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
    cfg = merge(DEFAULTS, raw)
    for item in overrides:
        apply_override(cfg, item)
    if not cfg.get("method"):
        raise PosevidError(path, "the config names no method (method: <name>)")
    check_config(cfg, path)
    return cfg


def check_config(cfg: dict[str, Any], where: str | Path | None = None) -> None:
    """Raise ``PosevidError`` unless the schema's types hold: ``method`` a name, ``data`` / ``model`` /
    ``train`` mappings, ``plugins`` a list of module names, ``seed`` an integer."""
    if not isinstance(cfg.get("method"), str) or not cfg["method"]:
        raise PosevidError(where, f"method must be a name, got {cfg.get('method')!r:.40}")
    for section in ("data", "model", "train"):
        if not isinstance(cfg.get(section), dict):
            raise PosevidError(where, f"{section} must be a mapping of options, got {cfg.get(section)!r:.40}")
    plugins = cfg.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise PosevidError(where, f"plugins must be a list of module names, got {plugins!r:.40}")
    if isinstance(cfg.get("seed"), bool) or not isinstance(cfg.get("seed"), int):
        raise PosevidError(where, f"seed must be an integer, got {cfg.get('seed')!r:.40}")


def dump_config(cfg: dict[str, Any]) -> str:
    """The config as YAML text (keys in insertion order)."""
    return yaml.safe_dump(cfg, sort_keys=False)
