from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="RecordPaymentPayload")



@_attrs_define
class RecordPaymentPayload:
    """ 
        Attributes:
            amount (int):
            invoice_id (UUID):
            payment_ref (None | str | Unset): The payment provider's id of the payment: a payment is recorded once.
     """

    amount: int
    invoice_id: UUID
    payment_ref: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        invoice_id = str(self.invoice_id)

        payment_ref: None | str | Unset
        if isinstance(self.payment_ref, Unset):
            payment_ref = UNSET
        else:
            payment_ref = self.payment_ref


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "amount": amount,
            "invoice_id": invoice_id,
        })
        if payment_ref is not UNSET:
            field_dict["payment_ref"] = payment_ref

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        invoice_id = UUID(d.pop("invoice_id"))




        def _parse_payment_ref(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        payment_ref = _parse_payment_ref(d.pop("payment_ref", UNSET))


        record_payment_payload = cls(
            amount=amount,
            invoice_id=invoice_id,
            payment_ref=payment_ref,
        )

        return record_payment_payload

