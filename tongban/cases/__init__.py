"""Case status (办件进度): records, stores behind one interface, import, verified lookups, replies."""

from tongban.cases.limits import FailureCounter, SQLiteFailureCounter
from tongban.cases.model import CaseRecord, CaseValidationError
from tongban.cases.service import CaseService, Lookup, Outcome
from tongban.cases.store import CaseStoreError, SQLiteCaseStore

__all__ = [
    "CaseRecord",
    "CaseService",
    "CaseStoreError",
    "CaseValidationError",
    "FailureCounter",
    "Lookup",
    "Outcome",
    "SQLiteCaseStore",
    "SQLiteFailureCounter",
]
