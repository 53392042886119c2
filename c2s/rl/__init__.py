"""GRPO: the objective (grpo_loss), sampling and completion log-probs (rollout), prompt batches
dealt whole to ranks (prompts), fail-fast checks (checks) and the Lightning stage (module)."""
