# The PostgreSQL store's tests (owned by its builder).
