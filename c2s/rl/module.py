"""GRPO as a Lightning stage: sample G completions per prompt, score them with the configured
rewards, normalise within each group, and take ``inner_iterations`` optimizer steps on the
clipped surrogate (+ β·k3 KL to a reference) per generated batch (manual optimisation).

Reference model: with LoRA, the same network with its adapters disabled; under full
fine-tuning, a frozen copy loaded from ``init_from`` (only when β > 0; kept out of the
state dict and the optimizer). Validation: greedy completions of held-out prompts, mean reward.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np
import torch

from c2s.config.stage import GRPOConfig
from c2s.models.decoder_module import DecoderModule
from c2s.rewards import build_rewards, reward_weights, sample_fields, weighted_sum
from c2s.rl.grpo_loss import group_advantages, grpo_loss
from c2s.rl.rollout import Rollout, completion_logprobs, sample


def _repeat(values: list, g: int) -> list:
    return [v for v in values for _ in range(g)]


def _stats(values: list[float | None]) -> tuple[float, float, int]:
    v = np.array([x for x in values if x is not None], dtype=float)
    return (float(v.mean()), float(v.std()), v.size) if v.size else (float("nan"), float("nan"), 0)


class GRPOModule(DecoderModule):
    """Arguments as :class:`~c2s.models.decoder_module.DecoderModule`; ``stage_cfg.grpo`` holds the GRPO settings."""

    packed = False  # left-padded rows and KV-cache generation: sdpa/eager, not flex

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False
        self._ref: list[torch.nn.Module] = []  # a list keeps it out of state_dict / parameters()
        self.rewards: dict[str, Any] = {}

    @property
    def g(self) -> GRPOConfig:
        return self.stage_cfg.grpo

    def _cache(self) -> str:
        """``auto``: static on one unsharded GPU (measured 4.6x tokens/s); dynamic on CPU, where
        nothing compiles, and under FSDP, where static-cache compilation is untested."""
        if self.g.cache != "auto":
            return self.g.cache
        return "static" if self.device.type == "cuda" and not self.hparams.shard else "dynamic"

    def configure_model(self) -> None:
        if self.model is not None:
            return
        super().configure_model()
        if self.g.beta > 0 and not self.stage_cfg.lora.enabled:
            self._ref = [self.build_decoder().eval().requires_grad_(False)]

    def setup(self, stage: str) -> None:
        self._seed = torch.initial_seed()  # run_stage seeded everything; the same again on resume
        if not self.rewards:
            self.rewards = build_rewards(self.g.rewards, self.hparams.shards_dir)
            self.reward_weights = reward_weights(self.g.rewards)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        for ref in self._ref:
            ref.to(self.device)
        for name, reward in self.rewards.items():  # a reward built from the data says what it learned from it
            if hasattr(reward, "describe"):
                self.print(f"reward {name}: {reward.describe()}")

    def reference_logprobs(self, rollout: Rollout) -> torch.Tensor:
        """Completion log-probs under the reference: adapters disabled (LoRA) or the frozen copy."""
        with torch.no_grad():
            if self.stage_cfg.lora.enabled:
                with self.model.disable_adapter():
                    return completion_logprobs(self.model, rollout)[0]
            return completion_logprobs(self._ref[0], rollout)[0]

    def score(self, rows: list[dict], rollout: Rollout, group: int) -> tuple[list[float | None], dict[str, list]]:
        """(total reward per completion, each reward's scores); None where no reward applies."""
        prompts = _repeat([r["prompt"] for r in rows], group)
        fields = {k: _repeat(v, group) for k, v in sample_fields(rows).items()}
        parts = {name: fn(prompts, rollout.texts, **fields) for name, fn in self.rewards.items()}
        return weighted_sum(parts, self.reward_weights), parts

    # ---- training ---------------------------------------------------------------------------
    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> dict[str, Any]:
        g, rows = self.g, batch["rows"]
        G = g.group_size
        t0 = time.perf_counter()
        # Sampling draws from its own stream, seeded by (seed, step, rank): a resumed run samples
        # exactly what the uninterrupted one did, whatever else consumed the global RNG meanwhile.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            stream = np.random.SeedSequence([self._seed, self.global_step, self.global_rank])
            torch.manual_seed(int(stream.generate_state(1)[0]))
            roll = sample(
                self.model,
                self.tokenizer,
                [r["prompt_ids"] for r in rows],
                G,
                g.max_new_tokens,
                g.temperature,
                g.top_p,
                g.no_repeat_tokens,
                device=self.device,
                cache=self._cache(),
            )
        t_gen = time.perf_counter() - t0
        total, parts = self.score(rows, roll, G)
        applies = torch.tensor([x is not None for x in total], device=self.device)
        rewards = torch.tensor([0.0 if x is None else x for x in total], device=self.device)
        adv = group_advantages(rewards, G, g.scale_rewards)
        mask = roll.completion_mask & applies[:, None]
        if g.mask_truncated:
            mask &= roll.finished[:, None]
        old = None
        if g.inner_iterations > 1:
            with torch.no_grad():
                old = completion_logprobs(self.model, roll)[0]
        ref = self.reference_logprobs(roll) if g.beta > 0 else None
        opt, sched = self.optimizers(), self.lr_schedulers()
        for it in range(g.inner_iterations):
            logp, ent = completion_logprobs(self.model, roll, with_entropy=it == 0)
            out = grpo_loss(
                logp,
                old if old is not None else logp.detach(),
                adv,
                mask,
                g.eps_low,
                g.eps_high,
                g.beta,
                ref,
                g.aggregation,
            )
            if it == 0:
                entropy = float((ent * mask).sum() / mask.sum().clamp(min=1))
            opt.zero_grad()
            self.manual_backward(out.loss)
            if self.stage_cfg.grad_clip:
                self.clip_gradients(opt, gradient_clip_val=self.stage_cfg.grad_clip, gradient_clip_algorithm="norm")
            opt.step()
            sched.step()
        mean, std, _ = _stats(total)
        logs = {
            "loss": float(out.loss.detach()),
            "reward": mean,
            "reward_std": std,
            "clip_fraction": float(out.clip_fraction),
            "completion_length": float(roll.lengths.float().mean()),
            "finished": float(roll.finished.float().mean()),
            "entropy": entropy,
            "generate_s": t_gen,
            "step_s": time.perf_counter() - t0,
        }
        if g.beta > 0:
            logs["kl"] = float(out.kl.detach())
        for name, scores in parts.items():
            m, s, n = _stats(scores)
            if n:
                logs[f"rewards/{name}/mean"], logs[f"rewards/{name}/std"] = m, s
        for k, v in logs.items():
            self.log(f"{self._p}train/{k}", v, on_step=True, prog_bar=k in ("reward", "loss"), batch_size=len(total))
        return {
            "loss": out.loss.detach(),
            "history": {k: logs[k] for k in ("reward", "reward_std", "completion_length")},
        }

    # ---- validation: greedy completions of held-out prompts ---------------------------------
    def on_validation_epoch_start(self) -> None:
        names = ["total", *self.rewards, *self.hparams.tasks]
        self._vnames = names
        self._sums = torch.zeros(len(names), dtype=torch.float64, device=self.device)
        self._counts = torch.zeros(len(names), dtype=torch.float64, device=self.device)

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        g, rows = self.g, batch["rows"]
        roll = sample(
            self.model,
            self.tokenizer,
            [r["prompt_ids"] for r in rows],
            1,
            g.max_new_tokens,
            no_repeat_tokens=g.no_repeat_tokens,
            do_sample=False,
            device=self.device,
            cache=self._cache(),
        )
        total, parts = self.score(rows, roll, 1)
        for key, scores in [("total", total), *parts.items()] + [(r["task"], [t]) for r, t in zip(rows, total)]:
            i = self._vnames.index(key)
            vals = [s for s in scores if s is not None]
            self._sums[i] += float(sum(vals))
            self._counts[i] += len(vals)

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self._sums, reduce_op="sum")
        counts = self.trainer.strategy.reduce(self._counts, reduce_op="sum")
        mean = {n: float(s / c) for n, s, c in zip(self._vnames, sums, counts) if c > 0}
        k = len(self.rewards) + 1
        record = {
            "step": int(self.global_step),
            "reward": mean.get("total", float("nan")),
            "rewards": {n: mean[n] for n in self._vnames[1:k] if n in mean},
            "tasks": {n: mean[n] for n in self._vnames[k:] if n in mean},
            "n": int(counts[0]),
        }
        self.log(self._p + "val/reward", record["reward"], prog_bar=True, sync_dist=False)
        for n, v in record["rewards"].items():
            self.log(f"{self._p}val/rewards/{n}", v, sync_dist=False)
        self.val_history.append(record)
