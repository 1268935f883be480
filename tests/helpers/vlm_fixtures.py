"""A tiny random Qwen2-VL saved as a local folder, standing in for ``Qwen/Qwen2-VL-2B-Instruct``.

Built from the real classes (``Qwen2VLConfig``, ``Qwen2VLForConditionalGeneration``,
``Qwen2VLProcessor`` with ``Qwen2VLImageProcessor``) with the real model's choices and small
sizes. The real ``config.json`` of ``Qwen/Qwen2-VL-2B-Instruct``: text 1536 wide, 28 layers,
12 heads, 2 key-value heads, intermediate 8960, ``rope_theta`` 1e6, M-RoPE sections
[16, 24, 24] (of a 128-wide head: 64 rotary pairs), tied embeddings, ``rms_norm_eps`` 1e-6;
vision 32 layers, 1280 wide, 16 heads, 14 px patches, 2x2 merge, temporal patch 2; the
image processor normalises with CLIP's mean/std. Here: text 64 wide, 2 layers, 4 heads (a
16-wide head: sections [2, 3, 3], the same proportions), vision 1 layer, 32 wide, same
patch, merge and normalisation; a byte-level BPE (Qwen2's tokenizer kind) trained on the
texts it will see, with Qwen2-VL's special tokens and the Instruct chat template (image
and text parts only).
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip
# Qwen2-VL-Instruct's chat template, its image and text parts (no video, no vision ids)
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def tiny_qwen_tokenizer(texts: list[str], vocab_size: int = 600):
    """A byte-level BPE trained on ``texts`` with Qwen2-VL's special tokens (``<|im_end|>`` ends a turn)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=SPECIAL)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def save_tiny_qwen2_vl(folder: Path, texts: list[str]) -> Path:
    """Write a tiny Qwen2-VL (config, random weights, processor) to ``folder``; returns it."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = tiny_qwen_tokenizer(texts)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL}
    text = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
        "tie_word_embeddings": True, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }  # fmt: skip
    vision = {"depth": 1, "embed_dim": 32, "num_heads": 2, "hidden_size": 64, "patch_size": 14}
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config)
    # at the usual 0.02 init a 64-wide tied head spans about +-1 logit: no answer could ever be
    # likely, whatever LoRA learns; a trained model's logits span tens, so draw the embeddings wider
    torch.nn.init.normal_(model.get_input_embeddings().weight, std=0.2)
    model.save_pretrained(folder)
    images = Qwen2VLImageProcessor(
        image_mean=CLIP_MEAN, image_std=CLIP_STD, size={"shortest_edge": 56 * 56, "longest_edge": 112 * 112}
    )
    processor = Qwen2VLProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder


def tiny_fit_vlm_args(configs: list, model_id: str, data_root, run_dir, image_size: int) -> list[str]:
    """``vision.fit_vlm``'s arguments for ``configs`` on a tiny stand-in: the tiny embedded text images (eng,
    rus), two steps on CPU in float32, one validation batch."""
    args = [arg for config in configs for arg in ("-c", str(config))]
    return args + [
        "--model.model_id", model_id, "--model.dtype", "float32", "--model.image_size", str(image_size),
        f"--data.source.init_args.root={data_root}",
        "--data.source.init_args.tiny=true",
        "--data.source.init_args.languages=[eng, rus]",
        "--data.num_workers", "0",
        "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
        "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
        "--trainer.enable_model_summary", "false",
        "--run_dir", str(run_dir),
    ]  # fmt: skip
