//! PINGREQ (3.1.1 §3.12, 5.0 §3.12): a fixed header and nothing else.
