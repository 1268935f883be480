#!/usr/bin/env bash
# Installs everything xling-workbench needs on a fresh Debian machine (root, Python >= 3.11):
# apt packages (espeak-ng for the embedded dataset, Chromium for the browser tests), then
# this package with its dev extra. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
# fonts-noto-core: glyphs for every embedded script (Thai, Devanagari, Georgian...) in the demo
# and the text-image set; tesseract-ocr + one pack per embedded language: the OCR cascade;
# slurm-wlm + munge: the one-node SLURM cluster of scripts/slurm-local.sh (sweeps with engine: submitit)
APT_PACKAGES="espeak-ng chromium chromium-driver fonts-noto-core tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu
  tesseract-ocr-spa tesseract-ocr-rus tesseract-ocr-ell tesseract-ocr-hin tesseract-ocr-kat tesseract-ocr-tha
  slurm-wlm munge"
missing=""
for pkg in $APT_PACKAGES; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
python3 -m pip install -q -e ".[dev]"
