"""The statuses and types every Cutover installation starts with, under fixed ids (the same in every
environment), for clients, tests and benchmarks that refer to them. Accounts' first migration
seeds them."""

from __future__ import annotations

from uuid import UUID

LEAD = UUID("00000000-0000-4000-8000-000000000001")
ACTIVE = UUID("00000000-0000-4000-8000-000000000002")
INACTIVE = UUID("00000000-0000-4000-8000-000000000003")

RESIDENTIAL = UUID("00000000-0000-4000-8000-000000000101")
COMMERCIAL = UUID("00000000-0000-4000-8000-000000000102")
GOVERNMENT = UUID("00000000-0000-4000-8000-000000000103")
