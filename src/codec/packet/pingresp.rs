//! PINGRESP (3.1.1 §3.13, 5.0 §3.13): a fixed header and nothing else.
