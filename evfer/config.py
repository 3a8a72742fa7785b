"""The configuration schema: typed groups, their parser, their plain form.

A run is described by one YAML file of groups (``data``, ``emulator``, ``voxel``, ``model``, ``train``)
plus ``key=value`` overrides from the command line. This module holds the dataclasses (the schema,
with a one-line comment per key that ``evfer config`` prints), parses YAML and overrides into them
(:func:`parse_config`: an unknown key or a value of the wrong type is a one-line :class:`ConfigError`
naming the key and the valid choices) and turns them back into plain data (:func:`to_dict`).

Load configs with :func:`evfer.configure.load_config`: it parses here, then types each source's
options with its kind's schema and checks the names the later stages register (kinds, emulator
presets, representations, backbones), so every field of the result is typed and checked.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from .atomic import write_text_atomic
from .errors import ConfigError, did_you_mean
from .typed import coerce, describe

# ------------------------------------------------------------------------------------------ groups


@dataclass
class SourceConfig:
    """One dataset source: ``kind`` names the reader (see :mod:`evfer.datasets.kinds`), ``root`` its
    folder, ``limit`` caps its clips (the first N by clip id; quick experiments), ``name`` tells two
    sources of one kind apart (it prefixes clip and subject ids; default: the kind). Every other key
    is an option of that kind: ``options`` is the kind's ``Options`` dataclass in every config
    :func:`evfer.configure.load_config` returns (the parser alone leaves the mapping as written);
    saving writes them back flat, beside ``kind``."""

    kind: str  # the source kind (its module reads the files; its options go beside this key)
    root: str  # the dataset's folder (relative paths: to the working directory)
    limit: int | None = None  # use a fixed subset of N clips (chosen by a hash of the clip ids); null = all
    name: str | None = None  # tells two sources of one kind apart: prefixes clip and subject ids (default: the kind)
    options: Any = field(default_factory=dict)  # the kind's Options dataclass (see the class doc)

    @property
    def label(self) -> str:
        """The source's name in clip ids, subject ids and reports: ``name``, else the kind."""
        return self.name or self.kind

    @classmethod
    def from_raw(cls, raw: dict[str, Any], path: str) -> SourceConfig:
        """Split a flat ``{kind, root, limit, <kind options>...}`` mapping into the fixed keys and options."""
        if "kind" not in raw or not isinstance(raw["kind"], str):
            raise ConfigError(f"{path}kind: required key is missing (the source's kind, e.g. ckplus)")
        if "root" not in raw:
            raise ConfigError(f"{path}root: required key is missing (the source's folder)")
        fixed = {k: raw[k] for k in ("kind", "root", "limit", "name") if k in raw}
        options = {k: v for k, v in raw.items() if k not in fixed}
        src = cls(kind=fixed["kind"], root=_coerce(str, fixed["root"], f"{path}root"),
                  limit=_coerce(int | None, fixed.get("limit"), f"{path}limit"),
                  name=_coerce(str | None, fixed.get("name"), f"{path}name"), options=options)
        _need(path, "limit", src.limit is None or src.limit >= 1, "null or at least 1")
        _need(path, "name", src.name is None or re.fullmatch(r"[A-Za-z0-9_.]+", src.name) is not None,
              "letters, digits, '_' or '.' (it names folders and prefixes ids)")
        return src

    def to_raw(self) -> dict[str, Any]:
        """The flat mapping again (typed options with their defaults filled in)."""
        name = {"name": self.name} if self.name else {}
        return {"kind": self.kind, **name, "root": self.root, **to_dict(self.options), "limit": self.limit}


