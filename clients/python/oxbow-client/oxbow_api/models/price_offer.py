from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="PriceOffer")



@_attrs_define
class PriceOffer:
    """ A price as a command states it: a fee per call and a rate for input and for output tokens.
    For one release the single `per_1k_tokens` of before is still taken, for both rates where
    they are not given.

        Attributes:
            per_call (int):
            per_1k_input_tokens (int | None | Unset):
            per_1k_output_tokens (int | None | Unset):
            per_1k_tokens (int | None | Unset): Deprecated: both rates at once.
     """

    per_call: int
    per_1k_input_tokens: int | None | Unset = UNSET
    per_1k_output_tokens: int | None | Unset = UNSET
    per_1k_tokens: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        per_call = self.per_call

        per_1k_input_tokens: int | None | Unset
        if isinstance(self.per_1k_input_tokens, Unset):
            per_1k_input_tokens = UNSET
        else:
            per_1k_input_tokens = self.per_1k_input_tokens

        per_1k_output_tokens: int | None | Unset
        if isinstance(self.per_1k_output_tokens, Unset):
            per_1k_output_tokens = UNSET
        else:
            per_1k_output_tokens = self.per_1k_output_tokens

        per_1k_tokens: int | None | Unset
        if isinstance(self.per_1k_tokens, Unset):
            per_1k_tokens = UNSET
        else:
            per_1k_tokens = self.per_1k_tokens


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "per_call": per_call,
        })
        if per_1k_input_tokens is not UNSET:
            field_dict["per_1k_input_tokens"] = per_1k_input_tokens
        if per_1k_output_tokens is not UNSET:
            field_dict["per_1k_output_tokens"] = per_1k_output_tokens
        if per_1k_tokens is not UNSET:
            field_dict["per_1k_tokens"] = per_1k_tokens

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        per_call = d.pop("per_call")

        def _parse_per_1k_input_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        per_1k_input_tokens = _parse_per_1k_input_tokens(d.pop("per_1k_input_tokens", UNSET))


        def _parse_per_1k_output_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        per_1k_output_tokens = _parse_per_1k_output_tokens(d.pop("per_1k_output_tokens", UNSET))


        def _parse_per_1k_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        per_1k_tokens = _parse_per_1k_tokens(d.pop("per_1k_tokens", UNSET))


        price_offer = cls(
            per_call=per_call,
            per_1k_input_tokens=per_1k_input_tokens,
            per_1k_output_tokens=per_1k_output_tokens,
            per_1k_tokens=per_1k_tokens,
        )

        return price_offer

