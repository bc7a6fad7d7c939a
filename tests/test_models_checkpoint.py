"""load_checkpoint: official file shapes (plain, wrapped, prefixed), cached URLs, and one clear
CheckpointError naming the file and the first missing / unexpected keys."""
import re
from collections import OrderedDict

import pytest
import torch

from pacabench.models import CheckpointError, PaCaViT, load_checkpoint


def _mini(seed: int) -> PaCaViT:
    """A miniature teacher variant (buffers too: BN statistics, blur filter); the zoo test file
    round-trips every real variant."""
    torch.manual_seed(seed)
    return PaCaViT(embed_dims=(16, 32, 48, 64), num_heads=(1, 2, 4, 8), depths=(1, 1, 2, 1),
                   clusters=(4, 4, 4, 4), clustering="teacher", teacher_depths=(1, 1, 1, 1), num_classes=10).eval()


@pytest.fixture(scope="module")
def model():
    return _mini(0)


@pytest.fixture(scope="module")
def state_dict(model):
    return model.state_dict()


def _fresh():
    return _mini(1)


def _assert_loaded(fresh, state_dict):
    loaded = fresh.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state_dict.items())


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"state_dict": sd, "meta": {"epoch": 300}},
    lambda sd: {"model": sd, "optimizer": {}},
    lambda sd: OrderedDict((f"module.{k}", v) for k, v in sd.items()),
    lambda sd: {"state_dict": {f"backbone.{k}": v for k, v in sd.items()}},
    lambda sd: {"model": {f"module.backbone.{k}": v for k, v in sd.items()}},
], ids=["plain", "state_dict", "model", "module_prefix", "backbone_prefix", "both_prefixes"])
def test_official_file_shapes_load_strictly(tmp_path, state_dict, wrap):
    path = tmp_path / "IMNET_224_pacavit.pth"
    torch.save(wrap(state_dict), path)
    fresh = _fresh()
    result = load_checkpoint(fresh, path)
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    _assert_loaded(fresh, state_dict)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"\x80\x02 this is not a checkpoint")
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(path))}: cannot be read as a torch checkpoint \("):
        load_checkpoint(_fresh(), path)


def test_truncated_file_names_the_file(tmp_path, state_dict):
    good, bad = tmp_path / "good.pth", tmp_path / "truncated.pth"
    torch.save(state_dict, good)
    bad.write_bytes(good.read_bytes()[:4096])
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(bad))}: cannot be read"):
        load_checkpoint(_fresh(), bad)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": _fresh}, path)  # a function: not weights-only
    with pytest.raises(CheckpointError, match="cannot be read as a torch checkpoint"):
        load_checkpoint(_fresh(), path)


def test_wrong_keys_name_the_first_missing_and_unexpected(tmp_path, state_dict):
    renamed = {("stage9.0.extra.weight" if k == "stage1.0.attn.q.weight" else k): v for k, v in state_dict.items()}
    path = tmp_path / "other_model.pth"
    torch.save(renamed, path)
    expected = (f"{path}: does not fit PaCaViT: 1 missing keys (first: 'stage1.0.attn.q.weight'); "
                "1 unexpected keys (first: 'stage9.0.extra.weight')")
    with pytest.raises(CheckpointError, match=f"^{re.escape(expected)}$"):
        load_checkpoint(_fresh(), path)
    # not strict: the matching tensors load, the differences are returned
    fresh = _fresh()
    result = load_checkpoint(fresh, path, strict=False)
    assert result.missing_keys == ["stage1.0.attn.q.weight"]
    assert result.unexpected_keys == ["stage9.0.extra.weight"]
    assert torch.equal(fresh.head.weight, state_dict["head.weight"])


def test_shape_mismatch_is_an_error_even_when_not_strict(tmp_path, state_dict):
    path = tmp_path / "ade20k_head.pth"
    torch.save({**state_dict, "head.weight": torch.zeros(150, 64), "head.bias": torch.zeros(150)}, path)
    expected = (f"{path}: does not fit PaCaViT: 2 shape mismatches (first: 'head.weight' is [150, 64] "
                "in the file, [10, 64] in the model)")
    for strict in (True, False):
        with pytest.raises(CheckpointError, match=f"^{re.escape(expected)}$"):
            load_checkpoint(_fresh(), path, strict=strict)


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(path))}: not a state dict"):
        load_checkpoint(_fresh(), path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.pth"
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(path))}: no such checkpoint file$"):
        load_checkpoint(_fresh(), path)


def test_url_loads_only_from_the_hub_cache(tmp_path, monkeypatch, state_dict):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    url = "https://example.org/releases/IMNET_224_pacavit_convmixer_tiny_100.pth"
    cached = tmp_path / "hub" / "checkpoints" / "IMNET_224_pacavit_convmixer_tiny_100.pth"
    with pytest.raises(CheckpointError, match=rf"^{re.escape(url)}: not in the torch hub cache "
                                              rf"\(looked for {re.escape(str(cached))}\); pacabench never downloads"):
        load_checkpoint(_fresh(), url)
    cached.parent.mkdir(parents=True)
    torch.save(state_dict, cached)
    fresh = _fresh()
    load_checkpoint(fresh, url)
    _assert_loaded(fresh, state_dict)