def _need(path: str, key: str, ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(f"{path}{key}: must be {what}")


@dataclass
class SplitConfig:
    # subject: random subject-disjoint fractions; official: the dataset's own subject split (NEFER);
    # kfold: subject fold `fold` of `folds` is the test set (evfer cv sets it)
    method: Literal["subject", "official", "kfold"] = "subject"
    fractions: list[float] = field(default_factory=lambda: [0.7, 0.2, 0.1])  # train, val, test (val 0: no validation; select: last)
    folds: int = 5  # for kfold
    fold: int = 0  # which fold is the test fold (kfold)
    seed: int = 0  # seed of the subject assignment (the folds of evfer cv follow it, not the run's seed)

    def validate(self, path: str) -> None:
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-6:
            raise ConfigError(f"{path}fractions: need three non-negative fractions (train, val, test) summing to 1")
        if self.folds < 2 or not 0 <= self.fold < self.folds:
            raise ConfigError(f"{path}fold: need folds >= 2 and 0 <= fold < folds (got {self.fold}/{self.folds})")


@dataclass
class BalanceConfig:
    # of the training split only: oversample (repeat clips of rare classes), undersample, class_weights
    # (loss weights inverse to class frequency) or none
    method: Literal["none", "undersample", "oversample", "class_weights"] = "oversample"
    seed: int = 0  # seed of the clips oversampling repeats or undersampling drops


@dataclass
class DenoiseConfig:
    """Background-activity filter on emulated events: keep an event only if a neighbour within
    ``radius`` pixels fired within ``window_us`` before it. ``window_us = 0`` disables."""

    window_us: int = 0  # µs a neighbour's event may precede an event for it to be kept; 0 = no filter
    radius: int = 1  # neighbourhood radius in pixels

    def validate(self, path: str) -> None:
        _need(path, "window_us", self.window_us >= 0, ">= 0 µs (0 disables the filter)")
        _need(path, "radius", self.radius >= 1, "at least 1 pixel")


@dataclass
class DataConfig:
    sources: list[SourceConfig] = field(default_factory=list)  # the datasets, each {kind, root, ...its options}
    label_set: Literal["six", "ekman7"] = "six"  # six: happy, sad, angry, confused, shocked, neutral; ekman7
    label_map: dict[str, str | None] = field(default_factory=dict)  # overrides of the default table
    split: SplitConfig = field(default_factory=SplitConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    denoise: DenoiseConfig = field(default_factory=DenoiseConfig)
    out: str = "runs/data"  # prepared dataset folder (events, manifest, voxel caches)
    workers: int = 2  # processes making clips' events and voxel planes in prepare

    def validate(self, path: str) -> None:
        _need(path, "workers", self.workers >= 1, "at least 1")


@dataclass
class EmulatorConfig:
    """The DVS emulator for frame sources. ``preset`` and ``params`` (overrides of single parameters)
    are checked against the emulator's own tables (:func:`evfer.emulator.resolve_params`) when the
    config is loaded (:func:`evfer.configure.load_config`)."""

    preset: str = "clean"  # clean, noisy or v2e
    params: dict[str, Any] = field(default_factory=dict)  # overrides of the preset's parameters
    seed: int = 0  # with each clip's id, seeds its threshold mismatch and noise (same seed: same events)
    device: str = "auto"  # torch device for emulation: auto (CUDA when present), cpu, cuda, cuda:1, ...

    def torch_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class VoxelConfig:
    """What the model sees of a clip (:mod:`evfer.voxel.representations`): ``windows`` equal windows
    of the clip span, each turned into planes by ``representation`` at ``size``."""

    representation: str = "voxel_grid"  # voxel_grid, histogram, event_image (see evfer.voxel.REPRESENTATIONS)
    bins: int = 10  # time bins per window (voxel_grid)
    windows: int = 6  # T windows per clip, for the LSTM
    size: list[int] = field(default_factory=lambda: [112, 112])  # [W, H] of the planes
    # rms: the clip divided by the RMS of its non-zero voxels (keeps polarity signs, zeros and the
    # relative activity of windows); e2vid: per-window mean/std of the non-zero voxels (Rebecq et al.;
    # the mean shift flips the sign of weak voxels); none: raw bilinear event counts
    normalize: Literal["rms", "e2vid", "none"] = "rms"
    resize: Literal["area", "events"] = "area"  # area pooling (any factor) or event-coordinate scaling

    def validate(self, path: str) -> None:
        if self.bins < 1 or self.windows < 1:
            raise ConfigError(f"{path}bins/windows: must be >= 1 (got {self.bins}, {self.windows})")
        if len(self.size) != 2 or min(self.size) < 8:
            raise ConfigError(f"{path}size: need [W, H] of at least 8 pixels each (got {self.size})")


@dataclass
class ModelConfig:
    """Architecture of the backbone + LSTM recognizer (:class:`evfer.models.Recognizer`).

    ``backbone`` names an entry of the registry :data:`evfer.models.BACKBONES`, checked by
    :func:`evfer.models.check_model_config` (this module does not import the models). Together with
    the class count and the input channels it is the whole architecture stored in a checkpoint;
    ``pretrained`` is provenance only once trained (restoring a checkpoint never re-reads it).
    """

    backbone: str = "resnet50"  # the per-window feature extractor (evfer.models.BACKBONES)
    hidden: int = 512  # LSTM hidden size
    dropout: float = 0.5  # before the classifier
    pretrained: str | None = None  # checkpoint path, "imagenet" (torch.hub), or None

    def validate(self, path: str) -> None:
        _need(path, "hidden", self.hidden >= 1, "at least 1")
        _need(path, "dropout", 0 <= self.dropout < 1, "in [0, 1)")


@dataclass
class AugmentConfig:
    flip: bool = True  # horizontal flip (faces are near-symmetric)
    translate: float = 0.05  # max shift, fraction of the size; 0 disables
    scale: float = 0.05  # max zoom in/out, fraction; 0 disables
    jitter: float = 0.1  # event-count jitter: a clip keeps a fraction U(1-j, 1) of its non-zero voxels; 0 disables

    def validate(self, path: str) -> None:
        _need(path, "translate", 0 <= self.translate <= 0.5, "a fraction in [0, 0.5] (0 disables)")
        _need(path, "scale", 0 <= self.scale < 1, "a fraction in [0, 1) (0 disables)")
        _need(path, "jitter", 0 <= self.jitter < 1, "a fraction in [0, 1) (0 disables)")


@dataclass
class TrainConfig:
    lr: float = 1e-4  # Adam's learning rate
    scheduler: Literal["none", "cosine"] = "none"  # cosine: anneal lr to 0 over train.epochs (after warm-up)
    weight_decay: float = 0.0  # Adam's L2 penalty
    batch_size: int = 32  # clips per training step
    epochs: int = 50  # the training budget
    # the model a run keeps (checkpoints/best.ckpt): val_acc = the epoch of highest validation accuracy,
    # val_loss = of lowest validation loss (ties: the later epoch); last = the last epoch (a fixed budget)
    select: Literal["val_acc", "val_loss", "last"] = "val_acc"
    patience: int = 10  # early stopping on the select metric (val_acc / val_loss; none with select: last)
    # > 0: the kept model is the mean of the weights at the end of the last N epochs (SWA-style; select: last)
    average_epochs: int = 0
    head_epochs: int = 0  # the first N epochs train the LSTM head only, the backbone fixed (a linear probe)
    ensemble: int = 1  # K > 1: K members (seeds seed, seed+1, ...) kept as one model averaging probabilities
    ensemble_workers: int = 0  # members trained at once (processes; CPU only); 0 = as many as the cores allow
    # auto: bf16 where the hardware computes it natively (CUDA with bf16; CPU with AVX512-BF16/AMX), else fp32
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    channels_last: bool = True  # channels-last memory format for the backbone (faster convolutions)
    accelerator: str = "auto"  # Lightning's: auto (CUDA when present), cpu, gpu, ...
    devices: Union[int, str] = "auto"  # Lightning's: how many devices (DDP with more than one)
    num_nodes: int = 1  # Lightning's: machines of a multi-node run
    strategy: str = "auto"  # Lightning's: auto, ddp, ...
    num_workers: int = 0  # data loader worker processes (0: in the training process)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    val_every: int = 1  # validate every N epochs
    limit_batches: float | None = None  # fraction/number of batches per epoch (smoke tests)
    deterministic: bool = False  # deterministic algorithms only (slower; CPU runs are then repeatable)
    # --- fine-tuning recipe (defaults: off)
    backbone_lr: float | None = None  # learning rate of the backbone; null = train.lr (the LSTM head keeps train.lr)
    warmup_epochs: int = 0  # linear warm-up from lr/(w+1) to lr over the first w epochs
    label_smoothing: float = 0.0  # of the training loss (validation loss stays plain cross-entropy)
    mixup: float = 0.0  # mixup alpha: mix clip pairs with weight ~ Beta(alpha, alpha); 0 disables
    bn: Literal["train", "frozen"] = "train"  # frozen: backbone BatchNorms keep their statistics and affine weights
    ema_decay: float = 0.0  # exponential moving average of the weights per step (validated, saved); 0 disables
    tta_flip: bool = False  # evaluate/predict: average the probabilities of each clip and its mirror image
    # csv: logs/metrics.csv (always written: curves and the report read it); tensorboard: also
    # TensorBoard event files in <run>/tensorboard (needs the tensorboard package)
    logger: Literal["csv", "tensorboard"] = "csv"

    def validate(self, path: str) -> None:
        _need(path, "lr", self.lr > 0, "a positive learning rate")
        _need(path, "weight_decay", self.weight_decay >= 0, ">= 0")
        _need(path, "batch_size", self.batch_size >= 1, "at least 1")
        _need(path, "epochs", self.epochs >= 1, "at least 1")
        _need(path, "patience", self.patience >= 1, "at least 1")
        _need(path, "num_workers", self.num_workers >= 0, ">= 0")
        _need(path, "val_every", self.val_every >= 1, "at least 1")
        _need(path, "num_nodes", self.num_nodes >= 1, "at least 1")
        _need(path, "backbone_lr", self.backbone_lr is None or self.backbone_lr >= 0, "null or >= 0 (0 freezes it)")
        _need(path, "warmup_epochs", 0 <= self.warmup_epochs < self.epochs, "in [0, train.epochs)")
        _need(path, "label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)")
        _need(path, "mixup", self.mixup >= 0, ">= 0 (0 disables)")
        _need(path, "ema_decay", 0 <= self.ema_decay < 1, "in [0, 1) (0 disables)")
        _need(path, "average_epochs", 0 <= self.average_epochs <= self.epochs, "in [0, train.epochs] (0 disables)")
        _need(path, "average_epochs", self.average_epochs == 0 or self.select == "last",
              "0 unless train.select is last (the average of the last epochs is the kept model)")
        _need(path, "average_epochs", self.average_epochs == 0 or self.ema_decay == 0,
              "0 when train.ema_decay is set (one weight average at a time)")
        _need(path, "head_epochs", 0 <= self.head_epochs <= self.epochs, "in [0, train.epochs]")
        _need(path, "ensemble", self.ensemble >= 1, "at least 1")
        _need(path, "ensemble_workers", self.ensemble_workers >= 0, ">= 0 (0: as many as the cores allow)")


@dataclass
class Config:
    """A run: the data, the emulator, what the model sees, the model, its training."""

    seed: int = 0  # initialisation, augmentation and ensemble members follow it (splits: data.split.seed)
    data: DataConfig = field(default_factory=DataConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    voxel: VoxelConfig = field(default_factory=VoxelConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# ------------------------------------------------------------------------------------------ loading


def parse_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config (or start from defaults), apply ``key=value`` overrides, check it against
    the schema. Sources keep their options as written: use :func:`evfer.configure.load_config`,
    which also types and checks those."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" (line {where.line + 1})" if where is not None else ""
            raise ConfigError(f"{path}: not valid YAML{at}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of config groups at the top level")
        check_size(raw, str(path))
    for item in overrides:
        apply_override(raw, item)
    return from_dict(Config, raw)


#: the most values a config may hold once YAML's aliases are expanded (a real one holds a few hundred)
MAX_VALUES = 100_000


def check_size(raw: Any, where: str) -> None:
    """ConfigError when ``raw`` expands to more than :data:`MAX_VALUES` values: YAML aliases can make
    a few hundred bytes stand for billions of values (and every stage walks them)."""
    seen = 0
    stack = [raw]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ConfigError(f"{where}: more than {MAX_VALUES:,} values once its YAML aliases are expanded; "
                              "not a config")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; ``value`` is parsed as YAML (numbers, lists, null)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key=value, e.g. train.epochs=5")
    key, _, text = item.partition("=")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    check_size(value, f"override {key.strip()}")
    parts = key.strip().split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts[: i + 1])]
            continue
        if part not in node or node[part] is None:
            nxt = parts[i + 1]
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, parts)] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override key {'.'.join(parts)}: no list element {part} (list has {len(node)})")
    return int(part)


