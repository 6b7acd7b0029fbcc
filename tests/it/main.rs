//! The one integration-test binary: modules by topic, sharing the harness in `util`.

mod passwd;
mod util;
