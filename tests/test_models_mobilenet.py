"""MobileNetV2 with torchvision's names; ImageNet weights through a torch.hub cache (real and test-made)."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from evfer.config import ModelConfig
from evfer.errors import InputError
from evfer.models import BACKBONES, build_model, identify, load_pretrained
from evfer.models.mobilenet import MobileNetV2
from evfer.models.resnet import resnet

SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
MOBILENET_FILE = "mobilenet_v2-b0353104.pth"
MILITARY_UNIFORM, BOW_TIE = 652, 457  # ImageNet class indices


def no_network(url, *args, **kwargs):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture
def offline(monkeypatch):
    """torch.hub may read its cache but never download."""
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


@pytest.fixture
def shared_hub(monkeypatch, offline):
    """TORCH_HOME = ../shared/weights (a hub cache with torchvision's MobileNetV2 file), or skip."""
    if not (SHARED_WEIGHTS / "hub" / "checkpoints" / MOBILENET_FILE).is_file():
        pytest.skip(f"shared weights not available: {SHARED_WEIGHTS}")
    monkeypatch.setenv("TORCH_HOME", str(SHARED_WEIGHTS))
    return SHARED_WEIGHTS / "hub" / "checkpoints"


def test_parameter_count_and_keys_match_torchvision():
    model = MobileNetV2()
    # torchvision's MobileNet_V2_Weights.IMAGENET1K_V1.meta["num_params"]
    assert sum(p.numel() for p in model.parameters()) == 3_504_872
    sd = model.state_dict()
    # 52 convs + 52 BNs (5 entries each) + the classifier's linear layer
    assert len(sd) == 52 + 52 * 5 + 2
    expected = {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.0.1.running_var": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),  # t = 1: no expansion, depthwise first
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.weight": (16,),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),  # t = 6: expand 16 -> 96
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.2.conv.3.bias": (24,),
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1),
        "classifier.1.weight": (1000, 1280),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert model.features[2].conv[1][0].stride == (2, 2) and model.features[3].conv[1][0].stride == (1, 1)
    assert not model.features[2].use_res_connect and model.features[3].use_res_connect


def test_feature_mode_and_input_channels():
    model = MobileNetV2(num_classes=0, in_channels=10).eval()
    assert "classifier.1.weight" not in model.state_dict()
    assert model(torch.randn(2, 10, 64, 64)).shape == (2, 1280)
    assert identify(MobileNetV2().state_dict().keys()) == "mobilenet_v2"
    assert BACKBONES["mobilenet_v2"].feature_dim == 1280


def grace_hopper() -> torch.Tensor:
    """matplotlib's sample photo, torchvision's ImageNet preprocessing: resize 256, centre crop 224,
    normalise with the ImageNet mean and std → (1, 3, 224, 224)."""
    from PIL import Image

    img = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    w, h = img.size
    img = img.resize((round(w * 256 / min(w, h)), round(h * 256 / min(w, h))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    x = torch.from_numpy(np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32) / 255).permute(2, 0, 1)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    return ((x - mean[:, None, None]) / std[:, None, None])[None]


def test_real_imagenet_weights_from_the_hub_cache(shared_hub):
    official = torch.load(shared_hub / MOBILENET_FILE, map_location="cpu", weights_only=True)
    model = MobileNetV2()
    assert not model.load_state_dict(official, strict=True).missing_keys  # strict key match
    model = MobileNetV2()
    report = load_pretrained(model, "imagenet", "mobilenet_v2")  # via torch.hub, file found in the cache
    assert len(report.loaded) == len(official) and not (report.adapted or report.skipped or report.missing)
    with torch.no_grad():
        top5 = model.eval()(grace_hopper()).softmax(-1)[0].topk(5).indices.tolist()
    assert MILITARY_UNIFORM in top5 and BOW_TIE in top5, top5


def test_recognizer_stem_untouched_for_3_channels_adapted_otherwise(shared_hub):
    official = torch.load(shared_hub / MOBILENET_FILE, map_location="cpu", weights_only=True)
    stem = official["features.0.0.weight"]  # (32, 3, 3, 3)
    cfg = ModelConfig(backbone="mobilenet_v2", hidden=16, pretrained="imagenet")
    rgb = build_model(cfg, num_classes=6, in_channels=3)
    assert torch.equal(rgb.backbone.features[0][0].weight, stem)
    assert rgb.pretrained_report.adapted == {} and set(rgb.pretrained_report.skipped) == {
        "classifier.1.weight", "classifier.1.bias"}
    bins = build_model(cfg, num_classes=6, in_channels=10)
    torch.testing.assert_close(bins.backbone.features[0][0].weight.sum(1), stem.sum(1), rtol=1e-5, atol=1e-6)
    for key in ("features.5.conv.1.0.weight", "features.18.1.running_mean"):
        assert torch.equal(bins.backbone.state_dict()[key], official[key]), key
    rgb.eval()
    x = torch.randn(2, 1, 3, 64, 64)  # T = 1 window
    assert rgb(x).shape == (2, 6) and rgb.forward_timeline(x).shape == (2, 1, 6)


def test_resnet_imagenet_from_a_hub_cache_built_here(tmp_path, monkeypatch, offline):
    """`pretrained: imagenet` asks torch.hub by URL: a file under the official name in
    $TORCH_HOME/hub/checkpoints is used without network; without it, one line names file and folder."""
    torch.manual_seed(0)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in resnet("resnet18").state_dict().items()}
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cfg = ModelConfig(backbone="resnet18", hidden=8, pretrained="imagenet")
    folder = tmp_path / "hub" / "checkpoints"
    with pytest.raises(InputError) as err:
        build_model(cfg, num_classes=3, in_channels=3)
    msg = str(err.value)
    assert f"put resnet18-f37072fd.pth in {folder}" in msg and "cannot download" in msg and "\n" not in msg

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / os.path.basename(BACKBONES["resnet18"].imagenet["imagenet1k_v1"]))
    model = build_model(cfg, num_classes=3, in_channels=3)
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert model.pretrained_report.source == "imagenet"
