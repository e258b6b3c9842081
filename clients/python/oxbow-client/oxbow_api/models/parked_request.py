from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.parked_request_consumer import ParkedRequestConsumer
from ..types import UNSET, Unset






T = TypeVar("T", bound="ParkedRequest")



@_attrs_define
class ParkedRequest:
    """ 
        Attributes:
            consumer (ParkedRequestConsumer):
            position (int): The parked event's position in the log
            reason (str | Unset): Why it is given up (a skip needs one)
     """

    consumer: ParkedRequestConsumer
    position: int
    reason: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        consumer = self.consumer.value

        position = self.position

        reason = self.reason


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "consumer": consumer,
            "position": position,
        })
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        consumer = ParkedRequestConsumer(d.pop("consumer"))




        position = d.pop("position")

        reason = d.pop("reason", UNSET)

        parked_request = cls(
            consumer=consumer,
            position=position,
            reason=reason,
        )

        return parked_request

