"""Train and evaluate a ClassifierNet on an in-memory image set, on CPU or one GPU.

Plain loops over numpy index arrays (no DataLoader workers: the images already sit in memory, and
worker processes fight the trainer for the cores of a small machine). Images are converted per batch:
uint8 NHWC -> float NCHW, grayscale repeated to 3 channels, resized to the model's input side,
normalised with the ImageNet mean and std.
Tested through tests/training/test_models.py and test_entrypoint.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from metallmix_wandb.training.stop_signal import StopFlag
from metallmix_wandb.training.models import set_train_mode

__all__ = ["EpochRow", "FitResult", "StopFlag", "TrainingError", "classification_metrics", "evaluate", "fit",
           "make_optimizer", "predict", "to_input"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EVAL_BATCH = 128
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class TrainingError(RuntimeError):
    """Training that cannot go on (a NaN loss, say), with the reason in words."""


@dataclass
class EpochRow:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float

    def as_log(self) -> dict[str, float]:
        return {"epoch": self.epoch, "train/loss": self.train_loss, "train/acc": self.train_acc,
                "val/loss": self.val_loss, "val/acc": self.val_acc}


@dataclass
class FitResult:
    history: list[EpochRow] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False


# --------------------------------------------------------------------------- tensors


def to_input(images: np.ndarray, size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, H, W, C) -> normalised float (N, 3, size, size)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[2] != size or x.shape[3] != size:
        shrink = x.shape[2] > size or x.shape[3] > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def make_optimizer(name: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """adam (torch defaults), sgd (momentum 0.9), rmsprop (decay 0.9, as Keras' rho)."""
    name = name.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9)
    raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")


# --------------------------------------------------------------------------- loops


def _batches(idx: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive batches; a trailing batch of one joins the previous one (BatchNorm needs two)."""
    out = [idx[i:i + size] for i in range(0, len(idx), size)]
    if len(out) > 1 and len(out[-1]) == 1:
        out[-2] = np.concatenate([out[-2], out.pop()])
    return out


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, size: int, device: torch.device | str = "cpu"
            ) -> torch.Tensor:
    """Logits for every image, in eval mode."""
    model.eval()
    outs = [model(to_input(images[i:i + EVAL_BATCH], size, device)).float().cpu()
            for i in range(0, len(images), EVAL_BATCH)]
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, size: int,
             device: torch.device | str = "cpu") -> tuple[float, float, np.ndarray]:
    """(mean cross-entropy, accuracy, predicted classes)."""
    logits = predict(model, images, size, device)
    y = torch.from_numpy(labels.astype(np.int64))
    loss = float(F.cross_entropy(logits, y)) if len(y) else math.nan
    pred = logits.argmax(1).numpy() if len(y) else np.empty(0, dtype=np.int64)
    acc = float((pred == labels).mean()) if len(y) else math.nan
    return loss, acc, pred


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, x_train: np.ndarray, y_train: np.ndarray,
                 order: np.ndarray, *, size: int, batch_size: int, epoch: int, stop: StopFlag | None,
                 device: torch.device | str, what: str) -> tuple[float, float] | None:
    """One pass; (mean loss, accuracy), or None when a stop request cut it short (never epoch 0)."""
    set_train_mode(model)
    seen, loss_sum, correct = 0, 0.0, 0
    for b, idx in enumerate(_batches(order, batch_size)):
        if stop is not None and stop.requested and epoch > 0:
            return None
        x = to_input(x_train[idx], size, device)
        y = torch.from_numpy(y_train[idx]).to(device)
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        if not torch.isfinite(loss.detach()):
            value = float(loss.detach())
            raise TrainingError(f"the training loss became {value} at epoch {epoch}, batch {b} ({what}); "
                                "try a smaller learning rate")
        loss.backward()
        opt.step()
        seen += len(idx)
        loss_sum += float(loss.detach()) * len(idx)
        correct += int((logits.argmax(1) == y).sum())
    return loss_sum / seen, correct / seen


def fit(
    model: nn.Module,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    size: int,
    optimizer: str,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    seed: int,
    on_epoch: Callable[[EpochRow], None] = lambda row: None,
    stop: StopFlag | None = None,
    device: torch.device | str = "cpu",
) -> FitResult:
    """Train for ``epochs``, validating after each; raises TrainingError on a non-finite loss.

    A stop request (SIGTERM from a sweep's early termination) ends training after the current epoch
    (at least one epoch always completes), and the result says so.
    """
    x_train, y_train = train
    if len(y_train) < 2:
        raise TrainingError(f"need at least 2 training images, got {len(y_train)}")
    model.to(device)
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], learning_rate)
    rng = np.random.default_rng(seed)
    what = f"learning_rate={learning_rate}, optimizer={optimizer}"
    result = FitResult()
    start = time.perf_counter()
    for epoch in range(epochs):
        stats = _train_epoch(model, opt, x_train, y_train, rng.permutation(len(y_train)), size=size,
                             batch_size=batch_size, epoch=epoch, stop=stop, device=device, what=what)
        if stats is None:
            result.stopped_early = True
            break
        val_loss, val_acc, _ = evaluate(model, val[0], val[1], size, device)
        if len(val[1]) and not math.isfinite(val_loss):
            raise TrainingError(f"the validation loss became {val_loss} after epoch {epoch} ({what}): the "
                                "weights diverged; try a smaller learning rate")
        row = EpochRow(epoch, stats[0], stats[1], val_loss, val_acc)
        result.history.append(row)
        on_epoch(row)
        if stop is not None and stop.requested and epoch < epochs - 1:
            result.stopped_early = True
            break
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- metrics


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro precision / recall / F1 over all n_classes (0 where a class has no
    predictions or no instances, as scikit-learn's zero_division=0)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.size == 0:
        return {"acc": math.nan, "precision": math.nan, "recall": math.nan, "f1": math.nan}
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(0).astype(np.float64), cm.sum(1).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        "acc": float(tp.sum() / y_true.size),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
    }
