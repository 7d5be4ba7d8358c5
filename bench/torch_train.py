"""torch_train.py — the PyTorch side of bench_train: the same reference configuration, the same
training step (DDPM epsilon MSE, global-norm clipping at 1.0, AdamW), timed the same way (median
of the timed steps after warm-up) with torch.set_num_threads(N), for the same methods. Prints one
RESULT line in bench_train's format.

Methods, each as people run it in PyTorch:
  full       torch.optim.AdamW on every parameter.
  lora       PEFT-style wrappers on every nn.Conv2d and nn.Linear (tools/fixtures/make_lora_fixtures.py's
             LoraWrapped; B zero-initialised), the base frozen with requires_grad False; AdamW on A and B.
  sara       the official SaRA recipe's masked AdamW (the semantics of sjtuplayer/SaRA optim/adamw2.py,
             written anew here): every parameter keeps requires_grad, so backward forms dense gradients;
             AdamW keeps dense moments, updates whole tensors and then puts back every entry outside the
             int mask, so only |p| < θ changes. The low-rank term: one random eligible tensor (2-D,
             min dim > 64, mask holding > 100 entries) per step, λ·‖P ⊙ M‖_* backpropagated into its
             gradient after clipping; re-selection M1 = M0 ∩ {|P| < θ} at the start of step P + 1.
             Clipping covers the dense gradients of all parameters, as the official finetune.py does.
  selective  dense gradients masked afterwards (LT-SFT style, bench_train's "selective"): dense
             gradients gathered at the mask into packed tensors, clipping over those, torch.optim.AdamW
             on packed values and moments, values scattered back; the same low-rank term and re-selection.
Selection as in bench_train: --budget N takes exactly the N smallest |p| over all parameters (ties
by parameter order, then flat index), else |p| < --threshold. The model's random init is PyTorch's
default init, so the entries differ from bench_train's but the counts are equal. --progressive-iter
defaults to warmup + steps: never inside the timed window.

--gradient-checkpointing re-runs every ResNet and attention block's forward in backward
(torch.utils.checkpoint per module, as diffusers does), like bench_train's option.

  /usr/bin/python3 bench/torch_train.py --threads 1 --batch 32 --steps 5 --warmup 1 [--method sara --budget N]
"""
import argparse
import math
import os
import random
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "fixtures"))
from unet_reference import Attention, ResnetBlock2D, UNet2DModel  # noqa: E402
from make_lora_fixtures import LoraWrapped  # noqa: E402

REFERENCE = {
    "sample_size": 32, "in_channels": 1, "out_channels": 1,
    "block_out_channels": [64, 128, 128], "layers_per_block": 2,
    "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    "norm_num_groups": 32, "attention_head_dim": 32, "num_class_embeds": 10,
}
BETAS, EPS, WEIGHT_DECAY = (0.9, 0.999), 1e-8, 1e-2
LOWRANK_MIN_DIM = 64       # eligible: 2-D with min(rows, cols) > this (upstream's rule)
LOWRANK_MIN_ENTRIES = 100  # upstream skips the term when the mask holds no more than this
F32_INF_BITS = 0x7F800000  # +inf as int32 bits: the top of the |p| key range
MIB = 1024.0 * 1024.0


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


# ---------------------------------------------------------------------------------------------
# selection


def abs_keys(p):
    """|p| as int32 bits: for non-negative floats the integer order is the value order."""
    return p.detach().abs().view(torch.int32)


def select_budget(params, n):
    """Bool masks holding exactly the n smallest |p| and θ = the smallest float above the n-th one.
    A bisection over the float bit patterns: no concatenated copy or sort of all parameters."""
    lo, hi = 0, F32_INF_BITS
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(int((abs_keys(p) <= mid).sum()) for p in params) >= n:
            hi = mid
        else:
            lo = mid + 1
    masks = [abs_keys(p) < lo for p in params]
    need = n - sum(int(m.sum()) for m in masks)
    for p, m in zip(params, masks):  # ties at the n-th value: parameter order, then flat index
        if need <= 0:
            break
        eq = (abs_keys(p) == lo).flatten().nonzero().flatten()[:need]
        m.view(-1)[eq] = True
        need -= eq.numel()
    theta = torch.tensor([lo + 1], dtype=torch.int32).view(torch.float32).item()
    return masks, theta


def select(params, budget, threshold):
    if budget > 0:
        return select_budget(params, budget)
    return [p.detach().abs() < threshold for p in params], threshold


def lowrank_eligible(params):
    return [i for i, p in enumerate(params) if p.dim() == 2 and min(p.shape) > LOWRANK_MIN_DIM]


def nuclear_norm_grad(p, mask, lam):
    """λ · ∂‖P ⊙ M‖_* / ∂P (dense), through autograd on the singular values."""
    with torch.enable_grad():
        x = p.detach().requires_grad_(True)
        loss = lam * torch.linalg.svdvals(x * mask).sum()
        return torch.autograd.grad(loss, x)[0]


