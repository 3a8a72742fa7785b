import pytest

from evfer.config import Config, dump_yaml, from_dict, load_config, to_dict
from evfer.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_match_the_documented_training_setup():
    cfg = load_config()
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.epochs) == (1e-4, 32, 50)
    assert cfg.model.backbone == "resnet50" and cfg.model.hidden == 512 and cfg.model.dropout == 0.5
    assert cfg.voxel.bins == 10 and cfg.data.split.fractions == [0.7, 0.2, 0.1]


def test_yaml_and_overrides(tmp_path):
    p = write(tmp_path, "data:\n  sources:\n    - {kind: nefer, root: /x, labels: reported}\nvoxel: {bins: 5}\n")
    cfg = load_config(p, ["voxel.windows=3", "train.lr=0.001", "data.sources.0.root=/y", "model.pretrained=null"])
    assert cfg.voxel.bins == 5 and cfg.voxel.windows == 3 and cfg.train.lr == 0.001
    assert cfg.data.sources[0].root == "/y" and cfg.data.sources[0].options == {"labels": "reported"}
    assert cfg.model.pretrained is None


def test_round_trip_through_yaml(tmp_path):
    from evfer.datasets.kinds import resolve_data

    cfg = load_config(None, ["data.sources=[{kind: synthetic, root: s, identities: 3}]", "train.epochs=2"])
    resolve_data(cfg)  # typed options, every default filled in
    saved = to_dict(cfg)
    assert saved["data"]["sources"][0]["identities"] == 3 and saved["data"]["sources"][0]["fps"] == 30.0
    again = load_config(write(tmp_path, dump_yaml(cfg)))
    resolve_data(again)
    assert to_dict(again) == saved


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epoch=3", r"train\.epoch: unknown config key; did you mean 'epochs'\?"),
        ("train.epochs=three", r"train\.epochs: expected an integer, got str 'three'"),
        ("train.precision=fp16", r"train\.precision: 'fp16' is not a valid choice \(valid: auto, bf16, fp32\)"),
        ("train.augment.flip=1", r"train\.augment\.flip: expected true or false"),
        ("bogus=1", r"bogus: unknown config key"),
        ("voxel.bins=0", r"voxel\.bins/windows: must be >= 1"),
        ("data.split.fractions=[0.5,0.5,0.5]", r"fractions: need three"),
        ("noequals", r"must look like key=value"),
    ],
)
def test_bad_keys_and_types_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_source_options_are_checked_per_kind():
    from evfer.datasets.kinds import resolve_data

    def resolve(raw):
        resolve_data(from_dict(Config, raw))

    with pytest.raises(ConfigError, match=r"data\.sources\.0\.identities: not an option of sources of kind 'nefer'"):
        resolve({"data": {"sources": [{"kind": "nefer", "root": "r", "identities": 4}]}})
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.kind: unknown source kind 'cifar'"):
        resolve({"data": {"sources": [{"kind": "cifar", "root": "r"}]}})
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.root: required key is missing"):
        resolve({"data": {"sources": [{"kind": "ckplus"}]}})
    with pytest.raises(ConfigError, match=r"data\.sources\.0\.limit: must be null or at least 1"):
        resolve({"data": {"sources": [{"kind": "ckplus", "root": "r", "limit": 0}]}})
    with pytest.raises(ConfigError, match=r"emulator: unknown emulator parameter 'pos_thresh'"):
        resolve({"emulator": {"params": {"pos_thresh": 0.1}}})
    with pytest.raises(ConfigError, match=r"emulator: unknown emulator preset 'dirty'"):
        resolve({"emulator": {"preset": "dirty"}})


@pytest.mark.parametrize("override, message", [
    ("train.augment.translate=-0.1", r"train\.augment\.translate: must be a fraction in \[0, 0\.5\]"),
    ("train.augment.jitter=1.5", r"train\.augment\.jitter: must be a fraction in \[0, 1\)"),
    ("data.workers=0", r"data\.workers: must be at least 1"),
    ("voxel.size=[4, 4]", r"voxel\.size: need \[W, H\] of at least 8"),
    ("data.denoise.radius=0", r"data\.denoise\.radius: must be at least 1 pixel"),
    ("data.denoise.window_us=-5", r"data\.denoise\.window_us: must be >= 0"),
])
def test_numeric_ranges_are_checked_with_the_key_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_backbone_is_checked_against_the_one_registry():
    from evfer.models import check_model_config

    with pytest.raises(ConfigError, match=r"model\.backbone: 'vgg' is not a valid choice \(valid: resnet18, resnet34"):
        check_model_config(load_config(None, ["model.backbone=vgg"]).model)


def test_missing_or_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line 2\)"):
        load_config(write(tmp_path, "a: 1\n b: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))
