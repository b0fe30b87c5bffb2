"""Small-image networks for MedMNIST-sized inputs (28x28, and other small sizes).

Every model is built through one constructor::

    model = build_model(name, in_channels, num_classes, width=1.0)

and maps an input batch of shape ``[B, in_channels, H, W]`` to logits of shape
``[B, num_classes]`` (no softmax). ``MODEL_NAMES`` lists the valid names.

Conventions shared by all models
--------------------------------
* ``width`` is a channel multiplier. For the ResNets, the VGGs and the ConvNet every
  channel count ``c`` becomes ``max(8, round(c * width))``; the floor of 8 keeps
  BatchNorm/GroupNorm statistics meaningful at tiny widths (``width=1.0`` reproduces
  the reference channel counts exactly). MobileNetV2 follows its paper's rule
  instead: scaled counts are rounded to a multiple of 8 (minimum 8, never more than
  10 % below the exact value), and the final 1x1 convolution keeps its 1280 channels
  for ``width <= 1``.
* Weights use PyTorch's default initialisation (as the reference implementations
  do), so two models built after the same ``torch.manual_seed`` are identical.
* Only standard ``torch.nn`` layers are used, so the models work with
  ``torch.channels_last`` and with ``torch.autocast`` (bf16 on CPU included).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from evalib.errors import EvalibError

__all__ = [
    "MODEL_NAMES",
    "VGG_CONFIGS",
    "build_model",
    "convnet",
    "count_parameters",
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "vgg",
]

_MIN_CHANNELS = 8


# --------------------------------------------------------------------------- helpers


def _scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded to an int, at least ``_MIN_CHANNELS``."""
    return max(_MIN_CHANNELS, int(round(channels * width)))


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``divisor``),
    going up one step if rounding lost more than 10 % (MobileNetV2 convention)."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def _check_common(in_channels: Any, num_classes: Any, width: Any) -> None:
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise EvalibError(f"in_channels must be an integer >= 1, got {in_channels!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise EvalibError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if (
        isinstance(width, bool)
        or not isinstance(width, (int, float))
        or not math.isfinite(width)
        or width <= 0
    ):
        raise EvalibError(f"width must be a finite number > 0, got {width!r}")


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (shared tensors counted once).

    With ``trainable_only=True`` only parameters with ``requires_grad`` are counted.
    Buffers (e.g. BatchNorm running statistics) are never counted.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------- ResNet


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34 block)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        out_planes = planes * self.expansion
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, with a residual connection."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet for small images.

    Stem: 3x3 stride-1 convolution, BatchNorm, ReLU and *no* max-pool; four stages with
    strides 1, 2, 2, 2 (28x28 -> 28, 14, 7, 4); global average pooling; linear head.

    Input ``[B, in_channels, H, W]`` -> logits ``[B, num_classes]``.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: tuple[int, int, int, int],
        in_channels: int,
        num_classes: int,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        stem = _scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, stem, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        in_planes = stem
        stages = []
        for base, n, stride in zip((64, 128, 256, 512), num_blocks, (1, 2, 2, 2), strict=True):
            planes = _scaled(base, width)
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(block(in_planes, planes, s))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        self.num_features = in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.fc(torch.flatten(self.pool(out), 1))


def resnet18(in_channels: int, num_classes: int, width: float = 1.0) -> ResNet:
    """CIFAR-style ResNet-18 (BasicBlock, [2, 2, 2, 2]); ``[B, C, H, W]`` -> ``[B, num_classes]``.

    With ``width=1``, 3 input channels and 10 classes it has 11,173,962 parameters.
    """
    _check_common(in_channels, num_classes, width)
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, num_classes, width)


def resnet50(in_channels: int, num_classes: int, width: float = 1.0) -> ResNet:
    """CIFAR-style ResNet-50 (Bottleneck x4, [3, 4, 6, 3]); ``[B, C, H, W]`` -> ``[B, num_classes]``.

    With ``width=1``, 3 input channels and 10 classes it has 23,520,842 parameters.
    """
    _check_common(in_channels, num_classes, width)
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels, num_classes, width)


# --------------------------------------------------------------------------- MobileNetV2

