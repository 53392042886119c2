"""Running training stages: budgets, loggers, checkpoints/resume and Hugging Face export."""
