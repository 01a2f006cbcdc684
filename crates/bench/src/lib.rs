//! Shared pieces of the benchmark and stress tools. Not a lesson.
