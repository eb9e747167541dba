"""Read the dates, times and durations members type in chat, in Chinese or English.

    parse_when("明天下午3点", now=now, tz=ZoneInfo("Asia/Shanghai"))  # -> aware UTC datetime
    parse_duration("1h30m")                                # -> timedelta(minutes=90)

What it reads
-------------
A text is split into pieces: a day, a part of the day, a clock time (in either order), or a
relative time, or "now".  The pieces:

Chinese
    现在 马上 立刻 | 两小时后 30分钟后 半小时后 一个半小时后 十五分钟后
    3天后 1周后 3天前 | 今天 明天 后天 大后天 昨天 前天 今晚 明晚 昨晚
    今早 明早 | 周五 星期五 礼拜天 本周五 这周一 下周一 下下周一 上周五 |
    12月1日 12月1号 十二月一日 2026年12月1日 3号 2026-12-01 2026/12/01 |
    凌晨 早上 上午 中午 下午 傍晚 晚上 夜里 | 3点 十点 十二点 三点半 3点15
    3点15分 3点零五分 3点一刻 3点三刻 15:00 15：00 15时30分.
    Also: 一刻钟后 一分半钟前 | 下周周六 今个礼拜三 | 下月九号 本月9日 上个月15号 |
    十月第一个星期一 下个月的第二个周五 | 15年3月2日 去年9月2号 2025年第一天 20240307 |
    早8点 晚8点 7点09分18秒 | 元旦 国庆节 圣诞节 | 下午5点多 8点许 9月2号左右 (read at the
    time said) | Cantonese 宜家 听日 寻日 晏昼 今个 廿 三点踏三 三点三个字.
    E.g. 明天下午3点, 下周一上午10点, 12月1日下午3点, 3天后下午3点.
    Traditional characters are first converted to Simplified with OpenCC's t2s data:
    今晚8點, 2月15號, 下禮拜二, 後天.
English
    now | in 2 hours, in 1h30m, in half an hour, 2 hours from now, 3 days ago |
    today, tomorrow, yesterday, tonight, (the) day after tomorrow | friday, this/next/last
    friday | dec 1, december 1st 2026, 1 dec, 12/1, 12/1/2026, 2026-12-01 | morning,
    afternoon, evening, night | 3pm, 3:30 p.m., 15:00, noon, midnight, at 15.
    Also: in 1/2 hour, in a couple of hours, in a few minutes (3), in 15', a fortnight ago |
    a quarter past noon, half past 3 pm, 20 minutes to 2pm | 3 o'clock in the afternoon,
    8 tonight, 9 tomorrow morning, tonight 815, 330 p.m., 3:15p, at 3p, 15h30 | seven thirty
    p.m., march first, the second of march (spoken numbers and ordinals) | wednesday of next
    week, friday after next, 3 fridays from now, 2 thursdays ago | first tuesday of october,
    last day of the month, the 20th of next month, on the 15th | Monday, Feb 18 (checked) |
    last night, tomorrow lunch | christmas, new year's day | 3ish pm, about 3pm | thursday
    8h00 gmt, 3pm pst | 3:30 and at 1030 (the next one), at ten thirty, twelve oh three |
    three months ago, 3 years from today, in 4 years at 5pm | today in one hour, atm.
    E.g. tomorrow 3pm, 3pm tomorrow, next monday at 10am, Dec 1 3pm.
ISO 8601
    2026-12-01T15:00:00+08:00, 2026-12-01T07:00Z, 2026-12-01 15:00.

Other English (RFC 2822, ...) goes to dateparser: "tue, 01 dec 2026 15:00:00 +0800".
Our reader comes first because, checked phrase by phrase, dateparser misreads chat: it
cannot read 明天下午3点 / 下周一上午10点 / 两小时后, takes "next friday" for this Friday and
"thursday" on a Thursday for next week, reads "3pm" at 10:00 as tomorrow in Asia/Shanghai
but today in America/New_York, and silently drops numbers it cannot place ("tomorrow at 3"
and "tomorrow 25:00" both come back as tomorrow at the current time).  So its answers are
only taken when it reports a time or a day (not a week, month or year) and used every number
in the text, and only a number that is part of a full date (12/1/2026), a clock time (15:00,
3 pm) or beside a month's name (dec 1): it reads "at 3 15" as 15 March, "in 15" and "Thu
15th" as the 15th, "3 30" and "25" as dates, so those are refused rather than guessed.

Conventions
-----------
* Wall-clock times are built in the member's zone ``tz`` and only then converted to UTC, so
  DST is right: "tomorrow 3pm" is 15:00 local whatever tomorrow's offset is.  A wall time
  skipped by a DST jump is pushed forward by the jump (02:30 that night is 03:30); a wall time
  that happens twice means the first.  An explicit offset (+08:00, Z) or zone (GMT, PST,
  as fixed offsets) wins over ``tz``, and "tomorrow" is then that zone's tomorrow.  Zone
  abbreviations that name several zones (IST, CST, BST, AST, GST, SST) are refused.
* A date without a time means 09:00 local, the start of a working day: 明天, 12月1日,
  本周五, 2026-12-01, friday.  A part of the day without an hour: morning / 早上 / 上午
  09:00, noon / 中午 12:00, afternoon / 下午 15:00, 傍晚 18:00, evening / night /
  tonight / 晚上 / 今晚 20:00; 凌晨 alone is rejected.
* A time without a date means its next occurrence: today if not yet passed, else tomorrow.
* Hours: Chinese hours without a part-of-day word are on the 24-hour clock (3点 is 03:00,
  15点 is 15:00).  A clock reading whose hour 1-12 does not say which half of the day
  (3:30, at 1030, around 1030, at ten thirty, twelve oh three) is, without a day, the next
  of its two readings, as Duckling reads it: 15:30 at 04:30, 03:30 at 01:00; with a day
  ("today 9:30") it is the 24-hour reading (09:30), and so is 09:30 with its zero.  Either
  way, and for 三点半 too, `read_when` gives the other reading, which the echo names:
  "15:30 (not 03:30)".  An English bare hour ("at 3", "half past 3", "tomorrow at 3")
  needs am/pm or a part of the day ("tomorrow afternoon at 3"), except the unambiguous 0
  and 13-23; so do "at 3 15" (also read as 15 March) and "three twenty" (also 320).  A number alone
  (8, 815) needs am/pm or a part of the day ("8 tonight"), whatever the hour, and "19h" a
  day ("friday 19h"): alone it may be a duration.  English am/pm takes 1-12: 12am is 00:00,
  12pm is noon; a short "p" or "a" only after h:mm (3:15p) or "at" (at 3p), since Duckling's
  list of texts that are not times has "4a".
  Parts of the day: 凌晨 0-5 (12 means 00:00); 早上 / 上午 0-12 as said; 中午 11-14,
  with 1 and 2 meaning 13:00 and 14:00; 下午 1-11 become 13-23 and 12 is noon; 傍晚 1-11
  become 13-23; 晚上 / 夜里 / 今晚 / tonight / night: 5-11 become 17-23, and 12 (also
  "midnight") is 00:00 of the NEXT day, 0-4 that hour of the next day, because an evening
  runs past midnight.  Any other hour contradicts its part of the day and is rejected
  (明天下午13点).
* Weeks start on Monday in both languages.  下周X / next X = X of next week: from Thursday
  2026-11-26, 下周一 and "next monday" are 2026-11-30, "next friday" is 2026-12-04.
  上周X / last X = X of last week; 本周X / 这周X / this X = X of this week, even if passed;
  下下周X = the week after next.  A bare 周X / 星期X / 礼拜X / X = the next X at or after
  today, or next week if it is today and the time has passed.  日, 天 and 7 are Sunday.
  "X after next" is a week after that; "3 fridays from now" counts Fridays after today.
  A weekday beside a date must be that date's weekday ("Monday, Feb 18", 周日, 二月十号);
  otherwise both are named in the refusal.  With a date without a year, the weekday picks
  this year's or next year's date, whichever falls on it.
* Dates without a year are this year, or next year if the date has gone by; a day of the
  month alone (3号) is this month, or next month if it has gone by.  Numeric dates are
  year-first (2026-12-01, 2026/12/01, 2026.12.01) or month-first (12/1, 12/1/2026), as
  written in both China and the US.  A two-digit year is in the century nearest today
  (15年 is 2015, 3/3/74 is 1974).  八月十五 without 日 or 号 is refused: it is how lunar
  dates are said (the Mid-Autumn Festival), and 三点三 too (3:15 in Cantonese).
* Relative times: hours, minutes and seconds are elapsed time; days and weeks move the
  calendar and keep the wall-clock time ("in 2 days" at 10:00 is 10:00, even across DST).
  English months and years ("three months ago", "3 years from today") are the same day of
  the month, refused when that month has none (a month after 31 January); they are not
  durations (parse_duration refuses them).  "today in one hour" is read if it is today.
* Approximate times (3ish pm, about 3pm, around 1030, 下午5点多, 8点许, 左右) are read at
  the time said and `read_when` says so, for the echo: "about 15:00" / "约 15:00".
* Rejected (TimeParseError): empty text, over 100 characters, anything we cannot place,
  impossible dates and times (25点, 13月1日, 2月30日, 12:60), contradictions
  (明天下午13点, tonight 8am, 明天后天), bare durations (两小时 or "2 hours": say
  两小时后 or "in 2 hours"), zero durations, vague answers (next week, december).
Text is NFKC-normalised (full-width １２月１日, ：), trimmed, and English is case-insensitive.
"""

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import opencc

