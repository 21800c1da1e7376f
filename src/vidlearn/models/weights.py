"""Reading, converting and strictly loading checkpoints.

Every checkpoint goes through one path: :func:`read_checkpoint` turns a file (safetensors, a
``torch.save`` pickle read with ``weights_only=True``, a NumPy ``.npz``, or Keras HDF5 weights through
:mod:`vidlearn.models.keras`) into a flat
``{name: tensor}`` dict; a :class:`CheckpointLayout` registered for the model's family maps foreign
key names and tensor layouts to vidlearn's; :func:`load_weights` then loads *strictly*: a missing
key, an unexpected key or a shape mismatch is an error that names each offending key.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

__all__ = [
    "CheckpointLayout",
    "CheckpointLoadError",
    "load_weights",
    "read_checkpoint",
    "register_layout",
    "register_reader",
    "remap_keys",
    "save_weights",
]

StateDict = dict[str, torch.Tensor]


class CheckpointLoadError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and each offending key."""


@dataclass(frozen=True)
class CheckpointLayout:
    """A foreign checkpoint layout and its conversion to a vidlearn model's state dict.

    ``families``: the model families (``ModelInfo.family``) it applies to. ``detect`` answers from
    the checkpoint's keys whether the file is in this layout. ``convert`` returns a state dict with
    the model's key names and tensor shapes; it may use ``model`` to read target shapes.
    """

    name: str
    families: frozenset[str]
    detect: Callable[[Mapping[str, torch.Tensor]], bool]
    convert: Callable[[Mapping[str, torch.Tensor], nn.Module], StateDict]
    description: str = ""
    extensions: tuple[str, ...] = field(default_factory=tuple)
    # Optional: the file's name for a model key (``None`` when the layout does not store it); lets
    # errors about missing keys name the key as it would appear in the file.
    foreign_name: Callable[[str], str | None] | None = None


_LAYOUTS: dict[str, CheckpointLayout] = {}


def register_layout(layout: CheckpointLayout) -> CheckpointLayout:
    """Register a :class:`CheckpointLayout` (normally at import of the model's module)."""
    _LAYOUTS[layout.name] = layout
    return layout


def remap_keys(
    state: Mapping[str, torch.Tensor],
    model: nn.Module,
    foreign_name: Callable[[str], str | None],
) -> StateDict:
    """Rename a foreign state dict to ``model``'s keys through ``foreign_name(model_key) -> file key``.

    The map is inverted over the model's own keys, so a layout states each name once. File keys the
    map does not produce pass through unchanged, and the strict check then reports them as
    unexpected under the name they have in the file.
    """
    to_model: dict[str, str] = {}
    for key in model.state_dict():
        other = foreign_name(key)
        if other is not None:
            to_model[other] = key
    return {to_model.get(key, key): value for key, value in state.items()}


def _to_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    return None


def _flatten(obj: Mapping, prefix: str = "") -> StateDict:
    flat: StateDict = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        tensor = _to_tensor(value)
        if tensor is not None:
            flat[name] = tensor
        elif isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
    return flat


_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "params")


_READERS: dict[str, Callable[[Path], Mapping[str, torch.Tensor]]] = {}


def register_reader(suffixes: Iterable[str], reader: Callable[[Path], Mapping[str, torch.Tensor]]) -> None:
    """Read files whose suffix (``".h5"``) is in ``suffixes`` with ``reader(path) -> {name: tensor}``.

    The reader's keys are kept as it gives them (in its order) for the layouts to map; it raises
    :class:`CheckpointLoadError` naming the file, or ``ModuleNotFoundError`` naming a missing extra.
    """
    for suffix in suffixes:
        _READERS[suffix.lower()] = reader


