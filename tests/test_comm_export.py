"""`liaison comm export`: a CSV a spreadsheet opens with Chinese intact and no formulas run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.cli import main
from tests.support import Chat, build_app

BOM = b"\xef\xbb\xbf"


def _records(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    chat = Chat(app, "alice", name="王小明")
    chat("/comm new audience=媒体 audience_name=新华社 topic=新品发布 goal=publish "
         "goal_text=三家媒体报道 channel=press_release")
    chat("新闻稿草稿\nhttps://example.com/data")
    chat("完成")
    chat("跳过")
    chat("确认")
    chat("/comm check K-2026-0001 contact 电话 at=今天上午9点")
    chat("/comm check K-2026-0001 feedback 问价格")
    chat("/comm check K-2026-0001 feedback 问渠道")
    chat("/comm new audience=partner goal=other channel=email")
    chat("=HYPERLINK(\"http://evil\",\"x\")")  # the partner's name, as someone pasted it
    chat("-合作续约")
    chat("续约条件")
    chat("跳过")
    chat("跳过")
    chat("确认")
    app.db.dispose()


def _export(monkeypatch, db_url, out: Path, *extra: str) -> list[list[str]]:  # noqa: ANN001
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["comm", "export", "--out", str(out), *extra]) == 0
    data = out.read_bytes()
    assert data.startswith(BOM), "no byte-order mark: Excel would show mojibake"
    with out.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_export_is_utf8_with_bom_and_reads_back_with_csv(db_url, tmp_path, clock, monkeypatch):
    _records(db_url, tmp_path)
    rows = _export(monkeypatch, db_url, tmp_path / "comm.csv")
    header, first, second = rows
    assert header[:4] == ["编号", "状态", "负责人", "对象类型"]
    assert "创建时间(Asia/Shanghai)" in header
    record = dict(zip(header, first, strict=True))
    assert record["编号"] == "K-2026-0001" and record["状态"] == "执行中"
    assert record["负责人"] == "王小明" and record["对象类型"] == "媒体"
    assert record["资料"] == "新闻稿草稿\nhttps://example.com/data"  # one cell, two lines
    assert record["渠道"] == "新闻稿"
    assert record["初步接触时间(Asia/Shanghai)"] == "2026-11-26 09:00"
    assert record["对方疑问与建议"] == "问价格\n问渠道"
    assert record["复盘时间(Asia/Shanghai)"] == "" and record["效果评分(1-5)"] == ""
    other = dict(zip(header, second, strict=True))
    # A cell that would start a formula is kept as text.
    assert other["对象名称"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert other["主题"] == "'-合作续约"


def test_export_in_english_and_to_standard_output(db_url, tmp_path, clock, monkeypatch,
                                                  capsysbinary):  # noqa: ANN001
    _records(db_url, tmp_path)
    rows = _export(monkeypatch, db_url, tmp_path / "en.csv", "--locale", "en")
    assert rows[0][:3] == ["ID", "State", "Owner"]
    assert rows[1][3] == "Media" and rows[2][3] == "Partner"
    assert main(["comm", "export"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(BOM)
    rows = list(csv.reader(io.StringIO(out.decode("utf-8-sig"), newline="")))
    assert len(rows) == 3 and rows[1][0] == "K-2026-0001"


def test_an_empty_export_has_the_header_only(db_url, tmp_path, monkeypatch):  # noqa: ANN001
    rows = _export(monkeypatch, db_url, tmp_path / "empty.csv")
    assert len(rows) == 1 and rows[0][0] == "编号"


def test_comm_without_a_subcommand_shows_its_help(monkeypatch, capsys):  # noqa: ANN001
    with pytest.raises(SystemExit):
        main(["comm"])
    assert "export" in capsys.readouterr().out
