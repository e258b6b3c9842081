from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RetryPolicy")



@_attrs_define
class RetryPolicy:
    """ How often a step is tried, and how long to wait between tries.

        Attributes:
            backoff_ms (int): The wait before the first retry; it doubles with each further one (at most an hour).
            max_attempts (int): 1 to 10; 1 means no retry.
     """

    backoff_ms: int
    max_attempts: int





    def to_dict(self) -> dict[str, Any]:
        backoff_ms = self.backoff_ms

        max_attempts = self.max_attempts


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "backoff_ms": backoff_ms,
            "max_attempts": max_attempts,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        backoff_ms = d.pop("backoff_ms")

        max_attempts = d.pop("max_attempts")

        retry_policy = cls(
            backoff_ms=backoff_ms,
            max_attempts=max_attempts,
        )

        return retry_policy

