"""YAML training recipes loaded into typed (nested) dataclasses.

A recipe is a YAML mapping whose shape is given by a *schema*: a dataclass whose fields are scalars,
``Optional``, ``Literal``, ``list``/``tuple``, ``dict`` or nested dataclasses. Each wing defines its
own schema and embeds the engine's sections (:class:`OptimConfig`, :class:`ScheduleConfig`,
:class:`TrainerConfig`)::

    @dataclass
    class RecognitionConfig:
        model: ModelSection
        data: DataSection
        optim: OptimConfig = field(default_factory=OptimConfig)
        schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
        train: TrainerConfig = field(default_factory=TrainerConfig)

    cfg = load_config("configs/c3d_ucf101.yaml", RecognitionConfig, ["optim.lr=0.01", "data.batch_size=8"])
    save_config(cfg, "work_dirs/run/config.yaml")

Loading goes ``YAML file -> _base_ merge -> key=value overrides -> validation -> dataclass``:

* ``_base_: ../base/default.yaml`` (or a list of files) names recipes relative to the file; they are
  merged first, in order, then the file's own keys on top, recursively for mappings (as MMAction2
  does). A mapping holding ``_delete_: true`` replaces the inherited mapping instead of merging.
* an override ``a.b.c=value`` sets one key; the value is parsed as a YAML scalar or flow collection
  (``8``, ``0.1``, ``1e-3``, ``true``, ``null``, ``[30, 40]``, ``{depth: 18}``).
* validation names the key and its source on every error (:class:`ConfigError`): a misspelt key
  suggests the closest valid one, a wrong type names the value and the expected type, a missing
  required key (a field without default) names it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import tempfile
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

__all__ = [
    "ConfigError",
    "OptimConfig",
    "ScheduleConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "load_yaml_recipe",
    "save_config",
]

T = TypeVar("T")

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"


class ConfigError(ValueError):
    """A recipe or override that cannot be loaded; the message names the key, the value and the source."""


# ----------------------------------------------------------------------------------------------
# The engine's own sections, embedded by every wing's schema.


@dataclass
class OptimConfig:
    """Optimizer. ``sgd`` uses ``momentum``/``nesterov``; ``adam`` (L2 weight decay, as BigGAN and
    DVD-GAN train) and ``adamw`` (decoupled weight decay) use ``betas``.

    With ``no_decay_norm_bias`` the weight decay is not applied to biases and normalisation weights
    (any parameter with fewer than 2 dimensions), the common practice since Goyal et al. 2017.
    ``grad_accum_steps`` and ``clip_grad_norm``, when set, override the trainer's for this optimiser
    (a GAN may clip its discriminator only).
    """

    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    no_decay_norm_bias: bool = True
    grad_accum_steps: int | None = None
    clip_grad_norm: float | None = None


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, evaluated per optimizer step (see :func:`vidlearn.engine.optim.lr_at`).

    ``warmup_epochs`` (may be fractional) ramps linearly from ``lr * warmup_start_factor`` to
    ``lr``; then ``step`` multiplies by ``gamma`` at each epoch in ``milestones``, ``cosine`` decays
    to ``min_lr`` at the end of training and ``constant`` keeps ``lr``.
    """

    name: Literal["step", "cosine", "constant"] = "cosine"
    warmup_epochs: float = 0.0
    warmup_start_factor: float = 0.0
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    min_lr: float = 0.0


