"""Tongban (通办助手): answers about 跨省通办 government services from a sourced knowledge base.

The public surface is small: build one `Tongban` at start-up, then call `ask` or `answer`; both return a `Reply`.
"""

from tongban.answers import Question, QuestionKind
from tongban.assistant import Tongban
from tongban.errors import KnowledgeError, TongbanError
from tongban.reply import Reply

__all__ = ["KnowledgeError", "Question", "QuestionKind", "Reply", "Tongban", "TongbanError"]
