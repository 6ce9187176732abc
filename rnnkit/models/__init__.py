"""The topologies as ready models."""

from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.crf import CRF
from rnnkit.models.decoding import DecodeConfig
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.models.sampling import SampleConfig, sample_next
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

__all__ = ["CRF", "Captioner", "CaptionerConfig", "ClassifierConfig", "DecodeConfig", "Forecaster",
           "ForecasterConfig", "LMConfig", "LanguageModel", "SampleConfig", "Seq2Seq", "Seq2SeqConfig",
           "SequenceClassifier", "SequenceTagger", "TaggerConfig", "sample_next"]