__all__ = ["Reading", "TimeParseError", "parse_duration", "parse_when", "read_when"]


class TimeParseError(ValueError):
    """The text is not a date/time we can read."""


MAX_LENGTH = 100
DATE_ONLY_HOUR = 9

_DAY = 86_400
_WEEK = 7 * _DAY


class _Lazy:
    """A regular expression compiled the first time it is used: this module holds about sixty,
    and compiling them all when it is imported was a twentieth of the bot's start-up."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 (match, search, sub, ...)
        found = getattr(re.compile(*self._source), name)
        setattr(self, name, found)  # later look-ups find it on the instance
        return found


# ----------------------------------------------------------------------------------- numbers

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_NUM = "[零〇一二两三四五六七八九十廿]+"
_NUM = f"(?:[0-9]+|{_CN_NUM})"
_EN_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


def _int(token: str) -> int:
    """Read '15', '十五', '二十', '十', '零五' or '二〇二六'."""
    if token.isascii():
        return int(token)
    if token.startswith("廿"):  # 廿 is twenty: 廿号, 廿五
        token = "二十" + token[1:]
    tens, ten, ones = token.partition("十")
    if not ten:  # digit by digit, as in years and 零五
        return int("".join(str(_CN_DIGITS[c]) for c in token))
    tens_ok = tens == "" or _CN_DIGITS.get(tens, 0) > 0
    if not tens_ok or not (ones == "" or ones in _CN_DIGITS):
        raise TimeParseError(f"cannot read the number {token!r}")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _skip(pattern: re.Pattern[str], s: str, pos: int) -> int:
    """Where `pattern` (which may match nothing) stops matching after `pos`."""
    match = pattern.match(s, pos)
    return pos if match is None else match.end()


# --------------------------------------------------------------------------------- durations

_EN_UNIT = (
    r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|fortnights?"
    r"|months?|years?|yrs?)"
    r"(?![a-z])"
)
# No 日 (also the day of the month: 1日) and no 月 / 年 (months have no fixed length).
_CN_UNIT = "(?:秒钟?|分钟?|小时|钟头|刻钟|天|周|星期|礼拜)"
_UNIT_SECONDS = {
    "s": 1, "秒": 1, "m": 60, "分": 60, "h": 3600, "小": 3600, "钟": 3600,
    "d": _DAY, "天": _DAY, "w": _WEEK, "周": _WEEK, "星": _WEEK, "礼": _WEEK,
    "f": 2 * _WEEK, "'": 60, '"': 1, "刻": 900,
}  # fmt: skip
# Amounts said in words: "in a couple of hours", "in a few minutes" (three, as Duckling reads).
_EN_AMOUNTS = {"couple": 2, "pair": 2, "few": 3}
_DURATION_PART = _Lazy(
    # 2 hours, 1.5h, 1/2 hour, 15', 2 more minutes, 2 and a half hours, 一个半小时, 一分半钟
    rf"(?P<num>[0-9]+(?:[.,][0-9]+|/[0-9]+)?|{_CN_NUM})\s*(?:more\s+)?个?\s*"
    rf"(?P<half>半|and\s+an?\s+half\s+)?\s*个?\s*"
    rf"(?P<unit>{_EN_UNIT}|{_CN_UNIT}|'|\")(?:\s*(?P<half_after>半)钟?)?"
    rf"|半\s*个?\s*(?P<half_unit>{_CN_UNIT})"
    # a quarter of an hour, 3 quarters of an hour
    rf"|(?:a|(?P<quarters>[0-9]))\s+quarters?\s+of\s+an?\s+(?P<quarter_unit>{_EN_UNIT})"
    rf"|(?P<word>half\s+an?|{'|'.join(_EN_NUMBER_WORDS)}"
    r"|(?:a\s+)?(?:couple|pair|few)(?:\s+of)?)"
    rf"\s+(?P<word_unit>{_EN_UNIT})"
)
_DURATION_GLUE = _Lazy(r"\s*(?:,\s*|and\s+)?")


@dataclass(frozen=True)
class _Shift:
    """A duration: calendar days (which keep the wall clock) plus elapsed seconds."""

    days: int
    seconds: int
    months: int = 0  # calendar months (a year is 12): the same day of the month, or refused

    def __neg__(self) -> "_Shift":
        return _Shift(-self.days, -self.seconds, -self.months)


def _read_duration(s: str, pos: int) -> tuple[int, _Shift] | None:
    """Read a duration such as '1h30m', '2 hours and 30 minutes' or '一个半小时' at `pos`."""
    days = seconds = months = 0
    end = None
    while part := _DURATION_PART.match(s, pos):
        value: float
        if part["num"] is not None:
            num, over = part["num"], part["num"].partition("/")[2]
            num = num.replace(",", ".")  # 0,5 hours
            value = float(num) if "." in num else _int(num.partition("/")[0])
            if over:
                if _int(over) == 0:
                    raise TimeParseError("cannot divide by zero")
                value /= _int(over)
            value += 0.5 if part["half"] or part["half_after"] else 0
            unit = part["unit"]
        elif part["half_unit"] is not None:
            value, unit = 0.5, part["half_unit"]
        elif part["quarter_unit"] is not None:
            value, unit = int(part["quarters"] or 1) / 4, part["quarter_unit"]
        else:
            word = part["word"]
            amount = next((v for k, v in _EN_AMOUNTS.items() if k in word), None)
            value = 0.5 if word.startswith("half") else amount or _EN_NUMBER_WORDS[word]
            unit = part["word_unit"]
        if unit.startswith(("mo", "y")):  # 3 months, 2 years: whole ones only
            if value != int(value):
                raise TimeParseError("say whole months or years, or weeks and days")
            months += int(value) * (12 if unit.startswith("y") else 1)
            end = part.end()
            pos = _skip(_DURATION_GLUE, s, end)
            continue
        unit_seconds = _UNIT_SECONDS[unit[0]]
        if unit_seconds >= _DAY:
            # Whole days move the calendar; a fraction of a day is elapsed time.
            in_days = value * (unit_seconds // _DAY)
            days += int(in_days)
            seconds += round((in_days - int(in_days)) * _DAY)
        else:
            seconds += round(value * unit_seconds)
        end = part.end()
        pos = _skip(_DURATION_GLUE, s, end)
    return None if end is None else (end, _Shift(days, seconds, months))


# ------------------------------------------------------------------------- what a text names


@dataclass(frozen=True)
class _Day:
    """Which calendar day was named; fixed once the time of day is known."""

    fixed: date | None = None  # 2026-12-01
    offset: int | None = None  # days from today: 明天 = 1
    weekday: int | None = None  # 0 = Monday ...
    week: int | None = None  # ... of this week (0), next (1), last (-1); None: next one
    month: int | None = None  # with `day`: a date without a year
    day: int | None = None  # alone: a day of the month (3号)
    month_offset: int | None = None  # with `day`: of this (0), next (1), last (-1) month
    also_weekday: int | None = None  # a weekday said beside a date: must be the date's
    later: int = 0  # weeks after the next `weekday`: "friday after next" is 1
    count: int | None = None  # "3 fridays from now" (3), "2 thursdays ago" (-2)
    nth: int | None = None  # of a month: the 1st (1) ... or the last (-1), 2nd last (-2) ...
    year: int | None = None  # with `nth` and `month`
    short_year: int | None = None  # with `month` and `day`: 15 is 2015, 74 is 1974 (nearest)
    year_offset: int | None = None  # with `month` and `day`: 去年 is -1

    def with_weekday(self, other: "_Day") -> "_Day | None":
        """'Monday, Feb 18', '周日, 二月十号': a date and the weekday it should fall on."""
        if other.weekday is None or other.week is not None or other != _Day(weekday=other.weekday):
            return None
        if self.weekday is not None or self.also_weekday is not None:
            return None
        return replace(self, also_weekday=other.weekday)


@dataclass(frozen=True)
class _Clock:
    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None  # "am" / "pm"
    bare: bool = False  # an English "at 3": needs am/pm or a part of the day
    loose: bool = False  # a number alone ("8 tonight"): needs am/pm or a part of the day
    offset: int = 0  # minutes after the hour named: "a quarter to noon" is -15
    with_day: bool = False  # "19h": a time only beside a day; alone, it may mean 19 hours
    # The hour (1-12) did not say which half of the day: 3:30, 三点半, ten thirty.
    twelve: bool = False
    # ... and it is a clock reading (3:30, ten thirty, at 1030): without a day, the next of the
    # two (Duckling's rule); with a day, or a Chinese 三点半, the 24-hour reading.
    nearest: bool = False


@dataclass
class _Parts:
    """What the pieces of one text named; each slot at most once."""

    now: bool = False
    shift: _Shift | None = None
    day: _Day | None = None
    period: str | None = None
    clock: _Clock | None = None
    zone: str | None = None  # a zone named in the text: "8h00 gmt", "3pm pst"

    def absorb(self, other: "_Parts") -> bool:
        """Take what `other` names; False when a slot gets named twice, differently."""
        consistent = True
        for slot in fields(self):
            new = getattr(other, slot.name)
            if not new:
                continue
            old = getattr(self, slot.name)
            if isinstance(old, _Day) and old != new:
                merged = old.with_weekday(new) or new.with_weekday(old)
                consistent = consistent and merged is not None
                setattr(self, slot.name, merged or old)
            elif old and old != new:
                consistent = False
            else:
                setattr(self, slot.name, new)
        return consistent


# ------------------------------------------------------------------------------------ tokens

_Token = Callable[[str, int], tuple[int, _Parts] | None]


def _regex_token(pattern: str, build: Callable[[re.Match[str]], _Parts]) -> _Token:
    compiled = _Lazy(pattern)

    def token(s: str, pos: int) -> tuple[int, _Parts] | None:
        match = compiled.match(s, pos)
        return None if match is None else (match.end(), build(match))

    return token


def _alternatives(words: Iterable[str]) -> str:
    # Longest first, so 大后天 is not read as 大 + 后天, nor "tomorrow" as "tmr".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise TimeParseError(f"there is no date {year}-{month:02}-{day:02}") from None


def _day_of_year(year: str, nth: str) -> _Parts:
    first = date(_int(year), 1, 1)
    found = first + timedelta(days=_int(nth) - 1)
    if _int(nth) < 1 or found.year != first.year:
        raise TimeParseError(f"{year} has no day {_int(nth)}")
    return _Parts(day=_Day(fixed=found))


def _numeric_date(
    year: str | None, month: str | int, day: str, year_offset: int | None = None
) -> _Parts:
    month_number = month if isinstance(month, int) else _int(month)
    if year is not None and len(year) == 2:  # 15年3月2日, 3/3/15: the century nearest today
        _numeric_date(None, month_number, day)
        return _Parts(day=_Day(month=month_number, day=_int(day), short_year=_int(year)))
    if year is not None:
        return _Parts(day=_Day(fixed=_date(_int(year), month_number, _int(day))))
    if year_offset is not None:  # 去年9月2号
        _numeric_date(None, month_number, day)
        return _Parts(day=_Day(month=month_number, day=_int(day), year_offset=year_offset))
    try:  # in a leap year: rejects 13月 and 2月30日 but not 2月29日
        date(2000, month_number, _int(day))
    except ValueError:
        raise TimeParseError(f"there is no day {_int(day)} in month {month_number}") from None
    return _Parts(day=_Day(month=month_number, day=_int(day)))


def _cn_date(m: re.Match[str]) -> _Parts:
    # 八月十五 without 日 or 号 is how the lunar calendar's days are said (the Mid-Autumn
    # Festival); 8月15 and 八月十五日 are not.
    if m[5] is None and not m[4].isascii():
        raise TimeParseError("a lunar date? say 8月15日 for the 15th of August")
    return _numeric_date(m[1], m[3], m[4], _CN_YEARS.get(m["year_word"]))


_CN_YEARS = {"今": 0, "明": 1, "后": 2, "去": -1, "前": -2}

_NOW_WORDS = (
    "now", "right now", "at the moment", "atm", "at this time",
    "现在", "马上", "立刻", "立即", "此时", "此刻", "当前",
    "宜家", "而家", "依家",  # Cantonese
)  # fmt: skip

_IN = _Lazy(r"(?:in|after)\s+(?:(?:about|around|approximately|roughly)\s+)?")
_FUTURE_SUFFIX = _Lazy(
    r"\s*(?:(?:from (?:right )?now|from today|later|hence)(?![a-z])|以后|之后|过后|后)"
)
_PAST_SUFFIX = _Lazy(r"\s*(?:(?:ago|before|back)(?![a-z])|以前|之前|前)")
_NOW_PLUS = _Lazy(r"now\s*([+-])\s*")
_TIME_SUFFIX = _Lazy(r"'?\s*time(?![a-z])")  # in three weeks' time


def _shift_token(s: str, pos: int) -> tuple[int, _Parts] | None:
    """'in 2 hours', '2 hours from now', '3 days ago', 'now - 1 day', '两小时后', '3天前'."""
    prefix = _IN.match(s, pos) or _NOW_PLUS.match(s, pos)
    read = _read_duration(s, prefix.end() if prefix else pos)
    if read is None:
        return None
    end, shift = read
    if prefix and prefix[0].startswith("now"):
        return end, _Parts(shift=-shift if prefix[1] == "-" else shift)
    if prefix:
        return _skip(_TIME_SUFFIX, s, end), _Parts(shift=shift)
    if suffix := _FUTURE_SUFFIX.match(s, end):
        return suffix.end(), _Parts(shift=shift)
    if suffix := _PAST_SUFFIX.match(s, end):
        return suffix.end(), _Parts(shift=-shift)
    return None


_DAY_WORDS: dict[str, tuple[int, str | None]] = {
    "today": (0, None), "tonight": (0, "evening"), "tomorrow": (1, None),
    "tmrw": (1, None), "tmr": (1, None), "yesterday": (-1, None),
    "day after tomorrow": (2, None), "the day after tomorrow": (2, None),
    "day before yesterday": (-2, None), "the day before yesterday": (-2, None),
    "this morning": (0, "morning"), "this afternoon": (0, "afternoon"),
    "this evening": (0, "evening"),
    "今天": (0, None), "今日": (0, None), "明天": (1, None), "明日": (1, None),
    "后天": (2, None), "大后天": (3, None), "昨天": (-1, None), "昨日": (-1, None),
    "前天": (-2, None), "大前天": (-3, None), "本日": (0, None), "前日": (-2, None),
    "当天": (0, None), "当日": (0, None), "当晚": (0, "evening"),
    "后日": (2, None), "大后日": (3, None), "大大后天": (4, None),
    "寻日": (-1, None), "琴日": (-1, None), "听日": (1, None),  # Cantonese
    "今晚": (0, "evening"), "今夜": (0, "evening"), "明晚": (1, "evening"),
    "昨晚": (-1, "evening"), "今早": (0, "morning"), "明早": (1, "morning"),
    "last night": (-1, "evening"),
}  # fmt: skip

# Holidays on a fixed date (the lunar ones, 春节 and 中秋, need the calendar data).
_HOLIDAYS = {
    "christmas": (12, 25), "christmas day": (12, 25), "xmas": (12, 25),
    "christmas eve": (12, 24), "new year's day": (1, 1), "new years day": (1, 1),
    "the ides of march": (3, 15), "ides of march": (3, 15),
    "new year's eve": (12, 31), "new years eve": (12, 31),
    "元旦": (1, 1), "妇女节": (3, 8), "劳动节": (5, 1), "儿童节": (6, 1), "国庆节": (10, 1),
    "国庆": (10, 1), "圣诞节": (12, 25), "圣诞": (12, 25), "平安夜": (12, 24),
}  # fmt: skip

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?"
)
_YEAR = r"(?:,?\s*([0-9]{4})(?![0-9:]))?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_EN_WEEKDAY_NAME = (
    r"(mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)"
)
_EN_WEEKDAY = _EN_WEEKDAY_NAME + "(?![a-z])"
_EN_WEEK = {None: None, "this": 0, "next": 1, "last": -1}
_CN_WEEK = {
    None: None, "本": 0, "这": 0, "这个": 0, "今": 0, "今个": 0,
    "下": 1, "下个": 1, "下下": 2, "下下个": 2,
    "上": -1, "上个": -1, "上上": -2, "上上个": -2,
}  # fmt: skip
_CN_WEEK_WORD = _alternatives(w for w in _CN_WEEK if w)
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def _day_word(m: re.Match[str]) -> _Parts:
    offset, period = _DAY_WORDS[m[0]]
    return _Parts(day=_Day(offset=offset), period=period)


def _nth_of_month(m: re.Match[str], weekday: int | None) -> _Parts:
    """The nth (or nth last) weekday or day of a month, for _DAY_TOKENS below."""
    said = m.groupdict()
    nth = _int(said["nth"]) if said["nth"] and said["nth"] != "last" else 1
    if said["nth"] == "last" or said["last"]:
        nth = -nth
    if not 1 <= abs(nth) <= (5 if weekday is not None else 31):
        raise TimeParseError("no month has that many")
    if said["month"]:
        month = _MONTHS[said["month"][:3]] if said["month"].isascii() else _int(said["month"])
        year = int(said["year"]) if said.get("year") else None
        return _Parts(day=_Day(nth=nth, weekday=weekday, month=month, year=year))
    return _Parts(day=_Day(nth=nth, weekday=weekday, month_offset=_EN_MONTH[said["which"]]))


_EN_MONTH = {None: 0, "this": 0, "the": 0, "current": 0, "next": 1, "last": -1, "previous": -1}
_EN_MONTH |= {w: v for w, v in _CN_WEEK.items() if w}


def _en_weekday(m: re.Match[str]) -> _Parts:
    return _Parts(day=_Day(weekday=_WEEKDAYS[m[2][:3]], week=_EN_WEEK[m[1]]))


def _cn_weekday_number(token: str) -> int:
    return int(token) - 1 if token.isdigit() else _CN_WEEKDAYS[token]


def _cn_weekday(m: re.Match[str]) -> _Parts:
    return _Parts(day=_Day(weekday=_cn_weekday_number(m[2]), week=_CN_WEEK[m[1]]))


def _day_of_month_number(token: str, month_offset: int | None = None) -> _Parts:
    day = _int(token)
    if not 1 <= day <= 31:
        raise TimeParseError(f"no month has a day {day}")
    return _Parts(day=_Day(day=day, month_offset=month_offset))


def _day_of_month(m: re.Match[str]) -> _Parts:
    return _day_of_month_number(m[1])


def _day_of_month_in(token: str, month_offset: int | None) -> _Parts:
    return _day_of_month_number(token, month_offset)


_DAY_TOKENS: tuple[_Token, ...] = (
    # 2026-12-01, 2026/12/01, 2026.12.01, 2026 12 01; 2026-12-0115:00 (glued, as copied from
    # some systems); 20261201
    _regex_token(
        r"(?:on\s+)?([0-9]{4})([-/.]|\s)([0-9]{1,2})\2([0-9]{1,2})"
        r"(?:(?![0-9])(?:-(?=[0-9]{1,2}:))?|(?<=[0-9]{2})(?=[0-9]{1,2}:))",
        lambda m: _numeric_date(m[1], m[3], m[4]),
    ),
    _regex_token(
        r"((?:19|20)[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(?![0-9])",
        lambda m: _numeric_date(m[1], m[2], m[3]),
    ),
    # 2025年第一天: the nth day of a year
    _regex_token(
        rf"([0-9]{{4}}|[零〇一二三四五六七八九]{{4}})\s*年\s*的?\s*第\s*({_NUM})\s*天",
        lambda m: _day_of_year(m[1], m[2]),
    ),
    # 2026年12月1日, 12月1号, 十二月一日
    _regex_token(
        rf"(?:([0-9]{{4}}|[零〇一二三四五六七八九]{{4}}|[0-9]{{2}}|[零〇一二三四五六七八九]{{2}})\s*年\s*"
        rf"|(?P<year_word>[今明后去前])年\s*)?({_NUM})\s*月\s*({_NUM})\s*([日号])?",
        _cn_date,
    ),
    # 12/1, 12/1/2026, 12-1, 2 / 15: month first
    _regex_token(
        r"(?:on\s+)?([0-9]{1,2})\s*[/·-]\s*([0-9]{1,2})(?:[/-]([0-9]{4}|[0-9]{2}))?(?![0-9/:-])",
        lambda m: _numeric_date(m[3], m[1], m[2]),
    ),
    # dec 1, december 1st, 2026, february the 15th
    _regex_token(
        rf"(?:on\s+)?{_MONTH}\s*(?:the\s+)?([0-9]{{1,2}}){_ORDINAL}(?![0-9a-z:]){_YEAR}",
        lambda m: _numeric_date(m[3], _MONTHS[m[1][:3]], m[2]),
    ),
    # 1 dec, the 1st of december 2026, 31/oct/1974
    _regex_token(
        rf"(?:on\s+)?(?:the\s+)?([0-9]{{1,2}}){_ORDINAL}\s*(?:of\s+|[/-])?{_MONTH}"
        rf"(?:[/-]([0-9]{{4}}|[0-9]{{2}})(?![0-9:])|{_YEAR})",
        lambda m: _numeric_date(m[3] or m[4], _MONTHS[m[2][:3]], m[1]),
    ),
    # the 20th of next month, 20 of this month, 下月九号, 本月9日, 上个月15号
    _regex_token(
        r"(?:on\s+)?(?:the\s+)?([0-9]{1,2})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+(?:the\s+)?"
        r"(this|next|last|current|previous)\s+month(?![a-z])",
        lambda m: _day_of_month_in(m[1], _EN_MONTH[m[2]]),
    ),
    _regex_token(
        rf"(本|这个?|今个|同|下个?|上个?)\s*月\s*({_NUM})\s*[日号]",
        lambda m: _day_of_month_in(m[2], _CN_WEEK.get(m[1], 0)),
    ),
    _regex_token(rf"(?:{_alternatives(_DAY_WORDS)})(?![a-z])", _day_word),
    _regex_token(
        rf"(?:on\s+)?({_alternatives(_HOLIDAYS)})(?![a-z])",
        lambda m: _Parts(day=_Day(month=_HOLIDAYS[m[1]][0], day=_HOLIDAYS[m[1]][1])),
    ),
    # wednesday of next week, sunday from last week, last week's sunday
    _regex_token(
        rf"(?:on\s+)?{_EN_WEEKDAY}\s+(?:of\s+|from\s+)?(this|next|last)\s+week(?![a-z])",
        lambda m: _Parts(day=_Day(weekday=_WEEKDAYS[m[1][:3]], week=_EN_WEEK[m[2]])),
    ),
    _regex_token(
        rf"(this|next|last)\s+week'?s\s+{_EN_WEEKDAY}",
        lambda m: _Parts(day=_Day(weekday=_WEEKDAYS[m[2][:3]], week=_EN_WEEK[m[1]])),
    ),
    # friday after next: the friday after the next one
    _regex_token(
        rf"(?:on\s+)?(?:the\s+)?{_EN_WEEKDAY}\s+after\s+next(?![a-z])",
        lambda m: _Parts(day=_Day(weekday=_WEEKDAYS[m[1][:3]], later=1)),
    ),
    # 3 fridays from now, 2 thursdays ago
    _regex_token(
        rf"([0-9]{{1,2}})\s+{_EN_WEEKDAY_NAME}s?(?![a-z])\s+(from\s+now|hence|ago|back)(?![a-z])",
        lambda m: _Parts(
            day=_Day(
                weekday=_WEEKDAYS[m[2][:3]],
                count=int(m[1]) * (-1 if m[3] in ("ago", "back") else 1),
            )
        ),
    ),
    # the first tuesday of october (2014), the last day of the month, the 5th last day of may
    _regex_token(
        rf"(?:the\s+)?(?P<nth>[0-9]{{1,2}}(?=st|nd|rd|th)|last)(?:st|nd|rd|th)?\s+"
        rf"(?P<last>last\s+)?(?:{_EN_WEEKDAY}|(?P<d>day))\s+(?:of|in)\s+"
        r"(?:(?P<month>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\.?"
        r"(?:\s+(?P<year>[0-9]{4}))?"
        r"|(?:the\s+)?(?P<which>this|next|last|current|previous)?\s*month)(?![a-z])",
        lambda m: _nth_of_month(m, None if m["d"] else _WEEKDAYS[m[3][:3]]),
    ),
    # 十月第一个星期一, 八月份的第一个周二, 下个月第二个周五
    _regex_token(
        rf"(?:(?P<month>{_NUM})\s*月份?|(?P<which>本|这个?|今个|下个?|上个?)\s*月)\s*的?\s*"
        rf"(?:第(?P<nth>{_NUM})个?|(?P<last>最后一)个?)\s*(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])",
        lambda m: _nth_of_month(m, _cn_weekday_number(m["wd"])),
    ),
    _regex_token(rf"(?:on\s+)?(?:(this|next|last)\s+)?{_EN_WEEKDAY}", _en_weekday),
    # 下周一, 下周周六, 今个礼拜三 (Cantonese)
    _regex_token(
        rf"(?:({_CN_WEEK_WORD})\s*(?:周|星期|礼拜)?\s*)?(?:周|星期|礼拜)([一二三四五六日天1-7])",
        _cn_weekday,
    ),
    _regex_token(rf"({_NUM})\s*[日号]", _day_of_month),
    # the 24th, on the 15th, the 24
    _regex_token(
        r"(?:on\s+)?(?:the\s+([0-9]{1,2})(?:st|nd|rd|th)?|([0-9]{1,2})(?:st|nd|rd|th))(?![0-9a-z:])",
        lambda m: _day_of_month_number(m[1] or m[2]),
    ),
)

_PERIOD_WORDS = {
    "凌晨": "early", "清晨": "morning", "早上": "morning", "早晨": "morning",
    "上午": "morning", "中午": "noon", "午后": "afternoon", "下午": "afternoon",
    "傍晚": "dusk", "晚上": "evening", "晚间": "evening", "夜里": "evening",
    "夜间": "evening", "半夜": "evening", "深夜": "evening", "晏昼": "afternoon",
    "morning": "morning", "in the morning": "morning", "afternoon": "afternoon",
    "in the afternoon": "afternoon", "evening": "evening", "in the evening": "evening",
    "night": "evening", "at night": "evening", "in the am": "morning", "in the pm": "afternoon",
    "early morning": "early", "in the early morning": "early",
    "lunch": "noon", "at lunch": "noon", "lunchtime": "noon", "at lunchtime": "noon",
}  # fmt: skip
_PERIOD_DEFAULT_HOUR = {"morning": 9, "noon": 12, "afternoon": 15, "dusk": 18, "evening": 20}
# Hour said with a part of the day -> (days after the day named, hour on the 24-hour clock).
_PERIOD_HOURS: dict[str, dict[int, tuple[int, int]]] = {
    "early": {h: (0, h) for h in range(6)} | {12: (0, 0)},
    "morning": {h: (0, h) for h in range(13)},
    "noon": {h: (0, h) for h in range(11, 15)} | {1: (0, 13), 2: (0, 14)},
    "afternoon": {h: (0, h + 12) for h in range(1, 12)} | {12: (0, 12)},
    "dusk": {h: (0, h + 12) for h in range(1, 12)},
    # An evening runs past midnight: 晚上12点 (and midnight) and 晚上1点 are the next day.
    "evening": {h: (0, h + 12) for h in range(5, 12)}
    | {h: (1, h % 12) for h in (0, 1, 2, 3, 4, 12)},
}
_MERIDIEM_PERIODS = {"am": ("early", "morning"), "pm": ("noon", "afternoon", "dusk", "evening")}

_AT = r"(?:(?:at|@)\s*)?"


def _time(
    hour: str,
    minute: str | None = None,
    second: str | None = None,
    *,
    meridiem: str | None = None,
    bare: bool = False,
    nearest: bool = False,
    twelve: bool = False,
) -> _Parts:
    """A clock time; `nearest`: a clock reading whose hour 1-12 may be either half of the day
    (9:30), `twelve`: an hour that may be, read on the 24-hour clock (三点半)."""
    value = _int(hour)
    ambiguous = (nearest or twelve) and 1 <= value <= 12 and meridiem is None
    clock = _Clock(value, _int(minute or "0"), _int(second or "0"), meridiem, bare,
                   twelve=ambiguous, nearest=ambiguous and nearest)
    return _Parts(clock=clock)


_MERIDIEM = r"(?:\s*(?:o'?\s?clock\s*)?(?P<mer>[ap])\.?\s?m\.?(?![a-z]))"
_EN_CLOCK = _Lazy(
    r"(?P<at>(?:at|@)\s*|for\s+)?(?:(?P<hour3>[0-9]{1,2})(?P<min3>[0-9]{2})(?![0-9:])|(?P<hour>[0-9]{1,2})"
    r"(?:[:.](?P<min>[0-9]{2})(?![0-9])|\s(?P<min2>[0-9]{2})(?![0-9:]))?)"
    rf"(?:{_MERIDIEM}|\s*o'?\s?clock(?![a-z])|(?<=[0-9])(?P<short>[ap])\.?(?![a-z0-9]))?"
)


def _en_clock_token(s: str, pos: int) -> tuple[int, _Parts] | None:
    m = _EN_CLOCK.match(s, pos)
    if m is None or re.match(r"[0-9a-z:/'\-\u3007\u4e00-\u9fff]", s[m.end() : m.end() + 1]):
        return None
    minute = m["min"] or m["min2"] or m["min3"]
    short = m["short"]
    if m["min"] is not None and m["mer"] is None and short is None:
        return None  # 15:00 and 9:30: the 24-hour clock, below
    if short is not None and m["min"] is None and m["at"] is None:
        return None  # 4a, 7p alone are not times (Duckling's negatives)
    meridiem = (m["mer"] or short) + "m" if (m["mer"] or short) else None
    at = m["at"] is not None
    hour = _int(m["hour"] or m["hour3"])
    if m["hour3"] is not None and meridiem is None and (at or _APPROX_BEFORE.search(s, 0, pos)):
        # at 1030, around 1030: a clock reading without its colon
        clock = _time(m["hour3"], minute, nearest=True).clock
        return m.end(), _Parts(clock=clock)
    clock = _Clock(
        hour, _int(minute or "0"), 0, meridiem,
        bare=at and meridiem is None, loose=not at and meridiem is None,
    )  # fmt: skip
    return m.end(), _Parts(clock=clock)


_APPROX_BEFORE = _Lazy(r"(?<![a-z])(?:about|around|approximately|roughly)\s*$")


def _cn_clock(m: re.Match[str]) -> _Parts:
    hour, half, quarters, minute = m["hour"], m["half"], m["q"], m["min"]
    five_minutes = m["five"] or m["five2"]
    if half:
        return _time(hour, "30", twelve=True)
    if quarters:
        return _time(hour, str(15 * _int(quarters)), twelve=True)
    if five_minutes:  # Cantonese: 三点踏三, 三点三个字 = 3:15
        return _time(hour, str(5 * _int(five_minutes)), twelve=True)
    if minute and not m["unit"] and not m["zero"] and len(minute) == 1 and minute != "十":
        # 三点三 is 3:15 in Cantonese, and 3:03 or 3:30 to others: say 3点15 or 3点03分.
        raise TimeParseError("say the minutes in full: 3点15, 3点03分")
    return _time(hour, minute, m["sec"], twelve=not hour.startswith(("0", "零", "〇")))


_BEFORE_OR_AFTER = _Lazy(
    r"(?:(?:at|for)\s+)?(?:(?P<quarter>(?:a\s+)?quarter)|(?P<half>half)"
    r"|(?P<minutes>[0-9]{1,2})(?:\s+min(?:ute)?s?)?)\s+(?P<way>past|after|to|till|before|from)\s+"
)


def _before_or_after_token(s: str, pos: int) -> tuple[int, _Parts] | None:
    """'a quarter past noon', 'half past 3 pm', '20 minutes to 2pm', 'twenty after 3pm'."""
    m = _BEFORE_OR_AFTER.match(s, pos)
    if m is None:
        return None
    for token in _CLOCK_TOKENS:
        if (hit := token(s, m.end())) is not None and hit[1].clock is not None:
            break
    else:
        return None
    end, parts = hit
    if parts.clock.minute or parts.clock.offset:
        return None  # 'a quarter past 3:30'
    if parts.clock.with_day:  # 15 minutes past 15h: a time, not a duration
        parts = replace(parts, clock=replace(parts.clock, with_day=False))
    minutes = 15 if m["quarter"] else 30 if m["half"] else _int(m["minutes"])
    if not 0 < minutes < 60:
        raise TimeParseError("say the minutes past or to the hour from 1 to 59")
    if m["way"] in ("to", "till", "before"):
        minutes = -minutes
    return end, replace(parts, clock=replace(parts.clock, offset=minutes))


_CLOCK_TOKENS: tuple[_Token, ...] = (
    _regex_token(
        rf"{_AT}(?:the\s+)?(?:noon|mid\s?day)(?![a-z])",
        lambda m: _Parts(period="noon", clock=_Clock(12)),
    ),
    # Midnight closes the day named: "tomorrow midnight" is the night after tomorrow.
    _regex_token(rf"{_AT}midnight(?![a-z])", lambda m: _Parts(period="evening", clock=_Clock(12))),
    # 3pm, 3:30 p.m., 3.30pm, 3 oclock am, 330 p.m., 3:15p, at 3p, 8 (tonight), at 1530
    _en_clock_token,
    # 15h00, 3h18, at 15h (French-style, as Duckling reads)
    _regex_token(rf"{_AT}([0-9]{{1,2}})h([0-9]{{2}})(?![0-9a-z])", lambda m: _time(m[1], m[2])),
    _regex_token(r"(?:at|@)\s*([0-9]{1,2})h(?![0-9a-z])", lambda m: _time(m[1])),
    _regex_token(
        r"([0-9]{1,2})h(?![0-9a-z])", lambda m: _Parts(clock=_Clock(_int(m[1]), with_day=True))
    ),
    # 15:00, 9:30, 15:00:30 (and 15：00, after NFKC); 9:30 may be 21:30, 09:30 may not
    _regex_token(
        rf"{_AT}([0-9]{{1,2}}):([0-9]{{2}})(?::([0-9]{{2}}))?(?![0-9])",
        lambda m: _time(m[1], m[2], m[3], nearest=not m[1].startswith("0")),
    ),
    # 3点, 三点半, 3点15(分), 3点一刻, 15时30分, 十点整
    _regex_token(
        rf"(?P<hour>{_NUM})\s*(?:点多?钟?|时)\s*(?:[踏搭]?\s*(?P<half>半)|(?P<q>[一二三1-3])\s*刻"
        rf"|[踏搭]\s*(?P<five>{_NUM})|(?P<five2>{_NUM})\s*个字"
        rf"|(?P<zero>零)?(?P<min>{_NUM})\s*(?:(?P<unit>分)(?:\s*(?P<sec>{_NUM})\s*秒)?)?|整)?",
        _cn_clock,
    ),
)
_PERIOD_AND_CLOCK_TOKENS: tuple[_Token, ...] = (
    _regex_token(
        rf"(?:{_alternatives(_PERIOD_WORDS)})(?![a-z])",
        lambda m: _Parts(period=_PERIOD_WORDS[m[0]]),
    ),
    # 早8点, 晚8点: 早上 and 晚上, shortened before an hour
    _regex_token(
        rf"([早晚])(?=\s*{_NUM}\s*(?:点|时))",
        lambda m: _Parts(period="morning" if m[1] == "早" else "evening"),
    ),
    _before_or_after_token,
    *_CLOCK_TOKENS,
)

# Zone abbreviations that name one zone (as fixed offsets: 'pst' is -08:00 even in July).
_ZONES = {
    "utc": "UTC", "gmt": "UTC", "pst": "Etc/GMT+8", "pdt": "Etc/GMT+7", "mst": "Etc/GMT+7",
    "mdt": "Etc/GMT+6", "est": "Etc/GMT+5", "edt": "Etc/GMT+4", "cet": "Etc/GMT-1",
    "cest": "Etc/GMT-2", "eet": "Etc/GMT-2", "eest": "Etc/GMT-3", "jst": "Etc/GMT-9",
    "kst": "Etc/GMT-9", "hkt": "Etc/GMT-8", "sgt": "Etc/GMT-8",
}  # fmt: skip
# ... and those that name several: IST is India, Israel or Ireland; CST China or US Central.
_AMBIGUOUS_ZONE_NAMES = ("ist", "cst", "bst", "ast", "gst", "sst")


def _zone(m: re.Match[str]) -> _Parts:
    if m[1] in _AMBIGUOUS_ZONE_NAMES:
        raise TimeParseError(f"{m[1].upper()} names several zones: give an offset, e.g. +05:30")
    return _Parts(zone=_ZONES[m[1]])


_TOKENS: tuple[_Token, ...] = (
    _shift_token,  # first: "now + 2 hours"
    _regex_token(rf"(?:{_alternatives(_NOW_WORDS)})(?![a-z])", lambda m: _Parts(now=True)),
    *_DAY_TOKENS,
    *_PERIOD_AND_CLOCK_TOKENS,
    _regex_token(
        rf"\(?({_alternatives([*_ZONES, *_AMBIGUOUS_ZONE_NAMES])})\)?(?![a-z])", _zone
    ),
)
# Words that say a time is approximate are read past: 3ish pm, about 3pm, 下午5点多, 8点许,
# 9月2号左右; the member sees the exact time in the echo and confirms it.
_FILLER = _Lazy(r"(?:\s|,|的|左右|许|(?:approximately|about|around|roughly)(?![a-z]))*")


def _scan(s: str) -> _Parts | None:
    """Split `s` into pieces; None if some of it is not a piece we know."""
    parts = _Parts()
    consistent = True
    pos = _skip(_FILLER, s, 0)
    while pos < len(s):
        for token in _TOKENS:
            if (hit := token(s, pos)) is not None:
                break
        else:
            return None
        pos, found = hit
        consistent = parts.absorb(found) and consistent
        pos = _skip(_FILLER, s, pos)
    # Contradictions count only once the whole text is known to be ours: an unknown word may
    # mean it is a format for dateparser instead ("Tue, 01 Dec 2026 15:00:00 +0800").
    if not consistent:
        raise TimeParseError("the text names the same thing twice, differently")
    return parts if parts != _Parts() else None


# --------------------------------------------------------------------------------- resolving


def _hour(clock: _Clock, period: str | None) -> tuple[int, int]:
    """(days after the day named, hour 0-23) for a clock time said with its part of the day."""
    hour = clock.hour
    if not 0 <= clock.minute <= 59 or not 0 <= clock.second <= 59:
        raise TimeParseError("minutes and seconds run from 0 to 59")
    if clock.meridiem is not None:
        if not 1 <= hour <= 12:
            raise TimeParseError(f"{hour}{clock.meridiem} is not a time")
        if period is not None and period not in _MERIDIEM_PERIODS[clock.meridiem]:
            raise TimeParseError(f"{clock.meridiem} contradicts the part of the day given")
        return 0, hour % 12 + (12 if clock.meridiem == "pm" else 0)
    if period is not None:
        if hour not in _PERIOD_HOURS[period]:
            raise TimeParseError(f"hour {hour} contradicts the part of the day given")
        return _PERIOD_HOURS[period][hour]
    if (clock.bare and 1 <= hour <= 12) or clock.loose:
        raise TimeParseError(f"'{hour}' is ambiguous: say {hour}am or {hour}pm")
    if not 0 <= hour <= 23:
        raise TimeParseError(f"there is no hour {hour}")
    return 0, hour


def _add_months(day: date, months: int) -> date:
    """The same day of the month `months` later; refused when that month has no such day
    (a month after 31 January): guessing the 28th or the 3rd of March would be silent."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return _date(year, month + 1, day.day)


