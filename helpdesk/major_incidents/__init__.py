"""Major incidents: one outage worked as one ticket that informs every reporter (docs/major-incidents.md).

linking.py (the rules of /major, /link, /unlink and what a link does), detection.py (a new incident
placed among the open ones: linked to a major incident it belongs to, or proposed to the staff with
similar ones), proposals.py (the staff's "Merge" / "Not related"), declared.py (`/outage SERVICE text`),
known_outages.py (a customer's first description vs the outages staff know of, offered at intake). Which reports
are one outage is decided by helpdesk/outages/.
"""
