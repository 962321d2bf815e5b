"""Config layering (defaults < file < flags < --set), coercion and validation."""

from __future__ import annotations

import json

import pytest

from edgeft.config import ClassifierConfig
from edgeft.config_loader import build_config, save_config
from edgeft.errors import ConfigError


def test_layers_override_in_order(tmp_path):
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('epochs = 5\nlr = 1e-4\nbatch_size = 8\nout = "x"\n')
    config = build_config(
        ClassifierConfig,
        config_file=cfg_file,
        flags={"lr": 2e-5, "batch_size": None},  # None = flag not given
        overrides=["batch_size=4", "multi_label=true"],
    )
    assert (config.epochs, config.lr, config.batch_size, config.multi_label) == (5.0, 2e-5, 4, True)
    assert config.seed == ClassifierConfig().seed


def test_set_coerces_types():
    config = build_config(ClassifierConfig, overrides=["epochs=2", "skip_empty=yes", "eval=none", "threshold=0.3"])
    assert config.epochs == 2.0 and config.skip_empty is True and config.eval is None and config.threshold == 0.3


@pytest.mark.parametrize(
    "override, message",
    [
        ("epoch=3", "unknown config key 'epoch'; did you mean 'epochs'?"),
        ("batch_size=big", "batch_size='big' is not a valid int"),
        ("batch_size=2.5", "batch_size='2.5' is not a valid int"),
        ("skip_empty=maybe", "skip_empty='maybe' is not a valid bool"),
        ("batch_size=0", "batch_size=0 must be >= 1"),
        ("device=tpu", "--set: config field device='tpu' must be auto, cpu or cuda"),
        ("lr", "expected key=value"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        build_config(ClassifierConfig, overrides=[override])


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: cannot parse config"):
        build_config(ClassifierConfig, config_file=bad)
    with pytest.raises(ConfigError, match="missing.toml: config file not found"):
        build_config(ClassifierConfig, config_file=tmp_path / "missing.toml")
    sections = tmp_path / "sections.toml"
    sections.write_text("[train]\nepochs = 3\n")
    with pytest.raises(ConfigError, match="sections are not supported"):
        build_config(ClassifierConfig, config_file=sections)


def test_saved_config_round_trips(tmp_path):
    config = build_config(ClassifierConfig, flags={"out": "models/x", "epochs": 7.0}, overrides=["multi_label=true"])
    save_config(config, tmp_path / "train_config.json")
    assert json.loads((tmp_path / "train_config.json").read_text())["epochs"] == 7.0
    again = build_config(ClassifierConfig, config_file=tmp_path / "train_config.json")
    assert again == config


def test_training_needs_data_and_output():
    with pytest.raises(ConfigError, match="pass --train FILE"):
        ClassifierConfig(out="x").require_io()
    with pytest.raises(ConfigError, match="pass --out DIR"):
        ClassifierConfig(train="t.csv").require_io()


def test_a_config_built_in_code_is_validated():
    """Benchmarks and notebooks construct configs directly: they get the CLI's checks too."""
    with pytest.raises(ConfigError, match="batch_size=0 must be >= 1"):
        ClassifierConfig(batch_size=0)
    from edgeft.config import NerConfig

    assert NerConfig(scheme="bio").scheme == "IOB2"  # normalised on construction
