"""Client for a real case API: GET {base_url}/cases/{case_id} with a bearer token.

The token comes from the environment, never from files in the repository. Records arrive plain
from the real case system and are kept nowhere here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import requests

from tongban.cases.model import CaseRecord, CaseValidationError, record_from_mapping
from tongban.cases.store import CaseStoreError


class HttpCaseStore:
    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = 3.0, retries: int = 2
    ):
        if not base_url.startswith(("http://", "https://")):
            raise CaseStoreError(f"办件接口地址“{base_url}”应以 http:// 或 https:// 开头")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries = timeout, retries
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, case_id: str) -> CaseRecord | None:
        url = f"{self.base_url}/cases/{case_id}"
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            else:
                if response.status_code == 404:
                    return None
                if response.status_code < 500:
                    return self._parse(response)
                last_error = f"HTTP {response.status_code}"
            if attempt < self.retries:
                time.sleep(0.2 * 2**attempt)
        raise CaseStoreError(f"办件系统暂时无法访问（{last_error}）")

    def match(self, case_id: str, last4: str) -> CaseRecord | None:
        """The record when `last4` verifies it; the API's answer is kept nowhere."""
        record = self.get(case_id)
        return record if record is not None and record.verifies(last4) else None

    def _parse(self, response: requests.Response) -> CaseRecord | None:
        if response.status_code != 200:
            raise CaseStoreError(f"办件系统拒绝了请求（HTTP {response.status_code}）")
        try:
            payload = response.json()
        except ValueError:
            raise CaseStoreError("办件系统返回的不是 JSON") from None
        problems: list[str] = []
        record = record_from_mapping(
            payload.get("case", payload) if isinstance(payload, dict) else payload, 0, problems
        )
        if record is None:
            raise CaseStoreError("办件系统返回的记录不完整：" + str(CaseValidationError(problems)))
        return record

    def upsert(self, records: Iterable[CaseRecord]) -> tuple[int, int]:
        raise CaseStoreError("办件接口是只读的：请在办件系统中导入数据")
