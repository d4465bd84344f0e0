"""The framework-free handler layer: what each command, button and message does, and who may use it.

`update.py` reads an update (once, from the Bot API's JSON), `routes.py` is the table of routes and
audiences, `routing.py` the dispatch that checks the caller on every update; the other modules are the
handlers, each a thin step from an update to a dialog or domain call and its answers in the outbox.
Nothing here imports aiogram or python-telegram-bot.
"""
