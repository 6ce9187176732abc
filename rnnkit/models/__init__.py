"""The topologies as ready models."""

from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig, sample_next

__all__ = ["LMConfig", "LanguageModel", "SampleConfig", "sample_next"]
