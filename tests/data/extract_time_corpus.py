"""Rebuild time_corpus.tsv from peers' public test suites (run by hand; not part of the tests).

    python tests/data/extract_time_corpus.py DUCKLING JIONLP DATEPARSER  # their git checkouts

Reads git HEAD of a Duckling and a JioNLP checkout and keeps the phrases that name ONE point
in time a scheduler would take: Duckling examples built with `datetime` (not intervals) at
Second/Minute/Hour/Day grain, holidays only for the few our calendar data names; JioNLP
`time_point`s whose span is one second, minute, hour or day, with a full reference time.
Duckling's negative corpus is kept as phrases that must be refused. The language of a
Chinese phrase is Traditional when OpenCC's t2s changes it, else Simplified.
Columns: lang, source (repo:path:line), phrase, reference time, zone, expected local
time, grain, and a last column that we fill by hand: a defensible reading and its reason
(kept from the table being rebuilt, by source and phrase).
"""

import ast
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import opencc

T2S = opencc.OpenCC("t2s")
# Holidays the calendar data names (the rest are rare for a reminder bot).
HOLIDAYS = {
    "Christmas",
    "Christmas Eve",
    "New Year's Day",
    "New Year's Eve",
    "Chinese New Year",
    "National Day",
    "Labor Day",
    "Dragon Boat Festival",
    "Mid-autumn Festival",
    "Qingming Festival",
    "Lantern Festival",
}
GRAINS = {"Second", "Minute", "Hour", "Day"}
DUCKLING_REF = "2013-02-12T04:30:00-02:00"
DUCKLING_ZONE = "Etc/GMT+2"  # UTC-2, as Duckling's testContext


