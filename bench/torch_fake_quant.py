#!/usr/bin/env python3
"""PyTorch's fake-quantization kernels on the sizes numerics_bench uses, for comparison.

Single thread (torch.set_num_threads(1)), float32 arrays of 256 KiB and 64 MiB, medians of
repeated runs, GB/s = (read + write bytes) / time, with a streaming y = a * x baseline measured in
the same run (torch.mul(x, a, out=y)).  Prints a note and exits 0 when torch is not installed.

    python3 bench/torch_fake_quant.py [--quick]
"""
import statistics
import sys
import time


def median_seconds(fn, reps, inner):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def main():
    try:
        import torch
    except ImportError:
        print("torch is not installed (Debian: apt-get install python3-torch); nothing to measure")
        return 0
    quick = "--quick" in sys.argv
    torch.set_num_threads(1)
    torch.manual_seed(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"GB/s = (read + write bytes) / time, medians")
    for nbytes in (256 << 10, 64 << 20):
        n = nbytes // 4
        big = nbytes > (1 << 24)
        reps = 3 if quick else (9 if big else 31)
        inner = 1 if big else 200
        x = torch.randn(n, dtype=torch.float32)
        y = torch.empty_like(x)
        rows = []

        def bench(name, fn):
            rows.append((name, 8.0 * n / median_seconds(fn, reps, inner) / 1e9))

        bench("baseline y=a*x (torch.mul out=)", lambda: torch.mul(x, 0.37, out=y))
        base = rows[0][1]
        scale, zp = 6.0 / 255.0, -3
        bench("fake_quantize_per_tensor_affine int8",
              lambda: torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127))
        st = torch.tensor([scale]), torch.tensor([zp], dtype=torch.int32)
        bench("fake_quantize_per_tensor_affine int8 (tensor qparams)",
              lambda: torch.fake_quantize_per_tensor_affine(x, st[0], st[1], -128, 127))
        for channels in (64, 4096):
            w = x.view(channels, n // channels)
            s = torch.full((channels,), scale)
            z = torch.zeros(channels, dtype=torch.int32)
            bench(f"fake_quantize_per_channel_affine int8, {channels} channels (axis 0)",
                  lambda w=w, s=s, z=z: torch.fake_quantize_per_channel_affine(w, s, z, 0, -128, 127))
        w = x.view(n // 64, 64)
        s = torch.full((64,), scale)
        z = torch.zeros(64, dtype=torch.int32)
        bench("fake_quantize_per_channel_affine int8, 64 channels (axis -1)",
              lambda: torch.fake_quantize_per_channel_affine(w, s, z, 1, -128, 127))
        # The op sequence of the golden vectors (what qrules reproduces bit for bit).
        bench("explicit ops: clamp(round(x / s) + zp) ... (5 tensor ops)",
              lambda: (torch.clamp(torch.round(x / scale) + zp, -128, 127) - zp) * scale)
        print(f"\n## {'64 MiB' if big else '256 KiB'} ({n} floats)")
        print(f"{'kernel':<66} {'GB/s':>8} {'ratio':>7}")
        for name, gbps in rows:
            print(f"{name:<66} {gbps:8.2f} {gbps / base:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
