"""`pacabench list`: every target pacabench knows by name, one line each (from pacabench.names: no
torch is imported to list them)."""
import json

import typer

from pacabench.names import (OPERATOR_INFO, OPERATOR_PREFIX, PEER_BACKBONES, RELEASED_DENSE, ZOO_VARIANTS,
                             dense_defaults, describe, describe_dense, operator_defaults)

OPERATOR_SYNTAX = (
    "An operator is op:NAME, with optional parameters as a query string op:NAME?key=value&key=value "
    "(quote it in the shell): op:paca?clusters=49, op:swin?shift=true, "
    "op:pvt?sr_ratio=4&dim=64&heads=1. Every operator takes stride (pixels per token, default 4), "
    "dim (width C, default 96) and heads (default 2); its token grid is (H/stride) x (W/stride). "
    "fused_attn=false (operators and models) runs attention explicitly, materialising the attention "
    "matrix, instead of through SDPA's fused kernels."
)
MODEL_SYNTAX = (
    "Models take parameters the same way: NAME?features_only=true builds the feature backbone (no head; "
    "the stage maps), with out_indices=1,2,3 to pick stages; PaCa-ViT models also take clusters=200,200,200,0. "
    "A dense model is det:maskrcnn:<backbone> (Mask R-CNN 1x), seg:upernet:<backbone> (UperNet), "
    "seg:fpn:<backbone> (Semantic FPN) or seg:paca:<backbone> (PaCa head; seg:<zoo variant> for short), on a "
    "PaCa-ViT zoo model or any timm model with maps at strides 4, 8, 16, 32; it takes num_classes "
    "(80 / 150), fused_attn, and on a zoo backbone clusters (default: as released)."
)
HELP = f"""List the PaCa-ViT zoo, the peer backbones, the released dense models and the attention
operators, one line each.

Any other timm model name is accepted too (built with timm defaults).

{MODEL_SYNTAX}

{OPERATOR_SYNTAX}

Examples:

  pacabench list

  pacabench list --json

  pacabench flops 'op:paca?clusters=49' --resolution 896 --json

  pacabench flops seg:pacavit_tiny_p2cconv_100_0 --resolution 512

  pacabench flops det:maskrcnn:swin_tiny_patch4_window7_224 --size 800x1280
"""


def _text(value) -> str:
    """A parameter value as it is written in a spec (true/false, not True/False; lists as a,b,c)."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _catalog() -> dict:
    def model_rows(names):
        return [{"name": name, "description": describe(name)} for name in names]

    return {
        "zoo": model_rows(ZOO_VARIANTS),
        "backbones": model_rows(PEER_BACKBONES),
        "dense": [{"name": name, "description": describe_dense(name), "defaults": dense_defaults(name)}
                  for name in RELEASED_DENSE],
        "operators": [{"name": OPERATOR_PREFIX + name, "description": info.description,
                       "defaults": operator_defaults(name)} for name, info in OPERATOR_INFO.items()],
    }


def list_targets(
    as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON."),
) -> None:
    """`pacabench list`; its help text is HELP."""
    catalog = _catalog()
    if as_json:
        typer.echo(json.dumps(catalog, indent=2))
        return
    titles = {"zoo": "PaCa-ViT zoo", "backbones": "Peer backbones",
              "dense": "Dense models, as released (det:maskrcnn|seg:upernet|seg:fpn|seg:paca:<backbone>"
                       "?num_classes=K&clusters=a,b,c,d)",
              "operators": "Attention operators (op:NAME?key=value&key=value)"}
    for section, rows in catalog.items():
        typer.echo(f"{titles[section]}:")
        width = max(len(row["name"]) for row in rows)
        for row in rows:
            defaults = row.get("defaults")
            params = f" [{' '.join(f'{k}={_text(v)}' for k, v in defaults.items())}]" if defaults else ""
            typer.echo(f"  {row['name']:<{width}}  {row['description']}{params}")
        typer.echo("")


def register(app: typer.Typer) -> None:
    app.command("list", help=HELP)(list_targets)
