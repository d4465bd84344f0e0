"""The time, as the domain reads it: timezone-aware UTC, from the one clock the layers share.

`storage.types.utcnow` is that clock (the layers below the domain, delivery included, read it there);
tests and business-hours calendars reason about one time source.
"""

from __future__ import annotations

from storage.types import utcnow

now_utc = utcnow
