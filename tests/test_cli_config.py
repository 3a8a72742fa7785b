"""`evfer config`: the config reference generated from the schema (and docs/config.md kept equal to
it); command-line habits: suggestions for mistyped commands and keys, help for every argument."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from conftest import ROOT
from evfer.cli import build_parser, main


def test_docs_config_md_is_the_generated_reference():
    from evfer.reference import markdown

    assert (ROOT / "docs" / "config.md").read_text() == markdown() + "\n", \
        "docs/config.md is stale: run `evfer config --markdown > docs/config.md`"


def test_every_key_of_the_schema_and_of_every_kind_is_documented():
    from evfer.config import Config
    from evfer.datasets.kinds import KINDS
    from evfer.reference import keys

    found = {k.name: k for k in keys()}
    assert all(k.doc for k in found.values()), [k.name for k in found.values() if not k.doc]
    # independent of the reference's walk: every field of every group and kind is there
    def names(cls, prefix):
        for f in dataclasses.fields(cls):
            if f.name in ("data", "split", "balance", "denoise", "emulator", "voxel", "model", "train", "augment"):
                yield from names(type(getattr(cls(), f.name)), prefix + f.name + ".")
            else:
                yield prefix + f.name
    assert set(names(Config, "")) <= set(found)
    for kind, cls in KINDS.items():
        assert {f"data.sources.{kind}.{f.name}" for f in dataclasses.fields(cls.Options)} <= set(found)


def test_evfer_config_prints_a_key_with_type_default_choices_and_meaning(capsys):
    assert main(["config", "train.select"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "train.select: choice, default val_acc; one of val_acc, val_loss, last"
    assert "ties: the later epoch" in out
    assert main(["config", "data.sources.videos.fps"]) == 0
    assert "float or null, default null" in capsys.readouterr().out
    assert main(["config", "model.backbone"]) == 0
    assert "one of resnet18, resnet34, resnet50, resnet101, resnet152, mobilenet_v2" in capsys.readouterr().out


def test_mistyped_keys_and_commands_get_a_suggestion(capsys):
    assert main(["config", "train.selct"]) == 2
    assert "no such config key; did you mean 'train.select'?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["trian", "cfg.yaml"])
    assert stop.value.code == 2
    assert "unknown command 'trian'; did you mean 'train'?" in capsys.readouterr().err


def test_every_argument_of_every_command_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {a.option_strings or a.dest}" for name, command in sub.choices.items()
               for a in command._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    assert not missing, missing
    assert "config" in sub.choices
