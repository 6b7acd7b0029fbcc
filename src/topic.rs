//! Topic names and filters: validation and matching, shared by clients, bench and broker.
