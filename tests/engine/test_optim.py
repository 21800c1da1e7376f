"""Schedules against their formulas, and the optimizer's parameter groups."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vidlearn.engine.config import OptimConfig, ScheduleConfig
from vidlearn.engine.optim import build_optimizer, build_scheduler, lr_at


def test_warmup_then_cosine_matches_the_formula_at_known_steps() -> None:
    cfg = ScheduleConfig(name="cosine", warmup_epochs=0.5, warmup_start_factor=0.1, min_lr=0.001)
    # 10 steps per epoch, 4 epochs: W = 5 warm-up steps, T = 40.
    model = nn.Linear(2, 2)
    optimizer = build_optimizer(model, OptimConfig(name="sgd", lr=0.1))
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch=10, max_epochs=4)
    seen = []
    for _ in range(40):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx(0.1 * 0.1)
    assert seen[2] == pytest.approx(0.1 * (0.1 + 0.9 * 2 / 5))
    assert seen[5] == pytest.approx(0.1)  # the end of warm-up is the peak
    expected_20 = 0.001 + (0.1 - 0.001) * 0.5 * (1 + math.cos(math.pi * 15 / 35))
    assert seen[20] == pytest.approx(expected_20)
    assert seen[39] == pytest.approx(0.001 + 0.099 * 0.5 * (1 + math.cos(math.pi * 34 / 35)))
    assert lr_at(40, base_lr=0.1, cfg=cfg, steps_per_epoch=10, max_epochs=4) == pytest.approx(0.001)
    # every param group follows (the no-decay group too)
    assert {g["lr"] for g in optimizer.param_groups} == {optimizer.param_groups[0]["lr"]}


def test_step_schedule_drops_at_milestone_epochs() -> None:
    cfg = ScheduleConfig(name="step", milestones=[2, 3], gamma=0.1)
    values = [lr_at(i, base_lr=1.0, cfg=cfg, steps_per_epoch=4, max_epochs=4) for i in range(16)]
    assert values[:8] == [1.0] * 8
    assert values[8:12] == pytest.approx([0.1] * 4)
    assert values[12:] == pytest.approx([0.01] * 4)
    constant = ScheduleConfig(name="constant", warmup_epochs=1.0)
    assert lr_at(2, base_lr=0.4, cfg=constant, steps_per_epoch=4, max_epochs=2) == pytest.approx(0.2)
    assert lr_at(4, base_lr=0.4, cfg=constant, steps_per_epoch=4, max_epochs=2) == 0.4


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.BatchNorm3d(4))
    optimizer = build_optimizer(model, OptimConfig(name="adamw", lr=1e-3, weight_decay=0.05))
    decayed, plain = optimizer.param_groups
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 3, 3, 3, 3])]
    assert decayed["weight_decay"] == 0.05
    assert len(plain["params"]) == 3 and plain["weight_decay"] == 0.0
    assert isinstance(optimizer, torch.optim.AdamW)
    everything = build_optimizer(model, OptimConfig(weight_decay=0.05, no_decay_norm_bias=False))
    assert len(everything.param_groups) == 1