@dataclass
class TrainerConfig:
    """The training loop's settings (see :class:`vidlearn.engine.trainer.Trainer`).

    Steps count training steps (one per ``grad_accum_steps`` batches); ``max_steps`` ends training
    early at that step (a run counted in steps rather than epochs). ``checkpoint_every_steps``
    0 saves only at epoch ends; ``keep_checkpoints`` keeps the last k files (0 keeps all).
    ``eval_every_epochs`` 0 never evaluates. ``device`` ``auto`` picks CUDA when available.
    """

    max_epochs: int = 10
    max_steps: int | None = None
    grad_accum_steps: int = 1
    clip_grad_norm: float | None = None
    amp: Literal["none", "bf16", "fp16"] = "none"
    seed: int = 0
    deterministic: bool = False
    log_every_steps: int = 10
    checkpoint_every_steps: int = 0
    keep_checkpoints: int = 3
    eval_every_epochs: int = 1
    work_dir: str = "work_dirs/run"
    tensorboard: bool = False
    progress_bar: bool = True
    channels_last: bool = False
    compile: bool = False
    device: str = "auto"


# ----------------------------------------------------------------------------------------------
# YAML files, _base_ inheritance and overrides.


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge of ``update`` onto ``base`` (a new dict); ``_delete_: true`` replaces."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping):
            value = dict(value)
            replace = bool(value.pop(DELETE_KEY, False))
            if not replace and isinstance(merged.get(key), dict):
                merged[key] = _merge(merged[key], value)
                continue
            merged[key] = _merge({}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_yaml_recipe(path: str | os.PathLike[str], _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe into a plain dict, with its ``_base_`` files merged underneath (recursively).

    Raises :class:`ConfigError` for a missing file, invalid YAML, a non-mapping document or a
    ``_base_`` cycle, naming the file.
    """
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise ConfigError(f"{path}: _base_ cycle: {cycle}")
    if not path.is_file():
        where = f" (named as _base_ in {_chain[-1]})" if _chain else ""
        raise ConfigError(f"config file not found: {path}{where}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of keys, got {type(data).__name__}")
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        return data
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{path}: _base_ must be a file name or a list of file names, got {bases!r}")
    merged: dict[str, Any] = {}
    for base in bases:
        merged = _merge(merged, load_yaml_recipe(path.parent / base, (*_chain, resolved)))
    return _merge(merged, data)


def _parse_override(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected key=value, e.g. optim.lr=0.01")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        # An unparsable flow value (``a:b``) is most likely meant as a plain string.
        value = raw
    return key.split("."), value


def apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], schema: type | None = None
) -> dict[str, Any]:
    """Return ``data`` with each ``a.b.c=value`` override applied (values parsed as YAML).

    With a ``schema`` each key is checked as it is applied, so an unknown key fails naming the
    override and suggesting the closest valid key.
    """
    result = copy.deepcopy(dict(data))
    for text in overrides:
        keys, value = _parse_override(text)
        if schema is not None:
            _check_override_path(keys, schema, text)
        node = result
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if not isinstance(child, dict):
                if child is not None and not dataclasses.is_dataclass(child):
                    where = ".".join(keys[: depth + 1])
                    raise ConfigError(f"override {text!r}: {where} is a value, not a section")
                child = {}
                node[key] = child
            node = child
        node[keys[-1]] = value
    return result


def _check_override_path(keys: list[str], schema: type, text: str) -> None:
    hint: Any = schema
    for depth, key in enumerate(keys):
        hint = _strip_optional(hint)
        if dataclasses.is_dataclass(hint):
            hints = _field_types(hint)
            if key not in hints:
                section = ".".join(keys[:depth]) or "the top level"
                raise ConfigError(
                    f"override {text!r}: unknown key {key!r} in {section}{_suggest(key, hints)}"
                )
            hint = hints[key]
        elif typing.get_origin(hint) in (dict, Mapping) or hint is dict or hint is Any:
            return  # free-form mapping: any key goes
        else:
            where = ".".join(keys[:depth])
            raise ConfigError(f"override {text!r}: {where} is a value, not a section")


# ----------------------------------------------------------------------------------------------
# Validation: plain data -> dataclass.


def _suggest(key: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(valid))}"


_HINT_CACHE: dict[type, dict[str, Any]] = {}


def _field_types(schema: type) -> dict[str, Any]:
    if schema not in _HINT_CACHE:
        hints = typing.get_type_hints(schema)
        _HINT_CACHE[schema] = {f.name: hints[f.name] for f in dataclasses.fields(schema) if f.init}
    return _HINT_CACHE[schema]


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return str(hint).replace("typing.", "")


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    """``value`` checked against ``hint`` and converted (lists to tuples, mappings to dataclasses)."""

    def fail(extra: str = "") -> ConfigError:
        return ConfigError(
            f"{source}: {key}: expected {_type_name(hint)}, got {value!r} ({type(value).__name__}){extra}"
        )

    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, source)
            except ConfigError as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise fail()
    if origin is Literal:
        # Compare types too: ``True == 1`` must not pass for ``Literal[1]``.
        if any(value == a and type(value) is type(a) for a in typing.get_args(hint)):
            return value
        raise fail()
    if dataclasses.is_dataclass(hint):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = config_to_dict(value)
        if not isinstance(value, Mapping):
            raise fail()
        return _build(value, hint, key, source)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise fail()
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail()
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads ``1e-3`` (no dot) as a string; accept it as the number it plainly is.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise fail()
    if hint is str:
        if isinstance(value, str):
            return value
        raise fail()
    if hint is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise fail()
    if origin in (list, Sequence) or hint is list:
        if not isinstance(value, (list, tuple)):
            raise fail()
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(v, item, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is tuple or hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail()
        args = typing.get_args(hint)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            return tuple(_convert(v, item, f"{key}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise fail(f"; expected {len(args)} items")
        return tuple(_convert(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise fail()
        key_type, value_type = typing.get_args(hint) or (Any, Any)
        return {
            _convert(k, key_type, f"{key}.{k}", source): _convert(v, value_type, f"{key}.{k}", source)
            for k, v in value.items()
        }
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise fail()
    raise ConfigError(f"{source}: {key}: unsupported field type {hint!r} in the schema")


def _build(data: Mapping[str, Any], schema: type[T], prefix: str, source: str) -> T:
    hints = _field_types(schema)
    for key in data:
        if key not in hints:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"{source}: unknown key {where!r}{_suggest(str(key), hints)}")
    kwargs = {}
    for f in dataclasses.fields(schema):
        if not f.init:
            continue
        where = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            kwargs[f.name] = _convert(data[f.name], hints[f.name], where, source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{source}: missing required key {where!r}")
    try:
        return schema(**kwargs)
    except (TypeError, ValueError) as error:  # a schema's own __post_init__ check
        raise ConfigError(f"{source}: {prefix or schema.__name__}: {error}") from None


def config_from_dict(data: Mapping[str, Any], schema: type[T], source: str = "<dict>") -> T:
    """Validate plain data (as read from YAML) and build the ``schema`` dataclass.

    ``source`` names where the data came from in error messages (a file name). Lists become tuples
    where the schema says ``tuple``; ints are accepted where a float is expected.
    """
    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"schema must be a dataclass type, got {schema!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
    return _build(data, schema, "", source)


def load_config(path: str | os.PathLike[str], schema: type[T], overrides: Sequence[str] = ()) -> T:
    """Load a YAML recipe (with ``_base_`` inheritance), apply ``key=value`` overrides, validate.

    Example: ``load_config("configs/c3d.yaml", RecognitionConfig, ["optim.lr=0.01"])``.
    """
    data = load_yaml_recipe(path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, overrides, schema)
        source = f"{path} (with overrides {' '.join(overrides)})"
    return config_from_dict(data, schema, source=source)


def config_to_dict(cfg: Any) -> Any:
    """Plain data (dicts, lists, scalars) for a config dataclass; tuples become lists, paths strings."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, Mapping):
        return {key: config_to_dict(value) for key, value in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(value) for value in cfg]
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def save_config(cfg: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``cfg`` (a dataclass or a mapping) as a YAML recipe, atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
