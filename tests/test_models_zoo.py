"""Every zoo variant: exact parameter count, official state-dict layout, forward shapes, feature mode,
checkpoint round trip. Each variant is built once per module (module-scoped parametrized fixture)."""
import json
import math
import re
from pathlib import Path

import pytest
import timm
import torch

import pacabench  # noqa: F401  (registers the zoo with timm)
from pacabench.models import RELEASED_FIGURES, ZOO_VARIANTS, PaCaViT, load_checkpoint

# The official layout, vendored so the tests run without ../shared: variant -> {key: shape}.
LAYOUT_FILE = Path(__file__).parent / "data" / "pacavit_state_dict_layout.json"
SHARED_LAYOUT_FILE = Path(__file__).parents[2] / "shared" / "reference" / "pacavit_state_dict_layout.json"
LAYOUT = json.loads(LAYOUT_FILE.read_text())
DOWNSTREAM = "{}_downstream[clusters=200,200,200,0]"
DOWNSTREAM_VARIANTS = ["pacavit_tiny_p2cconv_100_0", "pacavit_small_p2cconv_100_0",
                       "pacavit_base_p2cconv_100_0", "pacavit_small_p2cmlp_100_0"]

# DESIGN.md section 3, exact counts of the released networks.
EXACT_PARAMS = {
    "pacavit_tiny_p2cconv_100_0": 12_200_680,
    "pacavit_small_p2cconv_100_0": 22_037_704,
    "pacavit_base_p2cconv_100_0": 46_911_304,
    "pacavit_small_p2cmlp_100_0": 22_637_268,
    "pacavit_convmixer_tiny_100": 12_483_672,
    "pacavit_convmixer_small_100": 21_075_064,
    "pacavit_convmixer_base_100": 47_659_192,
    "pacavit_small_p2cconv_2_0": 21_978_120,
    "pacavit_small_p2cconv_49_0": 22_006_696,
    "pacavit_small_p2cconv_49_100": 22_227_560,
    "pacavit_small_p2cconv_100_49": 22_210_696,
    "pacavit_small_p2cconv_100": 22_245_448,
    "pacavit_small_p2cconv_100_blockwise": 24_191_944,
}
SMALL_DIMS = (96, 192, 320, 384)
# p2clinear (not released): small_100_0 whose conv clusterings (dw 7x7 + bias, 1x1 + bias, 1x1 C -> M
# without bias) become one Linear(C, M, bias=False) each, in stages 1-3: the C x M weights remain.
EXACT_PARAMS["pacavit_small_p2clinear_100_0"] = EXACT_PARAMS["pacavit_small_p2cconv_100_0"] - sum(
    49 * c + c + c * c + c for c in SMALL_DIMS[:3])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _linear_layout() -> dict:
    layout = {}
    for key, shape in LAYOUT["pacavit_small_p2cconv_100_0"].items():
        if ".attn.clustering.clustering." not in key:
            layout[key] = shape
        elif key.endswith("clustering.4.weight"):
            layout[key.replace("clustering.4.weight", "clustering.0.weight")] = shape[:2]
    return layout


def _expected_layout(name: str) -> dict:
    return _linear_layout() if name == "pacavit_small_p2clinear_100_0" else LAYOUT[name]


