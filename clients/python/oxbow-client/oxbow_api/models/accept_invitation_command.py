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
  from ..models.accept_invitation_payload import AcceptInvitationPayload





T = TypeVar("T", bound="AcceptInvitationCommand")



@_attrs_define
class AcceptInvitationCommand:
    """ 
        Attributes:
            id (UUID): The aggregate's id; the client chooses it for creating commands.
            payload (AcceptInvitationPayload):
            type_ (Literal['AcceptInvitation']):
            expected_version (int | Unset): Optimistic concurrency: the version the aggregate must be at.
     """

    id: UUID
    payload: AcceptInvitationPayload
    type_: Literal['AcceptInvitation']
    expected_version: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.accept_invitation_payload import AcceptInvitationPayload # noqa: PLC0415
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
        from ..models.accept_invitation_payload import AcceptInvitationPayload # noqa: PLC0415
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        payload = AcceptInvitationPayload.from_dict(d.pop("payload"))




        type_ = cast(Literal['AcceptInvitation'] , d.pop("type"))
        if type_ != 'AcceptInvitation':
            raise ValueError(f"type must match const 'AcceptInvitation', got '{type_}'")

        expected_version = d.pop("expected_version", UNSET)

        accept_invitation_command = cls(
            id=id,
            payload=payload,
            type_=type_,
            expected_version=expected_version,
        )

        return accept_invitation_command

