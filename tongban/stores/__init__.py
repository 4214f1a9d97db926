"""Stores behind Rasa's own extension points: the conversation tracker store."""
