//! Options of `udp-broadcast`.
