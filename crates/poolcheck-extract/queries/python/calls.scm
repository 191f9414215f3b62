; Calls whose callee's last name poolcheck cares about, anywhere in a module:
; engine and pool constructors, driver connects, Flask-SQLAlchemy, uvicorn.run and
; celery's autodiscover_tasks (which modules a worker loads).
; The callee is resolved through imports later; these names only narrow the search.

(call
  function: (identifier) @callee
  (#any-of? @callee
    "create_engine" "create_async_engine" "engine_from_config" "async_engine_from_config"
    "create_pool" "connect" "ConnectionPool" "AsyncConnectionPool"
    "NullConnectionPool" "AsyncNullConnectionPool"
    "SimpleConnectionPool" "ThreadedConnectionPool" "PersistentConnectionPool"
    "SQLAlchemy" "run" "autodiscover_tasks")) @call

(call
  function: (attribute attribute: (identifier) @callee)
  (#any-of? @callee
    "create_engine" "create_async_engine" "engine_from_config" "async_engine_from_config"
    "create_pool" "connect" "ConnectionPool" "AsyncConnectionPool"
    "NullConnectionPool" "AsyncNullConnectionPool"
    "SimpleConnectionPool" "ThreadedConnectionPool" "PersistentConnectionPool"
    "SQLAlchemy" "run" "autodiscover_tasks")) @call
