"""The simulator's Microsoft Graph face: the same organisation served at ``/v1.0/`` beside EWS.

Same store, rights, journal and faults as the EWS endpoint: a mail injected is seen by both faces and a
mail sent through either is in the one journal. Application (app-only) tokens from the simulator's
token endpoint; Graph's JSON error shape; delta, ``$value``, ``$batch``, PATCH, move, MIME send.
``endpoint.GraphEndpoint`` is the entry point (not imported here: auth imports ``tokens``).
"""