def from_dict(cls: type, raw: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``raw``, checking keys and types; errors name the dotted key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {describe(raw)}")
    if hasattr(cls, "from_raw"):
        return cls.from_raw(raw, path)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(_unknown_key(f"{path}{key}", key, list(fields)))
        kwargs[key] = _coerce(hints[key], value, f"{path}{key}")
    for name, f in fields.items():
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}{name}: required key is missing")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(path)
    return obj


def _coerce(tp: Any, value: Any, path: str) -> Any:
    """``value`` checked against the type hint ``tp`` (:func:`evfer.typed.coerce`); a nested group
    (a dataclass) is built with :func:`from_dict`."""
    return coerce(tp, value, path, build=lambda cls, raw, where: from_dict(cls, raw, where + "."))


def _unknown_key(path: str, key: str, valid: list[str]) -> str:
    return f"{path}: unknown config key{did_you_mean(key, valid)} (valid keys: {', '.join(valid)})"


# ------------------------------------------------------------------------------------------ saving


def to_dict(cfg: Any) -> Any:
    """Plain, YAML/JSON-serialisable form of a config (lists, dicts, scalars)."""
    if hasattr(cfg, "to_raw"):
        return cfg.to_raw()
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def save_config(cfg: Any, path: str | Path, header: str | None = None) -> None:
    """Write the resolved config as YAML (atomically), after a ``# header`` comment line when given."""

    write_text_atomic(path, (f"# {header}\n" if header else "") + dump_yaml(cfg))
