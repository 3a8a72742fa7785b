"""ResNet + LSTM expression recognizer over a clip of voxel-grid windows.

Shapes: input (B, T, C, H, W) float — B clips, T time windows, C = voxel bins; the backbone maps
each window to a pooled feature (B, T, F); a single-layer LSTM (batch_first) runs over the T
windows; dropout and a linear layer turn the hidden state into logits. :meth:`ResNetLSTM.forward`
classifies from the last time step, i.e. after the LSTM has seen the whole clip;
:meth:`ResNetLSTM.forward_timeline` gives the classifier output after every step (the prediction
timeline). Softmax is applied only by :meth:`ResNetLSTM.predict_proba`.

Precision: the backbone follows whatever autocast is active (bf16 on CPU / CUDA) and works in
channels_last memory format; the LSTM and the classifier always run in float32 (autocast is
switched off around them). On CPU, autocast would otherwise run the LSTM in bf16 (measured with
torch 2.13), whose recurrence accumulates rounding over T steps; the LSTM is ~2 % of the FLOPs at 64x64.
The logits are therefore float32 under every precision setting. No device is hard-coded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, InputError
from .pretrained import IMAGENET_CHOICES, LoadReport, load_pretrained_resnet, read_checkpoint
from .resnet import ARCHITECTURES, resnet

#: key under which :func:`save_checkpoint` stores the architecture hyper-parameters.
HPARAMS_KEY = "evfer_model"


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters of :class:`ResNetLSTM` (the ``model:`` section of a config).

    ``pretrained`` is provenance only once a model is trained: restoring from a checkpoint never
    re-reads it (the checkpoint's weights win).
    """

    num_classes: int
    in_channels: int = 10
    backbone: str = "resnet50"
    hidden: int = 512
    dropout: float = 0.5
    pretrained: str | None = None
    zero_init_residual: bool = False

    def __post_init__(self):
        def need(ok: bool, key: str, what: str):
            if not ok:
                raise ConfigError(f"model.{key}: {getattr(self, key)!r} is not {what}")

        def is_int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        need(is_int(self.num_classes) and self.num_classes >= 2, "num_classes", "an integer >= 2")
        need(is_int(self.in_channels) and self.in_channels >= 1, "in_channels", "an integer >= 1")
        need(self.backbone in ARCHITECTURES, "backbone", f"one of {', '.join(ARCHITECTURES)}")
        need(is_int(self.hidden) and self.hidden >= 1, "hidden", "an integer >= 1")
        need(isinstance(self.dropout, (int, float)) and not isinstance(self.dropout, bool)
             and 0.0 <= self.dropout < 1.0, "dropout", "a number in [0, 1)")
        need(self.pretrained is None or isinstance(self.pretrained, (str, os.PathLike)), "pretrained",
             f"null, a checkpoint path or one of {', '.join(IMAGENET_CHOICES)}")
        need(isinstance(self.zero_init_residual, bool), "zero_init_residual", "true or false")
        if isinstance(self.pretrained, os.PathLike):
            object.__setattr__(self, "pretrained", os.fspath(self.pretrained))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], **overrides) -> ModelConfig:
        """Build from a config mapping; unknown keys → ConfigError listing the valid ones."""
        values = {**values, **overrides}
        valid = [f.name for f in fields(cls)]
        unknown = [k for k in values if k not in valid]
        if unknown:
            raise ConfigError(f"model.{unknown[0]}: unknown key (valid: {', '.join(valid)})")
        if "num_classes" not in values:
            raise ConfigError("model.num_classes: missing (the number of expression classes)")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe) to store with a checkpoint."""
        return asdict(self)


class ResNetLSTM(nn.Module):
    """Per-window ResNet features → LSTM over windows → dropout → linear → logits.

    Args:
        num_classes: number of expression classes K.
        in_channels: voxel bins C per window (first-conv input channels).
        backbone: "resnet18" | "resnet34" | "resnet50" (default) | "resnet101" | "resnet152".
        hidden: LSTM hidden size.
        dropout: dropout probability before the classifier.
        pretrained: None, a torchvision/timm checkpoint path, or "imagenet" (download); see
            :func:`evfer.models.pretrained.load_pretrained_resnet`. The report is kept in
            ``self.pretrained_report``.
        zero_init_residual: torchvision's option for the backbone's residual BNs.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 10,
        backbone: str = "resnet50",
        hidden: int = 512,
        dropout: float = 0.5,
        pretrained: str | os.PathLike | None = None,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        self.config = ModelConfig(num_classes=num_classes, in_channels=in_channels, backbone=backbone,
                                  hidden=hidden, dropout=dropout, pretrained=pretrained,
                                  zero_init_residual=zero_init_residual)
        self.backbone = resnet(backbone, num_classes=0, in_channels=in_channels,
                               zero_init_residual=zero_init_residual)
        self.lstm = nn.LSTM(self.backbone.feature_dim, hidden, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)
        self.pretrained_report: LoadReport | None = None
        if pretrained is not None:
            self.pretrained_report = load_pretrained_resnet(self.backbone, pretrained, backbone)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def hparams(self) -> dict[str, Any]:
        """Architecture hyper-parameters (plain dict) for a checkpoint; see :func:`build_model`."""
        return self.config.to_dict()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → pooled backbone features (B, T, F), F = 512 or 2048."""
        if x.dim() != 5:
            raise ValueError(f"expected input (B, T, C, H, W), got shape {tuple(x.shape)}")
        b, t = x.shape[:2]
        frames = x.reshape(b * t, *x.shape[2:])
        weight = self.backbone.conv1.weight
        if not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last):
            frames = frames.contiguous(memory_format=torch.channels_last)
        return self.backbone(frames).reshape(b, t, -1)

    def _head(self, feats: torch.Tensor, last_only: bool) -> torch.Tensor:
        """LSTM + dropout + fc in float32 with autocast off; (B, T, F) → (B, K) or (B, T, K)."""
        device_type = feats.device.type
        if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
            with torch.autocast(device_type=device_type, enabled=False):
                return self._head(feats, last_only)
        out, _ = self.lstm(feats.float())
        if last_only:
            out = out[:, -1]
        return self.fc(self.dropout(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) float → logits (B, K), float32, from the last time step."""
        return self._head(self.features(x), last_only=True)

    def forward_timeline(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → logits (B, T, K): step t classifies windows 0..t (the last equals forward)."""
        return self._head(self.features(x), last_only=False)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, timeline: bool = False) -> torch.Tensor:
        """Class probabilities (B, K), or (B, T, K) with ``timeline``. Call ``.eval()`` first."""
        logits = self.forward_timeline(x) if timeline else self(x)
        return torch.softmax(logits.float(), dim=-1)


def build_model(config: Mapping[str, Any] | ModelConfig | None = None, /, **overrides) -> ResNetLSTM:
    """A :class:`ResNetLSTM` from a ``model:`` config mapping and/or keyword arguments.

    Unknown keys, wrong types and unknown backbones raise a ConfigError naming the key and the valid
    choices, e.g. ``build_model({"num_classes": 7, "backbone": "resnet18"}, in_channels=5)``.
    """
    if isinstance(config, ModelConfig):
        config = config.to_dict()
    cfg = ModelConfig.from_mapping(config or {}, **overrides)
    return ResNetLSTM(**cfg.to_dict())


# --- checkpoints -----------------------------------------------------------------------------------


def save_checkpoint(
    model: ResNetLSTM, path: str | os.PathLike, extra: Mapping[str, Any] | None = None
) -> None:
    """Write {"evfer_model": hparams, "state_dict": ..., **extra} atomically with torch.save."""
    from ..atomic import atomic_path

    payload = {**(extra or {}), HPARAMS_KEY: model.hparams(), "state_dict": model.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def find_hparams(ckpt: Mapping[str, Any]) -> dict[str, Any] | None:
    """Architecture hparams in a checkpoint: ckpt["evfer_model"], else in Lightning's
    ckpt["hyper_parameters"]: its "evfer_model" / "model" entry, any other entry holding
    num_classes and backbone, or the hyper_parameters themselves."""
    if isinstance(ckpt.get(HPARAMS_KEY), Mapping):
        return dict(ckpt[HPARAMS_KEY])
    hp = ckpt.get("hyper_parameters")
    if isinstance(hp, Mapping):
        nested = [hp.get(HPARAMS_KEY), hp.get("model"), *hp.values()]
        for value in nested:
            if isinstance(value, Mapping) and "num_classes" in value and "backbone" in value:
                return dict(value)
        if "num_classes" in hp and "backbone" in hp:
            names = {f.name for f in fields(ModelConfig)}
            return {k: v for k, v in hp.items() if k in names}
    return None


def model_state(ckpt: Mapping[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors from ``ckpt["state_dict"]`` (or ckpt), wrapper prefix removed
    (Lightning "model.", DDP "module.", ...), located by the key of the LSTM input weights."""
    state = ckpt.get("state_dict", ckpt)
    anchor = "lstm.weight_ih_l0"
    hits = [k for k in state if k == anchor or k.endswith("." + anchor)]
    if not hits:
        return {k: v for k, v in state.items() if torch.is_tensor(v)}
    prefix = min(hits, key=len)[: -len(anchor)]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and torch.is_tensor(v)}


