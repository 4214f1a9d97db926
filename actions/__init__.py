"""Thin rasa-sdk actions: read the tracker, ask `tongban`, return messages and slot events."""
