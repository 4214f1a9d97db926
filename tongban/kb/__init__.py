"""The knowledge base: typed records, loading with validation, and the as-of timeline."""

from tongban.kb.loader import load_knowledge
from tongban.kb.model import KnowledgeBase

__all__ = ["KnowledgeBase", "load_knowledge"]
