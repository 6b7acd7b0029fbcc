//! The one integration-test binary: modules by topic, sharing the harness in `util`.

mod connect;
mod listeners;
mod util;
