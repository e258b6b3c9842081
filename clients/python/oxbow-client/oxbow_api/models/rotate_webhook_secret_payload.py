from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="RotateWebhookSecretPayload")



@_attrs_define
class RotateWebhookSecretPayload:
    """ A new secret for signing the agent's webhook calls; the answer carries it, once. The secret
    it replaces still signs, beside it, for `grace_ms` (a day unless given), so that a receiver
    can move over without refusing a call.

        Attributes:
            grace_ms (int | None | Unset):
     """

    grace_ms: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        grace_ms: int | None | Unset
        if isinstance(self.grace_ms, Unset):
            grace_ms = UNSET
        else:
            grace_ms = self.grace_ms


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if grace_ms is not UNSET:
            field_dict["grace_ms"] = grace_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_grace_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        grace_ms = _parse_grace_ms(d.pop("grace_ms", UNSET))


        rotate_webhook_secret_payload = cls(
            grace_ms=grace_ms,
        )

        return rotate_webhook_secret_payload

