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


# --- each option declared once: flags, --set, files, --print-config and the saved config -------


def test_a_new_option_is_one_field(tmp_path):
    """The ARCHITECTURE example: one field in a config class gives the flag (help, default), the
    --set key, the file key, the check and the saved config; nothing else is edited."""
    import dataclasses

    import typer
    from edgeft_runtime.options import Interval, option
    from typer.testing import CliRunner

    from edgeft.cli.declared import with_flags

    @dataclasses.dataclass
    class WithSmoothing(ClassifierConfig):
        label_smoothing: float = option(0.0, "Share of the target mass spread over the other labels.", Interval(0, 1, high_open=True))

    app = typer.Typer(rich_markup_mode=None)
    built = []

    @app.command()
    @with_flags(WithSmoothing)
    def run(flags: dict, set_: list[str] = typer.Option([], "--set"), config: str = typer.Option(None, "--config")) -> None:
        built.append(build_config(WithSmoothing, config_file=config, flags=flags, overrides=set_))

    runner = CliRunner()
    help_text = " ".join(runner.invoke(app, ["--help"]).output.split())
    assert "--label-smoothing FLOAT" in help_text or "--label-smoothing <float>" in help_text
    assert "Share of the target mass spread over the other labels. [default: 0]" in help_text
    (tmp_path / "c.toml").write_text("label_smoothing = 0.3\n")
    for args, expected in [
        ([], 0.0), (["--label-smoothing", "0.1"], 0.1), (["--set", "label_smoothing=0.2"], 0.2), (["--config", str(tmp_path / "c.toml")], 0.3),
    ]:
        assert runner.invoke(app, args).exit_code == 0
        assert built[-1].label_smoothing == expected
    refused = runner.invoke(app, ["--label-smoothing", "1"])
    assert refused.exit_code != 0 and "--label-smoothing: config field label_smoothing=1.0 must be in [0, 1)" in str(refused.exception)
    save_config(built[-1], tmp_path / "train_config.json")
    assert json.loads((tmp_path / "train_config.json").read_text())["label_smoothing"] == 0.3


def test_flags_not_given_leave_the_config_file_alone(tmp_path):
    from typer.testing import CliRunner

    from edgeft.cli import app

    (tmp_path / "c.toml").write_text('epochs = 5\nseed = 7\nmulti_label = true\n')

    def printed(*args: str) -> dict:
        result = CliRunner().invoke(app, ["train", "classifier", "-c", str(tmp_path / "c.toml"), "--print-config", *args])
        assert result.exit_code == 0, result.output
        import tomllib

        return tomllib.loads(result.output)

    assert (printed()["epochs"], printed()["seed"], printed()["multi_label"]) == (5.0, 7, True)
    assert printed("--epochs", "2", "--single-label")["epochs"] == 2.0
    assert printed("--single-label")["multi_label"] is False
    assert printed("--epochs", "2", "--set", "epochs=3")["epochs"] == 3.0


def test_a_bad_value_names_where_it_came_from(tmp_path):
    from typer.testing import CliRunner

    from edgeft.cli import app

    (tmp_path / "c.toml").write_text("seed = -1\n")
    cases = [
        (["--seed", "-1"], "error: --seed: config field seed=-1 must be in [0, 4294967295]"),
        (["--set", "seed=-1"], "error: --set: config field seed=-1 must be in [0, 4294967295]"),
        (["-c", str(tmp_path / "c.toml")], f"error: {tmp_path / 'c.toml'}: config field seed=-1 must be in [0, 4294967295]"),
        (["--seeds", "1,4294967296"], "error: --seeds: config field seeds=4294967296 must be in [0, 4294967295]"),
    ]
    for args, line in cases:
        result = CliRunner().invoke(app, ["train", "classifier", "--print-config", *args])
        assert result.exit_code == 1 and line in result.output.splitlines(), result.output
    with pytest.raises(ConfigError, match=r"^config field seed=-1 must be in \[0, 4294967295\]$"):
        ClassifierConfig(seed=-1)


@pytest.mark.parametrize(
    "cls, values, key",
    [
        ("ClassifierConfig", {"epochs": float("inf")}, "epochs"),
        ("ClassifierConfig", {"epochs": 1e308}, "epochs"),
        ("ClassifierConfig", {"seed": 2**32}, "seed"),
        ("ClassifierConfig", {"seeds": [1, -1]}, "seeds"),
        ("ClassifierConfig", {"lora_r": 10**20}, "lora_r"),
        ("NerConfig", {"lora_alpha": 10**20}, "lora_alpha"),
        ("SetFitConfig", {"num_iterations": 10**20}, "num_iterations"),
        ("MlmConfig", {"mlm_probability": float("nan")}, "mlm_probability"),
        ("DistillConfig", {"kd_hidden": float("inf")}, "kd_hidden"),
        ("DistillConfig", {"kd_hidden": 1e308}, "kd_hidden"),
        ("DistillConfig", {"epochs": float("inf")}, "epochs"),
        ("DistillConfig", {"seed": -1}, "seed"),
    ],
)
def test_bounds_hold_for_configs_built_in_code(cls, values, key):
    """Benchmarks build configs in Python: the declared checks are theirs too, and the error names the field."""
    import edgeft.config

    with pytest.raises(ConfigError, match=rf"^config field {key}="):
        getattr(edgeft.config, cls)(**values)


@pytest.mark.parametrize("task", ["classifier", "setfit", "ner", "mlm"])
def test_print_config_reads_back_as_the_same_config(tmp_path, task):
    """--print-config is TOML (each key under its help): saved and passed back with --config, it
    gives the config it printed."""
    from typer.testing import CliRunner

    from edgeft.cli import app
    from edgeft.tasks import get_task

    flags = ["--out", "x", "--seed", "3"] + (["--corpus", "a.txt", "--corpus", "b"] if task == "mlm" else ["--train", "t.csv", "--seeds", "1,2"])
    result = CliRunner().invoke(app, ["train", task, "--print-config", *flags])
    assert result.exit_code == 0, result.output
    assert "# Random seed (data order, init, hold-out split). (--seed)" in result.output.splitlines()
    (tmp_path / "c.toml").write_text(result.output)
    cls = get_task(task).config_class
    again = build_config(cls, config_file=tmp_path / "c.toml")
    assert again.seed == 3 and again.out == "x" and again.to_dict() == cls(**{k: v for k, v in again.to_dict().items()}).to_dict()
    assert (again.corpus == ["a.txt", "b"]) if task == "mlm" else (again.seeds == [1, 2])
