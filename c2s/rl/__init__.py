"""Reinforcement learning from task rewards (GRPO). Work in progress: the objective only."""
