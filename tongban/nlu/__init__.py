"""Rasa-facing pieces built from the knowledge base: generated NLU artefacts and the tokenizer.

`generate` needs no Rasa; `tokenizer` is imported by Rasa's pipeline only.
"""
