"""PyTorch side of `npm run bench:syscalls`: the same models on the same kind of data, one thread.

Prints one JSON object: training and scoring windows/s of the reference architecture (Embedding(341,16) ->
320->64->16->64->320, MSE against the embedded window) at each batch size given, and of the shipped default
(masked-centre cross-entropy autoencoder) at its batch size.
"""
import json
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.manual_seed(0)
args = json.loads(sys.argv[1])
N, EPOCHS = args["windows"], args["epochs"]


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def best_rate(run_epoch):
    best = 0.0
    for _ in range(EPOCHS):
        t = time.perf_counter()
        run_epoch()
        best = max(best, N / (time.perf_counter() - t))
    return best


def reference(batch):
    V, L = 341, 20
    x = torch.randint(0, V, (N, L))
    emb = nn.Embedding(V, 16)
    net = mlp([320, 64, 16, 64, 320])
    opt = torch.optim.Adam(list(emb.parameters()) + list(net.parameters()), 1e-3)

    def epoch():
        for i in range(0, N, batch):
            e = emb(x[i : i + batch]).flatten(1)
            loss = ((net(e) - e) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    train = best_rate(epoch)
    with torch.no_grad():
        t = time.perf_counter()
        for i in range(0, N, 2048):
            e = emb(x[i : i + 2048]).flatten(1)
            ((net(e) - e) ** 2).mean(1)
        score = N / (time.perf_counter() - t)
    return {"trainWindowsPerSecond": train, "scoreWindowsPerSecond": score}


def default(cfg):
    V, L, batch = cfg["vocabSize"], cfg["windowLength"], cfg["batchSize"]
    x = torch.randint(0, V - 1, (N, L))
    mask = V - 1
    emb = nn.Embedding(V, cfg["embeddingDim"])
    hidden = cfg["hiddenLayers"]
    net = mlp([L * cfg["embeddingDim"], *hidden, cfg["latentDim"], *reversed(hidden), L * V])
    opt = torch.optim.Adam(list(emb.parameters()) + list(net.parameters()), cfg["learningRate"])
    ce = nn.CrossEntropyLoss()

    def epoch():
        for i in range(0, N, batch):
            target = x[i : i + batch]
            inp = target.clone()
            inp[torch.rand(inp.shape) < cfg["noise"]] = mask
            logits = net(emb(inp).flatten(1)).view(-1, V)
            loss = ce(logits, target.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()

    train = best_rate(epoch)
    with torch.no_grad():
        t = time.perf_counter()
        for i in range(0, N, 2048):
            target = x[i : i + 2048]
            inp = target.clone()
            inp[:, L // 2] = mask
            logits = net(emb(inp).flatten(1)).view(-1, L, V)
            torch.nn.functional.cross_entropy(logits[:, L // 2], target[:, L // 2], reduction="none")
        score = N / (time.perf_counter() - t)
    return {"trainWindowsPerSecond": train, "scoreWindowsPerSecond": score}


out = {"torch": torch.__version__, "reference": {str(b): reference(b) for b in args["referenceBatches"]}}
out["default"] = default(args["default"])
print(json.dumps(out))
