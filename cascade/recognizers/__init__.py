"""Recognizers for the cascade's ASR stage (chosen in config by ``class_path``)."""

from cascade.recognizers.base import Recognizer
from cascade.recognizers.ctc_checkpoint import CTCCheckpointRecognizer
from cascade.recognizers.hf_ctc import HFCTCRecognizer
from cascade.recognizers.whisper_asr import WhisperRecognizer

__all__ = ["Recognizer", "WhisperRecognizer", "HFCTCRecognizer", "CTCCheckpointRecognizer"]
