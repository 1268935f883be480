"""The cascade path: recognize (ASR) -> romanize (uroman, optional) -> classify (text).

Each stage caches its output on disk, keyed by the content of its input and its own
config, so a sweep over classifiers never re-transcribes. Entry points:
``python -m cascade.fit`` (the text classifier over cached transcripts) and
``python -m cascade.fit_asr`` (a CTC recognizer trained on the corpus' transcripts).
"""
