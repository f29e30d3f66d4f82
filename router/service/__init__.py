"""The router service: scheduling, mailbox lanes, hot reload, logging, metrics and the status endpoint.

Public API (import from the modules)::

    service.Service(home, registry, clock=, metrics=, observers=[LaneObserver], logs=ServiceLogging,
                    rng=, escalate_after=None (default: settings.escalate_after_failures),
                    directory=MailboxDirectory, monitor=MailboxHealthMonitor)
        .start(config=None) .stop(grace) -> drained .run_until_signalled(grace, config=None) -> drained
        .request_stop() .apply(config) -> ApplySummary .reload_now() -> ReloadOutcome
        .refresh_directory() -> ApplySummary | None .resume_released() -> [LaneKey]
        .wake(LaneKey) -> bool .lanes() -> [LaneSnapshot] .health() / .ready() -> ProbeResult
        .scheduler .metrics .config .directory .monitor
    service.load_running_config(home) -> PublishedConfig     "run `email-router publish` first"
    assembly.router_service(home, clock, metrics, logs=) -> Service    what `email-router run` runs
    assembly.assemble_service(home, registry, resources, logs=, observers=, rng=) -> Service
    roster.build_roster(profile_set, {deployment: [MailboxInfo] | None}, ignore_enabled=) -> Roster
        (.assignments, .entries: RosterEntry(mailbox, direction, served, reason, source, ...))
    directory.MailboxDirectory(crm_source=None, store=, clock=) .resolve(config) -> DirectoryView
        .current() .next_refresh(settings);  DirectoryView .assignments .assignment(addr) .info(addr)
        .crm_errors .crm_answered
    directory.served_assignment(config, mailbox, direction, source=, clock=) -> MailboxAssignment
        (a mailbox as the service serves it, with crm_mailbox_id / crm_mailbox_name; for tools and tests)
    mailbox_health.MailboxHealthMonitor(store, metrics, directory, crm=CrmMailboxStatus)  (a LaneObserver)
        .guard(key, config, work) .resumed() .open_alerts();  stop_alert_kind(direction)
    crm_status.CrmMailboxStatus(crm_source, clock) .status() .error() .clear()
    access.AccessChecker(config, accounts, clock, wait_seconds=) .incoming(a) .outgoing(a) -> Check
        (the outgoing check uses router.pipeline.outgoing.send_right.detect_send_right / mismatch)
    access_run.AccessRun(config, resources) .directory() .targets(view, names)
        .run(targets, AccessOptions, on_done) -> [AccessReport];  loop_identity(config, deployment)
    probe.round_trip(outgoing, incoming, mailbox, loop_identity=, clock=, timeout=) -> RoundTrip
    status_report.collect_status(store, mailboxes=()) -> StatusReport (.to_json())
    periodic.Periodic(name, task, period)
    wiring.lane_work_registry(home, clock, metrics)          the one place pipelines are registered
    drain.drain_mailbox(lanes, config, mailbox) / drain_home(home, mailbox) -> DrainReport (one lane)
    (the lane runtime contract the pipelines share, LaneKey, LaneWork, Resources, Metrics, the registry,
     lives one layer down in ``router.runtime``)
    scheduler.Scheduler(clock, observer=, rng=, max_threads=, max_run_seconds=, period=)
        .apply(specs, build) .tick() .start() .wake(key) .restart(key) .stop(grace) .lanes() .throttled()
    observer: LaneObserver protocol (lane_added, run_finished, run_overran, lane_stopped,
              lane_removed), NullObserver, Observers;  metrics_observer.MetricsObserver(metrics)
    reload.ConfigWatcher(home, apply, current=).check() -> ReloadOutcome; .start(period) .stop()
    logs.ServiceLogging(home, settings, secrets=, fmt=LogFormat, stream=) .apply(settings)
        .add_secrets(values) .close() .path;  logcontext.lane_context(key)
    signals.ShutdownSignals (used only by run_until_signalled)
    status_server.StatusServer(metrics, health=, ready=, host=, port=)
"""
