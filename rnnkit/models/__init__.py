"""The topologies as ready models."""

from rnnkit.models.crf import CRF
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig, sample_next
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = ["CRF", "LMConfig", "LanguageModel", "SampleConfig", "SequenceTagger", "TaggerConfig", "sample_next"]