def _shifted(now: datetime, shift: _Shift, tz: ZoneInfo) -> datetime:
    if shift.days == 0 and shift.seconds == 0 and shift.months == 0:
        raise TimeParseError("a duration of zero")
    moved = now
    if shift.days or shift.months:
        wall = now.replace(tzinfo=None)
        wall = datetime.combine(_add_months(wall.date(), shift.months), wall.time())
        moved = (wall + timedelta(days=shift.days)).replace(tzinfo=tz)
    # Elapsed time is added in UTC: aware + timedelta in a local zone is wall-clock arithmetic.
    return moved.astimezone(UTC) + timedelta(seconds=shift.seconds)


def _nth_of_month_date(day: _Day, today: date) -> date:
    """The nth weekday (or day) of the month `day` names; a month without a year is the next
    one whose answer is not yet past."""
    nth = day.nth or 1

    def nth_in(year: int, month: int) -> date:
        first = date(year, month, 1)
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if day.weekday is None:
            found = first + timedelta(days=nth - 1) if nth > 0 else last + timedelta(days=nth + 1)
        elif nth > 0:
            found = first + timedelta(days=(day.weekday - first.weekday()) % 7 + 7 * (nth - 1))
        else:
            found = last - timedelta(days=(last.weekday() - day.weekday) % 7 + 7 * (-nth - 1))
        if found.month != month:
            raise TimeParseError(f"there is no such day in {year}-{month:02}")
        return found

    if day.month is None:
        year, month = divmod(today.year * 12 + today.month - 1 + (day.month_offset or 0), 12)
        return nth_in(year, month + 1)
    if day.year is not None:
        return nth_in(day.year, day.month)
    found = nth_in(today.year, day.month)
    return found if found >= today else nth_in(today.year + 1, day.month)


