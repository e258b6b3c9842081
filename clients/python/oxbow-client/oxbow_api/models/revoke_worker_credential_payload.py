from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from uuid import UUID






T = TypeVar("T", bound="RevokeWorkerCredentialPayload")



@_attrs_define
class RevokeWorkerCredentialPayload:
    """ 
        Attributes:
            credential_id (UUID):
     """

    credential_id: UUID





    def to_dict(self) -> dict[str, Any]:
        credential_id = str(self.credential_id)


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "credential_id": credential_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        credential_id = UUID(d.pop("credential_id"))




        revoke_worker_credential_payload = cls(
            credential_id=credential_id,
        )

        return revoke_worker_credential_payload

