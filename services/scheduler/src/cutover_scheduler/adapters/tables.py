"""The scheduler database. Scheduled events arrive with issue 6; until then it holds the
messaging tables every service has."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