def check_compatible(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str | os.PathLike | None
) -> None:
    """InputError (one line, naming ``source``) unless ``state`` has exactly ``model``'s keys and shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or wrong):
        return
    problems = []
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} in the "
                        f"checkpoint, {tuple(own[k].shape)} in the model)")
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    arch = getattr(model, "config", None)
    what = (f"{arch.backbone}+LSTM{arch.hidden}, {arch.in_channels} bins, {arch.num_classes} classes"
            if isinstance(arch, ModelConfig) else type(model).__name__)
    raise InputError(source, f"checkpoint is for another architecture than {what}: " + "; ".join(problems))


def load_model(checkpoint: str | os.PathLike | Mapping[str, Any], *, source: str | os.PathLike | None = None,
               expect: Mapping[str, Any] | None = None) -> ResNetLSTM:
    """Rebuild a :class:`ResNetLSTM` from a checkpoint (file or already-loaded dict) and load its weights.

    The architecture comes from the stored hparams (:func:`find_hparams`); ``pretrained`` is not
    re-read. ``expect`` (e.g. the current config's model section) must agree with the stored hparams
    on every architecture key it names, else a one-line InputError names the difference.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        source = source or checkpoint
        checkpoint = read_checkpoint(checkpoint)
    source = os.fspath(source) if source is not None else None
    hp = find_hparams(checkpoint)
    if hp is None:
        raise InputError(source, "checkpoint has no evfer model hyper-parameters (not an evfer checkpoint)")
    try:
        cfg = ModelConfig.from_mapping(hp, pretrained=None)
    except ConfigError as exc:
        raise InputError(source, f"stored model hyper-parameters are invalid: {exc}") from None
    for key, value in (expect or {}).items():
        if key != "pretrained" and key in hp and hp[key] != value:
            raise InputError(source, f"checkpoint is a model with {key}={hp[key]!r}, "
                                     f"expected {key}={value!r}")
    model = ResNetLSTM(**cfg.to_dict())
    state = model_state(checkpoint, model)
    check_compatible(model, state, source)
    model.load_state_dict(state, strict=True)
    model.config = ModelConfig.from_mapping(hp)  # keep the recorded pretrained provenance
    return model

