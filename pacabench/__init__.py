"""pacabench: what attention really costs at high resolution.

Importing the package registers the PaCa-ViT zoo in timm's model registry, so
``timm.create_model("pacavit_tiny_p2cconv_100_0")`` works after ``import pacabench``: at once when
timm is already imported, else the moment it is (:mod:`pacabench.zoo_registration`), so that
importing pacabench (the command line, the pytest plugin) does not import torch by itself.
"""
from pacabench.zoo_registration import register_zoo_with_timm

register_zoo_with_timm()

__version__ = "0.1.0"
