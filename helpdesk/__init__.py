"""The service-desk domain: lifecycle rules, numbering, triage and the operations handlers and jobs call.

Nothing here imports Telegram; messages for other people are written to the outbox as plain data.
"""
