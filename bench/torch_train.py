"""torch_train.py — the PyTorch side of bench_train: the same reference configuration, the same
training step (DDPM epsilon MSE, global-norm clipping at 1.0, AdamW), timed the same way (median
of the timed steps after warm-up) with torch.set_num_threads(N). Prints one RESULT line.

  /usr/bin/python3 bench/torch_train.py --threads 1 --batch 32 --steps 5 --warmup 1
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "fixtures"))
from unet_reference import UNet2DModel  # noqa: E402

REFERENCE = {
    "sample_size": 32, "in_channels": 1, "out_channels": 1,
    "block_out_channels": [64, 128, 128], "layers_per_block": 2,
    "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    "norm_num_groups": 32, "attention_head_dim": 32, "num_class_embeds": 10,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet2DModel(REFERENCE)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
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
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((model(xt, t, labels[idx]) - noise) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT impl=pytorch method=full threads={a.threads} batch={a.batch} steps={len(times)} "
          f"median_s={statistics.median(times):.4f} min_s={min(times):.4f} max_s={max(times):.4f} "
          f"peak_rss_mb={rss:.1f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
