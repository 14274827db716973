"""The operator console as an operator uses it, in Chromium: sign in, find an account, disconnect
it through the dialog and watch it complete, schedule one and cancel it, read and export the
report, see the API's refusals as messages; every page checked by axe-core.

Data is made through the APIs with the break-glass token; everything checked is what the page shows.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import axe_playwright_python
import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.system import TEST_TOKEN, ConsoleProcess, System
from tests.support.tokens import ALL_SCOPES

pytestmark = pytest.mark.e2e

RESIDENTIAL = "00000000-0000-4000-8000-000000000101"
AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")


# --- helpers -------------------------------------------------------------------------------------


def api(system: System, service: str) -> httpx.Client:
    return httpx.Client(
        base_url=system[service].url,
        headers={"Authorization": f"Bearer {TEST_TOKEN}"},
        timeout=10.0,
    )


def account_owing(
    system: System, name: str, amounts: tuple[int, ...] = (1999, 2322)
) -> dict[str, Any]:
    """An active account with uninvoiced debits and a serviceable address."""
    with api(system, "accounts") as accounts:
        account = accounts.post("/accounts", json={"name": name, "account_type_id": RESIDENTIAL})
        assert account.status_code == 201, account.text
        account = account.json()
    with api(system, "billing") as billing:
        for amount in amounts:
            answer = billing.post(
                f"/accounts/{account['id']}/debits",
                json={"amount": amount, "description": "Fibre 1G"},
            )
            assert answer.status_code == 201, answer.text
    with api(system, "addresses") as addresses:
        street = f"{uuid.uuid4().int % 900_000 + 1} Console Street"
        address = addresses.post(
            "/serviceable-addresses",
            json={
                "line1": street,
                "city": "Arlington",
                "subdivision": "VA",
                "zip": "22201",
                "country": "US",
            },
        )
        assert address.status_code == 201, address.text
        attached = addresses.put(
            f"/serviceable-addresses/{address.json()['id']}/account",
            json={"account_id": account["id"]},
        )
        assert attached.status_code == 200, attached.text
    return account


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def sign_in(page: Page, console: ConsoleProcess, token: str) -> None:
    page.goto(f"{console.url}/sign-in")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def operator_token(system: System, *scopes: str) -> str:
    return system.issuer.token("Ada Console", scopes or ALL_SCOPES)


def accessible(page: Page, what: str) -> None:
    """axe-core run in the page: no violation of impact serious or critical."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    grave = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert grave == [], f"{what}: {grave}"


def screenshot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# --- scenarios -----------------------------------------------------------------------------------