def _stage_map_shapes(name: str, height: int, width: int) -> list:
    dims = (96, 192, 384, 512) if "_base_" in name else SMALL_DIMS
    return [(1, c, height // s, width // s) for c, s in zip(dims, (4, 8, 16, 32))]


@pytest.fixture(scope="module", params=ZOO_VARIANTS)
def variant(request):
    torch.manual_seed(0)
    return request.param, timm.create_model(request.param).eval()


def test_zoo_lists_the_14_variants_with_released_figures():
    assert len(ZOO_VARIANTS) == 14 == len(set(ZOO_VARIANTS))
    assert set(ZOO_VARIANTS) == set(EXACT_PARAMS) == set(RELEASED_FIGURES)
    assert set(timm.list_models("pacavit_*")) == set(ZOO_VARIANTS)
    assert RELEASED_FIGURES["pacavit_tiny_p2cconv_100_0"] == {"top1": 80.9, "params_m": 12.2, "gmacs": 3.2}


def test_exact_parameter_count(variant):
    name, model = variant
    assert sum(p.numel() for p in model.parameters()) == EXACT_PARAMS[name]


def test_released_params_figures_agree_to_their_last_digit():
    released = {n: f["params_m"] for n, f in RELEASED_FIGURES.items() if f["params_m"] is not None}
    assert len(released) == 12
    # DESIGN.md (a): convmixer_base's released 46.7M is a typo of the table for 47.66M
    typo = released.pop("pacavit_convmixer_base_100")
    assert (typo, EXACT_PARAMS["pacavit_convmixer_base_100"]) == (46.7, 47_659_192)
    # the released table rounds inconsistently (22.245M -> 22.3, 24.192M -> 24.1): one unit of 0.1M
    assert {n: abs(EXACT_PARAMS[n] / 1e6 - m) <= 0.1 for n, m in released.items()} == dict.fromkeys(released, True)


def test_state_dict_layout_matches_official(variant):
    name, model = variant
    layout = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert layout == _expected_layout(name)


def test_pretrained_cfg_like_timm(variant):
    _, model = variant
    cfg = model.pretrained_cfg
    assert (cfg["input_size"], cfg["crop_pct"], cfg["interpolation"]) == ((3, 224, 224), 0.9, "bicubic")
    assert (cfg["mean"], cfg["std"]) == (timm.data.IMAGENET_DEFAULT_MEAN, timm.data.IMAGENET_DEFAULT_STD)
    assert (cfg["num_classes"], cfg["first_conv"], cfg["classifier"]) == (1000, "patch_embed.proj.0", "head")
    assert not cfg["url"]


def test_forward_224_gives_logits(variant):
    _, model = variant
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    assert torch.isfinite(logits).all()


def test_feature_mode_map_shapes_on_meta(variant):
    """Feature mode at 256 x 320 (shapes only; meta device: no memory, no compute)."""
    name, _ = variant
    with torch.device("meta"):
        backbone = timm.create_model(name, features_only=True)
        maps = backbone(torch.empty(1, 3, 256, 320))
    assert [tuple(m.shape) for m in maps] == _stage_map_shapes(name, 256, 320)
    assert backbone.feature_info.channels() == [s[1] for s in _stage_map_shapes(name, 256, 320)]
    assert backbone.feature_info.reduction() == [4, 8, 16, 32]


def test_checkpoint_round_trip_gives_identical_outputs(variant, tmp_path):
    """Save, overwrite every tensor with NaN, load the file back: outputs must be bit-identical.
    (Defined last among the per-variant tests, which pytest runs in file order per variant.)"""
    name, model = variant
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        before = model(x)
    path = tmp_path / f"IMNET_224_{name}.pth"
    torch.save(model.state_dict(), path)
    with torch.no_grad():
        for tensor in model.state_dict().values():  # anything the file does not fill stays NaN
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
    load_checkpoint(model, path)
    with torch.no_grad():
        assert torch.equal(model(x), before)


@pytest.mark.parametrize("name", DOWNSTREAM_VARIANTS)
def test_downstream_backbone_layout(name):
    with torch.device("meta"):
        backbone = timm.create_model(name, features_only=True, clusters=[200, 200, 200, 0])
    assert isinstance(backbone, PaCaViT)  # feature mode lives in the model: no timm wrapper, no key prefix
    layout = {k: list(v.shape) for k, v in backbone.state_dict().items()}
    assert layout == LAYOUT[DOWNSTREAM.format(name)]


def test_downstream_tiny_maps_at_256x320():
    backbone = timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, clusters=[200, 200, 200, 0])
    with torch.no_grad():
        maps = backbone.eval()(torch.randn(1, 3, 256, 320))
    assert [tuple(m.shape) for m in maps] == _stage_map_shapes("pacavit_tiny_p2cconv_100_0", 256, 320)
    assert all(torch.isfinite(m).all() for m in maps)


def test_out_indices_select_stage_maps():
    with torch.device("meta"):
        backbone = timm.create_model("pacavit_tiny_p2cconv_100_0", features_only=True, out_indices=(1, 3))
        maps = backbone(torch.empty(1, 3, 1280, 800))
    assert [tuple(m.shape) for m in maps] == [(1, 192, 160, 100), (1, 384, 40, 25)]
    assert backbone.feature_info.channels() == [192, 384]


def test_classifier_num_classes_and_forward_at_256x320():
    model = timm.create_model("pacavit_tiny_p2cconv_100_0", num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 256, 320)).shape == (1, 10)
    assert model.get_classifier().weight.shape == (10, 384)


