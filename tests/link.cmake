# The node link's tests (owned by its builder).
