"""Help, language, time zone, roles and channel routes."""

from bot.domain import Domain

DOMAIN = Domain("system", slash="/liaison", app_command=True, code="handlers.system.commands")
DOMAIN.family("help", aliases=("帮助", "h", "?"))
DOMAIN.family("lang", aliases=("语言", "language"))
DOMAIN.family("tz", aliases=("时区", "timezone"))
DOMAIN.family("role", aliases=("角色",))
DOMAIN.family("route", aliases=("路由", "频道"))
DOMAIN.family("whoami", aliases=("我",))
DOMAIN.family("team", aliases=("团队", "小组"))

__all__ = ["DOMAIN"]