def _resolve(parts: _Parts, now: datetime, tz: ZoneInfo) -> datetime:
    """The moment `parts` names, `now` being the member's local time."""
    if parts.now:
        if parts != _Parts(now=True):
            raise TimeParseError("'now' cannot be combined with another time")
        return now
    day = parts.day
    if parts.shift is not None:
        if parts.clock is None and parts.period is None and day in (None, _Day(offset=0)):
            found = _shifted(now, parts.shift, tz)
            if day is not None and found.astimezone(tz).date() != now.date():
                raise TimeParseError("that is not today")
            return found  # "today in one hour": today's, or refused
        shift = parts.shift
        if shift.seconds or not (shift.days or shift.months) or day is not None:
            raise TimeParseError("a relative time cannot be combined with another date or time")
        # 3天后下午3点, in 4 years at 5pm: that day, at that time
        day = _Day(fixed=_add_months(now.date(), shift.months) + timedelta(days=shift.days))

    if parts.clock is not None:
        if parts.clock.with_day and day is None:
            raise TimeParseError("a time (at 19h) or a duration (in 19h)?")
        extra_days, hour = _hour(parts.clock, parts.period)
        minute, second = parts.clock.minute, parts.clock.second
    elif parts.period is not None:
        if parts.period not in _PERIOD_DEFAULT_HOUR:
            raise TimeParseError("say which hour (凌晨3点)")
        extra_days, hour, minute, second = 0, _PERIOD_DEFAULT_HOUR[parts.period], 0, 0
    else:
        extra_days, hour, minute, second = 0, DATE_ONLY_HOUR, 0, 0

    offset = timedelta(minutes=parts.clock.offset if parts.clock else 0)

    def at(d: date) -> datetime:
        wall = datetime.combine(d + timedelta(days=extra_days), time(hour, minute, second))
        return (wall + offset).replace(tzinfo=tz)

    today = now.date()
    if day is None:
        found = today if at(today) >= now else today + timedelta(days=1)
    elif day.fixed is not None:
        found = day.fixed
    elif day.offset is not None:
        found = today + timedelta(days=day.offset)
    elif day.nth is not None:
        found = _nth_of_month_date(day, today)
    elif day.count is not None and day.weekday is not None:
        if day.count > 0:  # the first is after today
            found = today + timedelta(days=(day.weekday - today.weekday() - 1) % 7 + 1)
        else:
            found = today - timedelta(days=(today.weekday() - day.weekday - 1) % 7 + 1)
        found += timedelta(weeks=day.count - 1 if day.count > 0 else day.count + 1)
    elif day.weekday is not None and day.week is None:
        found = today + timedelta(days=(day.weekday - today.weekday()) % 7)
        if at(found) < now:
            found += timedelta(weeks=1)
        found += timedelta(weeks=day.later)
    elif day.weekday is not None:
        monday = today - timedelta(days=today.weekday())
        found = monday + timedelta(weeks=day.week or 0, days=day.weekday)
    elif day.month is not None and day.day is not None and day.short_year is not None:
        century = min((1900, 2000, 2100), key=lambda c: abs(c + day.short_year - today.year))
        found = _date(century + day.short_year, day.month, day.day)
    elif day.month is not None and day.day is not None and day.year_offset is not None:
        found = _date(today.year + day.year_offset, day.month, day.day)
    elif day.month is not None and day.day is not None:
        found = _date(today.year, day.month, day.day)
        if found < today:
            found = _date(today.year + 1, day.month, day.day)
        if day.also_weekday not in (None, found.weekday()):
            # 'Sunday, Feb 10', 'Fri, Jul 18': of this year's and next year's, the one that is
            # that weekday.
            for year in (today.year, today.year + 1):
                with suppress(ValueError):
                    if date(year, day.month, day.day).weekday() == day.also_weekday:
                        found = date(year, day.month, day.day)
                        break
    elif day.day is not None and day.month_offset is not None:
        year, month = divmod(today.year * 12 + today.month - 1 + day.month_offset, 12)
        found = _date(year, month + 1, day.day)
    elif day.day is not None:
        year, month = today.year, today.month
        if day.day < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        found = _date(year, month, day.day)
    else:  # pragma: no cover - every _Day sets one of the above
        raise TimeParseError("no day named")
    if day is not None and day.also_weekday not in (None, found.weekday()):
        raise TimeParseError(
            f"{found:%Y-%m-%d} is a {_WEEKDAY_NAMES[found.weekday()]}, "
            f"not a {_WEEKDAY_NAMES[day.also_weekday]}"
        )
    return at(found)


