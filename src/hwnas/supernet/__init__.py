"""Super-network training: the sandwich rule with in-place distillation, few-shot splits, checkpoints, BN recalibration."""
