"""Full fine-tuning of a model that ties its embeddings (Gemma-2) under FSDP2, 2 CPU processes (gloo): the tied
matrix stays one parameter (counted once, identical in the export), and each step's losses and the final
weights equal a single-process run over the same batches."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
STEPS, LR = 4, 3e-2


def _setup():
    from c2s.config.model import ModelConfig
    from c2s.config.validate import from_dict
    from c2s.models.build import build_model
    from c2s.models.standin import tiny_gemma2
    from c2s.tokenizer import train_gene_tokenizer

    tok = train_gene_tokenizer(["some text about cells and genes"] * 5, ["CD3D", "CD14", "MS4A1"], 60)
    m = from_dict(ModelConfig, {**tiny_gemma2(), "compile": False}, "model")
    torch.manual_seed(0)
    model = build_model(m, tok)
    g = torch.Generator().manual_seed(1)
    batches = []  # per step, one batch per rank: (B=2, L=12) rows of two packed examples
    for _ in range(STEPS):
        per_rank = []
        for _ in range(2):
            ids = torch.randint(4, len(tok), (2, 12), generator=g)
            pos = torch.cat([torch.arange(7), torch.arange(5)]).repeat(2, 1)
            labels = ids.clone()
            labels[:, :3] = -100  # a prompt without loss, as under SFT
            per_rank.append({"input_ids": ids, "position_ids": pos, "labels": labels})
        batches.append(per_rank)
    return model, batches


def _worker(rank: int, out: str) -> None:
    import torch.distributed as dist
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    from torch.distributed.device_mesh import init_device_mesh

    from c2s.models.fsdp import shard_model
    from c2s.models.losses import token_losses

    os.environ.update(MASTER_ADDR="127.0.0.1")
    dist.init_process_group("gloo", rank=rank, world_size=2, init_method=f"file://{out}/rendezvous")
    model, batches = _setup()
    shard_model(model, init_device_mesh("cpu", (2,)))
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    losses = []
    for step in range(STEPS):
        ce, mask = token_losses(model, batches[step][rank])
        loss = ce.sum() / mask.sum()
        loss.backward()  # FSDP averages the ranks' gradients
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    count = sum(p.numel() for p in model.parameters())  # DTensors count their global size
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        torch.save({k: v for k, v in state.items()}, f"{out}/weights.pt")
    Path(f"{out}/rank{rank}.json").write_text(json.dumps({"losses": losses, "tied": tied, "count": count}))
    dist.destroy_process_group()


def test_tied_gemma2_under_fsdp_matches_one_process(tmp_path):
    from c2s.models.losses import token_losses

    mp.start_processes(_worker, args=(str(tmp_path),), nprocs=2, start_method="spawn", join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]

    model, batches = _setup()
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # Gemma-2 ties them
    single_count = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    reference = [[], []]
    for step in range(STEPS):
        total = 0.0
        for rank in range(2):
            ce, mask = token_losses(model, batches[step][rank])
            loss = ce.sum() / mask.sum()
            reference[rank].append(float(loss.detach()))
            total = total + loss / 2  # the mean of the ranks' losses: FSDP's averaged gradient
        total.backward()
        opt.step()
        opt.zero_grad()

    for rank in range(2):
        assert ranks[rank]["tied"], "FSDP split the tied embedding matrix"
        assert ranks[rank]["count"] == single_count
        assert ranks[rank]["losses"] == pytest.approx(reference[rank], rel=1e-4, abs=1e-5)
    assert reference[0][-1] != reference[0][0]  # the weights moved, so equal losses mean equal training
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    embed = next(k for k in state if k.endswith("embed_tokens.weight"))
    head = next(k for k in state if k.startswith("lm_head"))
    assert torch.equal(state[embed], state[head])  # one matrix after the gather
    for name, p in model.state_dict().items():
        torch.testing.assert_close(state[name], p, rtol=1e-4, atol=1e-5, msg=name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