# ----------------------------------------------------------------------------- other readers

_ISO = _Lazy(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[t ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_CJK = _Lazy("[\u3007\u4e00-\u9fff]")
@functools.cache
def _to_simplified() -> "opencc.OpenCC":
    """The converter loads its dictionaries when made (a sixth of start-up), and the module
    itself is 2 MB resident: both on first use (traditional characters in a time)."""
    import opencc

    return opencc.OpenCC("t2s")
_OFFSET = _Lazy(r"[+-][0-9]{2}:?[0-9]{2}(?![0-9])")
# An offset stands apart from the time before it: "15:00:00 -0500", not "10:00-11:00".
_SPACED_OFFSET = _Lazy(r"(?<![^\s(])[+-][0-9]{2}:?[0-9]{2}(?![0-9:])")
_DATEPARSER_SETTINGS = {
    "PREFER_DATES_FROM": "future",
    # Says whether a time was given, so that a bare date can get our 09:00.
    "RETURN_TIME_AS_PERIOD": True,
    # No 'timestamp' (a long number is not a time to a member), no 'no-spaces-time'.
    "PARSERS": ["relative-time", "custom-formats", "absolute-time"],
}


def _read_iso(s: str, tz: ZoneInfo) -> datetime:
    try:
        found = datetime.fromisoformat(s.upper())
    except ValueError:
        raise TimeParseError("not a valid ISO 8601 date and time") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=tz)


# What the fallback may take a number for: a part of a full numeric date (12/1/2026), of a
# clock time (15:00, 3 pm), or a day or year beside a month's name (dec 1, 1st of december
# 2026). Any other number (`at 3 15`, `in 15`, `thu 15th`, `3 30`) is ambiguous to dateparser,
# which reads it as a month or a day; so is a spoken number ("two three").
_FALLBACK_NUMBERS = _Lazy(
    r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}"
    r"|[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:\s*[ap]\.?m\.?(?![a-z]))?"
    r"|[0-9]{1,2}\s*[ap]\.?m\.?(?![a-z])"
    rf"|(?:[0-9]{{1,2}}{_ORDINAL}\s+(?:of\s+)?)?{_MONTH}(?:\s*[0-9]{{1,2}}{_ORDINAL}(?![0-9a-z:]))?"
    r"(?:,?\s*[0-9]{4}(?![0-9:]))?"
)
_SPOKEN_NUMBER = _Lazy(
    rf"(?<![a-z])(?:{'|'.join(w for w in _EN_NUMBER_WORDS if len(w) > 2)}|zero|oh|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty)(?![a-z])"
)
# Zone abbreviations that name several zones: IST is India, Israel or Ireland.
_AMBIGUOUS_ZONES = _Lazy(rf"(?<![a-z])(?:{'|'.join(_AMBIGUOUS_ZONE_NAMES)})(?![a-z])")


