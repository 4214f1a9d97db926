"""Rasa's JiebaTokenizer with its known faults fixed, for Chinese text as citizens type it.

Drops whitespace tokens (they crash DIET on mixed text such as "12123 APP") and tokenises the
simplified, half-width form of the text, keeping character offsets so entity spans still align.
"""

from __future__ import annotations

from typing import Any

import jieba
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from tongban.nlu import rasa_fixes
from tongban.text import same_length_normal_form

# Rasa imports this module first when it loads a Tongban model, in `rasa run`, `rasa shell` and
# `rasa test` alike: the place to mend Rasa's own faults for the whole process.
rasa_fixes.apply()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class TongbanJiebaTokenizer(JiebaTokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return JiebaTokenizer.get_default_config()

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = same_length_normal_form(message.get(attribute) or "")
        tokens = [Token(word, start) for word, start, _ in jieba.tokenize(text) if word.strip()]
        return self._apply_token_pattern(tokens)
