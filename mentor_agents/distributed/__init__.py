"""Ray actors for evaluation (``eval_actors``) and GRPO rollouts (``rollout_actors``) over shared plumbing
(``cluster``): the same code path as local runs. Ray itself is optional and imported lazily."""
