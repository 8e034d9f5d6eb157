"""Runs from a W&B server through the public API, at scale (wandb 0.31's `Api.runs` and `Run.history`).

Requests per sync: one `Runs` page per `per_page` runs that already carries each run's config, summary
and history keys (`lazy=False`; a lazy page costs one more request per run), then one sampled-history
request per run that will be stored, for only the keys the trajectory summary reads (`scan_history`
would cost three requests and a file download). Runs the page already rules out (crashed, running, not
a training run, no metric, no meta-features) cost nothing more. History requests run in a bounded
thread pool; every request is retried with backoff on top of wandb-core's own retries. A request that
still fails stops the pass with a one-line `SourceError`; `sync` keeps what was read before.

Incremental: with `since` set, only runs updated after it are listed, by the server-side filter
`{"updatedAt": {"$gt": since}}`. Tested at the wire in tests/knowledge/test_runs_online.py.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from metallmix_wandb.knowledge.base import SourceError
from metallmix_wandb.knowledge.experiments import MetricNames, to_experiment
from metallmix_wandb.knowledge.records import RawRun, SkippedRun
from metallmix_wandb.knowledge.trajectory import train_metric_for

if TYPE_CHECKING:
    import wandb

T = TypeVar("T")
Item = RawRun | tuple[str, str, str]

PER_PAGE = 200
"""Runs per `Runs` page: full run data is a few KB a run, so a page stays well under a megabyte."""
WORKERS = 16
"""History requests in flight at once: 10,000 runs at 100 ms take ~1 minute; W&B answers 429 beyond
its rate limit, which wandb-core waits out (Retry-After)."""
ATTEMPTS = 3
BACKOFF_S = 1.0
MAX_SAMPLES = 10_000
WATERMARK_MARGIN = timedelta(minutes=15)
"""The next sync asks for runs updated since this pass started minus this margin: a run written while
the pass ran, or a server clock a little ahead of this one, is read again rather than missed."""
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def history_keys(keys: Mapping[str, Any], curve: str) -> list[str]:
    """What the trajectory summary reads: the curve metric, its training twin and the losses, of those
    the run logged. A sampled-history request returns only rows holding every key asked for, so only
    keys logged as often as the curve (same row count, hence the same steps) join it."""
    if curve not in keys:
        return []

    def count(key: str) -> int | None:
        counts = (keys.get(key) or {}).get("typeCounts") or []
        return sum(c.get("count", 0) for c in counts) if counts else None

    extras = [train_metric_for(curve), *sorted(k for k in keys if k.endswith("/loss"))]
    return [curve, *dict.fromkeys(k for k in extras if k in keys and k != curve and count(k) == count(curve))]


def is_run_error(exc: BaseException) -> bool:
    """A failure of one run's data (it was deleted since the page was read, or holds something the SDK
    cannot parse), not of the server: the SDK wraps those in a CommError around a plain Python error."""
    inner = getattr(exc, "exc", None)
    data_errors = TypeError | KeyError | ValueError
    return isinstance(exc, data_errors) or isinstance(inner, data_errors)


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


class OnlineRunSource:
    """The runs of entity/project (incremental with `since`): an `IncrementalSource`."""

    def __init__(self, api: wandb.Api, project: str, entity: str | None = None,
                 filters: dict[str, Any] | None = None, *, names: MetricNames | None = None,
                 per_page: int = PER_PAGE, workers: int = WORKERS, attempts: int = ATTEMPTS,
                 backoff_s: float = BACKOFF_S, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.project = project
        self.entity = entity or api.default_entity
        self.filters = filters
        self.names = names or MetricNames()
        self.per_page, self.workers, self.attempts, self.backoff_s = per_page, workers, attempts, backoff_s
        self.sleep = sleep
        self.since: str | None = None
        self.watermark_key = f"{self.entity}/{self.project}"
        self._runs: Any = None
        self._started: datetime | None = None
        self._listed: set[str] = set()

    def describe(self) -> str:
        return f"W&B runs of {self.watermark_key}" + (f" updated since {self.since}" if self.since else "")

    def run_path(self, raw: RawRun) -> str:
        return raw.path

    def server_filters(self) -> dict[str, Any] | None:
        """The user's filters and, when incremental, the watermark, as one W&B (MongoDB-style) filter."""
        parts = [f for f in (self.filters, {"updatedAt": {"$gt": self.since}} if self.since else None) if f]
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}

    def _paginator(self) -> Any:
        if self._runs is None:
            self._started = datetime.now(timezone.utc)
            self.api.flush()  # Api.runs caches per path/filters/order: a second pass must list anew
            self._runs = self.api.runs(self.watermark_key, filters=self.server_filters(), order="+created_at",
                                       per_page=self.per_page, lazy=False)
        return self._runs

    def _retry(self, fn: Callable[[], T]) -> T:
        """`fn()`, tried `attempts` times with exponential backoff; IndexError (the end of the runs)
        and the last failure propagate."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except IndexError:
                raise
            except Exception:
                if attempt + 1 >= self.attempts:
                    raise
                self.sleep(self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def count(self) -> int:
        try:
            return self._retry(lambda: len(self._paginator()))
        except Exception as exc:
            raise SourceError(f"cannot list the runs of {self.watermark_key}: {one_line(exc)}") from exc

    def next_watermark(self) -> str:
        started = self._started or datetime.now(timezone.utc)
        return (started - WATERMARK_MARGIN).strftime(_TIME_FORMAT)

    def listed_paths(self) -> set[str] | None:
        return None if self.filters or self.since else set(self._listed)

    def _raw(self, run: Any) -> RawRun:
        """Everything but the history, from the page (group, job_type... may be absent)."""
        summary = run.summary
        raw_summary = getattr(summary, "_json_dict", None)
        return RawRun(
            path="/".join(run.path), run_id=run.id, name=run.name, project=self.project, entity=run.entity,
            group=getattr(run, "group", None), job_type=getattr(run, "job_type", None),
            notes=getattr(run, "notes", None), tags=list(getattr(run, "tags", None) or []), state=run.state,
            config=dict(run.config),
            summary=dict(raw_summary) if isinstance(raw_summary, Mapping) else dict(summary),
            created_at=getattr(run, "created_at", None),
        )

    def _with_history(self, run: Any, raw: RawRun) -> Item:
        keys = history_keys((getattr(run, "history_keys", None) or {}).get("keys") or {}, self.names.curve)
        if not keys:
            return raw
        samples = min(max(int(getattr(run, "historyLineCount", 0) or 0), 1), MAX_SAMPLES)
        try:
            rows = self._retry(lambda: run.history(keys=keys, samples=samples, pandas=False))
        except Exception as exc:
            if is_run_error(exc):
                return raw.path, "unreadable", one_line(exc)
            raise SourceError(f"reading the history of {raw.path} failed: {one_line(exc)}") from exc
        raw.history = [dict(row) for row in rows]
        return raw

    def __iter__(self) -> Iterator[Item]:
        """Runs in page order. Only runs the page says will be stored get a history request; at most
        `4 * workers` (or a page) of them are in flight ahead of the one yielded."""
        runs = self._paginator()
        window = max(4 * self.workers, self.per_page)
        pending: deque[Future[Item] | Item] = deque()
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="wandb-history")
        failure: SourceError | None = None
        try:
            index = 0
            while True:
                try:
                    run = self._retry(lambda: runs[index])
                except IndexError:
                    break
                except Exception as exc:  # the runs listed so far are still read, then the pass stops
                    failure = SourceError(f"listing the runs of {self.watermark_key} failed after {index} "
                                          f"runs: {one_line(exc)}")
                    failure.__cause__ = exc
                    break
                index += 1
                path = "/".join(run.path)
                self._listed.add(path)
                try:
                    raw = self._raw(run)
                except Exception as exc:  # a page entry the SDK cannot read: that run only
                    pending.append((path, "unreadable", one_line(exc)))
                    continue
                stored = not isinstance(to_experiment(raw, self.names), SkippedRun)
                pending.append(pool.submit(self._with_history, run, raw) if stored else raw)
                while len(pending) >= window:
                    yield _resolve(pending.popleft())
            while pending:
                yield _resolve(pending.popleft())
            if failure is not None:
                raise failure
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _resolve(entry: Future[Item] | Item) -> Item:
    return entry.result() if isinstance(entry, Future) else entry