def show(repo: str, path: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def lang_of(phrase: str, default: str) -> str:
    if not re.search("[\u4e00-\u9fff]", phrase):
        return default
    return "zh-Hant" if T2S.convert(phrase) != phrase else "zh-Hans"


def duckling(repo: str, path: str, default_lang: str):
    lines = show(repo, path)
    head = re.compile(
        r"examples \((datetime|datetimeHoliday)\s+\((\d+), (\d+), (\d+), (\d+), (\d+),"
        r" (\d+)\) (\w+)(?: \"([^\"]+)\")?\)"
    )
    i = 0
    in_negative = False
    while i < len(lines):
        line = lines[i]
        if line.startswith("diffCorpus ="):  # another reference time: left out
            while i + 1 < len(lines) and not lines[i + 1].startswith("allExamples"):
                i += 1
        if line.startswith("negativeCorpus ="):
            in_negative = True
        elif in_negative and re.match(r"^\w", line):
            in_negative = False
        if in_negative and (m := re.match(r'\s*[\[,]\s*"(.*)"\s*$', line)):
            yield (
                "negative",
                f"duckling:{path}:{i + 1}",
                m[1],
                DUCKLING_REF,
                DUCKLING_ZONE,
                "",
                "",
                "",
            )
            i += 1
            continue
        m = head.search(line)
        if not m:
            i += 1
            continue
        kind, *nums, grain, holiday = m.groups()
        keep = grain in GRAINS and (kind == "datetime" or holiday in HOLIDAYS)
        y, mo, d, h, mi, s = map(int, nums)
        expected = dt.datetime(y, mo, d, h, mi, s).isoformat()
        i += 1
        while i < len(lines):
            pm = re.match(r'\s*[\[,]\s*"(.*)"\s*(\])?\s*$', lines[i])
            if pm and keep:
                phrase = pm[1].replace('\\"', '"')
                yield (
                    lang_of(phrase, default_lang),
                    f"duckling:{path}:{i + 1}",
                    phrase,
                    DUCKLING_REF,
                    DUCKLING_ZONE,
                    expected,
                    grain,
                    "",
                )
            if (pm and pm[2]) or (not pm and "]" in lines[i]):
                break
            i += 1
        i += 1


def _ref(node: ast.AST, names: dict) -> dt.datetime | None:
    shanghai = ZoneInfo("Asia/Shanghai")
    if isinstance(node, ast.Name):
        return dt.datetime.fromtimestamp(names[node.id], shanghai)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return dt.datetime.fromtimestamp(node.value, shanghai)
    if isinstance(node, ast.Call) and node.args:  # datetime.datetime(...)
        return dt.datetime(*[a.value for a in node.args], tzinfo=shanghai)
    if isinstance(node, ast.List) and len(node.elts) >= 3:
        return dt.datetime(*[e.value for e in node.elts], tzinfo=shanghai)
    return None  # a partial reference ({'year': 1837}): skipped


def jionlp(repo: str, path: str):
    text = "\n".join(show(repo, path))
    tree = ast.parse(text)
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if re.fullmatch(r"_ts_\d", target) and isinstance(node.value, ast.Constant):
                names[target] = node.value.value
            if target == "time_string_list":
                for elt in node.value.elts:
                    phrase = elt.elts[0].value
                    ref = _ref(elt.elts[1], names)
                    answer = ast.literal_eval(elt.elts[-1])
                    if (
                        ref is None
                        or not isinstance(answer, dict)
                        or answer.get("type") != "time_point"
                    ):
                        continue
                    start, end = (dt.datetime.fromisoformat(t) for t in answer["time"])
                    width = (end - start).total_seconds()
                    grain = {0: "Second", 59: "Minute", 3599: "Hour", 86399: "Day"}.get(width)
                    if grain is None:
                        continue
                    yield (
                        lang_of(phrase, "zh-Hans"),
                        f"jionlp:{path}:{elt.lineno}",
                        phrase,
                        ref.isoformat(),
                        "Asia/Shanghai",
                        start.isoformat(),
                        grain,
                        "",
                    )


FRESHNESS_TESTS = {
    "test_relative_past_dates_with_time_as_period": -1,
    "test_relative_past_dates": -1,
    "test_relative_future_dates": 1,
}
# dateparser reads a bare amount ("15 hr", "2 min") as that long ago, as a scraped page means
# it; in a chat it is a duration, which we refuse as a time. Those are left out.
_DIRECTION = r"ago|before|later|from now|\bin\b|after|now|yesterday|tomorrow|today|till"
FRESHNESS_NOW = dt.datetime(2014, 9, 1, 10, 30, tzinfo=dt.UTC)  # its setUp, in UTC


def dateparser_freshness(repo: str, path: str):
    """The English phrases of dateparser's relative-date tests that move by seconds to weeks
    (months and years we do not read)."""
    lines = show(repo, path)
    language = [None] * (len(lines) + 2)
    current = None
    for number, line in enumerate(lines, 1):
        if "@parameterized.expand" in line:
            current = None
        elif m := re.match(r"\s*# (\w+) dates", line):
            current = m[1]
        language[number] = current
    seen = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.FunctionDef) or node.name not in FRESHNESS_TESTS:
            continue
        sign = FRESHNESS_TESTS[node.name]
        for decorator in node.decorator_list:
            for elt in decorator.args[0].elts if isinstance(decorator, ast.Call) else []:
                phrase = elt.args[0]
                if not isinstance(phrase, ast.Constant) or language[elt.lineno] != "English":
                    continue
                keywords = {k.arg: k.value for k in elt.keywords}
                delta = ast.literal_eval(keywords.get("ago") or keywords["in_future"])
                if not set(delta) <= {"seconds", "minutes", "hours", "days", "weeks"}:
                    continue
                if phrase.value in seen or not re.search(_DIRECTION, phrase.value):
                    continue
                seen.add(phrase.value)
                found = FRESHNESS_NOW + sign * dt.timedelta(**delta)
                grain = "Day" if set(delta) <= {"days", "weeks"} else "Second"
                yield ("en", f"dateparser:{path}:{elt.lineno}", phrase.value,
                       FRESHNESS_NOW.isoformat(), "UTC", found.replace(tzinfo=None).isoformat(),
                       grain, "")  # fmt: skip


def main() -> None:
    duck, jio = sys.argv[1], sys.argv[2]
    parser = sys.argv[3]
    table = Path(__file__).with_name("time_corpus.tsv")
    kept = {}
    if table.exists():
        for line in table.read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split("\t")
            kept[cells[1], cells[2]] = cells[7]
    rows = [
        *duckling(duck, "Duckling/Time/EN/Corpus.hs", "en"),
        *duckling(duck, "Duckling/Time/ZH/Corpus.hs", "zh-Hans"),
        *jionlp(jio, "test/test_time_parser.py"),
        *dateparser_freshness(parser, "tests/test_freshness_date_parser.py"),
    ]
    lines = ["lang\tsource\tphrase\treference\tzone\texpected\tgrain\tdefensible"]
    for row in rows:
        lines.append("\t".join([*row[:7], kept.get((row[1], row[2]), "")]))
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