@pytest.mark.parametrize("size", [(224, 230), (200, 224), (16, 32)])
def test_input_size_not_multiple_of_32_is_rejected(size):
    with torch.device("meta"):
        model = timm.create_model("pacavit_convmixer_tiny_100").eval()
    height, width = size
    message = (f"input size {height}x{width} is not supported by PaCa-ViT: height and width must be "
               "positive multiples of 32 (e.g. 224x224, 256x320, 1280x800)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model(torch.empty(1, 3, height, width, device="meta"))


def _clustering_blocks(model) -> list[list[int]]:
    return [[j for j, block in enumerate(getattr(model, f"stage{i}")) if block.attn.clustering is not None]
            for i in range(1, 5)]


@pytest.mark.parametrize("onsite, expected", [
    (0, [[0], [0], [0], []]),                         # stage-wise: block 0 only
    (1, [[0, 1, 2], [0, 1, 2], [0, 1, 2, 3, 4], []]),  # block-wise: every block
    (2, [[0, 2], [0, 2], [0, 2, 4], []]),              # every 2nd block
    (3, [[0], [0], [0, 3], []]),
])
def test_where_rule_decides_which_blocks_cluster(onsite, expected):
    with torch.device("meta"):
        model = PaCaViT(depths=(3, 3, 5, 2), clusters=(10, 10, 10, 0), onsite=onsite, num_classes=0)
    assert _clustering_blocks(model) == expected
    # every block of a stage with clusters has a cluster_norm; the M = 0 stage has none
    norms = [[block.attn.cluster_norm is not None for block in getattr(model, f"stage{i}")] for i in range(1, 5)]
    assert norms == [[True] * 3, [True] * 3, [True] * 5, [False] * 2]


def test_zoo_variants_follow_the_where_rule():
    with torch.device("meta"):
        blockwise = timm.create_model("pacavit_small_p2cconv_100_blockwise")
        stagewise = timm.create_model("pacavit_small_p2cconv_100")
        teacher = timm.create_model("pacavit_convmixer_small_100")
    assert _clustering_blocks(blockwise) == [[0, 1, 2], [0, 1, 2], list(range(10)), [0, 1, 2]]
    assert _clustering_blocks(stagewise) == [[0], [0], [0], [0]]
    assert _clustering_blocks(teacher) == [[], [], [], []]
    assert teacher.paca_teacher is not None


def test_init_follows_the_design():
    torch.manual_seed(0)
    model = timm.create_model("pacavit_tiny_p2cconv_100_0")
    fc1 = model.stage3[0].mlp.fc1
    assert fc1.weight.abs().max() <= 2.0 and 0.018 < fc1.weight.std() < 0.022  # trunc normal, std 0.02
    assert torch.count_nonzero(fc1.bias) == 0
    conv = model.transition2.proj  # fan_out = 3 * 3 * 320
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 320)), rel=0.05)
    dw = model.stage1[0].attn.clustering.clustering[0]  # depthwise: fan_out = 7 * 7 * 96 / 96
    assert dw.weight.std().item() == pytest.approx(math.sqrt(2 / 49), rel=0.1)


@pytest.mark.skipif(not SHARED_LAYOUT_FILE.exists(), reason="../shared/reference is not beside this checkout")
def test_vendored_layout_is_the_shared_reference():
    assert LAYOUT_FILE.read_bytes() == SHARED_LAYOUT_FILE.read_bytes()
