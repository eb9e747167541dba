"""Help, language, time zone, roles and channel routes: the commands every domain relies on."""

from __future__ import annotations

import unicodedata
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import col, select

from bot import members, parsers, teams
from bot.context import Ctx
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Reply
from bot.models import ChannelRoute, Member, Team
from bot.router import Args, Registry
from handlers.system import DOMAIN


@DOMAIN.command("help")
def help_(ctx: Ctx, args: Args) -> Reply:
    topic = args.get(0)
    registry = ctx.app.registry
    if topic:
        visible = registry.visible(ctx.roles)
        family = registry.lookup_family(topic)
        if family is None:
            raise UserError(
                "errors/unknown_command", word=topic, suggestions=registry.suggest(topic)
            )
        commands = next((cmds for fam, cmds in visible if fam is family), [])
        if not commands:
            raise UserError("errors/permission", roles=[])
        return Reply(
            "help/family",
            {"family": family.label_key, "aliases": list(family.aliases),
             "help_topic": family.name, "commands": [c.usage_key for c in commands],
             "command_aliases": {c.usage_key: list(c.aliases) for c in commands}},
            audience=Audience.USER, cache=(family.name, *sorted(ctx.roles)),
        )
    families = _families(registry, ctx.roles)
    # What help says depends on the roles only (and the locale and platform, which the
    # renderer adds to the key): rendered once per process for each.
    return Reply("help/index", {"families": families}, audience=Audience.USER,
                 cache=tuple(sorted(ctx.roles)))


_FAMILIES: WeakKeyDictionary[Registry, dict[frozenset[str], list[dict[str, Any]]]] = \
    WeakKeyDictionary()


def _families(registry: Registry, roles: frozenset[str]) -> list[dict[str, Any]]:
    """What `/help` lists for these roles; the same for every message of a process."""
    known = _FAMILIES.setdefault(registry, {})
    if roles not in known:
        known[roles] = [
            {"label": fam.label_key, "commands": [c.usage_key for c in cmds],
             "aliases": list(fam.aliases),
             "command_aliases": {c.usage_key: list(c.aliases) for c in cmds}}
            for fam, cmds in registry.visible(roles)
        ]
    return known[roles]


@DOMAIN.command("lang")
def lang(ctx: Ctx, args: Args) -> Reply:
    choice = (args.get(0) or "").lower()
    mapping = {"zh": "zh", "cn": "zh", "中文": "zh", "chinese": "zh",
               "en": "en", "english": "en", "英文": "en", "英语": "en"}
    if choice not in mapping:
        raise UserError("system/lang_usage", current=ctx.locale)
    old = ctx.member.locale
    ctx.member.locale = mapping[choice]
    ctx.session.add(ctx.member)
    ctx.audit("member", ctx.actor, "locale", {"locale": [old, ctx.member.locale]})
    ctx.locale = ctx.member.locale
    return Reply("system/lang_set", {"locale": ctx.locale}, audience=Audience.USER)


@DOMAIN.command("tz")
def tz(ctx: Ctx, args: Args) -> Reply:
    name = args.get(0)
    if not name:
        return Reply("system/tz_show", {"zone": ctx.zone.key, "now": ctx.now},
                     audience=Audience.USER)
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError("system/tz_unknown", zone=name[:64]) from None
    old = ctx.member.timezone
    ctx.member.timezone = zone.key
    ctx.session.add(ctx.member)
    ctx.audit("member", ctx.actor, "timezone", {"timezone": [old, zone.key]})
    ctx.zone = zone
    return Reply("system/tz_set", {"zone": zone.key, "now": ctx.now}, audience=Audience.USER)


@DOMAIN.command("whoami")
def whoami(ctx: Ctx, args: Args) -> Reply:
    return Reply(
        "system/whoami",
        {"name": ctx.member.display_name, "user_id": ctx.member.user_id,
         "platform": ctx.member.platform, "roles": sorted(ctx.roles),
         "locale": ctx.locale, "zone": ctx.zone.key,
         "teams": teams.team_names_of(ctx.session, ctx.member.platform,
                                      ctx.member.user_id)},
        audience=Audience.USER,
    )


@DOMAIN.command("role", "grant", aliases=("授予",), roles=("admin",))
def role_grant(ctx: Ctx, args: Args) -> Reply:
    target, role = _role_args(ctx, args)
    changed = members.grant(ctx.session, target, role, by=ctx.actor)
    if changed:
        ctx.audit("member", f"{target.platform}:{target.user_id}", "role_grant",
                  {"role": role})
    return Reply("system/role_granted",
                 {"name": target.display_name, "role": role, "changed": changed})


@DOMAIN.command("role", "revoke", aliases=("撤销",), roles=("admin",))
def role_revoke(ctx: Ctx, args: Args) -> Reply:
    target, role = _role_args(ctx, args)
    changed = members.revoke(ctx.session, target, role)
    if changed:
        ctx.audit("member", f"{target.platform}:{target.user_id}", "role_revoke",
                  {"role": role})
    return Reply("system/role_revoked",
                 {"name": target.display_name, "role": role, "changed": changed})


