"""The topologies as ready models."""

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.crf import CRF
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig, sample_next
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = ["CRF", "ClassifierConfig", "Forecaster", "ForecasterConfig", "LMConfig", "LanguageModel", "SampleConfig",
           "SequenceClassifier", "SequenceTagger", "TaggerConfig", "sample_next"]