def test_a_wrong_token_is_refused_and_a_good_one_signs_in_with_a_cookie_scripts_cannot_read(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    page.goto(f"{console.url}/accounts")
    expect(page).to_have_url(f"{console.url}/sign-in?next=/accounts")
    accessible(page, "sign-in page")

    sign_in(page, console, "not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("This token was refused")
    expect(page.get_by_label("API token")).to_be_visible()

    page.get_by_label("API token").fill(operator_token(system))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    expect(page.get_by_text("times in Europe/Paris")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(f"{console.url}/accounts")
    expect(page).to_have_url(f"{console.url}/sign-in?next=/accounts")


def test_find_an_account_disconnect_it_through_the_dialog_and_see_it_completed(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    name = unique("Grace Hopper")
    account = account_owing(system, name)
    sign_in(page, console, operator_token(system))

    page.get_by_label("Search accounts").fill(name)
    page.get_by_role("button", name="Apply").click()
    accessible(page, "accounts list")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    accessible(page, "account page")
    screenshot(page, "account", full_page=True)

    page.get_by_role("button", name="Disconnect", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Inactive")
    expect(dialog).to_contain_text("43.21 USD")
    expect(dialog).to_contain_text("Console Street, Arlington VA 22201, US")
    accessible(page, "disconnect dialog")
    screenshot(page, "disconnect-dialog")

    dialog.get_by_role("button", name="Disconnect now").click()
    progress = page.get_by_role("status")
    expect(progress).to_contain_text("Completed")
    expect(progress).to_contain_text("issued (43.21 USD)")
    expect(progress).to_contain_text("Address: released")
    accessible(page, "disconnect progress")

    page.get_by_role("link", name=f"Back to {name}").click()
    invoice = page.get_by_role("table").filter(has_text="Invoice #")
    expect(invoice).to_contain_text("final")
    expect(invoice).to_contain_text("43.21 USD")
    with api(system, "accounts") as accounts:
        history = accounts.get(f"/accounts/{account['id']}/history").json()["items"]
    assert "Ada Console" in {entry["actor"] for entry in history}, "acted as the operator"


def focused(page: Page) -> str:
    """The accessible text of the focused control (its label, value or text)."""
    return page.evaluate(
        """() => { const e = document.activeElement;
            return (e.labels && e.labels[0] && e.labels[0].textContent.trim())
                || e.getAttribute('aria-label') || e.textContent.trim() || e.value || ''; }"""
    )


def tab_to(page: Page, name: str, presses: int = 60) -> None:
    """Press Tab until the control named `name` has the focus, as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if focused(page) == name:
            return
    raise AssertionError(f"{name!r} cannot be reached with Tab (last: {focused(page)!r})")


def test_the_console_is_usable_with_the_keyboard_alone(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    name = unique("Annie Easley")
    account = account_owing(system, name, amounts=(700,))
    # Sign in: Tab to the token field, type, Tab to the button, Enter
    page.goto(f"{console.url}/sign-in")
    tab_to(page, "API token")
    page.keyboard.type(operator_token(system))
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()

    # Open the account, open the disconnect dialog with Enter, leave it with Escape
    page.goto(f"{console.url}/accounts/{account['id']}")
    tab_to(page, "Disconnect")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("7.00 USD")
    # The page's deferred script makes the server-opened dialog modal, which is what lets Escape
    # close it; on a busy machine a key pressed before the script ran would do nothing.
    expect(page.locator("dialog:modal")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # And disconnect it: the dialog again, Tab to "Disconnect now", Enter, until Completed
    tab_to(page, "Disconnect")
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    tab_to(page, "Disconnect now")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Completed")


def test_schedule_a_disconnect_through_the_dialog_and_cancel_it(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    name = unique("Katherine Johnson")
    account = account_owing(system, name, amounts=(500,))
    sign_in(page, console, operator_token(system))
    page.goto(f"{console.url}/accounts/{account['id']}")
    page.get_by_role("button", name="Disconnect", exact=True).click()

    when = datetime.now(UTC) + timedelta(days=30)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Date").fill(when.strftime("%Y-%m-%d"))
    dialog.get_by_label("Time", exact=True).fill("09:30")
    dialog.get_by_label("Time zone").fill("America/New_York")
    dialog.get_by_role("button", name="Schedule disconnect").click()

    expect(page.get_by_role("heading", name="Scheduled events")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text(
        f"Disconnect of account {account['id']} scheduled"
    )
    row = page.get_by_role("row").filter(has_text=f"Account {account['id']}")
    expect(row).to_contain_text("pending")
    # 09:30 in New York, shown in the browser's zone (Paris) with UTC on hover.
    expect(row.locator("time").first).to_have_attribute("title", f"{when:%Y-%m-%d} 14:30:00 UTC")
    accessible(page, "scheduled events")

    row.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status").first).to_contain_text("cancelled")
    expect(page.get_by_role("row").filter(has_text=f"Account {account['id']}")).to_contain_text(
        "cancelled"
    )


def test_archiving_an_active_account_shows_the_apis_refusal_as_a_message(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    account = account_owing(system, unique("Mary Jackson"), amounts=(100,))
    sign_in(page, console, operator_token(system))
    page.goto(f"{console.url}/accounts/{account['id']}")

    page.get_by_role("button", name="Archive").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("is not disconnected")
    expect(alert).to_contain_text("account-not-disconnected")
    expect(page.get_by_role("heading", level=1)).to_have_text(account["name"])
    accessible(page, "account page with a refusal")


def test_a_token_without_a_scope_sees_the_action_disabled_and_the_apis_message(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    account = account_owing(system, unique("Dorothy Vaughan"), amounts=(100,))
    sign_in(page, console, operator_token(system, "accounts:read", "billing:read"))
    page.goto(f"{console.url}/accounts/{account['id']}")

    expect(page.get_by_role("button", name="Archive")).to_be_disabled()
    expect(page.get_by_text("needs accounts:lifecycle").first).to_be_visible()
    # The address and the events need scopes this token lacks: those parts say so, the rest shows.
    expect(page.get_by_role("note").first).to_contain_text("insufficient-scope")
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()

    page.goto(f"{console.url}/scheduled-events")
    expect(page.get_by_role("alert")).to_contain_text("scheduler:read")


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    account = account_owing(system, unique("Annie Easley"), amounts=(100,))
    sign_in(page, console, operator_token(system))

    forged = page.request.post(
        f"{console.url}/accounts/{account['id']}/disconnect",
        form={"reason": "forged", "csrf": "not-the-sessions"},
        max_redirects=0,
    )

    assert forged.status == 403
    with api(system, "accounts") as accounts:
        assert accounts.get(f"/accounts/{account['id']}/disconnects").json()["items"] == []


def test_the_report_filters_each_table_on_its_own_charts_by_month_and_exports(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    name = unique("Hedy Lamarr")
    account = account_owing(system, name, amounts=(4321,))
    with api(system, "accounts") as accounts:
        assert accounts.post(f"/accounts/{account['id']}/disconnect", json={}).status_code == 202
    sign_in(page, console, operator_token(system))
    page.goto(f"{console.url}/reports/activations-disconnections")

    disconnections = page.get_by_role("region", name="Disconnections")
    expect(page.get_by_role("img", name="Activations and disconnections per month")).to_be_visible()
    disconnections.get_by_label("Search disconnections").fill(name)
    disconnections.get_by_role("button", name="Apply").click()

    disconnections = page.get_by_role("region", name="Disconnections")
    expect(disconnections.get_by_role("row")).to_have_count(2)  # the header and the account
    expect(disconnections.get_by_role("row").nth(1)).to_contain_text(name)
    expect(disconnections.get_by_role("row").nth(1)).to_contain_text("43.21 USD")
    # The activations table keeps its own (empty) filter: more than this one account.
    expect(page.get_by_role("region", name="Activations").get_by_role("row")).not_to_have_count(2)
    accessible(page, "report")
    screenshot(page, "report", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export disconnections as CSV").click()
    exported = Path(download.value.path()).read_text()
    assert name in exported
    assert download.value.suggested_filename == "disconnections.csv"


def test_the_operations_page_shows_each_services_readiness_and_backlogs(
    system: System, console: ConsoleProcess, page: Page
) -> None:
    sign_in(page, console, operator_token(system))
    page.goto(f"{console.url}/operations")

    services = page.get_by_role("region", name="Services")
    for service in ("accounts", "billing", "addresses", "scheduler"):
        expect(services.get_by_role("row", name=re.compile(rf"^{service} ready\b"))).to_be_visible()
    expect(page.get_by_role("region", name="Stalled disconnects")).to_be_visible()
    expect(page.get_by_role("region", name="Open dead letters")).to_be_visible()
    accessible(page, "operations")