def _check_fallback_text(s: str) -> None:
    """Refuse what dateparser would read only by guessing (see _FALLBACK_NUMBERS)."""
    rest = _FALLBACK_NUMBERS.sub(" ", _SPACED_OFFSET.sub(" ", s))
    if re.search("[0-9]", rest) or _SPOKEN_NUMBER.search(rest):
        raise TimeParseError("cannot tell which numbers are the date and which the time")
    if re.search("[-–~]", rest):  # 10:00-11:00 is a range, and -11:00 no offset
        raise TimeParseError("a range of times: say when it starts")
    if _AMBIGUOUS_ZONES.search(s):
        raise TimeParseError("that zone abbreviation names several zones: say e.g. +05:30")


def _check_weekday(s: str, found: date) -> None:
    """A weekday named beside a date must be that date's: 'Monday, Feb 18'."""
    named = {_WEEKDAYS[m[1][:3]] for m in re.finditer(rf"(?<![a-z]){_EN_WEEKDAY}", s)}
    if named and named != {found.weekday()}:
        said = " / ".join(_WEEKDAY_NAMES[w] for w in sorted(named))
        raise TimeParseError(
            f"{found:%Y-%m-%d} is a {_WEEKDAY_NAMES[found.weekday()]}, not a {said}"
        )


