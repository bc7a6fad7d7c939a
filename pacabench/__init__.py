"""pacabench: what attention really costs at high resolution.

Importing the package registers the PaCa-ViT zoo in timm's model registry, so
``timm.create_model("pacavit_tiny_p2cconv_100_0")`` works after ``import pacabench``.
"""
from pacabench import models  # noqa: F401  (registers the zoo with timm)

__version__ = "0.1.0"
