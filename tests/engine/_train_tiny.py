"""Child process for the engine tests: trains the tiny task, to be killed, stopped, or run under DDP.

python _train_tiny.py block WORK_DIR STEP [TOY]   # writes WORK_DIR/marker after the checkpoint at
                                                  # STEP, then waits for a signal
torchrun --nproc-per-node 2 _train_tiny.py ddp WORK_DIR
torchrun --nproc-per-node 2 _train_tiny.py ddp-toy WORK_DIR TOY

TOY is ``tiny`` (default), or ``gan`` / ``sequence`` (see ``_toys.py``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from vidlearn.engine import (
    OptimConfig,
    ScheduleConfig,
    Trainer,
    TrainerConfig,
    evaluation_loop,
    get_rank,
    shutdown_distributed,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny import NoisyPoints, build_resume_trainer, make_model, step_fn
from _toys import TOYS, all_weights

torch.set_num_threads(1)


class BlockingTrainer(Trainer):
    """Signals the parent with a marker file after the checkpoint at ``block_at``, then waits."""

    block_at = -1

    def save_checkpoint(self):
        path = super().save_checkpoint()
        if self.global_step == self.block_at and self.batches_done:
            Path(self.config.work_dir, "marker").write_text(str(path))
            while not self._stop_requested:
                time.sleep(0.05)
        return path


def resumable_run(work_dir: str, step: int, toy: str = "tiny") -> int:
    BlockingTrainer.block_at = step
    build = build_resume_trainer if toy == "tiny" else TOYS[toy]
    trainer = build(work_dir, BlockingTrainer)
    history = trainer.fit(resume="auto")
    print(json.dumps({"interrupted": history.interrupted, "step": history.global_step}), flush=True)
    return 0


def ddp_run(work_dir: str) -> int:
    rank = int(os.environ["RANK"])
    dataset = NoisyPoints(noise=0.0)

    def evaluate(model):
        # Each rank scores its shard; the engine's loop gathers every sample's loss in dataset order.
        def losses(batch):
            features, labels = batch
            return torch.nn.functional.cross_entropy(model(features), labels, reduction="none").tolist()

        everything = torch.tensor(evaluation_loop(losses, dataset, batch_size=5))
        return {"loss": everything.mean().item(), "count": int(everything.numel())}

    # Each rank names its own folder: only rank 0's may exist afterwards.
    config = TrainerConfig(
        max_epochs=2,
        seed=3,
        deterministic=True,
        log_every_steps=2,
        grad_accum_steps=2,  # per-rank batch 2 x 2 micro-batches x 2 ranks = 8 a step (with no_sync)
        work_dir=f"{work_dir}/rank{rank}",
        progress_bar=False,
        device="cpu",
    )
    trainer = Trainer(
        make_model(dropout=0.0),
        dataset,
        step_fn=step_fn,
        batch_size=2,
        eval_fn=evaluate,
        optim=OptimConfig(lr=0.1),
        schedule=ScheduleConfig(warmup_epochs=0.5),
        config=config,
    )
    history = trainer.fit()
    if get_rank() == 0:
        Path(work_dir, "history.json").write_text(json.dumps(history.epochs))
    shutdown_distributed()
    return 0


def ddp_toy_run(work_dir: str, toy: str) -> int:
    """Per-rank batch 2 on 2 ranks, no data noise or dropout: comparable with one process at batch 4."""
    rank = get_rank_from_env()
    trainer = TOYS[toy](f"{work_dir}/rank{rank}", batch_size=2, noise=0.0, dropout=0.0, num_workers=0,
                        checkpoint_every_steps=0, log_every_steps=4)
    history = trainer.fit()
    if get_rank() == 0:
        Path(work_dir, "history.json").write_text(json.dumps(history.epochs))
        torch.save(all_weights(trainer), Path(work_dir, "weights.pt"))
    shutdown_distributed()
    return 0


def get_rank_from_env() -> int:
    return int(os.environ["RANK"])


if __name__ == "__main__":
    mode, work_dir = sys.argv[1], sys.argv[2]
    if mode == "ddp":
        raise SystemExit(ddp_run(work_dir))
    if mode == "ddp-toy":
        raise SystemExit(ddp_toy_run(work_dir, sys.argv[3]))
    raise SystemExit(resumable_run(work_dir, int(sys.argv[3]), *sys.argv[4:5]))
