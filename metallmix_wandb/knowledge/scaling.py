"""Scale numeric meta-features into a retrieval vector. Pure; the fitted scaler is a record
stored with the Qdrant collection so queries and points are always scaled the same way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from metallmix_wandb.knowledge.records import MetaValue

LOG_SPAN = 10.0
"""A non-negative feature whose values span more than this factor is compared on a log scale
(instances: 500 vs 50,000 should be as far apart as 5,000 vs 500,000)."""


class ScalerError(ValueError):
    pass


class MetaScaler(BaseModel):
    features: list[str]
    log: list[bool]
    center: list[float]
    scale: list[float]

    @property
    def dim(self) -> int:
        return len(self.features)

    def same_as(self, other: MetaScaler, rel: float = 1e-9) -> bool:
        """Equal up to float noise (a refit over the same data must not trigger a re-embed)."""
        return (self.features, self.log) == (other.features, other.log) and all(
            math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
            for a, b in zip(self.center + self.scale, other.center + other.scale, strict=True)
        )

    def transform(self, meta: Mapping[str, MetaValue]) -> list[float]:
        """Missing or non-numeric features sit at the centre (0), so they add no distance."""
        out = []
        for name, use_log, c, s in zip(self.features, self.log, self.center, self.scale, strict=True):
            v = meta.get(name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                out.append(0.0)
                continue
            x = _signed_log1p(float(v)) if use_log else float(v)
            out.append((x - c) / s)
        return out


def _signed_log1p(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


def numeric_features(meta: Mapping[str, MetaValue]) -> dict[str, float]:
    return {
        k: float(v) for k, v in meta.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def fit_scaler(metas: Iterable[Mapping[str, MetaValue]]) -> MetaScaler:
    """Fit on one meta-feature dict per dataset (not per run: a dataset with 900 runs must not
    dominate the scale). Features seen in any dataset are kept, in sorted order."""
    rows = [numeric_features(m) for m in metas]
    names = sorted({k for r in rows for k in r})
    if not names:
        raise ScalerError("no numeric meta-features to build retrieval vectors from")
    log, center, scale = [], [], []
    for name in names:
        vals = [r[name] for r in rows if name in r]
        use_log = min(vals) >= 0 and (max(vals) + 1) / (min(vals) + 1) > LOG_SPAN
        xs = [_signed_log1p(v) for v in vals] if use_log else vals
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
        log.append(use_log)
        center.append(mean)
        scale.append(std if std > 1e-12 else 1.0)
    return MetaScaler(features=names, log=log, center=center, scale=scale)
