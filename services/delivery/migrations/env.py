from runtime.db import alembic_env

alembic_env()
