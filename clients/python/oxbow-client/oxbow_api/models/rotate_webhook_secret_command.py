from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.rotate_webhook_secret_payload import RotateWebhookSecretPayload





T = TypeVar("T", bound="RotateWebhookSecretCommand")



@_attrs_define
class RotateWebhookSecretCommand:
    """ 
        Attributes:
            id (UUID): The aggregate's id; the client chooses it for creating commands.
            payload (RotateWebhookSecretPayload): A new secret for signing the agent's webhook calls; the answer carries it,
                once. The secret
                it replaces still signs, beside it, for `grace_ms` (a day unless given), so that a receiver
                can move over without refusing a call.
            type_ (Literal['RotateWebhookSecret']):
            expected_version (int | Unset): Optimistic concurrency: the version the aggregate must be at.
     """

    id: UUID
    payload: RotateWebhookSecretPayload
    type_: Literal['RotateWebhookSecret']
    expected_version: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.rotate_webhook_secret_payload import RotateWebhookSecretPayload # noqa: PLC0415
        id = str(self.id)

        payload = self.payload.to_dict()

        type_ = self.type_

        expected_version = self.expected_version


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
            "payload": payload,
            "type": type_,
        })
        if expected_version is not UNSET:
            field_dict["expected_version"] = expected_version

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rotate_webhook_secret_payload import RotateWebhookSecretPayload # noqa: PLC0415
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        payload = RotateWebhookSecretPayload.from_dict(d.pop("payload"))




        type_ = cast(Literal['RotateWebhookSecret'] , d.pop("type"))
        if type_ != 'RotateWebhookSecret':
            raise ValueError(f"type must match const 'RotateWebhookSecret', got '{type_}'")

        expected_version = d.pop("expected_version", UNSET)

        rotate_webhook_secret_command = cls(
            id=id,
            payload=payload,
            type_=type_,
            expected_version=expected_version,
        )

        return rotate_webhook_secret_command