# (expansion t, output channels c, repeats n, stride s) of the MobileNetV2 paper, Table 2.
_MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn_relu6(
    in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (skipped if t=1), 3x3 depthwise, linear 1x1 project.

    The identity shortcut is used when the stride is 1 and the channel count is kept.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_residual = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_ch, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 adapted to small (28x28 / 32x32) inputs.

    Changes with respect to the ImageNet network (paper Table 2), and nothing else:

    1. the first 3x3 convolution (32 channels) has stride 1 instead of 2;
    2. the first two stride-2 stages, ``(t=6, c=24, n=2)`` and ``(t=6, c=32, n=3)``,
       use stride 1.

    The remaining downsampling happens in the 64- and 160-channel stages, so a 28x28
    input is seen at 28, 28, 28, 14, 14, 7, 7 pixels by the seven stages (total
    stride 4 instead of 32). The head is 1x1 conv to 1280 channels, BN, ReLU6, global
    average pooling and a linear layer; the ImageNet model's dropout before the
    classifier is omitted. Width: see the module docstring.

    Input ``[B, in_channels, H, W]`` -> logits ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        settings = list(_MOBILENET_V2_SETTINGS)
        for i in (1, 2):  # small-image change 2: the first two stride-2 stages -> stride 1
            t, c, n, _ = settings[i]
            settings[i] = (t, c, n, 1)
        first = _make_divisible(32 * width)
        last = _make_divisible(1280 * max(1.0, width))
        layers: list[nn.Module] = [_conv_bn_relu6(in_channels, first, 3, stride=1)]  # change 1
        in_ch = first
        for t, c, n, s in settings:
            out_ch = _make_divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t))
                in_ch = out_ch
        layers.append(_conv_bn_relu6(in_ch, last, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last, num_classes)
        self.num_features = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mobilenet_v2(in_channels: int, num_classes: int, width: float = 1.0) -> MobileNetV2:
    """Small-image MobileNetV2 (see :class:`MobileNetV2`); ``[B, C, H, W]`` -> ``[B, num_classes]``."""
    _check_common(in_channels, num_classes, width)
    return MobileNetV2(in_channels, num_classes, width)


# --------------------------------------------------------------------------- VGG

# Standard VGG configurations (numbers: 3x3 conv output channels, "M": 2x2 max-pool).
# Each has five pools, as in the official (CIFAR, 32x32) code; see :class:`VGG`.
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M") + (512, 512, 512, "M") * 2,
}


