"""MobileNetV2 (Sandler et al. 2018, width 1.0) with torchvision's exact parameter names and init.

``MobileNetV2().state_dict()`` has the keys and shapes of ``torchvision.models.mobilenet_v2()``
(``features.0.0.weight`` … ``features.18.1.running_var``, ``classifier.1.weight``), so the official
ImageNet file loads with strict key matching. Like :mod:`.resnet`, the stem takes ``in_channels``
inputs and ``num_classes=0`` gives a feature extractor returning the pooled (N, 1280) feature.
Input (N, C, H, W); the spatial size shrinks by 32 before the global average pool.
"""

from __future__ import annotations

import torch
from torch import nn

from .spec import Backbone

#: (expansion t, output channels c, repeats n, first stride s) of the 7 bottleneck stages (paper, Table 2).
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
FEATURE_DIM = 1280
IMAGENET_URLS = {"imagenet1k_v1": "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth"}


def conv_bn_relu6(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias, "same" padding) → BatchNorm → ReLU6; keys ``0.weight``, ``1.*`` like torchvision's
    ``Conv2dNormActivation``."""
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expand (when t > 1) → 3x3 depthwise (carries the stride) → 1x1 linear projection; identity
    shortcut when the stride is 1 and the channel count is kept."""

    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == out
        layers: list[nn.Module] = [conv_bn_relu6(inp, hidden, kernel=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, out, 1, 1, 0, bias=False), nn.BatchNorm2d(out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 on (N, in_channels, H, W) float input.

    Args:
        num_classes: size of the classifier (dropout 0.2 + linear); 0 = feature extractor whose
            ``forward`` returns the pooled (N, 1280) feature.
        in_channels: channels of the stem convolution (3 for RGB).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.in_channels = in_channels
        self.feature_dim = FEATURE_DIM
        layers: list[nn.Module] = [conv_bn_relu6(in_channels, 32, stride=2)]
        inp = 32
        for t, c, n, s in STAGES:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, expand_ratio=t))
                inp = c
        layers.append(conv_bn_relu6(inp, FEATURE_DIM, kernel=1))
        self.features = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.classifier: nn.Module = (nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, num_classes))
                                      if num_classes > 0 else nn.Identity())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) → globally average-pooled feature (N, 1280)."""
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) → logits (N, num_classes), or the pooled feature if num_classes=0."""
        return self.classifier(self.forward_features(x))


SPEC = Backbone(build=MobileNetV2, feature_dim=FEATURE_DIM, stem="features.0.0.weight", classifier="classifier.",
                imagenet=IMAGENET_URLS)
