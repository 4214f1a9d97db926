"""The WeChat Official Account (公众号) channel's parts: configuration, crypto, stores, replies,
the customer-service client, the menu and the simulator. The Rasa channel is tongban/channels/wechat.py.
"""
