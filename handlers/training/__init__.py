"""`/training` (培训): the quarterly communication training, planned, announced, attended and
reported."""

from bot.domain import Domain
from handlers.training.settings import TrainingSettings

DOMAIN = Domain(
    "training",
    slash="/training",
    roles=("trainer",),
    settings=TrainingSettings,
    code="handlers.training.commands",
)
DOMAIN.family("training", aliases=("培训",), label="training.family")

__all__ = ["DOMAIN"]