@DOMAIN.command("role", "list", aliases=("列表",))
def role_list(ctx: Ctx, args: Args) -> Reply:
    people: dict[tuple[str, str], dict[str, Any]] = {}  # one line a person
    for role in ctx.app.registry.grantable_roles:
        for member in members.with_role(ctx.session, role):
            row = people.setdefault((member.platform, member.user_id), {
                "name": member.display_name, "platform": member.platform, "roles": []})
            row["roles"].append(role)
    rows = list(people.values())
    admins = sorted(f"{p}:{u}" for p, u in ctx.settings.admin_ids)
    return Reply("system/role_list", {"rows": rows, "admins": admins},
                 audience=Audience.USER)


@DOMAIN.command("route", "list", aliases=("列表",))
def route_list(ctx: Ctx, args: Args) -> Reply:
    routes = ctx.session.exec(
        select(ChannelRoute).order_by(col(ChannelRoute.purpose), col(ChannelRoute.platform))
    ).all()
    rows = [{"purpose": r.purpose, "platform": r.platform, "channel": r.channel_id}
            for r in routes]
    return Reply("system/route_list", {"rows": rows, "purposes": list(ctx.app.registry.purposes)},
                 audience=Audience.USER)


@DOMAIN.command("route", None, roles=("admin",))
def route_bind(ctx: Ctx, args: Args) -> Reply:
    purpose = _purpose(ctx, args.get(0))
    where = (args.get(1) or "").lower()
    if where in ("here", "这里", "此处"):
        return _bind(ctx, purpose)
    if where in ("off", "none", "取消", "解除"):
        return _unbind(ctx, purpose)
    raise UserError("system/route_usage", purposes=list(ctx.app.registry.purposes))


def _purpose(ctx: Ctx, word: str | None) -> str:
    purpose = ctx.app.registry.purpose(word or "")
    if purpose is None:
        raise UserError("system/route_usage", purposes=list(ctx.app.registry.purposes))
    return purpose


def _bind(ctx: Ctx, purpose: str) -> Reply:
    route = ctx.session.exec(
        select(ChannelRoute).where(
            ChannelRoute.purpose == purpose, ChannelRoute.platform == ctx.inbound.platform
        )
    ).first()
    old = route.channel_id if route else None
    if route is None:
        route = ChannelRoute(purpose=purpose, platform=ctx.inbound.platform, channel_id="")
    route.channel_id = ctx.inbound.channel
    route.workspace = ctx.inbound.workspace
    route.bound_by = ctx.actor
    route.bound_at = ctx.now
    ctx.session.add(route)
    ctx.audit("route", purpose, "bind", {"channel": [old, ctx.inbound.channel],
                                          "platform": ctx.inbound.platform})
    return Reply("system/route_bound", {"purpose": purpose})


def _unbind(ctx: Ctx, purpose: str) -> Reply:
    route = ctx.session.exec(
        select(ChannelRoute).where(
            ChannelRoute.purpose == purpose, ChannelRoute.platform == ctx.inbound.platform
        )
    ).first()
    if route is not None:
        ctx.session.delete(route)
        ctx.audit("route", purpose, "unbind", {"channel": [route.channel_id, None]})
    return Reply("system/route_unbound", {"purpose": purpose, "changed": route is not None})


