"""Recognizers for the cascade's ASR stage (chosen in config by ``class_path``)."""

from cascade.recognizers.base import Recognizer
from cascade.recognizers.ctc_checkpoint import CTCCheckpointRecognizer
from cascade.recognizers.faster_whisper_asr import FasterWhisperRecognizer
from cascade.recognizers.hf_ctc import HFCTCRecognizer
from cascade.recognizers.whisper_asr import WhisperRecognizer

__all__ = ["Recognizer", "WhisperRecognizer", "FasterWhisperRecognizer", "HFCTCRecognizer", "CTCCheckpointRecognizer"]
