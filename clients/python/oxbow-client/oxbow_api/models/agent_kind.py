from enum import StrEnum

class AgentKind(StrEnum):
    DECISION = "decision"
    GOVERNANCE = "governance"
    MODEL = "model"
    OPERATIONS = "operations"
    PROMPT = "prompt"
    TOOL = "tool"

    def __str__(self) -> str:
        return str(self.value)
