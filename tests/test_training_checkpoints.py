"""evfer.training.checkpoints and the module's checkpoint contents: self-describing checkpoints."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from evfer.config import Config, ModelConfig, to_dict
from evfer.configure import load_config
from evfer.errors import InputError
from evfer.models import Recognizer
from evfer.training.checkpoints import find_checkpoint, load_checkpoint, read_config, restore_model
from evfer.training.module import RecognizerModule

pytestmark = pytest.mark.slow  # trains and loads real networks

CLASSES = ["a", "b", "c"]


def tiny_net(num_classes: int = 3, in_channels: int = 2, seed: int = 0) -> Recognizer:
    torch.manual_seed(seed)
    return Recognizer(ModelConfig(backbone="resnet18", hidden=8), num_classes, in_channels)


def lightning_style(net: Recognizer, cfg: Config, prefix: str = "net.") -> dict:
    """The checkpoint layout RecognizerModule + Lightning write (the parts evfer reads)."""
    return {"state_dict": {prefix + k: v for k, v in net.state_dict().items()}, "epoch": 2,
            "hyper_parameters": {"architecture": net.architecture(), "classes": CLASSES, "config": to_dict(cfg)}}


def test_a_real_lightning_checkpoint_restores_model_classes_and_config(tmp_path):
    cfg = load_config(None, ["data.out=/abs/d", "voxel.bins=2", "train.lr=0.01"])
    net = tiny_net()
    module = RecognizerModule(net, partial(torch.optim.SGD, lr=0.1), classes=CLASSES, config=to_dict(cfg))
    x, y = torch.randn(4, 2, 2, 16, 16), torch.tensor([0, 1, 2, 0])
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        default_root_dir=tmp_path,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=2))
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)

    hp = torch.load(path, weights_only=True)["hyper_parameters"]
    assert {"architecture", "classes", "config"} <= set(hp) and not {"net", "optimizer", "scheduler"} & set(hp)
    restored = load_checkpoint(path)
    assert restored.classes == CLASSES and restored.config == cfg and read_config(path) == cfg
    assert restored.model.architecture() == net.architecture() and not restored.model.training
    net.eval()
    torch.testing.assert_close(restored.model(x), net(x))
    assert not torch.equal(restored.model.fc.weight, tiny_net().fc.weight)  # trained weights, not the init


def test_configure_optimizers_uses_the_injected_factories():
    net = tiny_net()
    module = RecognizerModule(net, partial(torch.optim.Adam, lr=3e-4, weight_decay=0.1),
                              partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=7),
                              classes=CLASSES, config={})
    out = module.configure_optimizers()
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 3e-4 and opt.defaults["weight_decay"] == 0.1
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in net.parameters()]
    assert sched.T_max == 7 and out["lr_scheduler"]["interval"] == "epoch"
    plain = RecognizerModule(net, partial(torch.optim.SGD, lr=0.5), classes=CLASSES, config={})
    assert isinstance(plain.configure_optimizers(), torch.optim.SGD)


def test_restore_from_file_dict_and_old_layout(tmp_path):
    net = tiny_net().eval()
    path = tmp_path / "m.ckpt"
    torch.save(lightning_style(net, Config()), path)
    x = torch.randn(1, 2, 2, 32, 32)
    model, classes, cfg = load_checkpoint(path)
    torch.testing.assert_close(model(x), net(x))
    assert classes == CLASSES and cfg == Config()
    # evfer <= 0.1.0: "evfer_model" hyper-parameters with zero_init_residual, Lightning prefix "model."
    old = lightning_style(net, Config(), prefix="model.")
    old["hyper_parameters"]["evfer_model"] = {**old["hyper_parameters"].pop("architecture"),
                                             "zero_init_residual": False}
    torch.testing.assert_close(restore_model(old, "old.ckpt").eval()(x), net(x))


def test_architecture_errors_are_one_line(tmp_path):
    net = tiny_net()
    ckpt = lightning_style(net, Config())
    # an architecture that lies about the weights: a clear message, not a torch size-mismatch traceback
    ckpt["hyper_parameters"]["architecture"]["num_classes"] = 5
    with pytest.raises(InputError, match=r"x\.ckpt: checkpoint is for another architecture than resnet18\+LSTM8, "
                                         r"2 input channels, 5 classes: .* fc\.weight: \(3, 8\) in the checkpoint, "
                                         r"\(5, 8\) in the model"):
        restore_model(ckpt, source="x.ckpt")
    ckpt["hyper_parameters"]["architecture"]["num_classes"] = None
    with pytest.raises(InputError, match=r"x\.ckpt: stored model architecture is invalid"):
        restore_model(ckpt, source="x.ckpt")
    with pytest.raises(InputError, match="no evfer model architecture"):
        restore_model({"state_dict": net.state_dict()}, source="x.ckpt")
    path = tmp_path / "plain.ckpt"
    torch.save({"state_dict": net.state_dict()}, path)
    with pytest.raises(InputError, match=r"plain\.ckpt: not an evfer training checkpoint"):
        load_checkpoint(path)
    bad = lightning_style(net, Config())
    bad["hyper_parameters"]["config"]["train"]["epochs"] = "many"
    torch.save(bad, path)
    with pytest.raises(InputError, match=r"plain\.ckpt: stored run config is not valid .*train\.epochs"):
        read_config(path)


def test_find_checkpoint_prefers_best(tmp_path):
    with pytest.raises(InputError, match="no model in this run directory"):
        find_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "last.ckpt"
    (tmp_path / "checkpoints" / "best.ckpt").write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "best.ckpt"
