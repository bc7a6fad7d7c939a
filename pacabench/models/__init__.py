"""The PaCa-ViT model zoo; importing this package registers the 14 variants in timm's registry."""
from pacabench.models.checkpoint import CheckpointError, load_checkpoint
from pacabench.models.fused_attn import set_fused_attn
from pacabench.models.paca_seg_head import PaCaSegHead
from pacabench.models.paca_teacher import PaCaTeacher
from pacabench.models.pacavit import RELEASED_FIGURES, ZOO_VARIANTS, PaCaAttention, PaCaViT

__all__ = [
    "PaCaViT", "PaCaAttention", "PaCaTeacher", "PaCaSegHead",
    "load_checkpoint", "CheckpointError", "set_fused_attn", "ZOO_VARIANTS", "RELEASED_FIGURES",
]
