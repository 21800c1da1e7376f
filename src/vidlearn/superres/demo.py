"""``vidlearn demo superres``: FRVSR against bicubic and a same-size per-frame network, on the CPU.

Trains a CPU-sized FRVSR and the SISR baseline of the same SRNet size (Sajjadi et al. 2018's
comparison) through the same recipe, engine and data path as ``vidlearn train``, on synthetic scenes
rendered directly at the HR size and degraded with BD (Gaussian sigma 1.5, x4; FRVSR's and TecoGAN's
degradation); then super-resolves held-out scenes frame by frame (the streaming path of ``vidlearn
upscale``) and writes under ``out_dir``:

- ``results.json`` / ``results.md``: PSNR-Y, SSIM-Y and tOF (Vid4 protocol) of bicubic, SISR and
  FRVSR per held-out sequence and on average, parameters and training times;
- ``crops.png``: the same crop of one frame from LR, bicubic, SISR, FRVSR and the ground truth side by side;
- ``temporal_profile.png``: one image row stacked over time for each, as TecoGAN shows flicker;
- ``frvsr/model.safetensors`` (and ``sisr/``): the trained weights (``vidlearn upscale IN OUT --checkpoint ...``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlearn.engine.config import OptimConfig, ScheduleConfig, TrainerConfig
from vidlearn.superres.evaluation import evaluate_model, synthetic_sequence
from vidlearn.superres.inference import bicubic_upscale, load_sr_model, super_resolve
from vidlearn.superres.recipe import (
    DataConfig,
    DegradationConfig,
    EvaluateConfig,
    ModelConfig,
    SuperresConfig,
)

__all__ = ["demo_part", "demo_recipe"]

SIZE = {"num_blocks": 2, "num_filters": 24, "lr_skip": "bicubic"}


def demo_recipe(system: str, work_dir: Path, *, steps: int, workers: int) -> SuperresConfig:
    """The demo's recipe for ``system`` (``frvsr`` or ``sisr``): 6-frame clips of 64x64 HR crops, batch 2."""
    return SuperresConfig(
        name=f"demo_{system}",
        model=ModelConfig(name=f"{system}_3_64", kwargs=dict(SIZE)),
        data=DataConfig(train_sources=["synthetic"], clip_len=6, crop_size=64, samples_per_epoch=2 * steps,
                        batch_size=2, num_workers=min(workers, 1), degradation=DegradationConfig("bd", 4, sigma=1.5)),
        optim=OptimConfig(name="adam", lr=1e-3, weight_decay=0.0),
        schedule=ScheduleConfig(name="cosine", min_lr=1e-4),
        train=TrainerConfig(max_epochs=1, log_every_steps=20, eval_every_epochs=0, progress_bar=False,
                            work_dir=str(work_dir), checkpoint_every_steps=0, keep_checkpoints=1),
        evaluate=EvaluateConfig(sources=["synthetic"]),
    )


