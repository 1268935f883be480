"""Speech encoders: one interface (:class:`~speech.encoders.base.SpeechEncoder`) over every family.

Modules are imported lazily by class path so that building a ConvEncoder never imports
transformers, whisper or speechbrain.
"""

from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.encoders.init import load_prefixed

__all__ = ["EncoderOutput", "SpeechEncoder", "from_checkpoint"]


def from_checkpoint(encoder: SpeechEncoder, path: str, prefix: str = "encoder.", strict: bool = True) -> SpeechEncoder:
    """Load ``<prefix>*`` weights of a checkpoint (e.g. the cascade's CTC recognizer) into ``encoder``."""
    load_prefixed(encoder, path, prefix=prefix, strict=strict)
    return encoder
