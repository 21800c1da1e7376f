"""Training a superres recipe through the engine and the command line: losses, files, resume, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlearn.cli.main import main
from vidlearn.models import CheckpointLoadError, create
from vidlearn.superres.losses import flow_loss, sr_loss
from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.recipe import load_recipe
from vidlearn.superres.training import SRStep, build_model
from vidlearn.tasks import task_of

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "configs" / "superres" / "frvsr").glob("*.yaml"))
TINY = ["model.kwargs={num_blocks: 1, num_filters: 8, lr_skip: bicubic}", "data.crop_size=32", "data.clip_len=3",
        "data.batch_size=2", "data.samples_per_epoch=4", "data.num_workers=0", "train.max_epochs=1",
        "train.progress_bar=false", "evaluate.synthetic_sequences=1", "evaluate.synthetic_frames=6",
        "evaluate.synthetic_size=[64, 64]", "evaluate.val_sequences=1", "evaluate.val_max_frames=5",
        "train.eval_every_epochs=1"]


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_every_recipe_loads_as_a_superres_recipe(recipe: Path) -> None:
    assert task_of(recipe) == "superres"
    cfg = load_recipe(recipe)
    assert cfg.name == recipe.stem and cfg.data.degradation.build().scale == 4
    create(cfg.model.name, scale=4, **cfg.model.kwargs)


def test_the_step_is_l_sr_plus_l_flow_for_frvsr_and_l_sr_for_sisr() -> None:
    torch.manual_seed(0)
    batch = {"lr": torch.rand(2, 3, 3, 8, 8), "hr": torch.rand(2, 3, 3, 32, 32)}
    model = create("frvsr_3_64", num_blocks=1, num_filters=8)
    loss, parts = SRStep(flow_weight=0.5).training_step(model, batch)
    output = model.forward_train(batch["lr"])
    expected = sr_loss(output.hr, batch["hr"]) + 0.5 * flow_loss(output.lr_warped, output.lr_target)
    assert torch.allclose(loss, expected) and set(parts) == {"loss_sr", "loss_flow"}
    sisr = create("sisr_3_64", num_blocks=1, num_filters=8)
    loss, parts = SRStep().training_step(sisr, batch)
    assert torch.allclose(loss, sr_loss(sisr(batch["lr"]), batch["hr"])) and set(parts) == {"loss_sr"}


def test_fnet_weights_initialise_frvsr_s_fnet_alone(tmp_path: Path) -> None:
    recipe = RECIPES[0]
    torch.manual_seed(1)
    fnet = FNet(3, width=4, max_flow=4.0)
    torch.save(fnet.state_dict(), tmp_path / "fnet.pt")
    kwargs = "model.kwargs={num_blocks: 1, num_filters: 8, fnet_width: 4, max_flow: 4}"
    torch.manual_seed(0)
    plain = build_model(load_recipe(recipe, ["model.name=frvsr_3_64", kwargs]))
    torch.manual_seed(0)
    from_file = f"model.fnet_weights={tmp_path / 'fnet.pt'}"
    model = build_model(load_recipe(recipe, ["model.name=frvsr_3_64", kwargs, from_file]))
    for key, value in fnet.state_dict().items():  # FNet from the file, the rest as the seed made it
        assert torch.equal(model.fnet.state_dict()[key], value)
        assert not torch.equal(plain.fnet.state_dict()[key], value)
    for key, value in plain.srnet.state_dict().items():
        assert torch.equal(model.srnet.state_dict()[key], value)
    wider = ["model.name=frvsr_3_64", "model.kwargs={num_blocks: 1, num_filters: 8, fnet_width: 8}", from_file]
    with pytest.raises(CheckpointLoadError,
                       match=r"fnet\.pt: checkpoint .* does not match FNet\n  shape mismatches \(27\): decoder\.0\.0\.bias: "
                             r"checkpoint \(32,\) vs model \(64,\)"):
        build_model(load_recipe(recipe, wider))
    sisr = ["model.name=sisr_3_64", "model.kwargs={num_blocks: 1, num_filters: 8}", from_file]
    with pytest.raises(CheckpointLoadError, match=r"fnet\.pt: model\.fnet_weights needs a model with an FNet"):
        build_model(load_recipe(recipe, sisr))
    torch.save({"head.1.weight": torch.zeros(1)}, tmp_path / "other.pt")
    other = ["model.name=frvsr_3_64", kwargs, f"model.fnet_weights={tmp_path / 'other.pt'}"]
    with pytest.raises(CheckpointLoadError, match=r"other\.pt: checkpoint .* does not match FNet\n  missing keys"):
        build_model(load_recipe(recipe, other))


def test_srnet_weights_start_frvsr_from_a_sisr_as_that_sisr(tmp_path: Path) -> None:
    """With the context weights at zero, FRVSR's first outputs are the SISR's; every other weight is copied."""
    from vidlearn.models import create, save_weights

    recipe = RECIPES[0]
    torch.manual_seed(2)
    sisr = create("sisr_3_64", num_blocks=1, num_filters=8, lr_skip="bicubic")
    save_weights(sisr, tmp_path / "sisr.safetensors")
    kwargs = "model.kwargs={num_blocks: 1, num_filters: 8, fnet_width: 4, max_flow: 4, lr_skip: bicubic}"
    model = build_model(load_recipe(recipe, ["model.name=frvsr_3_64", kwargs,
                                             f"model.srnet_weights={tmp_path / 'sisr.safetensors'}"]))
    conv_in = model.srnet.conv_in.weight
    assert conv_in.shape == (8, 3 + 48, 3, 3)
    assert torch.equal(conv_in[:, :3], sisr.srnet.conv_in.weight) and not conv_in[:, 3:].any()
    for key, value in sisr.srnet.state_dict().items():
        if key != "conv_in.weight":
            assert torch.equal(model.srnet.state_dict()[key], value), key
    lr = torch.rand(2, 4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(lr), sisr(lr), rtol=0, atol=1e-6)
    # A SISR of another width, and a model without a context, are refused naming the file.
    save_weights(create("sisr_3_64", num_blocks=1, num_filters=16), tmp_path / "wide.safetensors")
    with pytest.raises(CheckpointLoadError, match=r"wide\.safetensors: srnet\.conv_in\.weight has shape \(16, 3, 3, 3\)"):
        build_model(load_recipe(recipe, ["model.name=frvsr_3_64", kwargs,
                                         f"model.srnet_weights={tmp_path / 'wide.safetensors'}"]))
    with pytest.raises(CheckpointLoadError, match=r"sisr\.safetensors: model\.srnet_weights needs FRVSR"):
        build_model(load_recipe(recipe, ["model.name=sisr_3_64", "model.kwargs={num_blocks: 1, num_filters: 8}",
                                         f"model.srnet_weights={tmp_path / 'sisr.safetensors'}"]))


def test_train_resume_and_evaluate_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = REPO / "configs" / "superres" / "frvsr" / "frvsr_3-32_synthetic_bd-x4_10x96_cpu.yaml"
    work = tmp_path / "run"
    assert main(["train", str(recipe), "--work-dir", str(work), *TINY]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"psnr_y", "ssim_y", "tof", "bicubic_psnr_y"} <= set(printed)
    for name in ("model.safetensors", "model.json", "metrics.json", "epochs.csv", "config.yaml"):
        assert (work / name).is_file(), name
    metrics = json.loads((work / "metrics.json").read_text())
    assert metrics["degradation"] == "BD x4 gaussian sigma=1.5 kernel=9 offset=0 reflect uint8"
    assert metrics["mean"]["protocol"]["name"] == "vid4" and "synthetic_00" in metrics["sequences"]
    # A finished run is refused; a longer one resumes from its checkpoint.
    assert main(["train", str(recipe), "--work-dir", str(work), *TINY]) == 2
    assert "finished" in capsys.readouterr().err
    assert main(["train", str(recipe), "--work-dir", str(work), *TINY, "train.max_epochs=2", "--no-eval"]) == 0
    assert json.loads(capsys.readouterr().out)["work_dir"] == str(work)
    assert main(["evaluate", str(recipe), "--checkpoint", str(work / "model.safetensors"), *TINY,
                 "--out", str(tmp_path / "eval")]) == 0
    assert "psnr_y" in capsys.readouterr().out and (tmp_path / "eval" / "metrics.json").is_file()


def test_freeze_fnet_keeps_a_pretrained_fnet_fixed_while_srnet_trains(tmp_path: Path) -> None:
    from vidlearn.engine.config import ConfigError
    from vidlearn.engine.seeding import seed_everything

    recipe = REPO / "configs" / "superres" / "frvsr" / "frvsr_3-32_synthetic_bd-x4_10x96_cpu.yaml"
    torch.manual_seed(3)
    fnet = FNet(3, width=4, max_flow=4.0)
    torch.save(fnet.state_dict(), tmp_path / "fnet.pt")
    work = tmp_path / "run"
    frozen = ["model.name=frvsr_3_64", "model.kwargs={num_blocks: 1, num_filters: 8, fnet_width: 4, max_flow: 4}",
              f"model.fnet_weights={tmp_path / 'fnet.pt'}", "model.freeze_fnet=true"]
    model = build_model(load_recipe(recipe, frozen))
    assert not any(p.requires_grad for p in model.fnet.parameters())
    assert all(p.requires_grad for p in model.srnet.parameters())
    assert main(["train", str(recipe), "--work-dir", str(work), *TINY, *frozen, "--no-eval"]) == 0
    from vidlearn.models.weights import read_checkpoint

    trained = read_checkpoint(work / "model.safetensors")
    for key, value in fnet.state_dict().items():
        assert torch.equal(trained[f"fnet.{key}"], value), key
    seed_everything(0)  # the recipe's train.seed: the SRNet training started from
    start = build_model(load_recipe(recipe, frozen))
    assert all(torch.equal(trained[f"fnet.{key}"], value) for key, value in start.fnet.state_dict().items())
    assert any(not torch.equal(trained[f"srnet.{key}"], value) for key, value in start.srnet.state_dict().items())
    with pytest.raises(ConfigError, match=r"model\.freeze_fnet needs a model with an FNet \(FRVSR\), not sisr_3_64"):
        build_model(load_recipe(recipe, ["model.name=sisr_3_64", "model.kwargs={num_filters: 8}",
                                         "model.freeze_fnet=true"]))
    with pytest.raises(ConfigError, match=r"would keep a randomly initialised FNet: set model\.fnet_weights"):
        build_model(load_recipe(recipe, [*frozen[:2], "model.freeze_fnet=true"]))


def test_ema_decay_makes_the_run_deliver_and_be_scored_on_the_moving_average(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.torch import load_file

    from vidlearn.engine.config import ConfigError

    recipe = REPO / "configs" / "superres" / "frvsr" / "sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml"
    work = tmp_path / "run"
    tiny = [*TINY, "model.kwargs={num_blocks: 1, num_filters: 8}", "data.samples_per_epoch=8", "ema.decay=0.5"]
    assert main(["train", str(recipe), "--work-dir", str(work), *tiny]) == 0
    printed = json.loads(capsys.readouterr().out)
    checkpoint = work / "checkpoints" / (work / "checkpoints" / "latest").read_text()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    averaged = {key: value for key, value in state["ema"]["model"].items() if key != "__num_updates__"}
    assert int(state["ema"]["model"]["__num_updates__"]) == 4  # 8 clips, batch 2
    delivered = load_file(str(work / "model.safetensors"))
    assert delivered.keys() == averaged.keys() == state["model"].keys()
    for key, value in averaged.items():  # model.safetensors is the average, not the last weights
        assert torch.equal(delivered[key], value), key
    assert any(not torch.equal(averaged[k], state["model"][k]) for k in averaged if averaged[k].is_floating_point())

    def scored(checkpoint_file: Path, *extra: str) -> dict[str, float]:
        assert main(["evaluate", str(recipe), "--checkpoint", str(checkpoint_file), *tiny, *extra]) == 0
        return json.loads(capsys.readouterr().out.partition("result: ")[2])

    from_checkpoint, from_file = scored(checkpoint), scored(work / "model.safetensors")
    assert from_checkpoint["psnr_y"] == from_file["psnr_y"] == pytest.approx(printed["psnr_y"], abs=1e-9)
    assert scored(checkpoint, "evaluate.ema=false")["psnr_y"] != from_checkpoint["psnr_y"]
    # The average starts FRVSR's SRNet and initialises model.weights.
    frvsr = build_model(load_recipe(recipe, ["model.name=frvsr_3_64", f"model.srnet_weights={checkpoint}",
                                             "model.kwargs={num_blocks: 1, num_filters: 8, fnet_width: 4, lr_skip: bicubic}"]))
    for key, value in frvsr.srnet.state_dict().items():
        if key != "conv_in.weight":  # that one gains zero weights for the context
            assert torch.equal(value, averaged[f"srnet.{key}"]), key
    again = build_model(load_recipe(recipe, [*tiny, f"model.weights={checkpoint}"]))
    assert all(torch.equal(again.state_dict()[key], value) for key, value in averaged.items())
    with pytest.raises(ConfigError, match=r"ema: decay must be in \[0, 1\) \(0 keeps no average\), got 1\.0"):
        load_recipe(recipe, ["ema.decay=1.0"])
