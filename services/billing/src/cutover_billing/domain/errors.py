from __future__ import annotations

from cutover_kit.errors import Conflict, DoesNotExist, Unprocessable


class CurrencyMismatch(Unprocessable):
    code = "currency-mismatch"

    def __init__(self, account_id: int, account_currency: str, currency: str) -> None:
        super().__init__(
            f"Account {account_id} has uninvoiced debits in {account_currency}; a debit in "
            f"{currency} cannot join them. Invoice them first.",
            account_id=account_id,
            account_currency=account_currency,
            currency=currency,
        )


class NothingToInvoice(Conflict):
    code = "nothing-to-invoice"

    def __init__(self, account_id: int) -> None:
        super().__init__(f"Account {account_id} has no uninvoiced debits.", account_id=account_id)


class InvoiceNotFound(DoesNotExist):
    code = "invoice-not-found"
    subject = "Invoice"
    id_member = "invoice_id"
