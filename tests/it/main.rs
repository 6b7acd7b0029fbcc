//! The one integration-test binary: modules by topic, sharing the harness in `util`.

mod listeners;
mod passwd;
mod util;
