"""Decoders (built from config or loaded), the causal-LM LightningModule, LoRA and FSDP."""