def _role_args(ctx: Ctx, args: Args):  # noqa: ANN202
    who, role = args.get(0), (args.get(1) or "").lower()
    grantable = ctx.app.registry.grantable_roles
    if not who or role not in grantable:
        raise UserError("system/role_usage", roles=list(grantable))
    try:
        ref = parsers.parse_mention(who, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    target = members.find(ctx.session, ref["platform"], user_id=ref["user_id"])
    assert target is not None
    return target, role


# -- teams -----------------------------------------------------------------------------------


@DOMAIN.command("team", None)
def team_menu(ctx: Ctx, args: Args) -> Reply:
    return family_menu(ctx, "team", args.get(0))


@DOMAIN.command("team", "list", aliases=("列表",))
def team_list(ctx: Ctx, args: Args) -> Reply:
    rows = [{"name": t.name, "zone": t.timezone,
             "members": [_shown(m) for m in teams.members_of(ctx.session, t)],
             "channels": [{"platform": c.platform, "channel": c.channel_id}
                          for c in teams.channels_of(ctx.session, t)]}
            for t in teams.all_teams(ctx.session)]
    return Reply("system/team_list", {"rows": rows}, audience=Audience.USER)


@DOMAIN.command("team", "add", aliases=("添加", "加入"), roles=("admin",))
def team_add(ctx: Ctx, args: Args) -> Reply:
    """`/team add 公关部 @bob @carol`: the team is created on first use."""
    name = _team_name(args.get(0), "system/team_usage_add")
    people = _team_people(ctx, args, "system/team_usage_add")
    team, created = teams.ensure(ctx.session, name, by=ctx.actor)
    added = [m for m in people if teams.add(ctx.session, team, m, by=ctx.actor)]
    if created:
        ctx.audit("team", team.name, "create", {})
    if added:
        ctx.audit("team", team.name, "add", {"members": [f"{m.platform}:{m.user_id}"
                                                         for m in added]})
    return Reply("system/team_added", {
        "team": team.name, "created": created, "added": [_shown(m) for m in added],
        "already": [_shown(m) for m in people if m not in added]})


@DOMAIN.command("team", "remove", aliases=("移除", "移出"), roles=("admin",))
def team_remove(ctx: Ctx, args: Args) -> Reply:
    team = _known_team(ctx, _team_name(args.get(0), "system/team_usage_remove"))
    people = _team_people(ctx, args, "system/team_usage_remove")
    removed = [m for m in people if teams.remove(ctx.session, team, m)]
    if removed:
        ctx.audit("team", team.name, "remove", {"members": [f"{m.platform}:{m.user_id}"
                                                            for m in removed]})
    return Reply("system/team_removed", {
        "team": team.name, "removed": [_shown(m) for m in removed],
        "absent": [_shown(m) for m in people if m not in removed]})


@DOMAIN.command("team", "delete", aliases=("删除", "解散"), roles=("admin",))
def team_delete(ctx: Ctx, args: Args) -> Reply:
    team = _known_team(ctx, _team_name(args.get(0), "system/team_usage_delete"))
    count = len(teams.members_of(ctx.session, team))
    name = team.name
    from handlers.calendar.store import forget_team  # its calendar goes with it

    forget_team(ctx.session, team)
    teams.delete(ctx.session, team)
    ctx.audit("team", name, "delete", {"members": count})
    return Reply("system/team_deleted", {"team": name, "count": count})


@DOMAIN.command("team", "tz", aliases=("时区",), roles=("admin",))
def team_tz(ctx: Ctx, args: Args) -> Reply:
    """`/team tz 公关部 Asia/Shanghai`, or `off` for the bot's default zone."""
    team = _known_team(ctx, _team_name(args.get(0), "system/team_usage_tz"))
    word = args.get(1)
    if not word:
        raise UserError("system/team_usage_tz")
    zone: str | None = None
    if word.lower() not in ("off", "none", "default", "取消", "默认"):
        try:
            zone = ZoneInfo(word).key
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError("system/tz_unknown", zone=word[:64]) from None
    old, team.timezone = team.timezone, zone
    ctx.session.add(team)
    ctx.audit("team", team.name, "timezone", {"timezone": [old, zone]})
    return Reply("system/team_tz", {"team": team.name, "zone": zone,
                                    "default": ctx.settings.zone.key})


@DOMAIN.command("team", "channel", aliases=("频道", "群"), roles=("admin",))
def team_channel(ctx: Ctx, args: Args) -> Reply:
    """`/team channel 公关部`, run in the channel: what is posted there for everyone (the
    weekly review) reads its periods in that team's time zone. `off` unties the channel."""
    if ctx.inbound.direct:
        raise UserError("system/team_channel_direct")
    word = args.get(0)
    where = (ctx.inbound.platform, ctx.inbound.channel)
    if word and word.lower() in ("off", "none", "取消", "解除") and args.get(1) is None:
        before = teams.untie_channel(ctx.session, *where)
        if before is not None:
            ctx.audit("team", before.name, "channel_untie",
                      {"channel": [f"{where[0]}:{where[1]}", None]})
        return Reply("system/team_channel_off",
                     {"team": before.name if before else None})
    team = _known_team(ctx, _team_name(word, "system/team_usage_channel"))
    before = teams.tie_channel(ctx.session, team, *where, workspace=ctx.inbound.workspace,
                               by=ctx.actor)
    if before is None or before.id != team.id:
        ctx.audit("team", team.name, "channel_tie",
                  {"channel": f"{where[0]}:{where[1]}",
                   "team": [before.name if before else None, team.name]})
    return Reply("system/team_channel", {
        "team": team.name, "before": before.name if before and before.id != team.id else None,
        "zone": team.timezone or ctx.settings.zone.key, "own_zone": bool(team.timezone)})


def _shown(member: Member) -> str:
    return member.display_name or member.user_id


def _team_name(word: str | None, usage: str) -> str:
    name = unicodedata.normalize("NFC", word or "").strip()
    if not name or name.startswith(("@", "<@")) or not name.isprintable():
        raise UserError(usage)
    if len(name) > teams.NAME_MAX:
        raise UserError("system/team_name_too_long", limit=teams.NAME_MAX)
    return name


def _known_team(ctx: Ctx, name: str) -> Team:
    team = teams.find(ctx.session, name)
    if team is None:
        raise UserError("system/team_unknown", team=name,
                        names=[t.name for t in teams.all_teams(ctx.session)])
    return team


def _team_people(ctx: Ctx, args: Args, usage: str) -> list[Member]:
    text = args.text_after(1)
    if not text:
        raise UserError(usage)
    try:
        refs = parsers.parse_mentions(text, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    found = [members.find(ctx.session, r["platform"], user_id=r["user_id"]) for r in refs]
    return [m for m in found if m is not None]
