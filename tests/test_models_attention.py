"""PaCaAttention: softmax axis, SDPA path == explicit path, cluster reuse, maps on request, and the
static shapes that let the model run on the meta device and under torch.jit.trace (fvcore)."""
import copy

import pytest
import timm
import torch

import pacabench  # noqa: F401
from pacabench.models import PaCaAttention, PaCaTeacher


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return timm.create_model("pacavit_tiny_p2cconv_100_0").eval()


@pytest.fixture(scope="module")
def convmixer_tiny():
    torch.manual_seed(0)
    return timm.create_model("pacavit_convmixer_tiny_100").eval()


def _tokens(batch=2, height=8, width=12, dim=32):
    return torch.randn(batch, height * width, dim), height, width


@pytest.mark.parametrize("clustering", ["conv", "mlp", "linear"])
def test_cluster_assignment_rows_sum_to_one_over_tokens(clustering):
    attn = PaCaAttention(32, 4, num_clusters=5, clustering=clustering).eval()
    attn.record_maps = True
    x, h, w = _tokens()
    with torch.no_grad():
        out, z_raw = attn(x, h, w)
    assignment = attn.last_maps["cluster_assignment"]
    assert out.shape == x.shape and z_raw.shape == assignment.shape == (2, 5, h * w)
    torch.testing.assert_close(assignment.sum(dim=-1), torch.ones(2, 5))      # over the N tokens
    assert not torch.allclose(assignment.sum(dim=1), torch.ones(2, h * w))   # not over clusters
    torch.testing.assert_close(assignment, z_raw.softmax(dim=-1))
    assert attn.last_maps["attention"].shape == (2, 4, h * w, 5)
    torch.testing.assert_close(attn.last_maps["attention"].sum(dim=-1), torch.ones(2, 4, h * w))


@pytest.mark.parametrize("num_clusters", [7, 0])
def test_sdpa_path_equals_explicit_path(num_clusters):
    attn = PaCaAttention(48, 2, num_clusters=num_clusters).eval()
    x, h, w = _tokens(dim=48)
    with torch.no_grad():
        fast, z_fast = attn(x, h, w)
        attn.record_maps = True
        explicit, z_explicit = attn(x, h, w)
    torch.testing.assert_close(fast, explicit, rtol=1e-5, atol=1e-6)
    if num_clusters:
        torch.testing.assert_close(z_fast, z_explicit)
    else:
        assert z_fast is None and z_explicit is None


def test_no_clusters_is_global_self_attention_by_hand():
    attn = PaCaAttention(16, 2, num_clusters=0).eval()
    assert attn.clustering is None and attn.cluster_norm is None
    x, h, w = _tokens(batch=1, height=2, width=3, dim=16)
    q = attn.q(x).reshape(1, 6, 2, 8).transpose(1, 2)
    k = attn.k(x).reshape(1, 6, 2, 8).transpose(1, 2)
    v = attn.v(x).reshape(1, 6, 2, 8).transpose(1, 2)
    weights = (q @ k.transpose(-2, -1) / 8 ** 0.5).softmax(dim=-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(1, 6, 16))
    with torch.no_grad():
        torch.testing.assert_close(attn(x, h, w)[0], expected.detach())


def test_reusing_block_needs_z_and_uses_it():
    computing = PaCaAttention(32, 4, num_clusters=5, clustering="conv").eval()
    reusing = PaCaAttention(32, 4, num_clusters=5, clustering=None).eval()
    x, h, w = _tokens()
    with torch.no_grad():
        _, z = computing(x, h, w)
        _, z_passed_on = reusing(x, h, w, z)
    assert z_passed_on is z
    with pytest.raises(ValueError, match="pass the cluster logits z"):
        reusing(x, h, w)


