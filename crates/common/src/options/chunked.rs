//! Options of `udp-chunked-transfer`.