def read_checkpoint(path: str | Path, *, ema: bool | Literal["auto"] = False) -> StateDict:
    """Read ``path`` into a flat ``{name: tensor}`` dict on the CPU.

    ``.safetensors`` through safetensors; ``.npz`` through NumPy without pickle; a suffix with a
    :func:`register_reader` reader through it (Keras ``.h5``, ``.hdf5``, ``.keras``:
    :func:`vidlearn.models.keras.read_keras_weights`, keys as the file's paths, in its layer order,
    returned as read); anything else
    through ``torch.load(weights_only=True)`` (so ``.pt``, ``.pth``, ``.pickle``, ``.tar`` work).
    A training checkpoint's ``state_dict`` / ``model`` entry is unwrapped, and a ``module.`` prefix
    left by ``DataParallel`` / DDP is dropped.

    ``ema``: a training checkpoint of :class:`vidlearn.engine.Trainer` may hold an exponential moving
    average of the weights beside them (``ema={"model": decay}``). ``True`` reads that average (an error
    naming the file when there is none), ``"auto"`` reads it when the file holds one and the weights
    otherwise, ``False`` always reads the weights.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"{path}: no such checkpoint file")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is not None and ema is True:
        raise CheckpointLoadError(f"{path}: holds no EMA copy of the weights (only a training checkpoint has one)")
    if reader is not None:
        try:
            state = reader(path)
        except (CheckpointLoadError, ModuleNotFoundError):  # already name the file, or the missing extra
            raise
        except Exception as error:  # h5py and others raise OSError, KeyError, ...; name the file
            raise CheckpointLoadError(f"{path}: cannot read checkpoint ({type(error).__name__}: {error})") from error
        if not state:
            raise CheckpointLoadError(f"{path}: the checkpoint holds no tensors")
        return dict(state)
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Mapping = load_file(str(path), device="cpu")
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                state = {key: archive[key] for key in archive.files}
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointLoadError:
        raise
    except Exception as error:  # the libraries raise many types; keep the cause, name the file
        kind = {".safetensors": "safetensors", ".npz": "NumPy .npz"}.get(suffix, "a torch.save file")
        cause = str(error).strip()[:200] or "unreadable"
        raise CheckpointLoadError(
            f"{path}: not a checkpoint file (read as {kind}: {type(error).__name__}: {cause}); give a "
            ".safetensors, .pt/.pth or .npz file of model weights") from error
    if not isinstance(state, Mapping):
        raise CheckpointLoadError(f"{path}: expected a mapping of tensors, found {type(state).__name__}")
    if ema:
        averaged = _ema_entry(state, path, required=ema is True)
        if averaged is not None:
            state = averaged
    for key in _WRAPPER_KEYS:
        inner = state.get(key)
        if isinstance(inner, Mapping) and inner:
            state = inner
            break
    flat = _flatten(state)
    if not flat:
        raise CheckpointLoadError(f"{path}: the checkpoint holds no tensors")
    if all(key.startswith("module.") for key in flat):
        flat = {key[len("module."):]: value for key, value in flat.items()}
    return flat


def _ema_entry(state: Mapping[str, Any], path: Path, *, required: bool) -> Mapping[str, Any] | None:
    """The EMA copy in a training checkpoint: the first model's (``"model"``) or the only one."""
    copies = state.get("ema")
    if not isinstance(copies, Mapping) or not copies:
        if required:
            raise CheckpointLoadError(f"{path}: holds no EMA copy of the weights (train with an EMA decay, "
                                      f"or read the weights themselves)")
        return None
    name = "model" if "model" in copies else next(iter(copies)) if len(copies) == 1 else None
    if name is None:
        raise CheckpointLoadError(f"{path}: holds EMA copies of several models ({', '.join(map(str, copies))}); "
                                  f"read it with the model's own loader")
    return {key: value for key, value in copies[name].items() if key != "__num_updates__"}


def _model_family(model: nn.Module) -> str | None:
    # Set by vidlearn.models.create; read here so that this module needs nothing of the registry.
    return getattr(model, "vidlearn_family", None)


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _strict_check(
    path: Path,
    layout: str,
    state: Mapping[str, torch.Tensor],
    model: nn.Module,
    allow_missing: Sequence[str] = (),
    foreign_name: Callable[[str], str | None] | None = None,
) -> StateDict:
    target = model.state_dict()
    state = dict(state)
    # BatchNorm's step counter carries no learned value; old checkpoints omit it.
    for key, value in target.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value.clone()
    for prefix in allow_missing:
        if not any(_under(key, prefix) for key in target):
            raise CheckpointLoadError(
                f"{path}: allow_missing names {prefix!r}, which is no module or parameter of "
                f"{type(model).__name__}"
            )
    # A named module the file lacks, or holds at another shape (a head for another class count), stays
    # as initialised; one the file holds at the right shape is loaded as usual.
    kept = sorted(
        key
        for key in target
        if any(_under(key, prefix) for prefix in allow_missing)
        and (key not in state or state[key].shape != target[key].shape)
    )
    if kept:
        # The caller asked for these to stay as initialised (e.g. a pretrain file without a head).
        warnings.warn(
            f"{path}: the checkpoint has no {', '.join(kept)}; kept freshly initialised as asked "
            f"(allow_missing={tuple(allow_missing)}; a key the file holds at another shape counts as absent)",
            stacklevel=3,
        )
        for key in kept:
            state[key] = target[key].clone()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    mismatched = [
        f"{key}: checkpoint {tuple(state[key].shape)} vs model {tuple(target[key].shape)}"
        for key in sorted(set(state) & set(target))
        if state[key].shape != target[key].shape
    ]
    if missing or unexpected or mismatched:
        lines = [f"{path}: checkpoint (layout {layout!r}) does not match {type(model).__name__}"]
        if missing:
            named = [_with_foreign_name(key, foreign_name) for key in missing]
            lines.append(f"  missing keys ({len(missing)}): {_first_few(named, ', ')}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_first_few(unexpected, ', ')}")
        if mismatched:
            lines.append(f"  shape mismatches ({len(mismatched)}): {_first_few(mismatched, '; ')}")
        raise CheckpointLoadError("\n".join(lines))
    return {key: value.to(dtype=target[key].dtype) for key, value in state.items()}


