"""Tongban (通办助手): answers about 跨省通办 government services from a sourced knowledge base.

The public surface is small: build one `Tongban` at start-up, then call `ask` or `answer`.
"""

from tongban.answers import Answer, Question, QuestionKind
from tongban.assistant import Tongban
from tongban.errors import KnowledgeError, TongbanError

__all__ = ["Answer", "KnowledgeError", "Question", "QuestionKind", "Tongban", "TongbanError"]
