from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="GrantCreditsPayload")



@_attrs_define
class GrantCreditsPayload:
    """ 
        Attributes:
            amount (int):
            reason (str):
     """

    amount: int
    reason: str





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        reason = self.reason


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "amount": amount,
            "reason": reason,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        reason = d.pop("reason")

        grant_credits_payload = cls(
            amount=amount,
            reason=reason,
        )

        return grant_credits_payload

