from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="OpenBillingAccountPayload")



@_attrs_define
class OpenBillingAccountPayload:
    """ 
        Attributes:
            plan (str):
            low_balance_threshold (int | Unset): A capture that takes the balance below this raises a low-balance event
                (default 0:
                when the overdraft comes into use). Default: 0.
            overdraft_limit (int | Unset): An operator's to set: an owner opens with 0. Default: 0.
     """

    plan: str
    low_balance_threshold: int | Unset = 0
    overdraft_limit: int | Unset = 0





    def to_dict(self) -> dict[str, Any]:
        plan = self.plan

        low_balance_threshold = self.low_balance_threshold

        overdraft_limit = self.overdraft_limit


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "plan": plan,
        })
        if low_balance_threshold is not UNSET:
            field_dict["low_balance_threshold"] = low_balance_threshold
        if overdraft_limit is not UNSET:
            field_dict["overdraft_limit"] = overdraft_limit

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        plan = d.pop("plan")

        low_balance_threshold = d.pop("low_balance_threshold", UNSET)

        overdraft_limit = d.pop("overdraft_limit", UNSET)

        open_billing_account_payload = cls(
            plan=plan,
            low_balance_threshold=low_balance_threshold,
            overdraft_limit=overdraft_limit,
        )

        return open_billing_account_payload

