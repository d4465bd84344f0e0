"""Grouping of incident reports into outages (major incidents): which reports are the same outage, and
whether a first description is about a known one. Offline, Russian and English; see docs/major-incidents.md.
"""