# ---------------------------------------------------------------------------------------------
# methods: zero_grad(), clip_tensors() (after backward: the tensors whose gradients are clipped),
# step(), trainable, state_bytes (gradients + optimizer state + masks, by accounting)


class Full:
    def __init__(self, model, a):
        self.params = list(model.parameters())
        self.opt = torch.optim.AdamW(self.params, lr=a.lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
        self.trainable = sum(p.numel() for p in self.params)
        self.state_bytes = 3 * 4 * self.trainable  # dense gradient + two moments

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)

    def clip_tensors(self):
        return self.params

    def step(self):
        self.opt.step()


class Lora(Full):
    def __init__(self, model, a):
        model.requires_grad_(False)
        targets = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for name, mod in targets:
            w = LoraWrapped(mod, a.lora_rank, a.lora_alpha)
            nn.init.zeros_(w.lora_B.weight)  # PEFT: the branch starts at zero
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            if attr.isdigit():
                parent[int(attr)] = w
            else:
                setattr(parent, attr, w)
        trained = nn.Module()
        trained.params = nn.ParameterList([p for p in model.parameters() if p.requires_grad])
        super().__init__(trained, a)


class MaskedAdamW(torch.optim.Optimizer):
    """The official recipe's SaRA optimizer semantics (see the file header)."""

    def __init__(self, params, masks, theta, a):
        super().__init__(params, dict(lr=a.lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY))
        self.plist = self.param_groups[0]["params"]
        self.masks = [m.int() for m in masks]  # int32, like upstream
        self.theta, self.progressive_iter, self.lambda_rank = theta, a.progressive_iter, a.lambda_rank
        self.eligible = lowrank_eligible(self.plist)
        self.rng = random.Random(a.seed)
        self.iteration = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.iteration += 1
        if self.iteration == self.progressive_iter + 1:
            self.masks = [(p.abs() < self.theta).int() * m for p, m in zip(self.plist, self.masks)]
        if self.lambda_rank and self.eligible:
            i = self.rng.choice(self.eligible)
            if int(self.masks[i].sum()) > LOWRANK_MIN_ENTRIES:
                self.plist[i].grad.add_(nuclear_norm_grad(self.plist[i], self.masks[i], self.lambda_rank))
        g = self.param_groups[0]
        lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
        for p, mask in zip(self.plist, self.masks):
            if p.grad is None:
                continue
            s = self.state[p]
            if not s:
                s["step"], s["exp_avg"], s["exp_avg_sq"] = 0, torch.zeros_like(p), torch.zeros_like(p)
            s["step"] += 1
            before = p.clone()
            p.mul_(1 - lr * wd)
            s["exp_avg"].mul_(b1).add_(p.grad, alpha=1 - b1)
            s["exp_avg_sq"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (s["exp_avg_sq"].sqrt() / math.sqrt(1 - b2 ** s["step"])).add_(eps)
            p.addcdiv_(s["exp_avg"], denom, value=-lr / (1 - b1 ** s["step"]))
            p.mul_(mask)                     # keep the update on masked entries only ...
            p.add_(before * (1 - mask))      # ... and put every other entry back


class Sara(Full):
    def __init__(self, model, a):
        self.params = list(model.parameters())
        masks, theta = select(self.params, a.budget, a.threshold)
        self.opt = MaskedAdamW(self.params, masks, theta, a)
        self.trainable = sum(int(m.sum()) for m in masks)
        n = sum(p.numel() for p in self.params)
        self.state_bytes = 4 * n + 8 * n + 4 * n  # dense gradient + dense moments + int32 mask


class Selective:
    def __init__(self, model, a):
        self.model = model
        self.params = list(model.parameters())
        self.masks, self.theta = select(self.params, a.budget, a.threshold)
        self.values = [p.detach()[m].clone().requires_grad_(True) for p, m in zip(self.params, self.masks)]
        self.a = a
        self.opt = torch.optim.AdamW(self.values, lr=a.lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
        self.eligible = lowrank_eligible(self.params)
        self.rng = random.Random(a.seed)
        self.iteration = 0
        self.trainable = sum(v.numel() for v in self.values)
        n = sum(p.numel() for p in self.params)
        self.state_bytes = 4 * n + n + 16 * self.trainable  # dense gradient + bool mask + packed value/grad/moments

    def zero_grad(self):
        self.model.zero_grad(set_to_none=True)

    def clip_tensors(self):
        for p, m, v in zip(self.params, self.masks, self.values):  # the dense gradients, masked
            v.grad = p.grad[m]
        return self.values

    @torch.no_grad()
    def step(self):
        self.iteration += 1
        if self.a.lambda_rank and self.eligible:
            i = self.rng.choice(self.eligible)
            if int(self.masks[i].sum()) > LOWRANK_MIN_ENTRIES:
                g = nuclear_norm_grad(self.params[i], self.masks[i], self.a.lambda_rank)
                self.values[i].grad.add_(g[self.masks[i]])
        self.opt.step()
        for p, m, v in zip(self.params, self.masks, self.values):
            p[m] = v
        if self.iteration == self.a.progressive_iter:
            self.reselect()

    def reselect(self):
        """M1 = M0 ∩ {|P| < θ}; survivors keep their values and moments, the rest freeze."""
        values, states = [], []
        for k, (p, m, v) in enumerate(zip(self.params, self.masks, self.values)):
            keep = p.abs()[m] < self.theta  # (nnz) over the packed entries
            m[m.clone()] = keep
            values.append(v.detach()[keep].clone().requires_grad_(True))
            states.append({key: (t[keep].clone() if t.dim() else t.clone()) for key, t in self.opt.state[v].items()})
        self.values = values
        self.opt = torch.optim.AdamW(values, lr=self.a.lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
        for v, s in zip(values, states):
            if s:
                self.opt.state[v] = s


METHODS = {"full": Full, "lora": Lora, "sara": Sara, "selective": Selective}


def checkpoint_blocks():
    """Every ResnetBlock2D and Attention forward runs under torch.utils.checkpoint, as diffusers'
    enable_gradient_checkpointing wraps each resnet and attention module of its blocks."""
    from torch.utils.checkpoint import checkpoint

    for cls in (ResnetBlock2D, Attention):
        plain = cls.forward

        def forward(self, *args, _plain=plain):
            return checkpoint(_plain, self, *args, use_reentrant=False)

        cls.forward = forward


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="timed steps after the warm-up")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--method", choices=sorted(METHODS), default="full")
    ap.add_argument("--budget", type=int, default=0, help="sara/selective: exactly the N smallest |p| (0: threshold)")
    ap.add_argument("--threshold", type=float, default=2e-3, help="sara/selective: train |p| < threshold")
    ap.add_argument("--progressive-iter", type=int, default=None,
                    help="sara/selective: re-selection step (default: warmup + steps, i.e. never)")
    ap.add_argument("--lambda-rank", type=float, default=5e-4, help="sara/selective: nuclear-norm weight (0: off)")
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=1, help="channels times this (bench_train's --width)")
    ap.add_argument("--gradient-checkpointing", action="store_true",
                    help="torch.utils.checkpoint around every ResNet and attention block (diffusers' per-module "
                         "gradient checkpointing)")
    a = ap.parse_args()
    if a.batch <= 0 or a.steps <= 0 or a.warmup < 0:
        ap.error("batch and steps must be positive, warmup not negative")
    if not 1 <= a.width <= 8:
        ap.error("--width must lie in [1, 8]")
    if a.progressive_iter is None:
        a.progressive_iter = a.warmup + a.steps
    # The value does not change the cost; SaRA's is the official fit 1e-3·exp(−350·θ).
    a.lr = 1e-3 * math.exp(-350 * a.threshold) if a.method in ("sara", "selective") else 1e-4
    return a


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    base_rss = rss_now_mb()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    if a.gradient_checkpointing:
        checkpoint_blocks()
    config = dict(REFERENCE, block_out_channels=[c * a.width for c in REFERENCE["block_out_channels"]])
    model = UNet2DModel(config)
    method = METHODS[a.method](model, a)
    ac = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
    x0 = torch.randn(256, 1, 32, 32)
    labels = torch.arange(256) % 10
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        idx = torch.randint(0, 256, (a.batch,))
        t = torch.randint(0, 1000, (a.batch,))
        noise = torch.randn(a.batch, 1, 32, 32)
        s = ac[t].view(-1, 1, 1, 1)
        xt = s.sqrt() * x0[idx] + (1 - s).sqrt() * noise
        method.zero_grad()
        loss = torch.mean((model(xt, t, labels[idx]) - noise) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(method.clip_tensors(), 1.0)
        method.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT impl=pytorch method={a.method} threads={a.threads} batch={a.batch} steps={len(times)} "
          f"median_s={statistics.median(times):.4f} min_s={min(times):.4f} max_s={max(times):.4f} "
          f"peak_rss_mb={rss:.1f} base_rss_mb={base_rss:.1f} trainable={method.trainable} "
          f"state_mb={method.state_bytes / MIB:.2f} budget={a.budget} threshold={a.threshold:g} "
          f"lora_rank={a.lora_rank} progressive_iter={a.progressive_iter} lambda_rank={a.lambda_rank:g} "
          f"checkpointing={int(a.gradient_checkpointing)} width={a.width} torch={torch.__version__}")


if __name__ == "__main__":
    main()
