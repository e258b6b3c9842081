from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="CloseBillingPeriodPayload")



@_attrs_define
class CloseBillingPeriodPayload:
    """ 
        Attributes:
            due_in_days (int | None | Unset): Days until the invoice is due (default 14).
            invoice_id (None | Unset | UUID): Made by the server when absent.
     """

    due_in_days: int | None | Unset = UNSET
    invoice_id: None | Unset | UUID = UNSET





    def to_dict(self) -> dict[str, Any]:
        due_in_days: int | None | Unset
        if isinstance(self.due_in_days, Unset):
            due_in_days = UNSET
        else:
            due_in_days = self.due_in_days

        invoice_id: None | str | Unset
        if isinstance(self.invoice_id, Unset):
            invoice_id = UNSET
        elif isinstance(self.invoice_id, UUID):
            invoice_id = str(self.invoice_id)
        else:
            invoice_id = self.invoice_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if due_in_days is not UNSET:
            field_dict["due_in_days"] = due_in_days
        if invoice_id is not UNSET:
            field_dict["invoice_id"] = invoice_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_due_in_days(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        due_in_days = _parse_due_in_days(d.pop("due_in_days", UNSET))


        def _parse_invoice_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                invoice_id_type_0 = UUID(data)



                return invoice_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        invoice_id = _parse_invoice_id(d.pop("invoice_id", UNSET))


        close_billing_period_payload = cls(
            due_in_days=due_in_days,
            invoice_id=invoice_id,
        )

        return close_billing_period_payload