def test_model_sdpa_equals_explicit_and_maps_only_on_request(tiny):
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        fast = tiny(x)
        assert all(m.last_maps is None for m in tiny.modules() if isinstance(m, PaCaAttention))
        explicit, maps = tiny.forward_with_maps(x)
    torch.testing.assert_close(fast, explicit, rtol=1e-4, atol=1e-5)
    assert not any(m.record_maps for m in tiny.modules() if isinstance(m, PaCaAttention))  # switched back
    assert list(maps) == ["stage1.0", "stage1.1", "stage2.0", "stage2.1",
                          "stage3.0", "stage3.1", "stage3.2", "stage3.3", "stage4.0", "stage4.1"]
    assert maps["stage1.0"]["cluster_assignment"].shape == (1, 100, 16 * 24)
    assert maps["stage3.3"]["attention"].shape == (1, 8, 4 * 6, 100)
    assert maps["stage4.0"]["cluster_assignment"] is None
    assert maps["stage4.0"]["attention"].shape == (1, 16, 2 * 3, 2 * 3)
    # stage-wise: block 1 reuses block 0's clusters
    assert torch.equal(maps["stage2.1"]["cluster_assignment"], maps["stage2.0"]["cluster_assignment"])


def test_teacher_assignments_feed_every_block(convmixer_tiny):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        _, maps = convmixer_tiny.forward_with_maps(x)
        _, logits = convmixer_tiny.paca_teacher(convmixer_tiny.patch_embed(x))
    for stage, n in zip(range(1, 5), (256, 64, 16, 4)):
        for block in range(2):
            assignment = maps[f"stage{stage}.{block}"]["cluster_assignment"]
            assert assignment.shape == (1, 100, n)
            torch.testing.assert_close(assignment, logits[stage - 1].softmax(dim=-1))


def test_teacher_outputs_stage_maps_and_cluster_logits():
    teacher = PaCaTeacher((8, 16, 24, 32), (1, 1, 2, 1), (3, 4, 5, 6)).eval()
    with torch.no_grad():
        stage_maps, logits = teacher(torch.randn(2, 8, 16, 24))
    assert [tuple(m.shape) for m in stage_maps] == [(2, 8, 16, 24), (2, 16, 8, 12), (2, 24, 4, 6), (2, 32, 2, 3)]
    assert [tuple(z.shape) for z in logits] == [(2, 3, 384), (2, 4, 96), (2, 5, 24), (2, 6, 6)]
    blur = teacher.transition1[0].blur_filter
    assert blur.shape == (8, 1, 3, 3) and blur.sum().item() == pytest.approx(8.0)
    with pytest.raises(ValueError, match="predicts clusters for every stage"):
        PaCaTeacher((8, 16, 24, 32), (1, 1, 1, 1), (3, 4, 5, 0))


def test_runs_on_meta_device_at_detection_resolution():
    with torch.device("meta"):
        model = timm.create_model("pacavit_convmixer_small_100")
        logits = model(torch.empty(2, 3, 1280, 800))
    assert logits.shape == (2, 1000) and logits.device.type == "meta"


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")  # fvcore still traces with it
def test_traces_with_jit_and_matches_eager(convmixer_tiny):
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        traced = torch.jit.trace(convmixer_tiny, x, check_trace=False)
        torch.testing.assert_close(traced(x), convmixer_tiny(x))
    assert "scaled_dot_product_attention" in str(traced.inlined_graph)


def test_invalid_clustering_name_is_rejected():
    with pytest.raises(ValueError, match="clustering must be one of"):
        PaCaAttention(32, 4, 5, clustering="kmeans")
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        PaCaAttention(30, 4, 5)



@pytest.mark.cuda
def test_cuda_forward_matches_cpu_in_both_paths(tiny):
    x = torch.randn(1, 3, 64, 96)
    model = copy.deepcopy(tiny).cuda()
    with torch.no_grad():
        expected = tiny(x)
        fast = model(x.cuda())
        explicit, maps = model.forward_with_maps(x.cuda())
        with torch.autocast("cuda", dtype=torch.bfloat16):
            fast_bf16 = model(x.cuda())
    # cuDNN convolutions may use TF32: compare at that precision
    torch.testing.assert_close(fast.cpu(), expected, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(explicit, fast, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(fast_bf16.float(), fast, rtol=0.1, atol=0.1)
    assert maps["stage1.0"]["cluster_assignment"].device.type == "cuda"
