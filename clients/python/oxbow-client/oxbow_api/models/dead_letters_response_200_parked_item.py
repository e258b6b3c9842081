from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="DeadLettersResponse200ParkedItem")



@_attrs_define
class DeadLettersResponse200ParkedItem:
    """ 
        Attributes:
            consumer (str):
            event_type (str):
            parked_at (datetime.datetime):
            position (int):
            retry_requested (bool):
            stream_id (str):
            tries (int):
            error (None | str | Unset):
     """

    consumer: str
    event_type: str
    parked_at: datetime.datetime
    position: int
    retry_requested: bool
    stream_id: str
    tries: int
    error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        consumer = self.consumer

        event_type = self.event_type

        parked_at = self.parked_at.isoformat()

        position = self.position

        retry_requested = self.retry_requested

        stream_id = self.stream_id

        tries = self.tries

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "consumer": consumer,
            "event_type": event_type,
            "parked_at": parked_at,
            "position": position,
            "retry_requested": retry_requested,
            "stream_id": stream_id,
            "tries": tries,
        })
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        consumer = d.pop("consumer")

        event_type = d.pop("event_type")

        parked_at = datetime.datetime.fromisoformat(d.pop("parked_at"))




        position = d.pop("position")

        retry_requested = d.pop("retry_requested")

        stream_id = d.pop("stream_id")

        tries = d.pop("tries")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))


        dead_letters_response_200_parked_item = cls(
            consumer=consumer,
            event_type=event_type,
            parked_at=parked_at,
            position=position,
            retry_requested=retry_requested,
            stream_id=stream_id,
            tries=tries,
            error=error,
        )


        dead_letters_response_200_parked_item.additional_properties = d
        return dead_letters_response_200_parked_item

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
