from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="LeaseTasksBody")



@_attrs_define
class LeaseTasksBody:
    """ 
        Attributes:
            max_ (int | Unset):  Default: 1.
            wait_ms (int | Unset):  Default: 0.
     """

    max_: int | Unset = 1
    wait_ms: int | Unset = 0





    def to_dict(self) -> dict[str, Any]:
        max_ = self.max_

        wait_ms = self.wait_ms


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if max_ is not UNSET:
            field_dict["max"] = max_
        if wait_ms is not UNSET:
            field_dict["wait_ms"] = wait_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        max_ = d.pop("max", UNSET)

        wait_ms = d.pop("wait_ms", UNSET)

        lease_tasks_body = cls(
            max_=max_,
            wait_ms=wait_ms,
        )

        return lease_tasks_body

