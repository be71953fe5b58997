"""Domain errors shared by every layer; none of them knows about HTTP.

    GraphchatError
    ├── InvalidRequest          a request that can never succeed as sent
    │   ├── ValidationFailed    a field is missing, of the wrong type or out of range
    │   ├── ModelNotFound       the named model is not served by any backend
    │   └── ToolsUnsupported    the model cannot call tools (the agent retries without)
    ├── NotFound                an unknown (or someone else's) thread, run, key…
    ├── Conflict                the resource is in a state that forbids the action
    │   ├── ThreadBusy          a run is already active on the thread
    │   ├── RunNotPaused        resuming a run that waits for no approval
    │   └── DuplicateRun        an Idempotency-Key names an existing run (`run_id`)
    ├── Unauthorized            missing, unknown or revoked credentials
    ├── RateLimited             too many requests; `retry_after` seconds to wait
    ├── StoreUnavailable        the database cannot be reached
    │   └── StoreRefused        it refused our credentials or has no such database
    ├── NotReady                a dependency failed its readiness check
    └── ProviderError           a model backend failed
        ├── ProviderUnavailable the backend cannot be reached or refuses work (retryable)
        └── ProviderTimeout     the backend was too slow

`api/errors.py` maps each base class to one HTTP status; the `code` is the stable
machine-readable name clients switch on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class GraphchatError(Exception):
    """Base of every error graphchat raises on purpose; a subclass names its `code`:
    `class ThreadBusy(Conflict, code="thread_busy")`."""

    code = "internal_error"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:  # else the parent's
            cls.code = code

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidRequest(GraphchatError, code="invalid_request"): ...


class ValidationFailed(InvalidRequest, code="validation_error"): ...


class ModelNotFound(InvalidRequest, code="model_not_found"): ...


class ToolsUnsupported(InvalidRequest, code="tools_not_supported"): ...


class ContextTooLong(InvalidRequest, code="context_length_exceeded"):
    """The conversation is longer than the model's context window (OpenAI's code).
    `newest_too_long`: the backend already dropped the older messages, so sending fewer
    cannot help (the embedded worker trims by itself)."""

    def __init__(self, message: str, *, newest_too_long: bool = False) -> None:
        super().__init__(message)
        self.newest_too_long = newest_too_long


class NotFound(GraphchatError, code="not_found"): ...


class Conflict(GraphchatError, code="conflict"): ...


class ThreadBusy(Conflict, code="thread_busy"): ...


class LeafMoved(Conflict, code="checkpoint_moved"):
    """A turn asked to continue a thread at the leaf a checkpoint named found its branch
    ending elsewhere: the service forks at the checkpoint instead (never a client's answer)."""


class RunNotPaused(Conflict, code="run_not_paused"): ...


class RunClosedElsewhere(Conflict, code="run_interrupted"):
    """Another replica closed the run as interrupted (it took this process for dead) while it
    still ran here; what that replica stored stands."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run '{run_id}' was closed as interrupted by another replica while it ran here;"
            " its reply was not stored"
        )


class DuplicateRun(Conflict, code="duplicate_request"):
    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class Unauthorized(GraphchatError, code="unauthorized"): ...


class RateLimited(GraphchatError, code="rate_limited"):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(GraphchatError, code="database_unavailable"): ...


class StoreRefused(StoreUnavailable):
    """The database answers but refuses graphchat: a setting to fix, not a wait to sit out."""


class NotReady(GraphchatError, code="not_ready"): ...


class ProviderError(GraphchatError, code="llm_error"):
    retryable = False


class ProviderUnavailable(ProviderError, code="llm_unavailable"):
    retryable = True

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderTimeout(ProviderError, code="llm_timeout"):
    retryable = True


class Translating:
    """`with Translating(translate):` hands an exception leaving the block to `translate`,
    which raises ours in its place (`from` it) or returns to let it pass.

    What `@contextmanager` around `try: yield / except …: raise … from exc` does, without a
    generator made, started and finished per use: 1.3 us more per `with` on a quiet core, and a
    turn passes through five.
    """

    __slots__ = ("_translate",)

    def __init__(self, translate: Callable[[BaseException], None]) -> None:
        self._translate = translate

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        if error is not None:
            self._translate(error)
