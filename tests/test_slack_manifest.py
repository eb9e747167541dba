"""manifest.yaml: a workspace admin creates the app from it, so it must carry every slash
command, scope, event and setting the adapter relies on, and nothing Slack refuses.

Also here: every command a reply names, rendered for Slack, is one the manifest registers."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from jinja2 import ChainableUndefined, nodes

import handlers
from bot.dialects import SLACK, Names
from bot.messages import Reply
from bot.render import LABEL_COMMAND, LOCALES, Renderer
from bot.router import Registry

ROOT = Path(__file__).parent.parent
MANIFEST = ROOT / "manifest.yaml"

# Slack's built-in slash commands. An app cannot register one of these: Slack runs its own
# (the manifest of an app that listed /remind was refused). Source: Slack Help Center, "Use
# built-in slash commands" (slack.com/help/articles/201259356), and Slack's "Implementing
# slash commands" (docs.slack.dev), which names /topic and /remind as built-ins.
SLACK_BUILT_INS = frozenset({
    "/active", "/apps", "/archive", "/away", "/call", "/clear", "/collapse", "/dm", "/dnd",
    "/expand", "/feed", "/feedback", "/gdrive", "/giphy", "/help", "/invite", "/invite_people",
    "/join", "/kick", "/leave", "/me", "/msg", "/mute", "/open", "/prefs", "/remind",
    "/remove", "/rename", "/search", "/shortcuts", "/shrug", "/star", "/status", "/topic",
    "/who", "/workflows",
})

# Every Web API method the adapter calls, with the bot scope Slack requires for it (each
# method's reference page on docs.slack.dev, "Scopes: Bot token"). None: no scope needed.
WEB_API_SCOPES = {
    "auth.test": None,
    "users.info": "users:read",
    "conversations.open": "im:write",
    "conversations.join": "channels:join",
    "conversations.info": "channels:read",  # groups:read for private channels
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "views.open": None,
    "views.update": None,
    "views.publish": None,
    "apps.connections.open": None,  # with the app-level token (connections:write), not a scope
    # slack_sdk's files_upload_v2: files.getUploadURLExternal, then files.completeUploadExternal
    # ("Required scopes" of both: files:write).
    "files.upload_v2": "files:write",
}


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def unlisted_slash_commands(registry: Registry) -> list[str]:
    """The slash commands the installed domains declare that the manifest does not list."""
    listed = {c["command"] for c in load()["features"]["slash_commands"]}
    return [command for command in registry.slash_commands if command not in listed]


def test_every_domain_has_its_slash_command_in_the_manifest() -> None:
    registry = Registry()
    handlers.register_all(registry)
    assert unlisted_slash_commands(registry) == []
    # Nothing listed that no domain serves.
    assert sorted(registered()) == sorted(registry.slash_commands)


def registered() -> set[str]:
    return {c["command"] for c in load()["features"]["slash_commands"]}


def test_no_slack_built_in_is_registered() -> None:
    commands = registered()
    assert not commands & SLACK_BUILT_INS
    assert "/reminders" in commands and "/remind" not in commands


def test_the_commands_the_replies_name_are_the_registered_ones() -> None:
    commands = load()["features"]["slash_commands"]
    registry = Registry()
    handlers.register_all(registry)
    assert {c["command"] for c in commands} == {
        *registry.slack_commands.values(), registry.app_command}
    # Mentions must arrive as <@U…> ids, which is what the parsers read.
    assert all(c["should_escape"] is True for c in commands)
    assert all(len(c["description"]) <= 100 for c in commands)


def test_usage_hints_show_real_id_shapes() -> None:
    hints = " ".join(c["usage_hint"] for c in load()["features"]["slash_commands"])
    assert "C-12" not in hints and "R-5" not in hints
    assert "C-2026-0001" in hints and "A-2026-0001" in hints and "M-2026-0001" in hints


def _methods_called() -> set[str]:
    """The Web API methods bot/adapters/slack*.py call through the WebClient."""
    found: set[str] = set()
    for path in (ROOT / "bot" / "adapters").glob("slack*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "client" and "_" in node.attr):
                found.add(node.attr.replace("_", ".", 1))
    return found


def test_scopes_cover_every_call_and_event_the_adapter_uses() -> None:
    manifest = load()
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    called = _methods_called() | {"auth.test", "apps.connections.open"}
    unknown = called - set(WEB_API_SCOPES)
    assert not unknown, f"add these to WEB_API_SCOPES: {unknown}"
    needed = {WEB_API_SCOPES[m] for m in called} - {None}
    needed |= {"commands", "app_mentions:read", "im:history", "channels:history",
               "groups:history"}  # slash commands and the events below
    assert needed <= scopes, f"missing scopes: {needed - scopes}"
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "message.channels", "message.groups"} <= events


def test_socket_mode_and_interactivity_are_on() -> None:
    settings = load()["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert load()["features"]["app_home"]["messages_tab_enabled"] is True
    assert len(load()["display_information"]["description"]) <= 140


# -- every command a reply names is one Slack delivers --------------------------------------

_SLASH_WORD = re.compile(r"(?<![A-Za-z0-9_/.<&@:])/[a-z][\w-]*")


_PARSED: dict[str, list[str]] = {}  # template -> its cmd() arguments: both params need them


def _cmd_arguments(renderer: Renderer, name: str) -> list[str]:
    if name not in _PARSED:
        _PARSED[name] = _parse_cmd_arguments(renderer, name)
    return _PARSED[name]


def _parse_cmd_arguments(renderer: Renderer, name: str) -> list[str]:
    source = renderer.env.loader.get_source(renderer.env, name)[0]  # type: ignore[union-attr]
    tree = renderer.env.parse(source)
    literal = " ".join(n.data for n in tree.find_all(nodes.TemplateData))
    assert not _SLASH_WORD.findall(literal), f"{name}: write commands as cmd('…')"
    return [call.args[0].value for call in tree.find_all(nodes.Call)
            if isinstance(call.node, nodes.Name) and call.node.name == "cmd"
            and isinstance(call.args[0], nodes.Const)]


def _labels(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _labels(v)]
    if isinstance(value, list):
        return [s for v in value for s in _labels(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("direct", [False, True])
def test_every_template_names_only_commands_slack_delivers(direct: bool) -> None:
    """Static: each cmd('…') in any branch of any template, and each `/command` in a label,
    rendered for Slack; and each template rendered with its values left empty."""
    registry = Registry()
    handlers.register_all(registry)
    names = Names(slash=registry.slack_commands, app=registry.app_command)
    renderer = Renderer()
    allowed = registered()

    def check(command: str, where: str) -> None:
        shown = SLACK.command(command, direct, names)
        first = shown.split()[0]
        if first.startswith("/"):
            assert first in allowed, f"{where}: {command!r} shows as {shown!r}"
        else:
            assert direct, f"{where}: {command!r} shows as {shown!r} outside the DM"

    for locale in LOCALES:
        for name in sorted(renderer.template_names(locale)):
            for command in _cmd_arguments(renderer, f"{locale}/{name}.j2"):
                check(command, f"{locale}/{name}")
        for text in _labels(renderer._labels[locale]):
            for family in LABEL_COMMAND.findall(text):
                check(family, f"{locale}/labels: {text}")

    # Rendered: what a reply with no values would say names no unregistered /word either.
    lenient = Renderer()
    lenient.use_commands(registry.slack_commands, registry.app_command)
    lenient.env.undefined = ChainableUndefined
    for locale in LOCALES:
        for name in sorted(lenient.template_names(locale)):
            try:
                out = lenient.render(Reply(name), locale=locale, platform="slack",
                                     zone=ZoneInfo("UTC"), direct=direct)
            except Exception:  # noqa: BLE001  (some templates need real values; static check above)
                continue
            for word in _SLASH_WORD.findall(out.text):
                assert word in allowed, f"{locale}/{name} names {word}: {out.text!r}"
