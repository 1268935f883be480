"""The remote code of the local Centurio replica: OUR stand-in for the interface, NOT Centurio's code.

``tests/helpers/centurio_replica.py`` saves these classes with ``register_for_auto_class``, so this
file is copied into the replica's folder and named by its ``auto_map`` (as ``configuration_centurio.py``,
``modeling_centurio.py`` and ``processing_centurio.py`` are in ``WueNLP/centurio_qwen``); transformers
imports it from there only when ``trust_remote_code=True`` is passed.

What it reproduces of Centurio's interface (its model card and ``config.json``): ``AutoConfig``,
``AutoModelForCausalLM`` and ``AutoProcessor`` resolve to repository classes; an image's place in the
prompt is the literal text ``<image_placeholder>`` in a string message, which the processor expands into
the image's tokens (``image_token_index`` in the config) while returning ``pixel_values``; the model
replaces those tokens' embeddings with the projected image features and runs its language model.
What it does not: Centurio's vision tower is timm's SigLIP-SO400M/14 at 384 px and its adapter pools the
features of a 2x2 tiling and the whole image (``adapter_type: multiscale-pool``) before a 2-layer MLP;
here transformers' ``SiglipVisionModel`` of tiny size and the MLP alone, one image one tile.
"""

from __future__ import annotations

from torch import nn
from transformers import (
    GenerationMixin,
    PretrainedConfig,
    PreTrainedModel,
    ProcessorMixin,
    Qwen2Config,
    Qwen2ForCausalLM,
    SiglipVisionConfig,
    SiglipVisionModel,
)
from transformers.feature_extraction_utils import BatchFeature


class CenturioStandInConfig(PretrainedConfig):
    """A Qwen2 language model's config, a SigLIP vision tower's and the image token's id."""

    model_type = "wb-centurio-stand-in"

    def __init__(self, text_config=None, vision_config=None, image_token_index: int = 0, **kwargs):
        self.text_config = text_config if isinstance(text_config, Qwen2Config) else Qwen2Config(**(text_config or {}))
        vision = vision_config or {}
        self.vision_config = vision if isinstance(vision, SiglipVisionConfig) else SiglipVisionConfig(**vision)
        self.image_token_index = image_token_index
        super().__init__(**kwargs)

    def to_dict(self) -> dict:
        values = super().to_dict()
        values["text_config"], values["vision_config"] = self.text_config.to_dict(), self.vision_config.to_dict()
        return values


class CenturioStandInForCausalLM(PreTrainedModel, GenerationMixin):
    """Image features (vision tower -> 2-layer MLP) in place of the image tokens' embeddings, then Qwen2."""

    config_class = CenturioStandInConfig
    base_model_prefix = "model"
    _no_split_modules = ["Qwen2DecoderLayer", "SiglipEncoderLayer"]

    def __init__(self, config: CenturioStandInConfig):
        super().__init__(config)
        self.vision_tower = SiglipVisionModel(config.vision_config)
        width = config.text_config.hidden_size
        self.linear_1 = nn.Linear(config.vision_config.hidden_size, width)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(width, width)
        self.language_model = Qwen2ForCausalLM(config.text_config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, **kwargs):
        """``input_ids`` ``[B, L]`` (the image's tokens where the placeholder was), ``pixel_values``
        ``[B, 3, H, W]`` -> the language model's output (``logits_to_keep``, caches... passed on)."""
        embeds = self.get_input_embeddings()(input_ids)
        if pixel_values is not None:
            patches = self.vision_tower(pixel_values.to(embeds.dtype)).last_hidden_state
            features = self.linear_2(self.act(self.linear_1(patches)))
            at_image = (input_ids == self.config.image_token_index)[..., None].expand_as(embeds)
            embeds = embeds.masked_scatter(at_image, features.to(embeds.dtype))
        return self.language_model(inputs_embeds=embeds, attention_mask=attention_mask, **kwargs)


class CenturioStandInProcessor(ProcessorMixin):
    """``<image_placeholder>`` in each text -> ``num_image_tokens`` image tokens; images -> ``pixel_values``."""

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        chat_template=None,
        image_placeholder: str = "<image_placeholder>",
        image_token: str = "<image>",
        num_image_tokens: int = 1,
    ):
        self.image_placeholder, self.image_token = image_placeholder, image_token
        self.num_image_tokens = num_image_tokens
        super().__init__(image_processor, tokenizer, chat_template=chat_template)

    def __call__(self, text=None, images=None, padding=False, return_tensors=None, **kwargs):
        texts = [text] if isinstance(text, str) else list(text)
        expanded = [t.replace(self.image_placeholder, self.image_token * self.num_image_tokens) for t in texts]
        data = dict(self.tokenizer(expanded, padding=padding, add_special_tokens=False))
        if images is not None:
            data["pixel_values"] = self.image_processor(images, return_tensors="pt")["pixel_values"]
        return BatchFeature(data, tensor_type=return_tensors)


__all__ = ["CenturioStandInConfig", "CenturioStandInForCausalLM", "CenturioStandInProcessor"]
