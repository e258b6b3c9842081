from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="SetOverdraftLimitPayload")



@_attrs_define
class SetOverdraftLimitPayload:
    """ 
        Attributes:
            overdraft_limit (int):
     """

    overdraft_limit: int





    def to_dict(self) -> dict[str, Any]:
        overdraft_limit = self.overdraft_limit


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "overdraft_limit": overdraft_limit,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        overdraft_limit = d.pop("overdraft_limit")

        set_overdraft_limit_payload = cls(
            overdraft_limit=overdraft_limit,
        )

        return set_overdraft_limit_payload

