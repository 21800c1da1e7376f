"""The generation zoo: every registered model, its exact parameter count, and the small variant's contract.

``ZOO`` is keyed by model name; a registered generation model without an entry fails. The counts are
of this library's architecture (``vidlearn.generation.models.dvdgan`` says how its widths relate to
BigGAN's tables); DVD-GAN's paper publishes none. Paper-sized models are built on the meta device.
"""

from __future__ import annotations

import pytest
import torch

from vidlearn.generation.models import DVDGAN
from vidlearn.models import create, get_model_info, list_models

MODEL_NAMES = list_models("generation")

# name -> (G, D_S, D_T) parameter counts at the builder's defaults
ZOO: dict[str, tuple[int, int, int]] = {
    "dvdgan_64": (213_449_563, 19_646_145, 7_783_425),  # 101 classes, ch 64, 16 frames
    "dvdgan_128": (476_837_187, 87_356_449, 46_052_449),  # 600 classes, ch 96, 48 frames
    "dvdgan_cpu": (363_811, 66_977, 105_505),  # 4 classes, ch 8, 8 frames at 32x32
    # DVD-GAN-FP: dvdgan_64's widths, 1 class, 5 given + 11 predicted frames. G grows by the context encoder
    # and by the ConvGRUs' doubled input ([x_t; E_g(context)]); D_S loses 100 class rows of 1024.
    "dvdgan_fp_64": (317_817_723, 19_543_745, 7_757_825),
}


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_every_generation_model_has_a_zoo_entry() -> None:
    assert sorted(ZOO) == MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameter_counts_at_paper_size(name: str) -> None:
    with torch.device("meta"):
        gan = create(name)
    parts = (gan.generator, gan.spatial_discriminator, gan.temporal_discriminator)
    assert tuple(_count(p) for p in parts) == ZOO[name]
    assert _count(gan) == sum(ZOO[name])


def test_the_convgru_dominates_the_paper_sized_generator() -> None:
    # Why G is larger than BigGAN's: a 3x3 ConvGRU at every resolution. At 64x64 (ch 64) the first two
    # groups are 1024 channels wide: gates 2048 -> 2048 and candidate 2048 -> 1024, 3x3, with biases.
    with torch.device("meta"):
        gan = create("dvdgan_64")
    gru = gan.generator.grus[0]
    assert _count(gru) == (2048 * 2048 * 9 + 2048) + (2048 * 1024 * 9 + 1024)
    assert _count(gan.generator.grus) > _count(gan.generator) / 2


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_small_variant_generates_scores_and_trains(name: str) -> None:
    info = get_model_info(name)
    assert info.wing == "generation" and info.paper.startswith("Clark, Donahue & Simonyan 2019")
    kwargs = dict(info.small_kwargs)
    num_classes = kwargs.pop("num_classes")
    torch.manual_seed(0)
    gan = create(name, num_classes=num_classes, **kwargs)
    assert isinstance(gan, DVDGAN)
    channels, frames, height, width = info.small_input_shape
    y = torch.arange(2) % num_classes
    context = torch.rand(2, channels, gan.context_frames, height, width) * 2 - 1 if gan.context_frames else None
    clips = gan(torch.randn(2, gan.z_dim), y, context=context)
    assert clips.shape == (2, channels, frames, height, width)
    assert clips.abs().max() <= 1
    scores = gan.discriminate(clips, y)
    assert {k: tuple(v.shape) for k, v in scores.items()} == {"spatial": (2,), "temporal": (2,)}
    loss = -sum(s.mean() for s in scores.values())
    loss.backward()
    assert all(p.grad is not None for p in gan.generator.parameters())


def test_fp_generator_counts_add_up_from_the_encoder_and_the_wider_convgrus() -> None:
    # The FP generator is the plain one (1 class) plus E plus the extra ConvGRU input channels.
    with torch.device("meta"):
        plain = create("dvdgan_64", num_classes=1)
        fp = create("dvdgan_fp_64")
    extra_gru = sum(
        w * (2 * w) * 9 + w * w * 9  # w more input channels into the gates (2w out) and the candidate (w out)
        for w in (gru.hidden_channels for gru in plain.generator.grus)
    )
    assert _count(fp.generator) == _count(plain.generator) + _count(fp.generator.encoder) + extra_gru
    assert _count(fp.spatial_discriminator) == _count(plain.spatial_discriminator)


def test_strict_state_dict_round_trip_and_resolution_mismatch() -> None:
    torch.manual_seed(0)
    source = create("dvdgan_cpu", num_classes=3, ch=2, num_frames=4, k=2)
    target = create("dvdgan_cpu", num_classes=3, ch=2, num_frames=4, k=2)
    target.load_state_dict(source.state_dict(), strict=True)
    source.eval()
    target.eval()
    z, y = torch.randn(2, 32), torch.tensor([0, 2])
    torch.testing.assert_close(target(z, y), source(z, y))
    other = create("dvdgan_64", num_classes=3, ch=2, num_frames=4, k=2)
    with pytest.raises(RuntimeError, match="size mismatch"):
        other.load_state_dict(source.state_dict(), strict=True)


def test_generator_exports_and_matches_eager() -> None:
    torch.manual_seed(0)
    generator = create("dvdgan_cpu", num_classes=3, ch=2, num_frames=4, k=2).generator.eval()
    z, y = torch.randn(2, 32), torch.tensor([0, 2])
    with torch.no_grad():
        exported = torch.export.export(generator, (z, y), strict=False)
        torch.testing.assert_close(exported.module()(z, y), generator(z, y), rtol=1e-4, atol=1e-5)
