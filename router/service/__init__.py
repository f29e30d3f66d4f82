"""The router service: scheduling, mailbox lanes, hot reload, logging, metrics and the status endpoint.

Public API (import from the modules)::

    service.Service(home, registry, clock=, metrics=, observers=[LaneObserver], logs=ServiceLogging,
                    rng=, escalate_after=None)
        .start(config=None) .stop(grace) -> drained .run_until_signalled(grace, config=None) -> drained
        .request_stop() .apply(config) -> ApplySummary .reload_now() -> ReloadOutcome
        .wake(LaneKey) -> bool .lanes() -> [LaneSnapshot] .health() / .ready() -> ProbeResult
        .scheduler .metrics .config
    service.load_running_config(home) -> PublishedConfig     "run `email-router publish` first"
    registry.LaneWorkRegistry: register(direction, factory), call_on_close(fn), build(...), close()
        factory(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork
    wiring.lane_work_registry(home, clock, metrics)          the one place pipelines are registered
    outcome: LaneWork = (WorkContext) -> WorkResult(processed, waiting, resume_in); WorkContext.cancelled;
             RunKind (worked/idle/throttled/retry/stopped); RunReport; optional close() on work
    lane: LaneKey(mailbox, direction), LaneSpec;  policy: SchedulePolicy (idle/retry back-off, jitter)
    scheduler.Scheduler(clock, observer=, rng=, max_threads=, max_run_seconds=, period=)
        .apply(specs, build) .tick() .start() .wake(key) .restart(key) .stop(grace) .lanes() .throttled()
    observer: LaneObserver protocol (lane_added, run_finished, run_overran, lane_stopped,
              lane_removed), NullObserver, Observers;  metrics_observer.MetricsObserver(metrics)
    reload.ConfigWatcher(home, apply, current=).check() -> ReloadOutcome; .start(period) .stop()
    logs.ServiceLogging(home, settings, secrets=, fmt=LogFormat, stream=) .apply(settings)
        .add_secrets(values) .close() .path;  logcontext.lane_context(key)
    signals.ShutdownSignals (used only by run_until_signalled)
    metrics.Metrics;  status_server.StatusServer(metrics, health=, ready=, host=, port=)
"""
