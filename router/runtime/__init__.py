"""The lane runtime contract: what the service and the pipelines share, below both.

A pipeline builds *lane work* for one mailbox in one direction; the service schedules it. The two
meet here, so ``router.pipeline`` never imports ``router.service`` (a test in
``tests/unit/runtime/test_layering.py`` keeps it so) and the service composes the pipelines::

    lane: LaneKey(mailbox, direction), LaneSpec;  policy: SchedulePolicy (idle/retry back-off, jitter)
    outcome: LaneWork = (WorkContext) -> WorkResult(processed, waiting, resume_in); WorkContext.cancelled;
             RunKind (worked/idle/throttled/retry/stopped); RunReport; optional close() on work
    registry.LaneWorkRegistry: register(direction, factory), call_on_close(fn), build(...), close()
        factory(assignment: MailboxAssignment, direction: Direction, config: PublishedConfig) -> LaneWork
    resources.Resources(home, clock, metrics) .store .accounts .gateway(config, deployment) .close()
        (a context manager; one gateway per deployment and CRM connection, shared across versions)
    connections.connection_spec(config, assignment, direction) / profile_for(...)
    crm_factory.open_gateway(...) / deployment_of(config, name)
    metrics.Metrics (every counter and gauge the router exports)

Layers: cli -> service -> pipeline -> runtime -> (ews, crm, state, config, vault) -> errors/clock/home.
"""
