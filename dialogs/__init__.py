"""Conversations, transport-free: the intake form as data (steps, prompts, validation, buttons).

The Telegram runtime and the console chat both render these prompts and feed user input back.
"""