def _vgg_features(cfg: tuple[int | str, ...], in_channels: int, width: float) -> nn.Sequential:
    """conv3x3 -> BN -> ReLU for each number in ``cfg``, 2x2 max-pool for each ``"M"``."""
    layers: list[nn.Module] = []
    ch = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out = _scaled(int(item), width)
            layers += [nn.Conv2d(ch, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            ch = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG with BatchNorm, adapted so that it runs on 28x28 inputs.

    The official EVA code uses the CIFAR VGG: the configuration's five 2x2 max-pools
    reduce 32x32 to 1x1 before a linear classifier. On 28x28 MedMNIST images five pools
    give 28 -> 14 -> 7 -> 3 -> 1 -> 0, and the network fails. This variant keeps every
    convolution of the configuration (with BN and ReLU) but **drops the pool before the
    last stage**: the last two stages both run at 3x3 and the final pool takes them to
    1x1 (28 -> 14 -> 7 -> 3 -> 3 -> 1), then an adaptive average pool to 1x1 (a no-op at
    28x28, a global average pool for larger inputs) and one linear layer map the
    ``512 * width`` features to the logits. Dropping the *last* pool instead would run the
    last stage at 1x1, where BatchNorm fails on a training batch of one image (a full
    OrganAMNIST epoch ends with one: 34 561 = 270 x 128 + 1). Any input with
    ``H, W >= 16`` works.

    Input ``[B, in_channels, H, W]`` -> logits ``[B, num_classes]``.
    """

    def __init__(
        self, in_channels: int, num_classes: int, width: float = 1.0, config: str = "vgg11"
    ) -> None:
        super().__init__()
        cfg = VGG_CONFIGS[config]
        pools = [i for i, item in enumerate(cfg) if item == "M"]
        cfg = cfg[: pools[-2]] + cfg[pools[-2] + 1 :]  # drop the pool before the last stage
        self.features = _vgg_features(cfg, in_channels, width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = _scaled(int(next(c for c in reversed(cfg) if c != "M")), width)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def vgg(in_channels: int, num_classes: int, width: float = 1.0, config: str = "vgg11") -> VGG:
    """Small-image VGG (``config`` "vgg11" or "vgg16", see :class:`VGG`);
    ``[B, C, H, W]`` -> ``[B, num_classes]``."""
    _check_common(in_channels, num_classes, width)
    if config not in VGG_CONFIGS:
        raise EvalibError(f"unknown VGG config {config!r}; valid: {', '.join(VGG_CONFIGS)}")
    return VGG(in_channels, num_classes, width, config)


# --------------------------------------------------------------------------- ConvNet

_CONVNET_NORMS = ("instance", "batch", "none")


class ConvNet(nn.Module):
    """The small ConvNet of dataset distillation (Zhao & Bilen; Zhao, Mopuri & Bilen).

    ``depth`` blocks of conv3x3 (``128 * width`` channels, padding 1, with bias) ->
    norm -> ReLU -> 2x2 average pool, then a linear layer on the flattened features.
    ``norm="instance"`` is GroupNorm with one group per channel (affine), as in the
    original code; ``"batch"`` is BatchNorm2d and ``"none"`` no normalisation.

    The head size depends on the input size, so ``image_size`` (default 28) must match
    the inputs: 28x28 becomes 14, 7, 3 pixels, i.e. ``128 * 3 * 3`` features at depth
    3. (The original code instead pads single-channel 28x28 images to 32x32 in the
    first convolution; here every convolution uses padding 1.)

    Input ``[B, in_channels, image_size, image_size]`` -> logits ``[B, num_classes]``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: float = 1.0,
        depth: int = 3,
        norm: str = "instance",
        image_size: int | tuple[int, int] = 28,
    ) -> None:
        super().__init__()
        channels = _scaled(128, width)
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        self.image_size = (h, w)
        layers: list[nn.Module] = []
        ch = in_channels
        for _ in range(depth):
            layers.append(nn.Conv2d(ch, channels, 3, padding=1))
            if norm == "instance":
                layers.append(nn.GroupNorm(channels, channels, affine=True))
            elif norm == "batch":
                layers.append(nn.BatchNorm2d(channels))
            layers += [nn.ReLU(inplace=True), nn.AvgPool2d(2, 2)]
            ch = channels
            h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.num_features = channels * h * w
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.image_size:
            raise EvalibError(
                f"ConvNet built for {self.image_size[0]}x{self.image_size[1]} inputs "
                f"got {x.shape[-2]}x{x.shape[-1]}; pass image_size= to build_model"
            )
        return self.classifier(torch.flatten(self.features(x), 1))


def convnet(
    in_channels: int,
    num_classes: int,
    width: float = 1.0,
    *,
    norm: str = "instance",
    depth: int = 3,
    image_size: int | tuple[int, int] = 28,
) -> ConvNet:
    """Dataset-distillation ConvNet (see :class:`ConvNet`); ``[B, C, H, W]`` -> ``[B, num_classes]``.

    ``norm`` is "instance" (default), "batch" or "none"; ``depth`` >= 1 blocks; the
    input height/width ``image_size`` must leave at least 1x1 after ``depth`` pools.
    """
    _check_common(in_channels, num_classes, width)
    if norm not in _CONVNET_NORMS:
        raise EvalibError(f"unknown ConvNet norm {norm!r}; valid: {', '.join(_CONVNET_NORMS)}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise EvalibError(f"ConvNet depth must be an integer >= 1, got {depth!r}")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or any(
        isinstance(s, bool) or not isinstance(s, int) or s >> depth < 1 for s in size
    ):
        raise EvalibError(
            f"ConvNet image_size {image_size!r} must be >= 2**depth = {2**depth} "
            f"(an int or an (H, W) pair)"
        )
    return ConvNet(in_channels, num_classes, width, depth, norm, (size[0], size[1]))


# --------------------------------------------------------------------------- registry


def _vgg11(in_channels: int, num_classes: int, width: float = 1.0) -> VGG:
    return vgg(in_channels, num_classes, width, "vgg11")


def _vgg16(in_channels: int, num_classes: int, width: float = 1.0) -> VGG:
    return vgg(in_channels, num_classes, width, "vgg16")


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "vgg": _vgg11,
    "vgg11": _vgg11,
    "vgg16": _vgg16,
    "convnet": convnet,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)
"""Names accepted by :func:`build_model` ("vgg" is VGG-11)."""


def build_model(
    name: str, in_channels: int, num_classes: int, width: float = 1.0, **kwargs: Any
) -> nn.Module:
    """Build the network ``name`` (one of :data:`MODEL_NAMES`, case-insensitive).

    The model maps ``[B, in_channels, H, W]`` to logits ``[B, num_classes]``. ``width``
    multiplies channel counts. Extra keyword arguments are accepted only by "convnet"
    (``norm``, ``depth``, ``image_size``). Invalid arguments raise
    :class:`~evalib.errors.EvalibError`. Initialisation is PyTorch's default, so the
    result is deterministic given ``torch.manual_seed``.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _BUILDERS:
        raise EvalibError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    _check_common(in_channels, num_classes, width)
    if kwargs and key != "convnet":
        raise EvalibError(
            f"model {key!r} takes no extra options (got {', '.join(sorted(kwargs))}); "
            f"only 'convnet' accepts norm/depth/image_size"
        )
    if key == "convnet":
        unknown = sorted(set(kwargs) - {"norm", "depth", "image_size"})
        if unknown:
            raise EvalibError(
                f"unknown convnet option(s) {', '.join(unknown)}; valid: norm, depth, image_size"
            )
    return _BUILDERS[key](in_channels, num_classes, width, **kwargs)
