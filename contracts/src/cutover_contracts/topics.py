"""Every topic Cutover publishes, with its event schema: the registry the services and docs read.

Topic names follow `<service>.<event-name>.v<major>`. Public topics are a promise to other teams;
internal ones (replies between Cutover's own services) may change with a release of all four.
"""

from __future__ import annotations

from dataclasses import dataclass

from cutover_contracts import events
from cutover_contracts.events import EventData


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str
    data: type[EventData]
    summary: str
    consumers: tuple[str, ...] = ()
    public: bool = False

    @property
    def event_type(self) -> str:
        """The CloudEvents `type`: the topic name under Cutover's namespace."""
        return f"cutover.{self.name}"


ACCOUNT_CREATED = Topic(
    "accounts.account-created.v1",
    "accounts",
    events.AccountCreatedV1,
    "An account was created; other services keep a local copy of it.",
    consumers=("billing", "addresses", "scheduler"),
    public=True,
)
ACCOUNT_STATUS_CHANGED = Topic(
    "accounts.account-status-changed.v1",
    "accounts",
    events.AccountStatusChangedV1,
    "Every change of an account's status: an edit, a scheduled change, a disconnect or a"
    " reactivation.",
    public=True,
)
ACCOUNT_UPDATED = Topic(
    "accounts.account-updated.v1",
    "accounts",
    events.AccountUpdatedV1,
    "An account's name, type or parent was edited.",
    public=True,
)
ACCOUNT_DISCONNECT_REQUESTED = Topic(
    "accounts.account-disconnect-requested.v1",
    "accounts",
    events.AccountDisconnectRequestedV1,
    "The start of every disconnect, manual or scheduled; the scheduler cancels the account's"
    " other pending scheduled disconnects on it.",
    consumers=("billing", "addresses", "scheduler"),
    public=True,
)
ACCOUNT_DISCONNECTED = Topic(
    "accounts.account-disconnected.v1",
    "accounts",
    events.AccountDisconnectedV1,
    "A disconnect is complete: final invoice issued or not required, address released.",
    public=True,
)
ACCOUNT_REACTIVATED = Topic(
    "accounts.account-reactivated.v1",
    "accounts",
    events.AccountReactivatedV1,
    "A disconnected account was reactivated.",
    consumers=("addresses",),
    public=True,
)
ACCOUNT_ARCHIVED = Topic(
    "accounts.account-archived.v1",
    "accounts",
    events.AccountArchivedV1,
    "An account was archived; local copies mark it, pending scheduled events are cancelled.",
    consumers=("billing", "addresses", "scheduler"),
    public=True,
)
ACCOUNT_DISCONNECT_ABANDONED = Topic(
    "accounts.account-disconnect-abandoned.v1",
    "accounts",
    events.AccountDisconnectAbandonedV1,
    "An operator abandoned a stalled disconnect; the account is no longer frozen.",
    public=True,
)
SCHEDULED_EVENT_OUTCOME = Topic(
    "accounts.scheduled-event-outcome.v1",
    "accounts",
    events.ScheduledEventOutcomeV1,
    "What accounts made of a due scheduled event: completed, or failed with the reason.",
    consumers=("scheduler",),
)
DISCONNECT_BILLED = Topic(
    "billing.disconnect-billed.v1",
    "billing",
    events.DisconnectBilledV1,
    "Billing's answer to a disconnect request: the final invoice or not_required.",
    consumers=("accounts",),
)
DISCONNECT_ADDRESS_RELEASED = Topic(
    "addresses.disconnect-address-released.v1",
    "addresses",
    events.DisconnectAddressReleasedV1,
    "Addresses' answer to a disconnect request: the released address or none.",
    consumers=("accounts",),
)
SCHEDULED_EVENT_DUE = Topic(
    "scheduler.scheduled-event-due.v1",
    "scheduler",
    events.ScheduledEventDueV1,
    "A scheduled event reached its minimum start time.",
    consumers=("accounts",),
    public=True,
)


def dead_letter_topic(service: str) -> Topic:
    return Topic(
        f"{service}.dead-letter.v1",
        service,
        events.DeadLetterV1,
        f"Messages {service}'s consumers could not process, with the reason.",
    )


SERVICES = ("accounts", "billing", "addresses", "scheduler")

TOPICS: dict[str, Topic] = {
    topic.name: topic
    for topic in (
        ACCOUNT_CREATED,
        ACCOUNT_STATUS_CHANGED,
        ACCOUNT_UPDATED,
        ACCOUNT_DISCONNECT_REQUESTED,
        ACCOUNT_DISCONNECTED,
        ACCOUNT_REACTIVATED,
        ACCOUNT_ARCHIVED,
        ACCOUNT_DISCONNECT_ABANDONED,
        SCHEDULED_EVENT_OUTCOME,
        DISCONNECT_BILLED,
        DISCONNECT_ADDRESS_RELEASED,
        SCHEDULED_EVENT_DUE,
        *(dead_letter_topic(service) for service in SERVICES),
    )
}


def topic_for(name: str) -> Topic:
    return TOPICS[name]
