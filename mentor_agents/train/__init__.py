"""Training: SFT (``sft``) and GRPO (``grpo``) over shared pieces — losses, checkpoints, metrics, the methods
``mentor train`` knows (``methods``) and its run configuration (``config``)."""
