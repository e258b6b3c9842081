from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="PurchaseCreditsPayload")



@_attrs_define
class PurchaseCreditsPayload:
    """ 
        Attributes:
            amount (int):
            payment_ref (str):
     """

    amount: int
    payment_ref: str





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        payment_ref = self.payment_ref


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "amount": amount,
            "payment_ref": payment_ref,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        payment_ref = d.pop("payment_ref")

        purchase_credits_payload = cls(
            amount=amount,
            payment_ref=payment_ref,
        )

        return purchase_credits_payload

