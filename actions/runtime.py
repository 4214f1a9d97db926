"""The one Tongban instance of the action server, built when the actions package is imported.

The action server imports `actions` once at start-up, so the knowledge base loads once per process.
"""

from tongban import Tongban
from tongban.cases import CaseService
from tongban.dialogue import Conversation

TONGBAN = Tongban.load(warm=True)
CONVERSATION = Conversation(TONGBAN)
CASES = CaseService.from_env()
