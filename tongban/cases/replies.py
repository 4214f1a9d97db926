"""Everything Tongban says about case status: the one place these sentences are written."""

from __future__ import annotations

import datetime as dt

from tongban.cases.model import CaseRecord, mask_case_id, mask_name
from tongban.cases.service import Lookup, Outcome

ASK_CASE_NUMBER = (
    "请提供办件编号（受理回执或短信里的编号，8–32位字母和数字，例如 SC2025110300342）。"
)
ASK_LAST4 = "为保护您的隐私，请输入申请人身份证号码或登记手机号码的后4位。"
BAD_CASE_NUMBER = "这个办件编号的格式不对：应为8–32位字母和数字。请再核对一下受理回执上的编号。"
BAD_LAST4 = "请输入4位：身份证号码后4位（最后一位可能是X）或手机号码后4位。"
NO_HISTORY = "请先查询一次办件（需要验证），再查看办理记录。"
FORM_EXPIRED = "为保护您的隐私，刚才填写的办件编号和后4位已失效，请重新说一下要查询的办件。"


def _when(stamp: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(stamp) if "T" in stamp or " " in stamp else None
    except ValueError:
        return stamp
    if moment is None:
        try:
            day = dt.date.fromisoformat(stamp)
        except ValueError:
            return stamp
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def found(record: CaseRecord) -> str:
    status = record.status + (f"——{record.status_note}" if record.status_note else "")
    dates = f"受理时间：{_when(record.accepted_at)}"
    if record.due_at:
        dates += f"；承诺办结：{_when(record.due_at)}"
    return "\n".join(
        [
            f"办件编号 {mask_case_id(record.case_id)}（申请人 {mask_name(record.applicant)}）",
            f"事项：{record.item}",
            f"办理地：{record.region}",
            f"当前状态：{status}",
            dates,
            f"最近更新：{_when(record.updated_at)}",
        ]
    )


def history(record: CaseRecord) -> str:
    if not record.history:
        return f"办件 {mask_case_id(record.case_id)} 暂无办理记录。当前状态：{record.status}"
    lines = [f"办件 {mask_case_id(record.case_id)} 的办理记录："]
    lines += [
        f"{_when(h.at)}　{h.status}" + (f"：{h.note}" if h.note else "") for h in record.history
    ]
    return "\n".join(lines)


def _wait(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} 分钟"
    return f"{-(-minutes // 60)} 小时"


def outcome_text(result: Lookup) -> str:
    if result.outcome is Outcome.FOUND and result.record:
        return found(result.record)
    wait = _wait(result.retry_minutes)
    return {
        # One sentence for both "no such case" and "wrong last 4", so neither can be probed.
        Outcome.NO_MATCH: "没有查到与这个办件编号和验证信息相符的办件。请核对编号和后4位后再试，或拨打12345热线。",
        Outcome.LOCKED: f"验证失败次数过多，为保护信息安全，请 {wait}后再试，或拨打12345热线。",
        # Said for any well-formed number, existing or not, so it reveals nothing either.
        Outcome.CASE_LOCKED: f"这个办件编号的验证失败次数过多，为保护申请人信息，暂停网上查询：请 {wait}后再试，或拨打12345热线查询。",
        Outcome.INVALID_CASE: BAD_CASE_NUMBER,
        Outcome.INVALID_LAST4: BAD_LAST4,
        Outcome.UNAVAILABLE: "办件系统暂时无法访问，请稍后再试，或拨打12345热线查询。",
    }[result.outcome]
