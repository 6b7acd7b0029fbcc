//! The one integration-test binary: modules by topic, sharing the harness in `util`.

mod bench;
mod broker;
mod broker_edges;
mod broker_hostile;
mod broker_rumqttc;
mod connect;
mod docs;
mod install;
mod interop;
mod keylog;
mod layers;
mod listeners;
mod message_rate;
mod mosquitto21;
mod output;
mod paho;
mod passwd;
mod pub_packets;
mod publish;
mod readme;
mod reliability;
mod rr;
mod subscribe;
mod util;
