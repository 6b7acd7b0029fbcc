//! Test harness: the in-process broker on port 0, and running the real `mqtk` binary
//! with a clean environment.
