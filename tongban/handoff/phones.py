"""Phone numbers a citizen leaves for a callback: found in free text, normalised and masked.

Mainland mobiles (11 digits, 1[3-9]…) and landlines with an area code (0xx-xxxxxxxx); full-width
digits, spaces and dashes are accepted. The number itself is only ever kept sealed.
"""

from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})(\d{7,8})(?!\d)")
_JOINERS = re.compile(r"(?<=\d)[\s\-－—·.()（）]+(?=\d)")


def find_phone(text: str | None) -> str | None:
    """The first phone number in `text`, digits only ("13800138000", "075583123456"), or None."""
    folded = _JOINERS.sub("", unicodedata.normalize("NFKC", text or ""))
    mobile = _MOBILE.search(folded)
    if mobile:
        return mobile.group(1)
    landline = _LANDLINE.search(folded)
    return landline.group(1) + landline.group(2) if landline else None


def mask_phone(phone: str) -> str:
    """138****8000; a landline keeps its area code and last 4 (0755****3456)."""
    if phone.startswith("1") and len(phone) == 11:
        return phone[:3] + "****" + phone[-4:]
    area = 3 if phone[:2] in ("01", "02") else 4
    return phone[:area] + "*" * max(len(phone) - area - 4, 1) + phone[-4:]
