"""The scheduler's rules on a fake unit of work: an event runs in the future, only a pending event
is changed or cancelled, an archived account gets no new event, a payload has its type's shape."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from cutover_contracts.events import AccountDisconnectRequestedV1
from cutover_contracts.scheduled import CHANGE_ACCOUNT_STATUS, DISCONNECT_ACCOUNT
from cutover_kit.directory import ArchivedAccount
from cutover_scheduler.adapters.repository import SchedulerRepository
from cutover_scheduler.domain import errors
from cutover_scheduler.domain.model import ScheduledEvent
from cutover_scheduler.service_layer import scheduled_events
from tests.unit.fakes.known_accounts import NoDirectory
from tests.unit.fakes.scheduler import FakeSchedulerRepository, FakeSchedulerUnitOfWork

ACCOUNT = 7
HOUR = timedelta(hours=1)


@pytest.fixture
def uow() -> FakeSchedulerUnitOfWork:
    return FakeSchedulerUnitOfWork(ACCOUNT)


async def schedule(
    uow: FakeSchedulerUnitOfWork,
    *,
    after: timedelta = HOUR,
    event_type: str = DISCONNECT_ACCOUNT,
    payload: dict | None = None,
) -> ScheduledEvent:
    return await scheduled_events.schedule(
        uow,  # type: ignore[arg-type]
        NoDirectory(),  # type: ignore[arg-type]
        event_type=event_type,
        account_id=ACCOUNT,
        run_at=uow.scheduled_events.now + after,
        payload=payload or {},
    )


async def test_a_disconnect_is_scheduled_pending_and_wakes_the_emitter(
    uow: FakeSchedulerUnitOfWork,
) -> None:
    event = await schedule(uow, payload={"reason": "moving out"})
    assert event.state == "pending"
    assert event.payload == {"reason": "moving out"}
    assert uow.notified and uow.commits == 1


async def test_an_event_in_the_past_is_refused(uow: FakeSchedulerUnitOfWork) -> None:
    with pytest.raises(errors.RunAtNotInFuture):
        await schedule(uow, after=-timedelta(seconds=1))
    assert uow.scheduled_events.events == {}


async def test_an_unknown_event_type_is_refused(uow: FakeSchedulerUnitOfWork) -> None:
    with pytest.raises(errors.UnknownEventType):
        await schedule(uow, event_type="delete_account")


async def test_a_payload_not_of_its_types_shape_is_refused(uow: FakeSchedulerUnitOfWork) -> None:
    with pytest.raises(errors.InvalidPayload):
        await schedule(uow, payload={"reson": "typo"})


async def test_an_archived_account_gets_no_new_event(uow: FakeSchedulerUnitOfWork) -> None:
    uow.scheduled_events.accounts.archived[ACCOUNT] = True
    with pytest.raises(ArchivedAccount):
        await schedule(uow)


async def test_a_pending_event_is_cancelled(uow: FakeSchedulerUnitOfWork) -> None:
    event = await schedule(uow)
    cancelled = await scheduled_events.cancel(uow, event.id)  # type: ignore[arg-type]
    assert cancelled.state == "cancelled"


@pytest.mark.parametrize("state", ["emitted", "completed", "failed", "cancelled"])
async def test_an_event_no_longer_pending_cannot_be_cancelled(
    uow: FakeSchedulerUnitOfWork, state: str
) -> None:
    # Given an event that has left pending
    event = await schedule(uow)
    await uow.scheduled_events.update(event.id, state=state)
    # When it is cancelled
    # Then it is refused and keeps its state
    with pytest.raises(errors.NotPending):
        await scheduled_events.cancel(uow, event.id)  # type: ignore[arg-type]
    assert uow.scheduled_events.events[event.id].state == state


async def test_an_event_no_longer_pending_cannot_be_changed(uow: FakeSchedulerUnitOfWork) -> None:
    event = await schedule(uow)
    await uow.scheduled_events.update(event.id, state="emitted")
    with pytest.raises(errors.NotPending):
        await scheduled_events.change(
            uow,  # type: ignore[arg-type]
            event.id,
            run_at=uow.scheduled_events.now + 2 * HOUR,
        )


async def test_a_pending_event_is_moved_only_into_the_future(uow: FakeSchedulerUnitOfWork) -> None:
    event = await schedule(uow)
    with pytest.raises(errors.RunAtNotInFuture):
        await scheduled_events.change(
            uow,  # type: ignore[arg-type]
            event.id,
            run_at=uow.scheduled_events.now - HOUR,
        )
    moved = await scheduled_events.change(
        uow,  # type: ignore[arg-type]
        event.id,
        run_at=uow.scheduled_events.now + 2 * HOUR,
    )
    assert moved.run_at == uow.scheduled_events.now + 2 * HOUR


async def test_a_started_disconnect_cancels_the_other_pending_scheduled_disconnects(
    uow: FakeSchedulerUnitOfWork,
) -> None:
    # Given two pending scheduled disconnects and a scheduled status change of one account
    first, second = await schedule(uow), await schedule(uow, after=2 * HOUR)
    change = await schedule(
        uow, event_type=CHANGE_ACCOUNT_STATUS, payload={"account_status_id": str(uuid.uuid4())}
    )
    # When the first one's disconnect starts (it is emitted, so not pending any more)
    await uow.scheduled_events.update(first.id, state="emitted")
    disconnect_id = uuid.uuid4()
    await scheduled_events.cancel_superseded_disconnects(
        uow,  # type: ignore[arg-type]
        [
            AccountDisconnectRequestedV1(
                disconnect_id=disconnect_id,
                account_id=ACCOUNT,
                source="scheduled",
                scheduled_event_id=first.id,
                status_id=uuid.uuid4(),
                requested_at=uow.scheduled_events.now,
                actor="alice",
            )
        ],
    )
    # Then the other disconnect is cancelled with that disconnect as the cause; the rest is kept
    events = uow.scheduled_events.events
    assert events[first.id].state == "emitted"
    assert events[second.id].state == "cancelled"
    assert events[second.id].outcome == (
        f"cancelled: superseded by scheduled disconnect {disconnect_id} requested by alice"
    )
    assert events[change.id].state == "pending"


def test_the_fake_repository_answers_like_the_real_one() -> None:
    fake = {name for name in vars(FakeSchedulerRepository) if not name.startswith("_")}
    assert fake <= set(dir(SchedulerRepository))
