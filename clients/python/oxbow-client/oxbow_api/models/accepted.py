from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.accepted_events_item import AcceptedEventsItem





T = TypeVar("T", bound="Accepted")



@_attrs_define
class Accepted:
    """ 
        Attributes:
            events (list[AcceptedEventsItem]):
            position (int): Global position of the last event; pass it as X-Oxbow-Min-Position to read your writes.
            stream (str):
            version (int):
            webhook_secret (str | Unset): The secret a webhook agent's calls are signed with (Standard Webhooks), made by
                RegisterAgent or RotateWebhookSecret, shown this once.
            worker_credential (str | Unset): The credential an IssueWorkerCredential made (oxw.…), shown this once.
     """

    events: list[AcceptedEventsItem]
    position: int
    stream: str
    version: int
    webhook_secret: str | Unset = UNSET
    worker_credential: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.accepted_events_item import AcceptedEventsItem # noqa: PLC0415
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.to_dict()
            events.append(events_item)



        position = self.position

        stream = self.stream

        version = self.version

        webhook_secret = self.webhook_secret

        worker_credential = self.worker_credential


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "events": events,
            "position": position,
            "stream": stream,
            "version": version,
        })
        if webhook_secret is not UNSET:
            field_dict["webhook_secret"] = webhook_secret
        if worker_credential is not UNSET:
            field_dict["worker_credential"] = worker_credential

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.accepted_events_item import AcceptedEventsItem # noqa: PLC0415
        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in (_events):
            events_item = AcceptedEventsItem.from_dict(events_item_data)



            events.append(events_item)


        position = d.pop("position")

        stream = d.pop("stream")

        version = d.pop("version")

        webhook_secret = d.pop("webhook_secret", UNSET)

        worker_credential = d.pop("worker_credential", UNSET)

        accepted = cls(
            events=events,
            position=position,
            stream=stream,
            version=version,
            webhook_secret=webhook_secret,
            worker_credential=worker_credential,
        )


        accepted.additional_properties = d
        return accepted

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
