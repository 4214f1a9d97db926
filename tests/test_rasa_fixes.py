"""The action-response check Rasa runs on every custom action: same verdicts, schema checked once."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import tongban.nlu.tokenizer  # noqa: F401  (loading the pipeline applies the fix)
from tongban.nlu import rasa_fixes

GOOD = {
    "events": [{"event": "slot", "name": "item", "value": "marriage_registration"}],
    "responses": [
        {"text": "可以办理。", "buttons": [{"title": "要带什么", "payload": "要带什么"}]}
    ],
}


def test_loading_the_pipeline_applies_the_fix():
    assert RemoteAction._validate_action_result is rasa_fixes._validate_action_result


def test_a_valid_response_passes():
    assert RemoteAction("action_answer", None)._validate_action_result(GOOD)


@pytest.mark.parametrize(
    "bad",
    [
        {"events": "not a list"},
        {"events": [{"event": "no_such_event"}]},
        {"responses": ["plain text instead of an object"]},
    ],
)
def test_a_malformed_response_is_still_refused_with_rasas_hint(bad):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_answer", None)._validate_action_result(bad)
