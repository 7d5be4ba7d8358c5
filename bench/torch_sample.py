"""torch_sample.py — the PyTorch side of bench_sample: DDIM (eta 0, leading spacing, clipped x0, as
diffusers' DDIMScheduler defaults) on the reference configuration, `images` class-conditional images
in batches, under torch.no_grad(), timed `repeats` times. Prints one RESULT line.

  /usr/bin/python3 bench/torch_sample.py --threads 2 --images 64 --batch 64 --steps 50 --repeats 5
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_train import REFERENCE, UNet2DModel  # noqa: E402


def ddim(model, x, labels, steps, ac):
    ratio = 1000 // steps
    for t in range(steps * ratio - ratio, -1, -ratio):
        a_t = ac[t]
        a_prev = ac[t - ratio] if t - ratio >= 0 else torch.tensor(1.0)
        eps = model(x, torch.full((x.shape[0],), t), labels)
        x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("threads", 1), ("images", 64), ("batch", 64), ("steps", 50), ("repeats", 5)):
        ap.add_argument(f"--{name}", type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet2DModel(REFERENCE).eval()
    ac = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
    labels = torch.arange(a.images) % 10
    times = []
    with torch.no_grad():
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            for first in range(0, a.images, a.batch):
                lab = labels[first:first + a.batch]
                ddim(model, torch.randn(len(lab), 1, 32, 32), lab, a.steps, ac)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT impl=pytorch threads={a.threads} images={a.images} batch={a.batch} steps={a.steps} "
          f"repeats={a.repeats} median_s={med:.3f} min_s={min(times):.3f} max_s={max(times):.3f} "
          f"images_per_s={a.images / med:.3f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
