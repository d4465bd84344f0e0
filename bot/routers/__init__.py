"""Routers: thin handlers that translate Telegram updates into dialog and domain calls."""
