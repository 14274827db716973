"""Accounts' rules (BRIEF §1) on a fake unit of work: every rule and every refusal, in
milliseconds, with no database and no broker. Each test reads Given / When / Then."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Account, AccountStatus
from cutover_accounts.service_layer import accounts, catalog, disconnects, lifecycle, scheduled
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import ScheduledEventDueV1
from cutover_contracts.scheduled import CHANGE_ACCOUNT_STATUS, DISCONNECT_ACCOUNT
from cutover_contracts.topics import (
    ACCOUNT_ARCHIVED,
    ACCOUNT_DISCONNECT_REQUESTED,
    ACCOUNT_REACTIVATED,
    ACCOUNT_STATUS_CHANGED,
    ACCOUNT_UPDATED,
    SCHEDULED_EVENT_OUTCOME,
)
from cutover_kit.errors import AccountNotFound
from tests.unit.fakes.accounts import ACTIVE, INACTIVE, LEAD, RESIDENTIAL, FakeAccountsUnitOfWork

STEP_TIMEOUT = timedelta(minutes=5)


@pytest.fixture
def uow() -> FakeAccountsUnitOfWork:
    return FakeAccountsUnitOfWork()


async def given_account(
    uow: FakeAccountsUnitOfWork,
    *,
    status: AccountStatus = ACTIVE,
    parent: int | None = None,
    disconnected: bool = False,
    archived: bool = False,
) -> Account:
    """An account created through the use case, then put in the state the test needs."""
    account = await accounts.create_account(
        uow,
        name="Ada",
        account_type_id=RESIDENTIAL,
        account_status_id=status.id,
        parent_account_id=parent,
    )
    now = datetime.now(UTC)
    return await uow.accounts.update_account(
        account.id,
        disconnected_at=now if disconnected else None,
        archived_at=now if archived else None,
    )


async def disconnect(uow: FakeAccountsUnitOfWork, account_id: int) -> uuid.UUID:
    started = await disconnects.request_disconnect(uow, account_id, step_timeout=STEP_TIMEOUT)
    return started.id


def status_of(uow: FakeAccountsUnitOfWork, account_id: int) -> uuid.UUID:
    return uow.accounts.accounts[account_id].account_status_id


# --- 1. Accounts are never deleted -------------------------------------------------------------------


def test_deleting_an_account_is_refused_pointing_to_disconnect_and_archive() -> None:
    # When an account's delete is refused
    refusal = errors.AccountsAreNeverDeleted(42)
    # Then the refusal is a 405 that names both ways out
    assert refusal.status == 405
    assert "/accounts/42/disconnect" in refusal.detail
    assert "/accounts/42/archive" in refusal.detail


def test_no_repository_can_delete_an_account() -> None:
    # Then nothing in the accounts repository deletes
    assert not [name for name in dir(AccountsRepository) if "delete" in name.lower()]


# --- 2. Disconnect -------------------------------------------------------------------------------------


async def test_disconnect_moves_the_account_to_the_configured_status(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given an operator configured another non-activating status for disconnects
    suspended = AccountStatus(uuid.uuid4(), "Suspended", activates_account=False)
    uow.accounts.statuses[suspended.id] = suspended
    await catalog.set_disconnect_status(uow, suspended.id)
    account = await given_account(uow)
    # When the account is disconnected
    disconnect_id = await disconnect(uow, account.id)
    # Then it shows that status and the disconnect at once, and the request is published
    assert status_of(uow, account.id) == suspended.id
    assert uow.accounts.accounts[account.id].disconnected_at is not None
    assert uow.accounts.disconnects[disconnect_id].state == "pending"
    [requested] = uow.events(ACCOUNT_DISCONNECT_REQUESTED)
    assert (requested.disconnect_id, requested.status_id) == (disconnect_id, suspended.id)


async def test_the_disconnect_status_is_inactive_by_default(uow: FakeAccountsUnitOfWork) -> None:
    # Given an active account and the default settings
    account = await given_account(uow)
    # When it is disconnected
    await disconnect(uow, account.id)
    # Then it is Inactive
    assert status_of(uow, account.id) == INACTIVE.id


async def test_an_activating_disconnect_status_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    # When an operator sets an activating status as the disconnect status
    # Then it is refused and the setting is unchanged
    with pytest.raises(errors.ActivatingDisconnectStatus):
        await catalog.set_disconnect_status(uow, ACTIVE.id)
    assert uow.accounts.disconnect_status == INACTIVE.id


async def test_disconnecting_an_unknown_account_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    with pytest.raises(AccountNotFound):
        await disconnect(uow, 404)


async def test_disconnecting_an_already_disconnected_account_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given a disconnected account whose disconnect completed
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    # When it is disconnected again
    # Then it is refused, and nothing is published
    with pytest.raises(errors.AlreadyDisconnected):
        await disconnect(uow, account.id)
    assert uow.events(ACCOUNT_DISCONNECT_REQUESTED) == []


async def test_disconnecting_during_a_disconnect_in_progress_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given an account whose disconnect is still pending
    account = await given_account(uow)
    pending = await disconnect(uow, account.id)
    # When it is disconnected again
    # Then the refusal names the disconnect in progress
    with pytest.raises(errors.DisconnectInProgress) as refusal:
        await disconnect(uow, account.id)
    assert refusal.value.extra["disconnect_id"] == pending


async def test_disconnecting_an_archived_account_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    with pytest.raises(errors.AccountArchived):
        await disconnect(uow, account.id)


async def test_an_abandoned_disconnects_account_may_be_disconnected_again(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given an account whose disconnect was abandoned (it still shows as disconnected)
    account = await given_account(uow)
    first = await disconnect(uow, account.id)
    await disconnects.abandon_disconnect(uow, first, reason="billing is down")
    assert uow.accounts.accounts[account.id].disconnected_at is not None
    # When it is disconnected again
    second = await disconnect(uow, account.id)
    # Then a new disconnect starts, to finish the job
    assert second != first
    assert uow.accounts.disconnects[second].state == "pending"


async def test_only_a_pending_disconnect_can_be_abandoned(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow)
    disconnect_id = await disconnect(uow, account.id)
    await disconnects.abandon_disconnect(uow, disconnect_id, reason="stalled")
    with pytest.raises(errors.DisconnectNotPending):
        await disconnects.abandon_disconnect(uow, disconnect_id, reason="again")


# --- Editing the status ----------------------------------------------------------------------------------


async def test_leaving_an_activating_status_by_an_edit_is_refused_use_disconnect(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=ACTIVE)
    with pytest.raises(errors.UseDisconnect):
        await accounts.edit_account(uow, account.id, account_status_id=INACTIVE.id)
    assert status_of(uow, account.id) == ACTIVE.id


async def test_activating_a_disconnected_account_by_an_edit_is_refused_use_reactivate(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    with pytest.raises(errors.UseReactivate):
        await accounts.edit_account(uow, account.id, account_status_id=ACTIVE.id)
    assert status_of(uow, account.id) == INACTIVE.id


async def test_a_lead_made_active_by_an_edit_records_an_activation(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given a lead, never activated
    lead = await given_account(uow, status=LEAD)
    assert lead.activated_at is None and uow.accounts.activations == []
    # When an edit makes it active
    edited = await accounts.edit_account(uow, lead.id, account_status_id=ACTIVE.id)
    # Then it is active, and an activation is recorded
    assert edited.account_status_id == ACTIVE.id
    assert edited.activated_at is not None
    assert [(a, cause) for a, _, cause in uow.accounts.activations] == [(lead.id, "activated")]


async def test_editing_between_non_activating_statuses_records_no_activation(
    uow: FakeAccountsUnitOfWork,
) -> None:
    lead = await given_account(uow, status=LEAD)
    await accounts.edit_account(uow, lead.id, account_status_id=INACTIVE.id)
    assert status_of(uow, lead.id) == INACTIVE.id
    assert uow.accounts.activations == []


async def test_editing_the_status_during_a_disconnect_in_progress_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow)
    await disconnect(uow, account.id)
    with pytest.raises(errors.DisconnectInProgress):
        await accounts.edit_account(uow, account.id, account_status_id=LEAD.id)


async def test_an_archived_account_cannot_be_edited(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    with pytest.raises(errors.AccountArchived):
        await accounts.edit_account(uow, account.id, name="Renamed")


# --- 6. Reactivate ----------------------------------------------------------------------------------------


async def test_reactivate_returns_a_disconnected_account_to_active_with_a_new_activation(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given a disconnected account
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    # When it is reactivated with no status given
    reactivated = await lifecycle.reactivate(uow, account.id)
    # Then it is Active, no longer disconnected, with a new activation, and that is published
    assert reactivated.account_status_id == ACTIVE.id
    assert reactivated.disconnected_at is None
    assert [cause for _, _, cause in uow.accounts.activations][-1] == "reactivated"
    assert [event.account_id for event in uow.events(ACCOUNT_REACTIVATED)] == [account.id]


async def test_reactivating_an_account_not_disconnected_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=ACTIVE)
    with pytest.raises(errors.NotDisconnected):
        await lifecycle.reactivate(uow, account.id)


async def test_reactivating_into_a_non_activating_status_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    with pytest.raises(errors.ActivatingStatusRequired):
        await lifecycle.reactivate(uow, account.id, account_status_id=LEAD.id)
    assert uow.accounts.accounts[account.id].disconnected_at is not None


async def test_reactivating_during_a_disconnect_in_progress_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow)
    await disconnect(uow, account.id)
    with pytest.raises(errors.DisconnectInProgress):
        await lifecycle.reactivate(uow, account.id)


async def test_an_archived_account_cannot_be_reactivated(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    with pytest.raises(errors.AccountArchived):
        await lifecycle.reactivate(uow, account.id)


# --- 7. Archive ---------------------------------------------------------------------------------------------


async def test_archive_hides_a_disconnected_account_in_a_non_activating_status(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    archived = await lifecycle.archive(uow, account.id)
    assert archived.archived_at is not None
    assert [event.account_id for event in uow.events(ACCOUNT_ARCHIVED)] == [account.id]


async def test_archiving_an_account_not_disconnected_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=LEAD)
    with pytest.raises(errors.NotDisconnected):
        await lifecycle.archive(uow, account.id)
    assert uow.accounts.accounts[account.id].archived_at is None


async def test_archiving_a_disconnected_account_in_an_activating_status_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given a disconnected account that shows an activating status
    account = await given_account(uow, status=ACTIVE, disconnected=True)
    # When it is archived
    # Then it is refused: archive needs a non-activating status
    with pytest.raises(errors.ArchiveNeedsNonActivatingStatus):
        await lifecycle.archive(uow, account.id)


async def test_archiving_during_a_disconnect_in_progress_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow)
    await disconnect(uow, account.id)
    with pytest.raises(errors.DisconnectInProgress):
        await lifecycle.archive(uow, account.id)


async def test_archiving_an_archived_account_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    with pytest.raises(errors.AccountArchived):
        await lifecycle.archive(uow, account.id)


# --- 5. Parents ----------------------------------------------------------------------------------------------


async def test_creating_under_an_unknown_parent_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    with pytest.raises(errors.UnknownParent):
        await given_account(uow, parent=404)
    assert uow.accounts.accounts == {}


async def test_creating_under_an_archived_parent_is_refused(uow: FakeAccountsUnitOfWork) -> None:
    parent = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    with pytest.raises(errors.ParentArchived):
        await given_account(uow, parent=parent.id)


async def test_moving_an_account_under_an_unknown_parent_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow)
    with pytest.raises(errors.UnknownParent):
        await accounts.edit_account(uow, account.id, parent_account_id=404)


async def test_moving_an_account_under_an_archived_parent_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    parent = await given_account(uow, status=INACTIVE, disconnected=True, archived=True)
    account = await given_account(uow)
    with pytest.raises(errors.ParentArchived):
        await accounts.edit_account(uow, account.id, parent_account_id=parent.id)


async def test_moving_an_account_under_its_own_descendant_is_refused(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given a grandparent, its child and its grandchild
    grandparent = await given_account(uow)
    child = await given_account(uow, parent=grandparent.id)
    grandchild = await given_account(uow, parent=child.id)
    # When the grandparent is moved under its grandchild
    # Then the cycle is refused and the links are unchanged
    with pytest.raises(errors.ParentCycle):
        await accounts.edit_account(uow, grandparent.id, parent_account_id=grandchild.id)
    assert uow.accounts.accounts[grandparent.id].parent_account_id is None


async def test_an_account_cannot_be_its_own_parent(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow)
    with pytest.raises(errors.ParentCycle):
        await accounts.edit_account(uow, account.id, parent_account_id=account.id)


async def test_disconnecting_a_parent_leaves_its_children_active(
    uow: FakeAccountsUnitOfWork,
) -> None:
    parent = await given_account(uow)
    child = await given_account(uow, parent=parent.id)
    await disconnect(uow, parent.id)
    assert status_of(uow, parent.id) == INACTIVE.id
    assert status_of(uow, child.id) == ACTIVE.id
    assert uow.accounts.accounts[child.id].disconnected_at is None


# --- 9. Every change is a public event -----------------------------------------------------------------


def status_changes(uow: FakeAccountsUnitOfWork) -> list[tuple[str, uuid.UUID, uuid.UUID, bool]]:
    return [
        (change.cause, change.from_status_id, change.to_status_id, change.activation)
        for change in uow.events(ACCOUNT_STATUS_CHANGED)
    ]


async def test_an_edit_of_the_status_publishes_a_status_change_and_nothing_else(
    uow: FakeAccountsUnitOfWork,
) -> None:
    lead = await given_account(uow, status=LEAD)
    await accounts.edit_account(uow, lead.id, account_status_id=INACTIVE.id)
    assert status_changes(uow) == [("edit", LEAD.id, INACTIVE.id, False)]
    assert uow.events(ACCOUNT_UPDATED) == []


async def test_a_lead_made_active_publishes_a_status_change_that_is_an_activation(
    uow: FakeAccountsUnitOfWork,
) -> None:
    lead = await given_account(uow, status=LEAD)
    await accounts.edit_account(uow, lead.id, account_status_id=ACTIVE.id)
    assert status_changes(uow) == [("edit", LEAD.id, ACTIVE.id, True)]


async def test_an_edit_of_the_name_and_parent_publishes_the_account_as_updated(
    uow: FakeAccountsUnitOfWork,
) -> None:
    parent, account = await given_account(uow), await given_account(uow)
    await accounts.edit_account(uow, account.id, name="Grace", parent_account_id=parent.id)
    (updated,) = uow.events(ACCOUNT_UPDATED)
    assert (updated.name, updated.parent_account_id) == ("Grace", parent.id)
    assert updated.changed == ["name", "parent_account_id"]
    assert status_changes(uow) == []


async def test_a_disconnect_publishes_the_move_to_the_disconnect_status(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow)
    disconnect_id = await disconnect(uow, account.id)
    assert status_changes(uow) == [("disconnect", ACTIVE.id, INACTIVE.id, False)]
    assert uow.events(ACCOUNT_STATUS_CHANGED)[0].disconnect_id == disconnect_id


async def test_a_reactivation_publishes_a_status_change_that_is_an_activation(
    uow: FakeAccountsUnitOfWork,
) -> None:
    account = await given_account(uow, status=INACTIVE, disconnected=True)
    await lifecycle.reactivate(uow, account.id)
    assert status_changes(uow) == [("reactivate", INACTIVE.id, ACTIVE.id, True)]


async def test_a_scheduled_status_change_names_its_scheduled_event(
    uow: FakeAccountsUnitOfWork,
) -> None:
    lead = await given_account(uow, status=LEAD)
    due = due_event(lead.id, CHANGE_ACCOUNT_STATUS, {"account_status_id": str(ACTIVE.id)})
    await apply_due(uow, due)
    assert status_changes(uow) == [("scheduled", LEAD.id, ACTIVE.id, True)]
    (change,) = uow.events(ACCOUNT_STATUS_CHANGED)
    assert (change.scheduled_event_id, change.actor) == (due.scheduled_event_id, "alice")


def due_event(
    account_id: int, event_type: str = DISCONNECT_ACCOUNT, payload: dict | None = None
) -> ScheduledEventDueV1:
    now = datetime.now(UTC)
    return ScheduledEventDueV1(
        scheduled_event_id=uuid.uuid4(),
        event_type=event_type,
        account_id=account_id,
        run_at=now,
        emitted_at=now,
        payload=payload or {},
        actor="alice",
    )


async def apply_due(uow: FakeAccountsUnitOfWork, *dues: ScheduledEventDueV1) -> None:
    """Apply the due events as accounts' consumer does: one batch, each under its own event."""
    received = [
        (
            CloudEvent(
                id=uuid.uuid4(),
                source="/cutover/scheduler",
                type="scheduler.scheduled-event-due.v1",
                subject=str(due.account_id),
                time=due.emitted_at,
                correlationid=f"run-{n}",
                data=due.model_dump(mode="json"),
            ),
            due,
        )
        for n, due in enumerate(dues)
    ]
    async with uow:
        await scheduled.apply_due_events(uow, received, step_timeout=STEP_TIMEOUT)


