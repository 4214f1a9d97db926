"""Rasa input channels of Tongban, as Sanic blueprints on Rasa's own Sanic (21.12).

- `tongban.channels.webchat.WebChatInput`: the citizens' web chat page and widget, and 好差评 ratings.
"""
