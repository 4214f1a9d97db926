"""Rasa-facing pieces built from the knowledge base: generated NLU artefacts and the tokenizer.

`generate` needs no Rasa; `tokenizer` and `entities` are Rasa pipeline components, and importing
`tokenizer` applies `rasa_fixes`.
"""