def _first_few(items: list[str], separator: str, shown: int = 4) -> str:
    """The first ``shown`` items, then how many more: a message stays one readable line."""
    more = f"{separator}... and {len(items) - shown} more" if len(items) > shown else ""
    return separator.join(items[:shown]) + more


def _with_foreign_name(key: str, foreign_name: Callable[[str], str | None] | None) -> str:
    other = foreign_name(key) if foreign_name is not None else None
    return f"{key} (file key {other!r})" if other and other != key else key


def _candidate_layouts(family: str | None) -> Iterable[CheckpointLayout]:
    for layout in _LAYOUTS.values():
        if family is None or family in layout.families:
            yield layout


def _convert(layout: CheckpointLayout, state: StateDict, model: nn.Module, path: Path) -> StateDict:
    try:
        return layout.convert(state, model)
    except CheckpointLoadError as error:  # a layout's own strict check: add the file's name
        raise CheckpointLoadError(f"{path}: {error}") from None


def load_weights(
    model: nn.Module,
    path: str | Path,
    *,
    layout: str = "auto",
    allow_missing: Sequence[str] = (),
    ema: bool | Literal["auto"] = False,
) -> str:
    """Load the checkpoint at ``path`` into ``model`` strictly; return the layout name used.

    With ``layout="auto"`` a checkpoint whose keys are the model's own loads as ``"vidlearn"``;
    otherwise the registered layouts of the model's family are asked in turn whether they
    recognise the keys. Errors (:class:`CheckpointLoadError`) name the file and every missing,
    unexpected or mis-shaped key.

    ``allow_missing`` names modules (``"fc8"``) or parameters the checkpoint may lack, e.g. the
    classifier of a pretrain file loaded for fine-tuning: those keep their current (freshly
    initialised) values and a ``UserWarning`` lists them. Every other key is still strict, and a
    name that is not part of the model is an error. ``ema`` chooses between a training checkpoint's
    weights and their moving average, as :func:`read_checkpoint` says.
    """
    path = Path(path)
    state = read_checkpoint(path, ema=ema)
    model_keys = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    family = _model_family(model)
    chosen: CheckpointLayout | None = None
    if layout == "auto":
        state_keys = {k for k in state if not k.endswith("num_batches_tracked")}
        if state_keys & model_keys and not (state_keys - model_keys):
            # Keys are the model's own; a subset still loads as "vidlearn" (the check lists gaps).
            used, converted = "vidlearn", state
        else:
            for candidate in _candidate_layouts(family):
                if candidate.detect(state):
                    chosen = candidate
                    break
            if chosen is None:
                used, converted = "vidlearn", state  # the strict check will list the differences
            else:
                used, converted = chosen.name, _convert(chosen, state, model, path)
    elif layout == "vidlearn":
        used, converted = layout, state
    else:
        if layout not in _LAYOUTS:
            raise CheckpointLoadError(f"{path}: unknown checkpoint layout {layout!r}; known: {', '.join(sorted(_LAYOUTS))}")
        chosen = _LAYOUTS[layout]
        used, converted = layout, _convert(chosen, state, model, path)
    checked = _strict_check(path, used, converted, model, allow_missing=tuple(allow_missing),
                            foreign_name=chosen.foreign_name if chosen is not None else None)
    model.load_state_dict(checked, strict=True)
    return used


def save_weights(model: nn.Module, path: str | Path, *, metadata: Mapping[str, object] | None = None) -> Path:
    """Write ``model``'s state dict as safetensors, atomically (temporary file, then rename).

    ``metadata`` (JSON-serialisable) is stored in the file header, with the model's registry name.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": "vidlearn"}
    name = getattr(model, "vidlearn_name", None)
    if name:
        header["model"] = name
    if metadata:
        header["metadata"] = json.dumps(metadata, sort_keys=True)
    tensors = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=header)
    tmp.replace(path)
    return path
