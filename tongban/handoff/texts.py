"""What the handoff says to citizens, in one place: every channel and the action use these."""

from __future__ import annotations

HOTLINE = "12345"


def queued(position: int) -> str:
    ahead = "您是下一位" if position <= 0 else f"您前面还有 {position} 位"
    return (
        f"已为您转接人工客服，正在排队：{ahead}。工作人员接入后会在这里直接回复您，请不要关闭页面。"
        "等待期间您也可以继续问我。"
    )


def already_active() -> str:
    return "人工客服正在为您服务，请直接在这里留言。"


def closed_hours(hours: str) -> str:
    return (
        f"现在不是人工客服的服务时间（{hours}）。急事请拨打 {HOTLINE} 政务服务便民热线。"
        "您也可以留下手机号，工作人员上班后给您回电。"
    )


ASK_PHONE = "请告诉我您的手机号（或带区号的固定电话），例如 13800138000。不需要回电请说“不用了”。"
BAD_PHONE = "这个号码好像不完整。请输入 11 位手机号，或带区号的固定电话，例如 0755-83123456。"
DECLINED = f"好的，不留电话了。您可以继续问我，或拨打 {HOTLINE} 政务服务便民热线。"
NO_HANDOFF = f"抱歉，暂时无法转接人工客服。请拨打 {HOTLINE} 政务服务便民热线。"


def callback_saved(masked: str) -> str:
    return f"已记下您的电话 {masked}，工作人员会在服务时间内给您回电。您也可以继续问我。"


def joined(agent: str) -> str:
    return f"人工客服{agent}已接入，正在查看您和通办助手的对话，请稍候。"


HANDED_BACK = "人工客服已结束本次服务，接下来由通办助手继续为您解答。如需再次转人工，请说“转人工”。"
CLOSED = "人工客服已结束本次服务，感谢您的耐心。如需再次转人工，请说“转人工”。"
