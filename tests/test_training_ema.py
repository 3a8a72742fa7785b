"""train.ema_decay: the weight average is validated and checkpointed; resuming continues it exactly."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from evfer.config import ModelConfig
from evfer.models import Recognizer
from evfer.training.checkpoints import restore_model
from evfer.training.ema import WeightEMA
from evfer.training.module import RecognizerModule

DECAY = 0.6
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]  # Lightning's small-data warnings


@pytest.fixture(autouse=True)
def one_thread():
    """A network this small runs fastest on one thread (and least disturbs a parallel test run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Recorder(L.Callback):
    """The raw weights after every optimiser step, and the weights validation ran with."""

    def __init__(self):
        self.steps, self.validated = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append({k: v.detach().clone() for k, v in pl_module.net.state_dict().items()})

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if batch_idx == 0:
            self.validated.append(pl_module.net.fc.weight.detach().clone())


def fit(tmp_path, epochs: int, resume: str | None = None, recorder: Recorder | None = None):
    torch.manual_seed(0)
    net = Recognizer(ModelConfig(backbone="mobilenet_v2", hidden=8, dropout=0.0), 3, 2)
    module = RecognizerModule(net, partial(torch.optim.SGD, lr=0.05), classes=["a", "b", "c"], config={})
    g = torch.Generator().manual_seed(1)
    data = DataLoader(TensorDataset(torch.randn(6, 2, 2, 16, 16, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])),
                      batch_size=3)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
                        callbacks=[WeightEMA(DECAY), *([recorder] if recorder else []), ckpt])
    trainer.fit(module, data, data, ckpt_path=resume)
    return net, torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)


def test_checkpoint_holds_the_average_validation_uses_it(tmp_path):
    rec = Recorder()
    net, ckpt = fit(tmp_path, epochs=2, recorder=rec)
    assert len(rec.steps) == 4
    average = dict(rec.steps[0])  # the first step copies the weights, later ones blend them in
    for step in rec.steps[1:]:
        average = {k: DECAY * average[k] + (1 - DECAY) * v if v.is_floating_point() else v for k, v in step.items()}
    saved = restore_model(ckpt, "last.ckpt").state_dict()  # what evaluate/predict/export load
    for key in ("backbone.features.0.0.weight", "backbone.features.0.1.running_mean", "lstm.weight_hh_l0", "fc.bias"):
        torch.testing.assert_close(saved[key], average[key], rtol=1e-5, atol=1e-6, msg=key)
        assert torch.equal(net.state_dict()[key], rec.steps[-1][key]), key  # training goes on with raw weights
    assert not torch.allclose(saved["fc.weight"], rec.steps[-1]["fc.weight"])
    # validation after epoch 1 ran on the average of steps 1-2, not on the raw weights
    epoch1 = DECAY * rec.steps[0]["fc.weight"] + (1 - DECAY) * rec.steps[1]["fc.weight"]
    torch.testing.assert_close(rec.validated[0], epoch1)


def test_resume_continues_the_average_and_the_raw_weights(tmp_path):
    straight_net, straight = fit(tmp_path / "a", epochs=2)
    fit(tmp_path / "b", epochs=1)
    resumed_net, resumed = fit(tmp_path / "b", epochs=2, resume=str(tmp_path / "b" / "last.ckpt"))
    for key, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, msg=key)
    for key, value in straight_net.state_dict().items():
        torch.testing.assert_close(resumed_net.state_dict()[key], value, msg=key)
