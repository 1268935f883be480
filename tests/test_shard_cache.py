"""cascade.cache by its contract: what earlier versions wrote stays readable (a folder's name and a
shard are pinned here: a change would orphan every cache on disk), shards read back whatever the
order their entries were put in, a shard with a non-text value is refused, ``meta.json`` is the
first writer's meta and only written when there is one, lookups are counted, membership is
membership (issue 26)."""

from __future__ import annotations

import json
from pathlib import Path

from cascade.cache import SHARD_SUFFIX, ShardedCache, config_digest, read_shard

# written by this version; unsorted keys, a path and non-ASCII text, as recognizer configs hold them
CONFIG = {"recognizer": "whisper", "checkpoint": Path("runs/asr/best.ckpt"), "language": "ελληνικά", "beam": 5}
CONFIG_FOLDER = "d45b579a22928134"
SHARD = {
    "entries": {"b2": "μάρτιος", "a1": "march"},
    "checksum": "75cc2c41ab5b7267f4f2f6be113e6f6a5e308fb2881ea590af78d3ca7c8eca20",
}


def test_a_cache_written_before_is_found_and_read_again(tmp_path):
    assert config_digest(CONFIG) == CONFIG_FOLDER
    assert config_digest(dict(reversed(CONFIG.items()))) == CONFIG_FOLDER  # key order is no identity
    shard = tmp_path / f"old{SHARD_SUFFIX}"
    shard.write_text(json.dumps(SHARD, ensure_ascii=False), encoding="utf-8")
    assert read_shard(shard) == {"b2": "μάρτιος", "a1": "march"}


def test_entries_put_in_any_order_read_back(tmp_path):
    ShardedCache(tmp_path).put_many({"b": "2", "a": "1", 3: 4})
    fresh = ShardedCache(tmp_path)
    assert (fresh.get("a"), fresh.get("b"), fresh.get("3")) == ("1", "2", "4") and not fresh.corrupt_shards


def test_a_shard_with_a_value_that_is_not_text_is_refused(tmp_path):
    shard = tmp_path / f"bad{SHARD_SUFFIX}"
    # its checksum is right (written by this version for {"k": 5}): only the value's type is wrong
    checksum = "7b88004a9ffe7eb784e63f55c9db0db866dd06fe5417df9e86a2e4fa64befd63"
    shard.write_text(json.dumps({"entries": {"k": 5}, "checksum": checksum}))
    assert read_shard(shard) is None
    cache = ShardedCache(tmp_path)
    assert len(cache) == 0 and cache.corrupt_shards == [shard]


def test_meta_json_is_the_first_writers_and_only_written_with_a_meta(tmp_path):
    first = {"recognizer": "whisper", "checkpoint": Path("a.ckpt")}
    ShardedCache(tmp_path / "with", meta=first).put_many({"k": "v"})
    ShardedCache(tmp_path / "with", meta={"recognizer": "other"}).put_many({"k2": "v2"})
    assert json.loads((tmp_path / "with" / "meta.json").read_text()) == {**first, "checkpoint": "a.ckpt"}
    ShardedCache(tmp_path / "without").put_many({"k": "v"})
    assert not (tmp_path / "without" / "meta.json").exists()


def test_lookups_are_counted(tmp_path):
    cache = ShardedCache(tmp_path)
    cache.put_many({"a": "1"})
    for key in ("a", "a", "x", "y", "z"):
        cache.get(key)
    assert (cache.hits, cache.misses) == (2, 3)
    assert "a" in cache and "x" not in cache and len(cache) == 1
