"""`/reports` (报告): the team's industry report library, filed and found in both languages."""

from __future__ import annotations

from tests.support import Chat, build_app

EV = "https://example.com/reports/ev-2026.pdf"


def test_file_and_find_reports_in_chinese(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "报告库还是空的" in alice("/reports")
    added = alice(f"/reports add {EV} 2026新能源汽车行业报告 #新能源 #汽车")
    assert "已收录报告 #1:2026新能源汽车行业报告(标签:新能源、汽车)" in added
    alice("报告 添加 https://example.com/privacy.pdf EU GDPR 合规指南 #欧盟 #数据")
    found = alice("/reports search 新能源")
    assert "2026新能源汽车行业报告" in found and EV in found and "GDPR" not in found
    assert "EU GDPR 合规指南" in alice("/reports search gdpr")  # case folded
    assert "EU GDPR 合规指南" in alice("/reports search 欧盟 数据")  # every word, tags too
    assert "没有与“火星”相关的报告" in alice("/reports search 火星")
    listed = alice("/reports")
    assert listed.index("#2 EU GDPR") < listed.index("#1 2026新能源")  # newest first


def test_bad_input_changes_nothing(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "不是有效的 http(s) 链接" in alice("/reports add javascript:alert(1) 标题")
    assert "不是有效的 http(s) 链接" in alice(f"/reports add {EV}")  # no title
    alice(f"/reports add {EV} 报告")
    assert "已经收录为报告 #1" in alice(f"/reports add {EV} 另一个标题")
    assert "用法" in alice("/reports search")
    assert "/reports search" in alice("/reports serch")


def test_in_english_and_markup_stays_text_on_slack(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/lang en")
    assert "Filed report #1: EV market 2026 (tags: ev, china)" in alice(
        f"/reports add {EV} EV market 2026 #ev #china")
    assert "EV market 2026" in alice("/reports search ev")
    assert "No report in the library matches “solar”" in alice("/reports search solar")
    slack = Chat(app, "U1", platform="slack", channel="D1")
    slack("/reports add https://example.com/x.pdf <!channel> 报告")
    text = slack("/reports search 报告")
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_the_materials_step_of_a_communication_plan_offers_matching_reports(
        db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice(f"/reports add {EV} 2026新能源汽车行业报告 #新能源 #汽车")
    alice("/reports add https://example.com/gdpr.pdf EU GDPR 合规指南 #欧盟")
    prompt = alice('/comm new audience=media audience_name="财新" topic="新能源车型发布" '
                   'goal=publish goal_text="三家媒体报道新品"')
    assert "3. 收集与整理资料" in prompt
    assert "报告库中可能有用的资料" in prompt
    assert "2026新能源汽车行业报告" in prompt and EV in prompt
    assert "GDPR" not in prompt
    # Nothing offered when nothing fits.
    bob = Chat(app, "bob")
    bob("/lang en")
    prompt = bob('/comm new audience=partner audience_name="ACME" topic="Quarterly review" '
                 'goal=solve goal_text="agree on delivery dates"')
    assert "3. Materials" in prompt and "report library" not in prompt
