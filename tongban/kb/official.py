"""Which web addresses a citizen may be sent to: government sites and national state media.

Everything else is a repost: kept in the knowledge base for editors as where a fact was checked,
shown to citizens without a link (tongban.reply.SourceView.repost).
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Every government site in China is under gov.cn (ministries, provinces, cities, counties),
# plus the few central bodies and national media below. Editors: add a domain here only for a
# central-government body or national state media, never for a portal or a repost site.
GOVERNMENT_SUFFIXES = ("gov.cn",)
CENTRAL_BODIES = (
    "12371.cn",  # 共产党员网 (中共中央组织部)
    "court.gov.cn",
    "npc.gov.cn",
    "chinatax.gov.cn",
)
NATIONAL_MEDIA = (
    "people.com.cn",  # 人民日报 / 人民网
    "xinhuanet.com",  # 新华社
    "news.cn",
    "cctv.com",  # 中央广播电视总台
    "cctv.cn",
    "cnr.cn",
    "cri.cn",
    "gmw.cn",  # 光明日报
    "ce.cn",  # 经济日报
    "chinadaily.com.cn",
    "legaldaily.com.cn",  # 法治日报
    "youth.cn",  # 中国青年报
    "qstheory.cn",  # 求是
    "chinanews.com.cn",  # 中国新闻社
)
OFFICIAL_DOMAINS = GOVERNMENT_SUFFIXES + CENTRAL_BODIES + NATIONAL_MEDIA


def is_official_url(url: str | None) -> bool:
    """True for https/http addresses on an official domain or one of its subdomains."""
    if not url:
        return False
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in OFFICIAL_DOMAINS)
