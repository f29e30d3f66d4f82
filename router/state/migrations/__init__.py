"""The Alembic migration history of the state store: one history for SQLite and PostgreSQL alike.

``router.state.migrate`` drives it programmatically (no alembic.ini): ``env.py`` runs the migrations on
the connection it is handed, inside the caller's transaction.
"""
