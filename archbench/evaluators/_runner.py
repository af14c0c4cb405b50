"""Running one evaluation: inline, or in a fresh child process, with any failure as one line.

With ``isolation="process"`` every trial runs in a fresh spawned process that talks to the parent
over a pipe, so a trial cannot leak GPU memory into the next one (a known pain with one
long-lived Optuna process) and a crash takes down only its own trial. On a CPU the default runs
inline and collects garbage after each trial.
"""

from __future__ import annotations

import multiprocessing
import traceback
from typing import Any

from archbench.evaluators._protocol import (
    Evaluator,
    LatencyRejection,
    Report,
    ShouldStop,
    TrialError,
    TrialOutcome,
    describe_failure,
)
from archbench.models import ModelConfig, config_from_dict


class TrialRunner:
    """Runs trials through one evaluator, inline or each in a fresh child process, and turns
    any failure into a one-line ``TrialError``.

    ``epoch_timeout_seconds``: a child that reports no epoch for this long is killed
    (``--epoch-timeout``).
    """

    def __init__(self, evaluator: Evaluator, epoch_timeout_seconds: float = 3600.0) -> None:
        self.evaluator = evaluator
        self.epoch_timeout_seconds = epoch_timeout_seconds
        self.isolated = evaluator.in_child_process

    def run(self, cfg: ModelConfig, report: Report, should_stop: ShouldStop) -> TrialOutcome:
        """Evaluates ``cfg``; raises ``TrialError`` or ``LatencyRejection`` when it cannot."""
        if self.isolated:
            return self._run_in_child(cfg, report, should_stop)
        reason = None
        try:
            return self.evaluator(cfg, report, should_stop)
        except LatencyRejection:
            raise
        except Exception as exc:
            # The reason only: the exception's traceback holds the model, the optimizer and
            # the activations, which must not outlive the trial (Optuna keeps what it raised).
            reason = describe_failure(exc)
        finally:
            self.evaluator.release()
        raise TrialError(reason)

    def _run_in_child(
        self, cfg: ModelConfig, report: Report, should_stop: ShouldStop
    ) -> TrialOutcome:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        # Not a daemon: the trial may start children of its own (the max-batch probe), which a
        # daemonic process cannot. The ``finally`` below kills it whatever happens.
        process = context.Process(
            target=_child_main,
            args=(self.evaluator, cfg.to_dict(), child_end),
            daemon=False,
        )
        process.start()
        child_end.close()
        deadline = self.epoch_timeout_seconds
        try:
            while True:
                if not parent_end.poll(deadline):
                    process.kill()  # hung: no grace
                    raise TrialError(
                        f"no epoch finished within {deadline:g} s (--epoch-timeout); "
                        "the trial process was killed"
                    )
                try:
                    message = parent_end.recv()
                except EOFError:
                    process.join(timeout=10)
                    raise TrialError(
                        f"trial process died with exit code {process.exitcode}"
                    ) from None
                kind = message[0]
                if kind == "epoch":
                    report(message[1], message[2])
                    parent_end.send(should_stop())
                elif kind == "done":
                    return TrialOutcome(**message[1])
                elif kind == "latency":
                    raise LatencyRejection(message[1], message[2], message[3])
                else:
                    raise TrialError(message[1])
        finally:
            parent_end.close()
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def _child_main(evaluator: Evaluator, config: dict[str, Any], conn: Any) -> None:
    """Entry point of a per-trial child process: evaluates and sends results over ``conn``."""

    def report(epoch: int, metrics: dict[str, float]) -> None:
        conn.send(("epoch", epoch, dict(metrics)))
        stop_requests.append(conn.recv())

    stop_requests: list[bool] = []
    try:
        outcome = evaluator(
            config_from_dict(config), report, lambda: bool(stop_requests and stop_requests[-1])
        )
        conn.send(("done", outcome.to_dict()))
    except LatencyRejection as exc:
        conn.send(("latency", exc.latency_ms, exc.limit_ms, exc.profile))
    except BaseException as exc:  # the parent records the reason; the traceback helps debugging
        conn.send(("error", describe_failure(exc), traceback.format_exc()))
    finally:
        conn.close()
