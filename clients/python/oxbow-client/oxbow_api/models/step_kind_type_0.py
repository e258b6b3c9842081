from enum import StrEnum

class StepKindType0(StrEnum):
    AGENT = "agent"

    def __str__(self) -> str:
        return str(self.value)
