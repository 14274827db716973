"""The broker trusts no stranger. Accounts acts on `scheduler.scheduled-event-due.v1`, so whoever
could write it could disconnect any account: only the scheduler's principal (and admin) may. The
`observer` principal other teams get reads the public topics, and nothing else."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from cutover_contracts.envelope import decode_event
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECTED,
    DISCONNECT_BILLED,
    SCHEDULED_EVENT_DUE,
)
from tests.support.api import (
    ACTIVE,
    at,
    completed_disconnect,
    disconnect,
    event_in_state,
    new_account,
    ok,
    schedule,
)
from tests.support.broker import needs_broker_security, produce_as, read_as, records_of
from tests.support.records import due_event
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]  # a hostile writer on the broker


async def test_a_due_event_forged_by_any_other_principal_is_refused_and_changes_nothing(
    system: System,
) -> None:
    needs_broker_security(system.infra)
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        # Given an active account
        target = await new_account(accounts)
        assert target["account_status_id"] == ACTIVE
        history_before = ok(await accounts.get(f"/accounts/{target['id']}/history"))["items"]

        # When every principal but the scheduler and admin writes a due disconnect for it
        forged_id, forged = due_event(target["id"], reason="forged")
        for principal in ("accounts", "billing", "addresses", "observer"):
            # Then the broker refuses each one
            with pytest.raises(TopicAuthorizationFailedError):
                await produce_as(
                    system.infra,
                    principal,
                    SCHEDULED_EVENT_DUE.name,
                    forged,
                    key=str(target["id"]).encode(),
                )

        # And a genuine scheduled disconnect for another account, due after them, is processed
        other = await new_account(accounts)
        event = await schedule(
            scheduler, "disconnect_account", other["id"], at(1.0), reason="genuine"
        )
        done = await event_in_state(scheduler, event["id"], ("completed", "failed"))
        assert done["state"] == "completed", done
        await completed_disconnect(accounts, done["disconnect_id"])

        # while the first account is unchanged: still active, never disconnected
        shown = ok(await accounts.get(f"/accounts/{target['id']}"))
        assert shown["account_status_id"] == ACTIVE
        assert ok(await accounts.get(f"/accounts/{target['id']}/disconnects"))["items"] == []
        history = ok(await accounts.get(f"/accounts/{target['id']}/history"))["items"]
        assert history == history_before
        # for the broker holds no record of the forgery, and holds the genuine one
        held = [
            decode_event(record.value)
            for record in await records_of(system.infra, SCHEDULED_EVENT_DUE.name)
        ]
        assert all(str(e.id) != forged_id and e.subject != str(target["id"]) for e in held)
        assert any(str(e.id) == event["id"] for e in held)


async def test_observer_reads_the_public_topics_in_its_own_groups_and_nothing_else(
    system: System,
) -> None:
    needs_broker_security(system.infra)
    async with system.client("accounts") as accounts:
        await disconnect(accounts, (await new_account(accounts))["id"])
    group = f"observer.test-{uuid.uuid4().hex[:8]}"

    # A public topic, in a group of its own prefix: read
    records = await read_as(system.infra, "observer", ACCOUNT_DISCONNECTED.name, group=group)
    assert records
    assert decode_event(records[0].value).type == ACCOUNT_DISCONNECTED.event_type

    # An internal topic (billing's answers to accounts): refused
    with pytest.raises(TopicAuthorizationFailedError):
        await read_as(system.infra, "observer", DISCONNECT_BILLED.name, group=group)
    # A service's consumer group (reading there would move its offsets): refused
    with pytest.raises(GroupAuthorizationFailedError):
        await read_as(system.infra, "observer", ACCOUNT_DISCONNECTED.name, group="billing.spy")
    # Writing even a public topic: refused
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_as(system.infra, "observer", ACCOUNT_DISCONNECTED.name, b"{}", key=b"1")
