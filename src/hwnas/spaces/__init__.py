"""Search spaces, looked up by name: ``SPACES.create("nb201")`` (or ``get_space``).

Built-in spaces are imported only when first asked for (the trainable ones need torch);
a third-party package adds its own under the entry-point group ``hwnas.spaces``.
What a space knows beyond its choices (layer lists for cost models, views for
predictors) is declared by the protocols of :mod:`hwnas.spaces.protocols`.
"""

from __future__ import annotations

from hwnas.core.registry import Registry
from hwnas.spaces.base import Arch, ChoiceSpace, Dimension
from hwnas.spaces.protocols import CostableSpace, ExecutedWorkViews, QualityViews, is_costable

SPACES: Registry[ChoiceSpace] = Registry("space", "hwnas.spaces", {
    "nb201": "hwnas.spaces.nb201:NB201Space",
    "nb201_net": "hwnas.spaces.nb201_net:NB201NetSpace",
    "nb201_stages": "hwnas.spaces.nb201_stages:NB201StagesSpace",
    "mobilenet": "hwnas.spaces.mobilenet:MobileNetSpace",
    "signal1d": "hwnas.spaces.signal1d:Signal1DSpace",
    "vit": "hwnas.spaces.vit:ViTSpace",
    "text_encoder": "hwnas.spaces.text_encoder:TextEncoderSpace",
})


def get_space(name: str, **options) -> ChoiceSpace:
    """A space by name, built with ``options``."""
    return SPACES.create(name, **options)


__all__ = ["Arch", "ChoiceSpace", "CostableSpace", "Dimension", "ExecutedWorkViews", "QualityViews", "SPACES",
           "get_space", "is_costable"]
