"""Rasa input channels of Tongban, as Sanic blueprints on Rasa's own Sanic (21.12).

- `tongban.channels.socketio.SocketIOInput`: Rasa's socket.io channel, fixed for python-socketio 5.18
  and Sanic 21.12 on Python 3.11 (the web chat talks to it).
- `tongban.channels.webchat.WebChatInput`: the citizens' web chat page and widget, and 好差评 ratings.
"""
