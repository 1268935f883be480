"""Training images decoded at the tower's size (JPEG DCT scaling) vs decoded whole.

    python -m benchmarks.image_decode [--quick | --full] [--rounds N] [--data-root DIR]

The data path of one training image of the image E2E (``configs/embedded/vision_text.yaml``):
:func:`vision.datamodule.open_image` then the tower's training transform (open_clip's, with the
config's crop). Side A asks ``open_image`` for the tower's input size (64x128: the 384x192 JPEGs
decode at 192x96), side B decodes them whole, as before. Same images, same transform, one
thread, interleaved rounds; CPU ms per image. Also printed: how far the two sides' tensors are
apart (the crops are random, so the comparison uses the eval transform).
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import base_parser, header, interleave


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from vision.datamodule import open_image
    from vision.module import VisionCLIP
    from vision.text_images import EmbeddedTextImages

    rounds = args.rounds or (2 if args.quick else 6 if args.full else 4)
    count = 64 if args.quick else 1024 if args.full else 512
    lines = header("image E2E data path: JPEG decoded at the tower's size vs whole", args)
    corpus = EmbeddedTextImages(root=args.data_root, tiny=args.quick).load()
    items = sorted((i for i in corpus.items if i.split == "train"), key=lambda i: i.id)[:count]
    module = VisionCLIP(
        "wb-text-resnet",
        tokenizer="bytes",
        loss="head",
        num_classes=6,
        freeze=["text"],
        aug_cfg={"use_timm": True, "scale": [0.85, 1.0], "ratio": [1.8, 2.2]},
    )
    size = module.input_size
    lines.append(f"{len(items)} training images of {corpus.items[0].image.split('/images/')[0]}, tower input {size}")

    def path(drafted: bool) -> float:
        began = time.process_time()
        for item in items:
            module.preprocess_train(open_image(item.image, item.id, size if drafted else None))
        return (time.process_time() - began) / len(items) * 1000

    # each side returns its own CPU ms an image, which interleave records as the round's time
    result = interleave(
        "image_decode_train_path", "at_tower_size", "whole", lambda: path(True), lambda: path(False), rounds
    )
    differences = [
        (module.preprocess_val(open_image(i.image, i.id, size)) - module.preprocess_val(open_image(i.image, i.id)))
        .abs()
        .mean()
        .item()
        for i in items[:32]
    ]
    lines.append(
        f"mean |difference| of the eval tensors (normalised pixels), drafted vs whole, over 32 images: "
        f"{sum(differences) / len(differences):.4f}"
    )
    lines += result.lines(unit="ms CPU/image", quick=args.quick)
    print("\n".join(lines), flush=True)
    return {"ratio": result.median_ratio()}


if __name__ == "__main__":
    main()
