//! Options of `tcp-server`, `tcp-threaded-server` and `tcp-client`.