def _read_with_dateparser(s: str, now: datetime, tz: ZoneInfo) -> datetime:
    _check_fallback_text(s)
    # A naive local base and no TIMEZONE / TO_TIMEZONE: naive answers are then wall-clock time
    # in `tz`, which ZoneInfo localises (DST-correct, any zone name), and aware answers mean the
    # text named its own zone.
    settings = {**_DATEPARSER_SETTINGS, "RELATIVE_BASE": now.replace(tzinfo=None)}
    from dateparser.date import DateDataParser  # a fallback: imported when first needed

    data = DateDataParser(languages=["en"], settings=settings).get_date_data(s)
    found = data.date_obj
    if found is None or data.period not in ("time", "day"):
        raise TimeParseError("cannot read this as a date and time")
    if data.period == "day":
        found = found.replace(hour=DATE_ONLY_HOUR, minute=0, second=0, microsecond=0)
    # dateparser drops numbers it cannot place; take only answers that used every one.
    used = {found.year, found.month, found.day, found.hour, found.hour % 12 or 12}
    used |= {found.minute, found.second}
    if any(int(n) not in used for n in re.findall("[0-9]+", _OFFSET.sub("", s))):
        raise TimeParseError("cannot read every part of this as a date and time")
    _check_weekday(s, found.date())
    return found if found.tzinfo is not None else found.replace(tzinfo=tz)


