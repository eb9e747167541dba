"""manifest.yaml: a workspace admin creates the app from it, so it must carry every slash
command, scope, event and setting the adapter relies on."""

from __future__ import annotations

from pathlib import Path

import yaml

import handlers
from bot.router import Registry

MANIFEST = Path(__file__).parent.parent / "manifest.yaml"


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
    commands = load()["features"]["slash_commands"]
    # Nothing listed that no domain serves.
    assert sorted(c["command"] for c in commands) == sorted(registry.slash_commands)
    # Mentions must arrive as <@U…> ids, which is what the parsers read.
    assert all(c["should_escape"] is True for c in commands)
    assert all(len(c["description"]) <= 100 for c in commands)


def test_scopes_cover_every_call_and_event_the_adapter_uses() -> None:
    manifest = load()
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "commands",  # slash commands
        "chat:write",  # chat.postMessage, chat.postEphemeral
        "im:write",  # conversations.open
        "users:read",  # users.info
        "app_mentions:read", "im:history", "channels:history", "groups:history",  # events
    }
    assert needed <= scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.im", "message.channels", "message.groups"}


def test_socket_mode_and_interactivity_are_on() -> None:
    settings = load()["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert load()["features"]["app_home"]["messages_tab_enabled"] is True
    assert len(load()["display_information"]["description"]) <= 140
