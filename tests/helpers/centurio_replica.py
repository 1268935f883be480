"""A local replica of ``WueNLP/centurio_qwen`` in the hub layout, built with random weights (never downloaded).

The folder holds what the hub repository holds, at tiny sizes: ``config.json`` whose ``auto_map`` names
``AutoConfig`` and ``AutoModelForCausalLM``, ``processor_config.json`` whose ``auto_map`` names
``AutoProcessor``, the python module they point to, the weights, the image processor's settings, and
tokenizer files with Qwen2.5's chat template. The module is OUR stand-in for the interface
(``tests/helpers/centurio_remote_code.py``), not Centurio's code: transformers runs it from the folder,
as it would run the repository's, and only when ``trust_remote_code=True``.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_TOKEN = "<image>"  # the token the placeholder becomes (image_token_index in the config)
IMAGE_SIZE, PATCH = 56, 14  # pixels: 4 x 4 = 16 image tokens per image
CLIP_MEAN_STD = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}  # SigLIP's normalisation


def save_centurio_replica(folder: Path, texts: list[str]) -> Path:
    """Write the replica to ``folder`` (a byte-level BPE trained on ``texts``); returns it."""
    import torch
    from transformers import SiglipImageProcessor

    from tests.helpers.centurio_remote_code import (
        CenturioStandInConfig,
        CenturioStandInForCausalLM,
        CenturioStandInProcessor,
    )
    from tests.helpers.vlm_fixtures import CHAT_TEMPLATE, tiny_qwen_tokenizer

    tokenizer = tiny_qwen_tokenizer(texts)
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in ("<|endoftext|>", "<|im_end|>", IMAGE_TOKEN)}
    text = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "max_position_embeddings": 512,
        "tie_word_embeddings": False, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }  # fmt: skip  # Qwen2.5-7B's choices (untied head, grouped KV heads) at tiny sizes
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    vision |= {"image_size": IMAGE_SIZE, "patch_size": PATCH}
    config = CenturioStandInConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=ids[IMAGE_TOKEN],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(0)
    model = CenturioStandInForCausalLM(config)
    # at the usual 0.02 init a 64-wide head spans about +-1 logit: no answer could ever be likely, whatever
    # LoRA learns; a trained model's logits span tens, so draw the embeddings and the head wider
    for weights in (model.get_input_embeddings().weight, model.language_model.lm_head.weight):
        torch.nn.init.normal_(weights, std=0.2)
    CenturioStandInConfig.register_for_auto_class()
    CenturioStandInForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    model.save_pretrained(folder)
    images = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, **CLIP_MEAN_STD)
    processor = CenturioStandInProcessor(
        images, tokenizer, chat_template=CHAT_TEMPLATE, num_image_tokens=(IMAGE_SIZE // PATCH) ** 2
    )
    CenturioStandInProcessor.register_for_auto_class()
    processor.save_pretrained(folder)
    return Path(folder)
