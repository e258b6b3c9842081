from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="Usage")



@_attrs_define
class Usage:
    """ What an attempt used: input and output tokens apart, as LLM platforms price them (and as
    OpenTelemetry's GenAI conventions name them).

        Attributes:
            duration_ms (int | Unset):  Default: 0.
            input_tokens (int | Unset):  Default: 0.
            output_tokens (int | Unset):  Default: 0.
            tokens (int | Unset): Deprecated, taken for one release: counted as input tokens.
     """

    duration_ms: int | Unset = 0
    input_tokens: int | Unset = 0
    output_tokens: int | Unset = 0
    tokens: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        duration_ms = self.duration_ms

        input_tokens = self.input_tokens

        output_tokens = self.output_tokens

        tokens = self.tokens


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if duration_ms is not UNSET:
            field_dict["duration_ms"] = duration_ms
        if input_tokens is not UNSET:
            field_dict["input_tokens"] = input_tokens
        if output_tokens is not UNSET:
            field_dict["output_tokens"] = output_tokens
        if tokens is not UNSET:
            field_dict["tokens"] = tokens

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        duration_ms = d.pop("duration_ms", UNSET)

        input_tokens = d.pop("input_tokens", UNSET)

        output_tokens = d.pop("output_tokens", UNSET)

        tokens = d.pop("tokens", UNSET)

        usage = cls(
            duration_ms=duration_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens=tokens,
        )

        return usage

