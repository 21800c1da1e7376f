"""ClassifierMixin: the one features / head / reset-head interface of every classification model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.models.classifier import Classifier, ClassifierMixin


class _Net(ClassifierMixin, nn.Module):
    """Linear head at ``head``; named feature layers ``a`` (4-d) and ``b`` (3-d, the default)."""

    classifier_name = "head"
    feature_layers = ("a", "b")

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.a = nn.Linear(2, 4)
        self.b = nn.Linear(4, 3)
        self.head = nn.Linear(3, num_classes)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        layer = self._feature_layer(layer, default="b")
        a = self.a(x)
        return a if layer == "a" else self.b(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


class _ConvHeadInSequential(ClassifierMixin, nn.Module):
    """S3D-like: the head is ``classifier.1``, a 1x1x1 conv without bias; one feature output."""

    classifier_name = "classifier.1"

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Conv3d(6, 4, kernel_size=1, bias=False))

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        self._feature_layer(layer)
        return x.mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x).mean(dim=(2, 3, 4))


class _TwoHeads(ClassifierMixin, nn.Module):
    classifier_name = {"left": "left.head", "right": "right.head"}

    def __init__(self) -> None:
        super().__init__()
        self.left, self.right = _Net(5), _Net(5)

    def forward_features(self, x: torch.Tensor, y: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        self._feature_layer(layer)
        return torch.cat((self.left.forward_features(x), self.right.forward_features(y)), dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.left(x) + self.right(y)


def test_get_classifier_returns_the_head_itself() -> None:
    net = _Net()
    assert net.get_classifier() is net.head
    conv = _ConvHeadInSequential()
    assert conv.get_classifier() is conv.classifier[1]
    two = _TwoHeads()
    heads = two.get_classifier()
    assert isinstance(heads, nn.ModuleDict) and heads["left"] is two.left.head and heads["right"] is two.right.head
    assert isinstance(net, Classifier) and isinstance(two, Classifier)
    assert not isinstance(nn.Linear(2, 2), Classifier)


def test_reset_classifier_changes_the_output_width_and_nothing_else() -> None:
    torch.manual_seed(0)
    net = _Net(5)
    x = torch.randn(7, 2)
    features = net.forward_features(x)
    old = net.head
    net.reset_classifier(11)
    assert net(x).shape == (7, 11)
    assert net.get_classifier() is net.head and net.head is not old
    assert (net.head.in_features, net.head.bias is not None) == (3, True)
    torch.testing.assert_close(net.forward_features(x), features)  # the body is untouched
    assert "head.weight" in net.state_dict() and net.state_dict()["head.weight"].shape == (11, 3)


def test_reset_classifier_rebuilds_a_conv_head_inside_a_sequential() -> None:
    model = _ConvHeadInSequential()
    model.reset_classifier(9)
    head = model.classifier[1]
    assert isinstance(head, nn.Conv3d) and head is model.get_classifier()
    assert (head.in_channels, head.out_channels, head.kernel_size, head.bias) == (6, 9, (1, 1, 1), None)
    assert model(torch.randn(2, 6, 1, 2, 2)).shape == (2, 9)


def test_reset_classifier_resets_every_head_of_a_multi_head_model() -> None:
    two = _TwoHeads()
    two.reset_classifier(2)
    assert two(torch.randn(3, 2), torch.randn(3, 2)).shape == (3, 2)
    assert two.left.head.out_features == two.right.head.out_features == 2


def test_the_new_head_keeps_dtype_and_uses_the_models_initialisation() -> None:
    class Zeroed(_Net):
        def _init_classifier(self, head: nn.Module) -> None:
            nn.init.zeros_(head.weight)
            nn.init.constant_(head.bias, 0.5)

    net = Zeroed().double()
    net.reset_classifier(4)
    assert net.head.weight.dtype == torch.float64
    assert torch.equal(net(torch.randn(2, 2, dtype=torch.float64)), torch.full((2, 4), 0.5, dtype=torch.float64))


def test_bad_num_classes_and_unsupported_heads_are_explained() -> None:
    net = _Net()
    for bad in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match=rf"_Net.reset_classifier: num_classes must be a positive int, got {bad!r}"):
            net.reset_classifier(bad)  # type: ignore[arg-type]
    assert net.head.out_features == 5

    class Bilinear(_Net):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Bilinear(3, 3, 5)

    with pytest.raises(TypeError, match="Bilinear: cannot rebuild a classifier of type Bilinear"):
        Bilinear().reset_classifier(2)


def test_forward_features_layer() -> None:
    net = _Net()
    x = torch.randn(2, 2)
    assert net.forward_features(x, layer="a").shape == (2, 4)
    torch.testing.assert_close(net.forward_features(x), net.forward_features(x, layer="b"))
    with pytest.raises(ValueError, match=r"_Net.forward_features: unknown layer 'c'; known: a, b"):
        net.forward_features(x, layer="c")
    with pytest.raises(ValueError, match=r"unknown layer 'fc6'; it has no named feature layers; pass layer=None"):
        _ConvHeadInSequential().forward_features(torch.randn(1, 6, 1, 1, 1), layer="fc6")
