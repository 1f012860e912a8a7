#!/usr/bin/env python3
"""Train and export the bundled example model: a small residual CNN on Fashion-MNIST.

    /usr/bin/python3 tools/train_fmnist.py [-o examples/fmnist_resnet] [--epochs 2]

Needs Debian's python3-torch, python3-onnx and dataset-fashion-mnist (the images are read from
/usr/share/datasets/fashion-mnist).  Writes, next to each other:
  model.onnx, model.modules.json   the network (opset 13, dynamic batch) and its module map
  test_images.npy, test_labels.npy  the first 300 test images (normalised) and their class ids
  calib_images.npy                  128 training images for calibration
  float_accuracy.txt                the float top-1 on the 300 test images, as PyTorch computes it
Seeded, single-process; a couple of minutes on two cores.
"""
import argparse
import gzip
import os
import struct
import sys

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def build():
    import torch.nn as nn

    class Block(nn.Module):
        """conv-bn-relu-conv-bn plus the identity, then relu: a residual add for the rules to meet."""

        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.relu2 = nn.ReLU()

        def forward(self, x):
            y = self.relu1(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu2(y + x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
            self.block = Block(16)
            self.pool = nn.MaxPool2d(2)
            self.head = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = self.pool(self.block(self.stem(x)))
            return self.fc(self.flatten(self.gap(self.head(x))))

    return Net()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="examples/fmnist_resnet")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from export_torch import export

    torch.manual_seed(20261127)
    torch.set_num_threads(2)
    train_x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    train_y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    test_x = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    test_y = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    norm = lambda a: ((a.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]
    xs, ys = torch.from_numpy(norm(train_x)), torch.from_numpy(train_y.astype(np.int64))

    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xs))
        for i in range(0, len(xs), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}")
    model.eval()

    os.makedirs(args.output, exist_ok=True)
    test_images = norm(test_x[:300]).astype(np.float32)
    test_labels = test_y[:300].astype(np.int64)
    calib = norm(train_x[np.random.RandomState(7).choice(len(train_x), 128, replace=False)]).astype(np.float32)
    with torch.no_grad():
        pred = model(torch.from_numpy(test_images)).argmax(1).numpy()
    acc = float((pred == test_labels).mean())
    np.save(f"{args.output}/test_images.npy", test_images)
    np.save(f"{args.output}/test_labels.npy", test_labels)
    np.save(f"{args.output}/calib_images.npy", calib)
    with open(f"{args.output}/float_accuracy.txt", "w") as f:
        f.write(f"{acc:.4f}\n")
    export(model, torch.from_numpy(test_images[:1]), f"{args.output}/model", opset=13, dynamic_batch=True)
    print(f"float top-1 on the 300 test images: {100 * acc:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
