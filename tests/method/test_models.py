"""Tests for evalib.models: shapes, gradients, determinism, widths, errors, bf16, channels_last."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evalib.errors import EvalibError
from evalib.models import (
    MODEL_NAMES,
    VGG_CONFIGS,
    _vgg_features,
    build_model,
    convnet,
    count_parameters,
)

torch.set_num_threads(1)

SMALL = 0.25
NUM_CLASSES = 11


def _batch(in_channels: int, seed: int = 0, size: int = 28) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, in_channels, size, size, generator=g)


def _build(name: str, in_channels: int, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, in_channels, NUM_CLASSES, width=SMALL, **kwargs)


def test_model_names() -> None:
    assert set(MODEL_NAMES) == {
        "resnet18",
        "resnet50",
        "mobilenet_v2",
        "vgg",
        "vgg11",
        "vgg16",
        "convnet",
    }


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_shape_and_backward(name: str, in_channels: int) -> None:
    model = _build(name, in_channels)
    model.train()
    x = _batch(in_channels)
    out = model(x)
    assert out.shape == (4, NUM_CLASSES)
    assert out.dtype == torch.float32
    loss = nn.functional.cross_entropy(out, torch.arange(4))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_model(name: str) -> None:
    a, b = _build(name, 3, seed=7), _build(name, 3, seed=7)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    a.eval()
    b.eval()
    x = _batch(3)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    c = _build(name, 3, seed=8)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_width_changes_parameter_count(name: str) -> None:
    counts = [count_parameters(build_model(name, 1, NUM_CLASSES, width=w)) for w in (0.5, 1.0)]
    assert counts[0] < counts[1]
    assert count_parameters(build_model(name, 1, NUM_CLASSES, width=SMALL)) < counts[0]


def test_known_parameter_counts() -> None:
    # The reference CIFAR ResNets (3 input channels, 10 classes).
    assert count_parameters(build_model("resnet18", 3, 10)) == 11_173_962
    assert count_parameters(build_model("resnet50", 3, 10)) == 23_520_842


def test_count_parameters_trainable_only() -> None:
    model = build_model("convnet", 1, NUM_CLASSES, width=SMALL)
    total = count_parameters(model)
    model.classifier.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == total - model.classifier.weight.numel()
    assert count_parameters(model) == total


def test_width_rounding_floor() -> None:
    # Tiny widths keep at least 8 channels everywhere.
    for name in MODEL_NAMES:
        model = build_model(name, 1, NUM_CLASSES, width=0.01)
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                assert m.out_channels >= 8, name


def test_vgg_runs_where_five_pools_would_fail() -> None:
    x = _batch(1)
    # The official 5-pool configuration collapses 28x28 to 0x0 and fails ...
    five_pool = _vgg_features(VGG_CONFIGS["vgg11"], 1, SMALL)
    assert sum(isinstance(m, nn.MaxPool2d) for m in five_pool) == 5
    with pytest.raises(RuntimeError):
        five_pool(x)
    # ... while ours keeps four pools (28 -> 14 -> 7 -> 3 -> 3 -> 1) and produces logits.
    for name in ("vgg", "vgg11", "vgg16"):
        model = _build(name, 1)
        assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 4
        assert model.features(x).shape[-2:] == (1, 1)
        assert model(x).shape == (4, NUM_CLASSES)


def test_vgg_trains_on_a_batch_of_one_image() -> None:
    # A full OrganAMNIST epoch at batch 128 ends with one image (34 561 = 270 * 128 + 1):
    # no BatchNorm layer may see a 1x1 map then.
    model = _build("vgg", 1).train()
    x = _batch(1)[:1]
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[-2:]))
             for m in model.modules() if isinstance(m, nn.BatchNorm2d)]  # fmt: skip
    model(x).sum().backward()
    for h in hooks:
        h.remove()
    assert min(h * w for h, w in sizes) == 9  # the last stage runs at 3x3
    n_conv = {
        name: sum(isinstance(m, nn.Conv2d) for m in _build(name, 1).modules())
        for name in ("vgg", "vgg16")
    }
    assert n_conv == {"vgg": 8, "vgg16": 13}


def test_vgg_and_resnet_accept_larger_inputs() -> None:
    x = _batch(3, size=32)
    for name in ("vgg", "resnet18", "mobilenet_v2"):
        assert _build(name, 3)(x).shape == (4, NUM_CLASSES)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_convnet_norms(norm: str) -> None:
    model = _build("convnet", 3, norm=norm)
    kinds = {type(m) for m in model.modules()}
    assert (nn.GroupNorm in kinds) == (norm == "instance")
    assert (nn.BatchNorm2d in kinds) == (norm == "batch")
    assert model(_batch(3)).shape == (4, NUM_CLASSES)
    if norm == "instance":
        gn = next(m for m in model.modules() if isinstance(m, nn.GroupNorm))
        assert gn.num_groups == gn.num_channels == 32 and gn.affine


def test_convnet_structure_and_image_size() -> None:
    torch.manual_seed(0)
    model = convnet(1, NUM_CLASSES, width=1.0)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 3
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.modules()) == 3
    assert model.classifier.in_features == 128 * 3 * 3
    m32 = _build("convnet", 3, image_size=32, depth=4)
    assert m32(_batch(3, size=32)).shape == (4, NUM_CLASSES)
    with pytest.raises(EvalibError, match="image_size"):
        m32(_batch(3, size=28))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "resnet34"}, "valid names: resnet18, resnet50, mobilenet_v2"),
        ({"name": ""}, "unknown model"),
        ({"width": 0}, "width"),
        ({"width": -1.0}, "width"),
        ({"width": float("nan")}, "width"),
        ({"in_channels": 0}, "in_channels"),
        ({"num_classes": 1}, "num_classes"),
        ({"name": "resnet18", "norm": "batch"}, "no extra options"),
        ({"norm": "layer"}, "norm"),
        ({"depth": 0}, "depth"),
        ({"image_size": 4}, "image_size"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    args = {"name": "convnet", "in_channels": 1, "num_classes": NUM_CLASSES, "width": SMALL}
    args.update(kwargs)
    with pytest.raises(EvalibError, match=match) as info:
        build_model(**args)
    assert "\n" not in str(info.value)


def test_name_is_case_insensitive() -> None:
    assert type(build_model("ResNet18", 1, 2, width=SMALL)) is type(
        build_model("resnet18", 1, 2, width=SMALL)
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bf16_autocast_cpu(name: str) -> None:
    model = _build(name, 1).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(_batch(1))
    assert out.shape == (4, NUM_CLASSES)
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_channels_last_matches_contiguous(name: str) -> None:
    model = _build(name, 3).eval()
    x = _batch(3)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
