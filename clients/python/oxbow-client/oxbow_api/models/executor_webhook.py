from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="ExecutorWebhook")



@_attrs_define
class ExecutorWebhook:
    """ POSTs the task to `url` and waits at most `timeout_ms` for the result.

        Attributes:
            timeout_ms (int):
            type_ (Literal['webhook']):
            url (str):
     """

    timeout_ms: int
    type_: Literal['webhook']
    url: str





    def to_dict(self) -> dict[str, Any]:
        timeout_ms = self.timeout_ms

        type_ = self.type_

        url = self.url


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "timeout_ms": timeout_ms,
            "type": type_,
            "url": url,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        timeout_ms = d.pop("timeout_ms")

        type_ = cast(Literal['webhook'] , d.pop("type"))
        if type_ != 'webhook':
            raise ValueError(f"type must match const 'webhook', got '{type_}'")

        url = d.pop("url")

        executor_webhook = cls(
            timeout_ms=timeout_ms,
            type_=type_,
            url=url,
        )

        return executor_webhook

