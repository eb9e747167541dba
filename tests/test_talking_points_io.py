"""`liaison tp import` / `export`: all rows or none, line numbers for bad rows, approval only
by a named approver, and a file that goes round."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.db import upgrade
from handlers.talking_points import io as tio
from handlers.talking_points.models import PointStatus, TalkingPoint, TalkingPointVersion
from handlers.talking_points.search import search
from tests.support import Chat, build_app, liaison

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "talking_points.yaml"


def _count(app, model=TalkingPoint) -> int:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _found(app, query: str) -> list[str]:  # noqa: ANN001
    with app.db.session() as s:
        return [h.topic for h in search(s, query, now=datetime.now(UTC)).approved]


def _with_approver(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "bob")("/whoami")
    Chat(app, "admin")("/role grant @bob approver")
    return app


def test_the_example_file_imports_pending_then_approved(db_url, tmp_path, clock):
    app = _with_approver(db_url, tmp_path)
    ids = tio.import_file(app.db, app.settings, EXAMPLE)
    assert len(ids) >= 12
    with app.db.session() as s:
        languages = {p.language for p in s.exec(select(TalkingPoint)).all()}
        assert languages == {"zh", "en"}
        assert {p.status for p in s.exec(select(TalkingPoint)).all()} == {PointStatus.PENDING}
    assert _found(app, "退款") == []  # waiting for approval
    assert "退款政策" in Chat(app, "bob")("/tp pending")


def test_approved_by_an_approver_serves_at_once(db_url, tmp_path, clock):
    app = _with_approver(db_url, tmp_path)
    Chat(app, "alice")("/whoami")
    with pytest.raises(tio.UnknownApprover, match="not an approver"):
        tio.import_file(app.db, app.settings, EXAMPLE, approved_by="console:alice")
    with pytest.raises(tio.UnknownApprover, match="no such member"):
        tio.import_file(app.db, app.settings, EXAMPLE, approved_by="console:nobody")
    assert _count(app) == 0
    tio.import_file(app.db, app.settings, EXAMPLE, approved_by="console:bob")
    assert _found(app, "环保") == ["环保政策"]
    assert _found(app, "recall")[0] == "Product recall"
    out = Chat(app, "alice")("/tp show 1")
    assert "(导入)" in out and "bob 批准" in out


def test_a_csv_with_bad_rows_is_refused_whole_with_line_numbers(db_url, tmp_path, clock):
    app = _with_approver(db_url, tmp_path)
    path = tmp_path / "points.csv"
    path.write_text(
        "topic,question,answer,tags,language\n"
        "退款政策,可以退款吗?,可以,退款,zh\n"
        '环保,"多行\n问题?",,环保,zh\n'  # lines 3-4: empty answer
        "Refund,Can I?,Yes,refund,fr\n"  # line 5: language
        "退款政策,可以退款吗?,重复,退款,zh\n",  # line 6: repeats line 2
        encoding="utf-8-sig",
    )
    with pytest.raises(tio.Refused) as refused:
        tio.import_file(app.db, app.settings, path, approved_by="console:bob")
    assert refused.value.problems == [
        (3, "answer is empty"),
        (5, "language must be zh or en"),
        (6, "repeats the talking point on line 2"),
    ]
    assert _count(app) == 0 and _count(app, TalkingPointVersion) == 0


def test_yaml_rows_are_checked_with_their_line_numbers(db_url, tmp_path, clock):
    app = _with_approver(db_url, tmp_path)
    path = tmp_path / "points.yaml"
    path.write_text(
        "- topic: 好的\n  question: 问?\n  answer: 答\n  language: zh\n"
        "- topic: 坏的\n  question: 问?\n  answer: 答\n  language: zh\n"
        f"  tags: [{'x' * 31}]\n"
        "- topic: 拼错\n  question: 问?\n  anwser: 答\n  language: zh\n",
        encoding="utf-8",
    )
    with pytest.raises(tio.Refused) as refused:
        tio.import_file(app.db, app.settings, path)
    assert [line for line, _ in refused.value.problems] == [5, 10]
    assert "tag 'xxx" in refused.value.problems[0][1]
    assert "unknown column(s) 'anwser'" in refused.value.problems[1][1]
    assert _count(app) == 0
    path.write_text(path.read_text().replace("anwser", "answer").replace("x" * 31, "x"))
    assert len(tio.import_file(app.db, app.settings, path)) == 3


@pytest.mark.parametrize("fmt", ["csv", "yaml"])
def test_export_then_import_gives_the_same_points(db_url, tmp_path, clock, fmt):
    app = _with_approver(db_url, tmp_path)
    tio.import_file(app.db, app.settings, EXAMPLE, approved_by="console:bob")
    data = tio.export(app.db, fmt)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheet programs
    exported = tmp_path / f"export.{fmt}"
    exported.write_bytes(data)

    other_url = db_url.replace("liaison.db", "other.db") if "sqlite" in db_url else db_url
    upgrade(other_url)
    other, _ = build_app(other_url, tmp_path / "other")
    if "sqlite" not in db_url:  # the same PostgreSQL database: start from an empty one
        with other.db.session() as s:
            for model in (TalkingPointVersion, TalkingPoint):
                for row in s.exec(select(model)).all():
                    s.delete(row)
    tio.import_file(other.db, other.settings, exported)

    def contents(a):  # noqa: ANN001, ANN202
        with a.db.session() as s:
            return sorted((v.topic, v.question, v.answer, v.tags, v.language)
                          for v in s.exec(select(TalkingPointVersion)).all())

    assert contents(other) == contents(app)


def test_a_formula_in_a_point_is_exported_as_text_and_imports_back(sqlite_url, tmp_path, clock):
    app = _with_approver(sqlite_url, tmp_path)
    path = tmp_path / "formula.yaml"
    path.write_text("- topic: 价格\n  question: '=HYPERLINK(\"http://evil\",\"x\")'\n"
                    "  answer: '-2% 的折扣不对外'\n  language: zh\n", encoding="utf-8")
    tio.import_file(app.db, app.settings, path, approved_by="console:bob")
    data = tio.export(app.db, "csv")
    row = next(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    # A spreadsheet shows these as text instead of running them (CSV injection).
    assert row["question"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert row["answer"] == "'-2% 的折扣不对外"
    rows, problems = tio.read_rows(_written(tmp_path / "again.csv", data))
    assert problems == []
    assert rows[0].raw["question"] == '=HYPERLINK("http://evil","x")'
    assert rows[0].raw["answer"] == "-2% 的折扣不对外"


def test_a_csv_file_saved_by_chinese_excel_is_read(tmp_path: Path) -> None:
    # Chinese Excel and WPS save "CSV" in GBK, not UTF-8; GB18030 reads it.
    data = "topic,question,answer,tags,language\n价格,有折扣吗?,不对外公布,,zh\n"
    rows, problems = tio.read_rows(_written(tmp_path / "gbk.csv", data.encode("gbk")))
    assert problems == [] and rows[0].raw["question"] == "有折扣吗?"
    with pytest.raises(tio.Refused) as refused:
        tio.read_rows(_written(tmp_path / "junk.csv", b"topic\n\xff\xfe\x80\n"))
    assert "is neither UTF-8 nor GB18030 text" in refused.value.problems[0][1]


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _cli(tmp_path: Path, *args: str):  # noqa: ANN202
    return liaison(*args, HOME=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")


def test_the_command_line(tmp_path: Path) -> None:
    for args in (["tp"], ["tp", "import"], ["tp", "export"]):
        done = _cli(tmp_path, *args, "--help")
        assert done.returncode == 0 and "usage: liaison tp" in done.stdout, args
    bad = tmp_path / "bad.csv"
    bad.write_text("topic,question,answer,tags,language\nA,B,,x,en\n", encoding="utf-8")
    done = _cli(tmp_path, "tp", "import", str(bad))
    assert done.returncode == 1
    assert "nothing imported" in done.stderr and "line 2: answer is empty" in done.stderr
    done = _cli(tmp_path, "tp", "import", str(EXAMPLE))
    assert done.returncode == 0 and "imported 14 talking points" in done.stdout
    done = _cli(tmp_path, "tp", "export", "--format", "yaml")
    assert done.returncode == 0 and done.stdout.startswith("talking_points: []")