async def test_a_batch_of_due_disconnects_starts_each_once_and_skips_the_refused_in_order(
    uow: FakeAccountsUnitOfWork,
) -> None:
    # Given two active accounts and a lead
    first = await given_account(uow)
    second = await given_account(uow)
    lead = await given_account(uow, status=LEAD)
    # When one batch holds: a disconnect of the first, a status change of the lead, two
    # disconnects of the second, and one of an unknown account
    await apply_due(
        uow,
        due_event(first.id),
        due_event(lead.id, CHANGE_ACCOUNT_STATUS, {"account_status_id": str(ACTIVE.id)}),
        due_event(second.id),
        due_event(second.id),
        due_event(9999),
    )
    # Then each account is disconnected once, in its own order, as the actor who scheduled it
    requested = uow.events(ACCOUNT_DISCONNECT_REQUESTED)
    assert [(r.account_id, r.source, r.actor) for r in requested] == [
        (first.id, "scheduled", "alice"),
        (second.id, "scheduled", "alice"),
    ]
    assert status_changes(uow) == [
        ("disconnect", ACTIVE.id, INACTIVE.id, False),
        ("scheduled", LEAD.id, ACTIVE.id, True),
        ("disconnect", ACTIVE.id, INACTIVE.id, False),
    ]
    # And the second disconnect of the second account, and the unknown account's, are reported
    # failed with the rule that refused them; only the known account's history records the skip
    outcomes = uow.events(SCHEDULED_EVENT_OUTCOME)
    assert [(o.account_id, o.outcome) for o in outcomes] == [
        (lead.id, "completed"),
        (second.id, "failed"),
        (9999, "failed"),
    ]
    assert "in progress" in (outcomes[1].reason or "")
    skipped = [h for h in uow.accounts.history if h[1] == "scheduled_event_skipped"]
    assert [h[0] for h in skipped] == [second.id]


# --- The fake keeps the unit of work's contract ----------------------------------------------------------


async def test_a_refused_use_case_commits_nothing(uow: FakeAccountsUnitOfWork) -> None:
    account = await given_account(uow, status=ACTIVE)
    commits = uow.commits
    with pytest.raises(errors.NotDisconnected):
        await lifecycle.archive(uow, account.id)
    assert uow.commits == commits


def test_the_fake_repository_answers_like_the_real_one() -> None:
    """Every method the fake implements exists on the real repository (no drift)."""
    from tests.unit.fakes.accounts import FakeAccountsRepository

    fake = {name for name in vars(FakeAccountsRepository) if not name.startswith("_")}
    assert fake <= set(dir(AccountsRepository))
