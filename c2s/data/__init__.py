"""Prompts to training batches: prepare (plan, render jobs, merge), shards and their manifest, the packed
training stream and its DataModule.

The training stream (``c2s.data.stream``) and its loader workers import this package without anndata
(the GPU image has none)."""
