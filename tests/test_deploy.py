"""The deploy files, checked without Docker (there is no daemon here): deploy/compose.yaml
against the Compose specification's JSON schema, the Dockerfile through Docker's own parser,
the systemd unit and the proxy's configuration."""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from pathlib import Path

import dockerfile
import jsonschema
import yaml

import handlers

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose()), key=str)
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    # The schema is strict: a misspelt key would be caught.
    broken = compose()
    broken["services"]["db"]["imagee"] = broken["services"]["db"].pop("image")
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_the_compose_file_runs_postgresql_two_replicas_and_a_proxy() -> None:
    services = compose()["services"]
    assert services["db"]["image"] == "postgres:15"
    assert any(v.startswith("pgdata:") for v in services["db"]["volumes"])
    replicas = [s for s in services.values()
                if s.get("image") == "liaison:latest" and "command" not in s]  # the image's
    assert len(replicas) == 2
    assert services["migrate"]["command"] == ["liaison", "db", "upgrade"]
    for replica in replicas:
        assert replica["build"]["context"] == ".."  # the Dockerfile at the repository root
        assert replica["env_file"] == ["liaison.env"]  # secrets from an env file
        assert replica["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@db:5432/" in replica["environment"]["DATABASE_URL"]
        assert replica["depends_on"]["db"]["condition"] == "service_healthy"
        assert replica["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully")
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    names = [n for n, s in services.items()
             if s.get("image") == "liaison:latest" and "command" not in s]
    assert f"reverse_proxy {names[0]}:3000 {names[1]}:3000" in caddy
    assert "health_uri /readyz" in caddy
    # Every page the web app serves to people outside is public; the checks stay private.
    public = re.search(r"@public path ([^\n]+)", caddy).group(1).split()
    web = [f"{d.web.prefix}*" for d in handlers.DOMAINS if d.web is not None]
    assert {"/slack/events", "/healthz", "/dash/*", *web} <= set(public)
    assert not {"/readyz", "/metrics"} & set(public)
    assert services["proxy"]["volumes"][0].startswith("./Caddyfile:")


def test_the_image_runs_liaison_run_as_a_user_with_a_readiness_check() -> None:
    commands = dockerfile.parse_file(str(ROOT / "Dockerfile"))
    by = {}
    for command in commands:
        by.setdefault(command.cmd, []).append(command)
    assert by["FROM"][0].value[0].startswith("python:3.11-slim")
    assert by["CMD"][-1].value == ("liaison", "run")
    user = by["USER"][-1].value[0]
    assert user not in ("root", "0")
    health = by["HEALTHCHECK"][-1]
    assert health.value[0] == "CMD" and "/readyz" in " ".join(health.value)
    assert any("fonts-noto-cjk" in " ".join(c.value) for c in by["RUN"])
    # Every package the project installs is copied into the image.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    copied = {c.value[0] for c in by["COPY"]}
    assert {p.rstrip("*") for p in packages} <= copied
    env = dict(pair for c in by["ENV"] for pair in zip(c.value[::2], c.value[1::2],
                                                        strict=True))
    port = env["LIAISON_OPS_PORT"]
    assert port in health.original or "LIAISON_OPS_PORT" in health.original
    assert "9095" in {p for c in by["EXPOSE"] for p in c.value}


def test_the_systemd_unit_runs_liaison_run_as_its_own_user() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "liaison.service", encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].endswith("/bin/liaison run")
    assert service["User"] == "liaison"
    assert service["EnvironmentFile"] == "/etc/liaison.env"
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_every_setting_is_documented_in_env_example() -> None:
    from pydantic import AliasChoices

    import handlers
    from bot.config import Settings

    models = [Settings] + [d.settings for d in handlers.DOMAINS if d.settings is not None]
    names = [field.validation_alias.choices[0] for model in models
             for field in model.model_fields.values()
             if isinstance(field.validation_alias, AliasChoices)]
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert "LIAISON_METRICS" in names
    assert [n for n in names if n not in documented] == []


def test_the_example_settings_file_copied_as_it_is_starts_the_bot(tmp_path, monkeypatch) -> None:
    """The README's set-up copies `.env.example` as it is (deploy/liaison.env, /etc/liaison.env
    for systemd); its optional settings are listed empty (`LIAISON_COMPLAINT_SLA_LOW=`), which
    means unset, both from the file and from the environment systemd and Compose fill from it.
    It used to stop the start: "LIAISON_COMPLAINT_SLA_LOW: '' is not a duration"."""
    from bot.config import load_settings

    example = ROOT / ".env.example"
    lines = [line.split("=", 1) for line in example.read_text(encoding="utf-8").splitlines()
             if re.match(r"[A-Z][A-Z0-9_]*=", line)]
    for name, _ in lines:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    from_file = load_settings(_env_file=example)
    for name, value in lines:
        monkeypatch.setenv(name, value)
    from_environment = load_settings(_env_file=None)
    for settings in (from_file, from_environment):
        assert settings.complaints.sla_low is None  # the complaint SLA applies
        assert settings.complaints.sla_critical.total_seconds() == 4 * 3600
        assert settings.handbook.handbook_file is None
        assert not settings.slack_enabled and not settings.dingtalk_enabled  # the console
