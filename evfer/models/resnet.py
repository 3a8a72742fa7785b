"""ResNet-18/34/50/101/152 with torchvision's exact parameter names, shapes and initialisation.

torchvision itself is not a dependency (its CUDA build does not import on a CPU-only torch), so the
family is defined here. ``ResNet(...).state_dict()`` has the same keys and shapes as
``torchvision.models.resnetXX()`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer1.0.downsample.0/1``, ``fc``), so official and timm ImageNet checkpoints load with strict
key matching. Bottleneck blocks put the stride on the 3x3 convolution (torchvision's "ResNet v1.5").

Differences from torchvision, both opt-in: the first convolution takes ``in_channels`` input
channels (voxel-grid bins), and ``num_classes=0`` builds a feature extractor without ``fc`` that
returns the global-average-pooled feature (512 for ResNet-18/34, 2048 for ResNet-50/101/152).
"""

from __future__ import annotations

from functools import partial
from typing import Union

import torch
from torch import nn

from ..errors import ConfigError
from .spec import Backbone


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding 1, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut; ResNet-18/34."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce → 3x3 (carries the stride, v1.5) → 1x1 expand x4; ResNet-50/101/152."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


Block = Union[type[BasicBlock], type[Bottleneck]]

#: name → (block type, blocks per stage); the layouts of the ResNet paper / torchvision.
ARCHITECTURES: dict[str, tuple[Block, tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """ResNet backbone (+ optional classifier) on (N, in_channels, H, W) float input.

    Args:
        block, layers: block type and number of blocks in each of the 4 stages.
        num_classes: size of ``fc``; 0 = feature extractor (no ``fc``; ``forward`` returns the
            pooled (N, feature_dim) feature).
        in_channels: channels of the first convolution (3 for RGB, ``bins`` for voxel grids).
        zero_init_residual: zero the last BN weight of every residual branch (torchvision option).

    The spatial size shrinks by 32 (stride-2 stem conv, max-pool, 3 strided stages) before the
    global average pool, so any H, W >= 1 works; 64x64 input reaches layer4 at 2x2.
    """

    def __init__(
        self,
        block: Block,
        layers: tuple[int, int, int, int] | list[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.feature_dim = 512 * block.expansion
        self.num_classes = num_classes
        self.fc: nn.Module = nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else nn.Identity()

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) → globally average-pooled feature (N, feature_dim)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) → logits (N, num_classes), or the pooled feature if num_classes=0."""
        return self.fc(self.forward_features(x))


def resnet(
    name: str, *, num_classes: int = 1000, in_channels: int = 3, zero_init_residual: bool = False
) -> ResNet:
    """Build ``name`` (one of :data:`ARCHITECTURES`); ConfigError naming the choices otherwise."""
    if name not in ARCHITECTURES:
        raise ConfigError(f"backbone {name!r} is not one of: {', '.join(ARCHITECTURES)}")
    block, layers = ARCHITECTURES[name]
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels,
                  zero_init_residual=zero_init_residual)


def feature_dim(name: str) -> int:
    """Pooled feature size of backbone ``name``: 512 (18/34) or 2048 (50/101/152)."""
    if name not in ARCHITECTURES:
        raise ConfigError(f"backbone {name!r} is not one of: {', '.join(ARCHITECTURES)}")
    return 512 * ARCHITECTURES[name][0].expansion


def resnet18(**kwargs) -> ResNet:
    return resnet("resnet18", **kwargs)


def resnet34(**kwargs) -> ResNet:
    return resnet("resnet34", **kwargs)


def resnet50(**kwargs) -> ResNet:
    return resnet("resnet50", **kwargs)


def resnet101(**kwargs) -> ResNet:
    return resnet("resnet101", **kwargs)


def resnet152(**kwargs) -> ResNet:
    return resnet("resnet152", **kwargs)


_URL = "https://download.pytorch.org/models/"
#: torchvision's official ImageNet-1k weights, arch → {variant: url}; the last variant is torchvision's DEFAULT.
IMAGENET_URLS: dict[str, dict[str, str]] = {
    "resnet18": {"imagenet1k_v1": _URL + "resnet18-f37072fd.pth"},
    "resnet34": {"imagenet1k_v1": _URL + "resnet34-b627a593.pth"},
    "resnet50": {"imagenet1k_v1": _URL + "resnet50-0676ba61.pth", "imagenet1k_v2": _URL + "resnet50-11ad3fa6.pth"},
    "resnet101": {"imagenet1k_v1": _URL + "resnet101-63fe2227.pth",
                  "imagenet1k_v2": _URL + "resnet101-cd907fc2.pth"},
    "resnet152": {"imagenet1k_v1": _URL + "resnet152-394f9c45.pth",
                  "imagenet1k_v2": _URL + "resnet152-f82ba261.pth"},
}


def spec(name: str) -> Backbone:
    """The registry entry of ResNet ``name``."""
    return Backbone(build=partial(resnet, name), feature_dim=feature_dim(name), stem="conv1.weight",
                    classifier="fc.", imagenet=IMAGENET_URLS[name])
