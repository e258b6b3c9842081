from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from uuid import UUID






T = TypeVar("T", bound="ConfirmPaymentBody")



@_attrs_define
class ConfirmPaymentBody:
    """ 
        Attributes:
            amount (int):
            id (str): The provider's payment id
            type_ (str): payment.succeeded; other types are acknowledged and ignored
            workspace_id (UUID):
            invoice_id (UUID | Unset): Pays this invoice instead of buying credits
     """

    amount: int
    id: str
    type_: str
    workspace_id: UUID
    invoice_id: UUID | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        id = self.id

        type_ = self.type_

        workspace_id = str(self.workspace_id)

        invoice_id: str | Unset = UNSET
        if not isinstance(self.invoice_id, Unset):
            invoice_id = str(self.invoice_id)


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "amount": amount,
            "id": id,
            "type": type_,
            "workspace_id": workspace_id,
        })
        if invoice_id is not UNSET:
            field_dict["invoice_id"] = invoice_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        id = d.pop("id")

        type_ = d.pop("type")

        workspace_id = UUID(d.pop("workspace_id"))




        _invoice_id = d.pop("invoice_id", UNSET)
        invoice_id: UUID | Unset
        if isinstance(_invoice_id,  Unset):
            invoice_id = UNSET
        else:
            invoice_id = UUID(_invoice_id)




        confirm_payment_body = cls(
            amount=amount,
            id=id,
            type_=type_,
            workspace_id=workspace_id,
            invoice_id=invoice_id,
        )


        confirm_payment_body.additional_properties = d
        return confirm_payment_body

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
