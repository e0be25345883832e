"""How a supernet is trained: the settings of the sandwich-rule trainer (also used for stand-alone training)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: training options that did not lift the supernet's ranking beyond seed noise and were removed
REMOVED_OPTIONS = ("progressive_shrinking", "sort_channels", "sandwich_max_per")


class TrainingConfig(_Strict):
    """How the supernet is trained (also used for stand-alone training in benchmarks)."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_removed(cls, data):
        if isinstance(data, dict):
            gone = [k for k in REMOVED_OPTIONS if k in data]
            if gone:
                raise ValueError(f"{', '.join(gone)}: removed (measured not to improve the supernet's ranking beyond "
                                 f"seed noise); delete the key. Allowed: {sorted(cls.model_fields)}")
        return data

    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    sandwich_random: int = Field(2, ge=0, description="random sub-networks per step besides largest and smallest")
    distill: float = Field(0.5, ge=0, le=1, description="weight of in-place distillation from the largest network")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    warmup_epochs: int = Field(
        0, ge=0, description="the first epochs of `epochs` train only the largest network on the labels (InstaTune: "
                             "a new head settles on the pre-trained body before the sandwich rule)")
    few_shot: str | None = Field(
        None, description="a dimension of the space (e.g. n_conv): one supernet per value of it, sharing no weights "
                          "(few-shot NAS), trained in turn; each gets 1/(number of values) of the steps")
    seed: int = 0
    checkpoint_every: int = Field(1, ge=1, description="epochs between checkpoints")

    @model_validator(mode="after")
    def _check_warmup(self):
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs}): the "
                             "sandwich rule needs at least one epoch")
        return self
