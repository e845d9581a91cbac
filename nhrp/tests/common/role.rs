//! The NHRP machines as one netsim `Machine`: a spoke (client), a hub (server), or a raw host
//! that only sends what a test queues. Shared by the scenario tests.

use std::time::Instant;

use dmvpn_netsim::{Decap, Inbound, Machine, Proto, Transmit};
use dmvpn_nhrp::{Client, Error, Event, Server};

/// NHRP in GRE (protocol type 0x2001).
pub const NHRP: Proto = Proto::InGre(0x2001);

pub enum Role {
    Client(Box<Client>),
    Server(Box<Server>),
    /// Sends what the test queues, records what it receives.
    Raw,
}

impl Role {
    pub fn client(&mut self) -> &mut Client {
        match self {
            Role::Client(c) => c,
            _ => panic!("not a client"),
        }
    }
    pub fn server(&mut self) -> &mut Server {
        match self {
            Role::Server(s) => s,
            _ => panic!("not a server"),
        }
    }
    pub fn c(&self) -> &Client {
        match self {
            Role::Client(c) => c,
            _ => panic!("not a client"),
        }
    }
    pub fn s(&self) -> &Server {
        match self {
            Role::Server(s) => s,
            _ => panic!("not a server"),
        }
    }
}

impl Machine for Role {
    type Event = Event;
    type Error = Error;
    const DECAP: Decap = Decap::UdpAndGre;

    fn handle(&mut self, now: Instant, d: Inbound<'_>) -> Result<(), Error> {
        assert_eq!(d.proto, NHRP);
        match self {
            Role::Client(c) => c.handle_packet(now, d.src, d.payload),
            Role::Server(s) => s.handle_packet(now, d.src, d.payload),
            Role::Raw => Ok(()),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Role::Client(c) => c.handle_timeout(now),
            Role::Server(s) => s.handle_timeout(now),
            Role::Raw => {}
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Role::Client(c) => c.poll_transmit(),
            Role::Server(s) => s.poll_transmit(),
            Role::Raw => None,
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Role::Client(c) => c.poll_timeout(),
            Role::Server(s) => s.poll_timeout(),
            Role::Raw => None,
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        match self {
            Role::Client(c) => c.poll_event(),
            Role::Server(s) => s.poll_event(),
            Role::Raw => None,
        }
    }
}
