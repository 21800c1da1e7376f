"""LPIPS (Zhang et al., CVPR 2018) with AlexNet features, and TecoGAN's tLP built on it.

The network is the ``lpips`` package's ``LPIPS(net="alex", version="0.1")`` layer for layer, with the
same state-dict names, so its published weights load strictly::

    x in [-1, 1] -> (x - shift) / scale                          scaling_layer.{shift,scale}
    AlexNet conv1..conv5 (+ ReLU; max-pools between)              net.slice{1..5}.{0,3,6,8,10}.{weight,bias}
    per layer: unit-normalise over channels, squared difference,
    1x1 conv to one channel (no bias), spatial mean              lin{0..4}.model.1.weight (1, C, 1, 1)
    sum over the 5 layers                                         -> (B,) distances

Weights come from local files only (nothing is downloaded):

* a full LPIPS state dict in one file (``torch.save(lpips.LPIPS(net="alex").state_dict(), "lpips_alex.pth")``), or
* torchvision's AlexNet file (``alexnet-owt-7be5be79.pth``, keys ``features.N.*``; its classifier is
  ignored) together with LPIPS's linear layers (``alex.pth`` of the ``lpips`` package, v0.1, keys
  ``lin{0..4}.model.1.weight``; BSD-2-Clause).

Loading is strict: a missing, unexpected or mis-shaped key is a :class:`~vidlearn.models.CheckpointLoadError`
naming it. ``VIDLEARN_LPIPS_WEIGHTS`` may name the one-file form (the tests read it; they skip without it).

tLP (Chu et al., TOG 2020): ``mean_t | LPIPS(y_t, y_{t-1}) - LPIPS(g_t, g_{t-1}) |`` over consecutive
frames of the output ``y`` and ground truth ``g``; lower is better. TecoGAN reports it x100.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from vidlearn.models.weights import CheckpointLoadError, read_checkpoint

__all__ = ["LPIPS", "load_lpips", "tlp"]

# (slice, torchvision feature index, in channels, out channels, kernel, stride, padding)
_ALEX_CONVS = ((1, 0, 3, 64, 11, 4, 2), (2, 3, 64, 192, 5, 1, 2), (3, 6, 192, 384, 3, 1, 1),
               (4, 8, 384, 256, 3, 1, 1), (5, 10, 256, 256, 3, 1, 1))


class _Linear(nn.Module):
    """LPIPS's ``NetLinLayer``: dropout (off at test time) then a 1x1 convolution without bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """``forward(a, b)`` with ``a, b (B, 3, H, W)`` RGB in [-1, 1] -> LPIPS distance ``(B,)``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.net = nn.Module()
        for slice_index, feature, cin, cout, kernel, stride, padding in _ALEX_CONVS:
            block = nn.Sequential()
            if slice_index in (2, 3):  # a max-pool precedes conv2 and conv3 (torchvision indices 2 and 5)
                block.add_module(str(feature - 1), nn.MaxPool2d(3, 2))
            block.add_module(str(feature), nn.Conv2d(cin, cout, kernel, stride, padding))
            block.add_module(str(feature + 1), nn.ReLU())
            self.net.add_module(f"slice{slice_index}", block)
        for index, (_, _, _, cout, *_rest) in enumerate(_ALEX_CONVS):
            self.add_module(f"lin{index}", _Linear(cout))

    def _features(self, x: Tensor) -> list[Tensor]:
        x = (x - self.shift) / self.scale
        features = []
        for index in range(1, 6):
            x = getattr(self.net, f"slice{index}")(x)
            features.append(x)
        return features

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"LPIPS expects two (B, 3, H, W) images of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
        total = a.new_zeros(a.shape[0])
        for index, (fa, fb) in enumerate(zip(self._features(a), self._features(b))):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{index}")((na - nb) ** 2).mean(dim=(1, 2, 3))
        return total



def _to_model_keys(state: dict[str, Tensor], source: Path) -> dict[str, Tensor]:
    """The lpips package's names to this module's: ``scaling_layer.`` dropped, and the ``lins.N`` copies
    its ``ModuleList`` adds of ``linN`` checked equal and dropped."""
    result = {k.removeprefix("scaling_layer."): v for k, v in state.items() if not k.startswith("lins.")}
    for key, value in state.items():
        if key.startswith("lins."):
            _, index, rest = key.split(".", 2)
            twin = result.get(f"lin{index}.{rest}")
            if twin is None or not torch.equal(twin, value):
                raise CheckpointLoadError(f"{source}: {key} has no equal lin{index}.{rest}")
    return result


def load_lpips(weights: str | os.PathLike[str] | None = None, *, linear: str | os.PathLike[str] | None = None) -> LPIPS:
    """LPIPS-AlexNet from local files (see the module docstring), in eval mode.

    ``weights``: the one-file LPIPS state dict, or torchvision's AlexNet file when ``linear`` (LPIPS's
    ``alex.pth``) is given; ``None`` reads ``VIDLEARN_LPIPS_WEIGHTS``.
    """
    if weights is None:
        weights = os.environ.get("VIDLEARN_LPIPS_WEIGHTS")
        if not weights:
            raise FileNotFoundError("no LPIPS weights: pass a file or set VIDLEARN_LPIPS_WEIGHTS (nothing is downloaded)")
    path = Path(weights)
    model = LPIPS()
    expected = model.state_dict()
    state = _to_model_keys(read_checkpoint(path), path)
    if linear is not None:
        alex = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        state = {"shift": expected["shift"], "scale": expected["scale"]}
        features = {feature: slice_index for slice_index, feature, *_ in _ALEX_CONVS}
        for key, value in alex.items():
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "features" and int(parts[1]) in features:
                state[f"net.slice{features[int(parts[1])]}.{parts[1]}.{parts[2]}"] = value
            else:
                state[key] = value  # reported as unexpected below
        state.update(_to_model_keys(read_checkpoint(Path(linear)), Path(linear)))
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or shapes:
        details = []
        if missing:
            details.append(f"missing keys {', '.join(missing[:6])}")
        if unexpected:
            details.append(f"unexpected keys {', '.join(unexpected[:6])}")
        if shapes:
            details.append("shape mismatch " + ", ".join(f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
                                                         for k in shapes[:4]))
        source = f"{path} + {linear}" if linear is not None else str(path)
        raise CheckpointLoadError(f"{source}: not LPIPS-AlexNet weights: {'; '.join(details)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


@torch.no_grad()
def tlp(pred: Tensor, target: Tensor, model: LPIPS, *, chunk: int = 8) -> Tensor:
    """TecoGAN's tLP per frame pair: ``(T, 3, H, W)`` in [0, 1] twice -> ``(T-1,)`` (lower is better)."""
    if pred.shape != target.shape or pred.dim() != 4 or pred.shape[0] < 2:
        raise ValueError(f"tlp expects two (T >= 2, 3, H, W) sequences of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    device = next(model.parameters()).device

    def consecutive(frames: Tensor) -> Tensor:
        values = []
        for start in range(1, frames.shape[0], chunk):
            stop = min(start + chunk, frames.shape[0])
            now = frames[start:stop].to(device) * 2 - 1
            before = frames[start - 1:stop - 1].to(device) * 2 - 1
            values.append(model(now, before).cpu())
        return torch.cat(values)

    return (consecutive(pred.float()) - consecutive(target.float())).abs().double()