_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen"]  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_ORDINALS = {
    "first": 1, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_SPOKEN = _Lazy(
    rf"(?<![a-z])(?:(?P<tens>{'|'.join(_TENS)})(?:[\s-]?(?P<ones>{'|'.join(_UNITS[1:10])}))?"
    rf"|(?P<oh>oh|o|ou|zero)[\s-](?P<digit>{'|'.join(_UNITS[1:10])})"
    rf"|(?P<unit>{'|'.join(sorted(_UNITS, key=len, reverse=True))}))(?![a-z])"
)
_SPOKEN_ORDINAL = _Lazy(
    rf"(?<![a-z])(?:(?P<tens>twenty|thirty)[\s-]?)?(?P<ord>{'|'.join(_ORDINALS)})(?![a-z])"
    # "second" is also a unit of time: only as a day (the second of march, march second)
    r"|(?<![a-z])(?P<before>the |(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? |^)"
    r"second(?= (?:of|day|mon|tue|wed|thu|fri|sat|sun)|$|,| [0-9]{4})"
)


# An hour and its minutes as a clock shows them: at ten thirty, twelve oh three (not "two
# three", which Duckling lists as no time). Without "at", and unless its minutes are "oh ...",
# it is also how a number is said ("three twenty", 320, in Duckling's list of texts that are
# not times): then it is read only with am/pm or a part of the day, as "3 20" is.
_SPOKEN_CLOCK = _Lazy(
    rf"(?<![a-z])(?P<at>(?:at|@)\s+)?"
    rf"(?P<hour>{'|'.join(sorted(_UNITS[1:13], key=len, reverse=True))})\s+"
    rf"(?P<minute>(?:{'|'.join(_TENS)})(?:\s(?:{'|'.join(_UNITS[1:10])}))?"
    rf"|(?:oh|o|ou|zero)\s(?:{'|'.join(_UNITS[1:10])})"
    rf"|{'|'.join(sorted(_UNITS[10:20], key=len, reverse=True))})"
    r"(?![a-z])(?!\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|seconds?|secs?)(?![a-z]))"
)


def _spoken_to_digits(s: str) -> str:
    """'seven thirty p.m.' -> '7 30 p.m.', 'twelve oh three' -> '12 03', 'march first' ->
    'march 1st': then the same rules, and the same refusals, as for digits."""

    def number(m: re.Match[str]) -> str:
        if m["tens"]:
            return str(_TENS[m["tens"]] + (_UNITS.index(m["ones"]) if m["ones"] else 0))
        if m["oh"]:
            return f"0{_UNITS.index(m['digit'])}"
        return str(_UNITS.index(m["unit"]))

    def ordinal(m: re.Match[str]) -> str:
        if m["before"] is not None:
            return f"{m['before']}2nd"
        value = _ORDINALS[m["ord"]] + (20 if m["tens"] == "twenty" else 30 if m["tens"] else 0)
        return f"{value}{'st' if value % 10 == 1 and value != 11 else 'th'}"

    def clock(m: re.Match[str]) -> str:
        hour, minute = _UNITS.index(m["hour"]), number(_SPOKEN.fullmatch(m["minute"]))
        if m["at"] or m["minute"].startswith(("o", "zero")):
            return f"{m['at'] or ''}{hour}:{minute:0>2}"
        return f"{hour} {minute}"  # as "3 20", a time only with am/pm or a part of the day

    s = re.sub("(?<=[a-z])-(?=[a-z])", " ", s)  # ten-thirty is not the 30th of October
    s = re.sub("(?<=[0-9])ish(?![a-z])", "", s)  # 3ish pm: approximately 3pm
    s = _SPOKEN_CLOCK.sub(clock, s)  # ten thirty is 10:30, and as ambiguous as 10:30
    return _SPOKEN.sub(number, _SPOKEN_ORDINAL.sub(ordinal, s))


def _normalise(text: str) -> str:
    text = text.strip()
    if not text:
        raise TimeParseError("no date or time given")
    if len(text) > MAX_LENGTH:
        raise TimeParseError(f"longer than {MAX_LENGTH} characters")
    text = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    # Traditional characters read as Simplified ones: 今晚8點, 下禮拜二, 後天, 一刻鐘後.
    return _to_simplified().convert(text) if _CJK.search(text) else text


# -------------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Reading:
    """What a text was read as, and what the member should see about it in the echo."""

    at: datetime  # aware, UTC
    # The other half of the day, when the text did not say which (3:30, 三点半): the echo
    # says "15:30 (not 03:30)".
    instead: datetime | None = None
    approximate: bool = False  # 3ish pm, about 3pm, 下午5点多: the echo says "about 15:00"


# Words that say a time is approximate; the time said is taken, and the echo says "about".
_APPROXIMATE = _Lazy(
    r"(?<![a-z])(?:about|around|approximately|approx|roughly)(?![a-z])|[0-9]\s*ish(?![a-z])"
    r"|左右|许|[点时]多"
)


def _both_halves(parts: _Parts, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime | None]:
    """The moment `parts` names and, when its hour did not say which half of the day, the
    other reading. A clock reading without a day (3:30) is the next of the two, as Duckling
    reads it (at 04:30, 15:30; at 01:00, 03:30); with a day, and a Chinese hour (三点半), the
    24-hour reading (03:30): the member sees the other one named in the echo either way."""
    clock = parts.clock
    if (clock is None or not clock.twelve or clock.meridiem is not None
            or parts.period is not None):
        return _resolve(parts, now, tz), None
    am, pm = (_resolve(replace(parts, clock=replace(clock, meridiem=m)), now, tz)
              for m in ("am", "pm"))
    if clock.nearest and parts.day is None and parts.shift is None:
        return (am, pm) if am <= pm else (pm, am)
    return (pm, am) if clock.hour == 12 else (am, pm)


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """Read `text` in the member's zone `tz`, relative to `now` (an aware datetime, any zone).

    Returns an AWARE datetime in UTC. Raises TimeParseError when the text cannot be read,
    or is ambiguous/garbage. Never returns a naive datetime. A date without a time means
    09:00 local; see the module docstring for the other conventions.
    """
    return read_when(text, now=now, tz=tz).at


def read_when(text: str, *, now: datetime, tz: ZoneInfo) -> Reading:
    """parse_when, with what the echo must say: the other half of the day when the text did
    not say which, and whether the time was said as approximate."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    s = _normalise(text)
    approximate = _APPROXIMATE.search(s) is not None
    if not _CJK.search(s):
        s = _spoken_to_digits(s)
    local_now = now.astimezone(tz)
    instead = None
    try:
        if _ISO.fullmatch(s):
            found = _read_iso(s, tz)
        elif (parts := _scan(s)) is not None:
            if parts.zone is not None:  # the day and the hour are the named zone's
                tz = ZoneInfo(parts.zone)
                local_now = now.astimezone(tz)
            found, instead = _both_halves(parts, local_now, tz)
        elif (read := _read_duration(s, 0)) is not None and read[0] == len(s):
            raise TimeParseError("that is a duration: say 'in 2 hours' or '两小时后'")
        elif _CJK.search(s):
            raise TimeParseError("cannot read this as a date and time")
        else:
            found = _read_with_dateparser(s, local_now, tz)
        return Reading(
            found.astimezone(UTC),
            None if instead is None else instead.astimezone(UTC),
            approximate,
        )
    except TimeParseError:
        raise
    except (ValueError, OverflowError) as exc:  # dates past year 9999 and the like
        raise TimeParseError("out of range") from exc


def parse_duration(text: str) -> timedelta:
    """Read a positive duration: 90s, 30m, 1h, 2d, 1h30m, 1.5h, 2 hours, 3 days, 2 hours and
    30 minutes, half an hour, 两小时, 两个小时, 一个半小时, 半小时, 30分钟, 1天, 1周.

    Raises TimeParseError on anything else, and on zero.
    """
    s = _normalise(text)
    read = _read_duration(s, 0)
    if read is None or read[0] != len(s):
        raise TimeParseError("cannot read this as a duration")
    shift = read[1]
    try:
        if shift.months:
            raise TimeParseError("months and years have no fixed length: say days or weeks")
        duration = timedelta(days=shift.days, seconds=shift.seconds)
    except OverflowError as exc:
        raise TimeParseError("duration too long") from exc
    if duration <= timedelta(0):
        raise TimeParseError("a duration must be longer than zero")
    return duration
