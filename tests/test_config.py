import pytest

from evfer.config import dump_yaml, parse_config, to_dict
from evfer.configure import config_from_dict, load_config
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
    assert cfg.data.sources[0].root == "/y" and cfg.model.pretrained is None
    from evfer.datasets.nefer import NeferOptions

    # a loaded config is typed all the way down: the source's options are its kind's dataclass
    assert cfg.data.sources[0].options == NeferOptions(labels="reported")


def test_a_loaded_config_is_typed_and_loading_twice_changes_nothing(tmp_path):
    cfg = load_config(None, ["data.sources=[{kind: synthetic, root: s, identities: 3}]", "train.epochs=2"])
    options = cfg.data.sources[0].options
    assert (options.identities, options.fps, options.frame_size) == (3, 30.0, [128, 128])  # defaults filled in
    saved = to_dict(cfg)
    assert saved["data"]["sources"][0]["identities"] == 3 and saved["data"]["sources"][0]["fps"] == 30.0
    again = load_config(write(tmp_path, dump_yaml(cfg)))
    assert again == cfg and to_dict(again) == saved
    assert config_from_dict(saved) == cfg  # a checkpoint's stored config


def test_the_parser_alone_leaves_source_options_as_written():
    """evfer.config is the schema; only evfer.configure types the kinds' options (and so is the
    loader every command and script uses)."""
    raw = parse_config(None, ["data.sources=[{kind: ckplus, root: r, fps: 24}]"])
    assert raw.data.sources[0].options == {"fps": 24}
    assert load_config(None, ["data.sources=[{kind: ckplus, root: r, fps: 24}]"]).data.sources[0].options.fps == 24.0


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
    def resolve(raw):
        config_from_dict(raw)

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


@pytest.mark.parametrize("override, message", [
    ("model.backbone=resnet19", r"model\.backbone: 'resnet19' is not a valid choice; did you mean 'resnet18'\? "
                                r"\(valid: resnet18, resnet34"),
    ("voxel.representation=event_img", r"voxel\.representation: unknown representation 'event_img'; did you mean "
                                       r"'event_image'\?"),
    ("emulator.preset=cleen", r"emulator: unknown emulator preset 'cleen'; did you mean 'clean'\?"),
    ("data.sources=[{kind: ckpls, root: r}]", r"data\.sources\.0\.kind: unknown source kind 'ckpls'; did you mean "
                                              r"'ckplus'\?"),
    ("data.sources=[{kind: ckplus, root: r, fsp: 3}]", r"data\.sources\.0\.fsp: not an option of sources of kind "
                                                       r"'ckplus'; did you mean 'fps'\?"),
])
def test_every_registry_name_is_checked_at_load_with_a_suggestion(override, message):
    """Everything is checked when the config is loaded — a wrong backbone fails `evfer prepare` too,
    before any work — and every registry name gets a "did you mean"."""
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_missing_or_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line 2\)"):
        load_config(write(tmp_path, "a: 1\n b: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))
