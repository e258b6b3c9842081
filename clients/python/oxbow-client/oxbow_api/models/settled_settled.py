from enum import StrEnum

class SettledSettled(StrEnum):
    APPLIED = "applied"
    DUE = "due"
    FAILED_AGAIN = "failed_again"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
