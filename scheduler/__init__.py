"""Background work: outbox delivery, reminders, SLA watch, auto-close, surveys.

Due times live on database rows; APScheduler only drives periodic sweeps over them, so nothing is
pickled and nothing is lost or repeated across restarts.
"""
