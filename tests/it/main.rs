//! The one integration-test binary: modules by topic, sharing the harness in `util`.

mod bench;
mod bench_fleet;
mod broker;
mod broker_edges;
mod broker_rumqttc;
mod check;
mod connect;
mod docs;
mod exit_status;
mod install;
mod interop;
mod keylog;
mod layers;
mod listeners;
mod message_rate;
mod mosquitto21;
mod output;
mod passwd;
mod pub_packets;
mod publish;
mod readme;
mod reliability;
mod rr;
mod stdio;
mod subscribe;
mod util;
