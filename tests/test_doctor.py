"""`liaison doctor` against the fake Slack and the fake DingTalk, with good and broken
configurations: one line per check, and an exit status that is 0 only when nothing FAILs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, create_engine

from bot import cli
from bot.doctor import SLACK_SCOPES
from bot.models import ChannelRoute
from tests.fakes.dingtalk_server import FakeDingTalk
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def dingtalk() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk()
    yield fake
    fake.stop()


def route(url: str, purpose: str, platform: str, channel: str) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        session.add(ChannelRoute(purpose=purpose, platform=platform, channel_id=channel))
        session.commit()
    engine.dispose()


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    status = cli.main(["doctor", *args])
    return status, capsys.readouterr().out.splitlines()


def line(lines: list[str], check: str) -> str:
    found = [ln for ln in lines if ln.split(":", 1)[0].split(None, 1)[-1] == check]
    assert found, f"no {check!r} line in {lines}"
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_good_slack_and_dingtalk_configuration_passes(
    sqlite_url: str, slack: FakeSlack, dingtalk: FakeDingTalk,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    slack.add_channel("C0COMPLAIN", joined=True)
    route(sqlite_url, "complaints", "slack", "C0COMPLAIN")
    dingtalk.groups.add("cid-group-1")
    route(sqlite_url, "meetings", "dingtalk", "cid-group-1")
    for key, value in {
        "DATABASE_URL": sqlite_url, "SLACK_BOT_TOKEN": "xoxb-good", "SLACK_APP_TOKEN":
        "xapp-good", "SLACK_API_URL": slack.api_url, "DINGTALK_CLIENT_ID": dingtalk.client_id,
        "DINGTALK_CLIENT_SECRET": dingtalk.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": dingtalk.endpoint, "LIAISON_DEFAULT_LOCALE": "en",
    }.items():
        monkeypatch.setenv(key, value)

    status, lines = doctor(capsys, "--send-test")

    assert status == 0, lines
    assert [ln.split()[0] for ln in lines] == ["OK"] * len(lines), lines
    checks = [ln.split(":", 1)[0].split(None, 1)[1] for ln in lines]
    assert checks == [
        "settings", "database", "time zone", "templates", "domains", "slack auth.test",
        "slack scopes",
        "slack socket mode", "slack channel", "dingtalk access token", "dingtalk stream",
        "dingtalk robot code", "dingtalk test message",
    ]
    assert "C0COMPLAIN (the complaints channel): the bot is in it" in line(lines, "slack channel")
    sent = dingtalk.sent_params("/v1.0/robot/groupMessages/send")
    assert len(sent) == 1 and "liaison doctor" in sent[0]["text"]
    assert dingtalk.calls_to("/v1.0/robot/groupMessages/send")[0].body[
        "openConversationId"] == "cid-group-1"


def test_a_broken_slack_install_names_the_missing_scopes_the_url_and_the_channel(
    sqlite_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack.state.scopes -= {"users:read", "im:write"}
    slack.add_channel("G0SECRET", private=True)  # the bot was never invited
    route(sqlite_url, "escalations", "slack", "G0SECRET")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("LIAISON_PUBLIC_URL", f"http://127.0.0.1:{free_port()}")

    status, lines = doctor(capsys)

    assert status == 1
    scopes = line(lines, "slack scopes")
    assert scopes.startswith("FAIL")
    assert "im:write (for conversations.open)" in scopes
    assert "users:read (for users.info)" in scopes
    assert "chat:write " not in scopes
    assert line(lines, "slack http mode").startswith("FAIL")
    assert "/healthz does not answer" in line(lines, "slack http mode")
    channel = line(lines, "slack channel")
    assert channel.startswith("FAIL") and "G0SECRET" in channel and "/invite" in channel
    assert line(lines, "slack auth.test").startswith("OK")

    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    status, lines = doctor(capsys)
    assert status == 1
    assert "SLACK_SIGNING_SECRET" in line(lines, "slack http mode")


def test_a_revoked_slack_token_fails_at_auth_test(
    sqlite_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack.state.bad_tokens.add("xoxb-revoked")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-good")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)

    status, lines = doctor(capsys)

    assert status == 1
    auth = line(lines, "slack auth.test")
    assert auth.startswith("FAIL") and "invalid_auth" in auth and "xoxb-" in auth
    assert not any("slack scopes" in ln for ln in lines)  # nothing more to learn without it


def test_a_wrong_socket_mode_token_fails(
    sqlite_url: str, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack.state.bad_tokens.add("xapp-wrong")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-good")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-wrong")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)

    status, lines = doctor(capsys)

    assert status == 1
    assert line(lines, "slack socket mode").startswith("FAIL")
    assert "connections:write" in line(lines, "slack socket mode")
    assert line(lines, "slack channels").startswith("WARN")  # nothing routed yet


def test_a_wrong_dingtalk_secret_fails_at_the_access_token(
    sqlite_url: str, dingtalk: FakeDingTalk, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DINGTALK_CLIENT_ID", dingtalk.client_id)
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", "not-the-secret")
    monkeypatch.setenv("DINGTALK_OPENAPI_ENDPOINT", dingtalk.endpoint)

    status, lines = doctor(capsys, "--send-test")

    assert status == 1
    token = line(lines, "dingtalk access token")
    assert token.startswith("FAIL") and "invalidClientIdOrSecret" in token
    assert "DINGTALK_CLIENT_SECRET" in token
    assert dingtalk.calls_to("/v1.0/robot/groupMessages/send") == []


def test_a_wrong_robot_code_is_found_by_the_test_message(
    sqlite_url: str, dingtalk: FakeDingTalk, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dingtalk.groups.add("cid-group-1")
    route(sqlite_url, "complaints", "dingtalk", "cid-group-1")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DINGTALK_CLIENT_ID", dingtalk.client_id)
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", dingtalk.client_secret)
    monkeypatch.setenv("DINGTALK_ROBOT_CODE", "ding-some-other-robot")
    monkeypatch.setenv("DINGTALK_OPENAPI_ENDPOINT", dingtalk.endpoint)

    status, lines = doctor(capsys)  # without --send-test only a warning
    assert status == 0
    assert line(lines, "dingtalk robot code").startswith("WARN")
    assert "--send-test" in line(lines, "dingtalk robot code")

    status, lines = doctor(capsys, "--send-test")
    assert status == 1
    test = line(lines, "dingtalk test message")
    assert test.startswith("FAIL") and "DINGTALK_ROBOT_CODE" in test and "cid-group-1" in test


def test_a_bad_setting_and_an_unreachable_database_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIAISON_TIMEZONE", "Mars/Base")
    status, lines = doctor(capsys)
    assert status == 1
    assert lines == [
        "FAIL  settings: Setting LIAISON_TIMEZONE: unknown time zone 'Mars/Base'; use "
        "Area/City, e.g. Asia/Shanghai; fix it in .env or the environment"
    ]

    monkeypatch.delenv("LIAISON_TIMEZONE")
    monkeypatch.setenv("DATABASE_URL",
                       f"postgresql+psycopg://liaison:pw@127.0.0.1:{free_port()}/liaison")
    monkeypatch.setenv("LIAISON_DATABASE_CONNECT_TIMEOUT", "2s")
    status, lines = doctor(capsys)
    assert status == 1
    database = line(lines, "database")
    assert database.startswith("FAIL") and "does not answer" in database
    assert "pw" not in database  # the password is never printed
    assert line(lines, "templates").startswith("OK")


def test_a_database_not_yet_migrated_is_a_warning(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],  # noqa: ANN001
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    status, lines = doctor(capsys)
    assert status == 0
    assert line(lines, "database").startswith("WARN")
    assert "liaison db upgrade" in line(lines, "database")
    assert line(lines, "platforms").startswith("OK")
    assert not (tmp_path / "new.db").exists()  # looking does not create it

    # A file that is there but was never migrated: the same advice, and no traceback.
    (tmp_path / "new.db").touch()
    status, lines = doctor(capsys)
    assert status == 0 and "no tables yet" in line(lines, "database")


def test_the_doctor_asks_for_exactly_the_scopes_the_manifest_requests() -> None:
    manifest = yaml.safe_load((Path(cli.__file__).parents[1] / "manifest.yaml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SLACK_SCOPES)