def _rgb(frame: torch.Tensor) -> np.ndarray:
    return frame.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _pictures(out_dir: Path, sequence: Any, outputs: dict[str, torch.Tensor]) -> None:
    """``crops.png`` and ``temporal_profile.png`` of one held-out sequence."""
    import cv2

    hr = sequence.hr
    t = hr.shape[0] // 2
    height, width = hr.shape[-2:]
    size = min(height, width) // 2
    top, left = (height - size) // 2, (width - size) // 2
    lr_nearest = torch.nn.functional.interpolate(sequence.lr, scale_factor=4, mode="nearest")
    panels = {"LR (nearest)": lr_nearest, **outputs, "ground truth": hr}
    zoom = 3
    tiles = []
    for name, frames in panels.items():
        crop = _rgb(frames[t, :, top:top + size, left:left + size])
        crop = cv2.resize(crop, (size * zoom, size * zoom), interpolation=cv2.INTER_NEAREST)
        label = np.full((22, crop.shape[1], 3), 255, np.uint8)
        cv2.putText(label, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([label, crop]))
        tiles.append(np.full((tiles[-1].shape[0], 4, 3), 255, np.uint8))
    cv2.imwrite(str(out_dir / "crops.png"), cv2.cvtColor(np.hstack(tiles[:-1]), cv2.COLOR_RGB2BGR))

    row = height // 2
    profiles = []
    for name, frames in {"bicubic": outputs["bicubic"], **{k: v for k, v in outputs.items() if k != "bicubic"},
                         "ground truth": hr}.items():
        strip = _rgb(frames[:, :, row, :].permute(1, 0, 2))  # (T, W, 3): row `row` of every frame
        strip = cv2.resize(strip, (strip.shape[1] * 2, strip.shape[0] * 6), interpolation=cv2.INTER_NEAREST)
        label = np.full((22, strip.shape[1], 3), 255, np.uint8)
        cv2.putText(label, f"{name}: row {row}, time goes down", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        profiles.append(np.vstack([label, strip]))
        profiles.append(np.full((profiles[-1].shape[0], 6, 3), 255, np.uint8))
    cv2.imwrite(str(out_dir / "temporal_profile.png"), cv2.cvtColor(np.hstack(profiles[:-1]), cv2.COLOR_RGB2BGR))


def demo_part(out_dir: str | Path, *, quick: bool = False, workers: int = 2, log: Any = print) -> dict[str, Any]:
    """Train FRVSR and SISR on synthetic scenes, compare them with bicubic on held-out ones (see the module)."""
    from vidlearn.superres.training import train
    from vidlearn.utils import machine_info

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = 12 if quick else 160
    degradation = DegradationConfig("bd", 4, sigma=1.5).build()
    count, frames = (1, 8) if quick else (3, 16)
    sequences = [synthetic_sequence(i, degradation, num_frames=frames, size=(128, 128)) for i in range(count)]
    models: dict[str, Any] = {}
    rows: dict[str, Any] = {}
    outputs: dict[str, torch.Tensor] = {"bicubic": bicubic_upscale(sequences[0].lr, 4)}
    for system in ("sisr", "frvsr"):
        work_dir = out_dir / system
        if work_dir.exists():
            import shutil

            shutil.rmtree(work_dir)
        cfg = demo_recipe(system, work_dir, steps=steps, workers=workers)
        log(f"superres: training {system.upper()} {SIZE['num_blocks']}-{SIZE['num_filters']} for {steps} steps "
            f"on synthetic 6x64x64 clips (BD x4)")
        result = train(cfg, final_eval=False, console=False)
        model, _ = load_sr_model(work_dir / "model.safetensors")
        models[system] = model
        scored = evaluate_model(model, sequences, scale=4, protocol="vid4")
        rows[system] = {"mean": scored["mean"], "sequences": scored["sequences"], "params": result.num_params,
                        "train_seconds": result.train_seconds, "steps": steps}
        if "bicubic" not in rows:
            rows["bicubic"] = {"mean": scored["bicubic"]["mean"], "sequences": scored["bicubic"]["sequences"],
                               "params": 0, "train_seconds": 0.0, "steps": 0}
        outputs[system.upper()] = super_resolve(model, sequences[0].lr, scale=4)
    _pictures(out_dir, sequences[0], {"bicubic": outputs["bicubic"], "SISR": outputs["SISR"],
                                      "FRVSR": outputs["FRVSR"]})
    results = {
        "degradation": degradation.protocol,
        "protocol": "vid4 (Y BT.601, 8-px border, first and last 2 frames skipped, 8-bit)",
        "test": f"{count} held-out synthetic scenes of {frames} frames at 128x128 HR",
        "models": {name: rows[name] for name in ("bicubic", "sisr", "frvsr")},
        "size": f"SRNet {SIZE['num_blocks']} blocks x {SIZE['num_filters']} filters, bicubic LR skip",
        "machine": machine_info().as_dict(),
        "machine_description": str(machine_info()),
        "total_seconds": time.perf_counter() - started,
        "quick": quick,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    (out_dir / "results.md").write_text(_markdown(results))
    log(_table(results))
    return json.loads((out_dir / "results.json").read_text())


def _table(results: dict[str, Any]) -> str:
    lines = ["| method | PSNR-Y (dB) | SSIM-Y | tOF (lower is better) | parameters | training |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in results["models"].items():
        mean = row["mean"]
        lines.append(f"| {name} | {mean['psnr_y']:.2f} | {mean['ssim_y']:.4f} | {mean.get('tof', float('nan')):.3f} "
                     f"| {row['params']:,} | {row['train_seconds']:.0f} s ({row['steps']} steps) |")
    return "\n".join(lines)


def _markdown(results: dict[str, Any]) -> str:
    description = results["machine_description"]
    return "\n".join([
        "# vidlearn demo: video super-resolution (FRVSR)",
        "",
        f"Degradation: {results['degradation']}. Test: {results['test']}. Protocol: {results['protocol']}.",
        f"Networks: {results['size']}; FRVSR adds FNet (1,745,506 parameters) and the warped previous estimate.",
        "",
        _table(results),
        "",
        "Pictures: `crops.png` (one frame's centre crop, x3 nearest zoom) and `temporal_profile.png` (the middle "
        "row of every frame stacked downwards: flicker shows as horizontal streaks the ground truth lacks).",
        "Weights: `frvsr/model.safetensors` (`vidlearn upscale IN OUT --checkpoint runs/demo/superres/frvsr/"
        "model.safetensors`).",
        "",
        f"Machine: {description}. Total time {results['total_seconds']:.0f} s.",
        "",
    ])
