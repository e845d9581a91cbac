//! A Sans-IO machine of the family as a netsim [`Host`]: the adapter every scenario would
//! otherwise write by hand (header wrapping, outbox, event, error and traffic logs).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use dmvpn_wire::Transmit;

use crate::{AdaptError, Datagram, Decap, Host, Inbound};

/// A handle/poll machine that speaks [`Transmit`]: what a test implements (in a few lines, by
/// forwarding to the machine's own methods) to run it in a [`MachineHost`].
pub trait Machine {
    /// What [`Machine::poll_event`] yields.
    type Event;
    /// What [`Machine::handle`] can fail with.
    type Error;

    /// Which headers received datagrams lose before [`Machine::handle`] sees them.
    const DECAP: Decap = Decap::Udp;

    /// A datagram arrived, in the machine's terms (see [`Decap`]).
    fn handle(&mut self, now: Instant, datagram: Inbound<'_>) -> Result<(), Self::Error>;
    /// The time from [`Machine::poll_timeout`] was reached (or passed).
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// When [`Machine::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The next event, if any (machines without events keep the default).
    fn poll_event(&mut self) -> Option<Self::Event> {
        None
    }
}

/// A [`Machine`] on the simulated network at one address, with what a scenario asserts on: the
/// events it reported and the errors it returned (each with the virtual time it happened), the
/// datagrams it received (after [`Machine::DECAP`]) and the transmits it sent, in order.
///
/// Transmits are wrapped with [`Datagram::from_transmit`] (with the host's GRE key, if set);
/// datagrams that fail [`Datagram::inbound`], and transmits that cannot be wrapped, are not
/// handed on but kept in [`MachineHost::rejected`]. Events are collected after every
/// [`Host::handle_datagram`] and [`Host::handle_timeout`]; call [`MachineHost::drain_events`]
/// after a command to collect the events it raised at the command's time.
///
/// It dereferences to the machine, so commands read `sim.host_mut(id)?.register(now)`.
#[derive(Debug)]
pub struct MachineHost<M: Machine> {
    addr: IpAddr,
    machine: M,
    gre_key: Option<u32>,
    outbox: VecDeque<Transmit>,
    events: Vec<(Instant, M::Event)>,
    errors: Vec<(Instant, M::Error)>,
    received: Vec<(Instant, Transmit)>,
    sent: Vec<Transmit>,
    rejected: Vec<AdaptError>,
}

impl<M: Machine> MachineHost<M> {
    /// `machine` at underlay address `addr` (its inside address if it is behind a NAT box).
    pub fn new(addr: IpAddr, machine: M) -> MachineHost<M> {
        MachineHost {
            addr,
            machine,
            gre_key: None,
            outbox: VecDeque::new(),
            events: Vec::new(),
            errors: Vec::new(),
            received: Vec::new(),
            sent: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Puts `key` in the GRE header of every [`dmvpn_wire::Proto::InGre`] transmit (a `tunnel
    /// key`); received GRE keys are in [`Inbound::gre_key`] either way.
    pub fn with_gre_key(mut self, key: u32) -> MachineHost<M> {
        self.gre_key = Some(key);
        self
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, for commands (through [`crate::Sim::host_mut`], so that what they queue is
    /// sent).
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// The machine, taken out of the host.
    pub fn into_machine(self) -> M {
        self.machine
    }

    /// Queues a transmit of the test's own (a forged or malformed packet, say), sent before
    /// anything the machine has queued; the source need not be the host's address.
    pub fn send(&mut self, transmit: Transmit) {
        self.outbox.push_back(transmit);
    }

    /// Collects the machine's pending events, stamped `now`.
    pub fn drain_events(&mut self, now: Instant) {
        while let Some(e) = self.machine.poll_event() {
            self.events.push((now, e));
        }
    }

    /// Every event so far, with the time it was collected.
    pub fn events(&self) -> &[(Instant, M::Event)] {
        &self.events
    }

    /// Whether any event so far satisfies `f`.
    pub fn has_event(&self, f: impl Fn(&M::Event) -> bool) -> bool {
        self.events.iter().any(|(_, e)| f(e))
    }

    /// Every error [`Machine::handle`] returned, with the time.
    pub fn errors(&self) -> &[(Instant, M::Error)] {
        &self.errors
    }

    /// Every datagram handed to the machine, as it was handed, with the time.
    pub fn received(&self) -> &[(Instant, Transmit)] {
        &self.received
    }

    /// Every transmit sent (the machine's and [`MachineHost::send`]'s), before wrapping.
    pub fn sent(&self) -> &[Transmit] {
        &self.sent
    }

    /// Datagrams received that failed their UDP or GRE checks, and transmits that could not be
    /// wrapped; a scenario with well-behaved machines expects none.
    pub fn rejected(&self) -> &[AdaptError] {
        &self.rejected
    }
}

impl<M: Machine> std::ops::Deref for MachineHost<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.machine
    }
}

impl<M: Machine> std::ops::DerefMut for MachineHost<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.machine
    }
}

impl<M: Machine> Host for MachineHost<M> {
    fn addr(&self) -> IpAddr {
        self.addr
    }

    fn handle_datagram(&mut self, now: Instant, datagram: Datagram) {
        match datagram.inbound(M::DECAP) {
            Ok(inbound) => {
                self.received.push((now, inbound.to_transmit()));
                if let Err(e) = self.machine.handle(now, inbound) {
                    self.errors.push((now, e));
                }
            }
            Err(e) => self.rejected.push(e),
        }
        self.drain_events(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
        self.drain_events(now);
    }

    fn poll_transmit(&mut self) -> Option<Datagram> {
        loop {
            let t = match self.outbox.pop_front() {
                Some(t) => t,
                None => self.machine.poll_transmit()?,
            };
            self.sent.push(t.clone());
            match Datagram::from_transmit(t, self.gre_key) {
                Ok(d) => return Some(d),
                Err(e) => self.rejected.push(e),
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Network, Sim};
    use dmvpn_wire::Proto;
    use std::time::Duration;

    const PORT: u16 = 500;

    /// A UDP machine: answers every request with "re:" + request after a 1 s timer, and reports
    /// what it answered; refuses empty payloads.
    #[derive(Debug, Default)]
    struct Echo {
        pending: Vec<(Instant, Transmit)>,
        out: VecDeque<Transmit>,
        answered: VecDeque<usize>,
    }

    impl Machine for Echo {
        type Event = usize;
        type Error = &'static str;

        fn handle(&mut self, now: Instant, d: Inbound<'_>) -> Result<(), &'static str> {
            if d.payload.is_empty() {
                return Err("empty");
            }
            if d.payload.starts_with(b"re:") {
                return Ok(());
            }
            let mut payload = b"re:".to_vec();
            payload.extend_from_slice(d.payload);
            let reply = Transmit::udp(d.local(), d.remote(), payload);
            self.pending.push((now + Duration::from_secs(1), reply));
            Ok(())
        }

        fn handle_timeout(&mut self, now: Instant) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|(t, _)| *t <= now);
            self.pending = later;
            for (_, t) in due {
                self.answered.push_back(t.payload.len());
                self.out.push_back(t);
            }
        }

        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.out.pop_front()
        }

        fn poll_timeout(&self) -> Option<Instant> {
            self.pending.iter().map(|(t, _)| *t).min()
        }

        fn poll_event(&mut self) -> Option<usize> {
            self.answered.pop_front()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn udp(from: IpAddr, to: IpAddr, payload: &[u8]) -> Transmit {
        Transmit {
            src: from,
            dst: to,
            proto: Proto::Udp {
                src_port: PORT,
                dst_port: PORT,
            },
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn a_machine_runs_on_the_network_with_its_logs() {
        let start = Instant::now();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let mut sim = Sim::new(Network::new(1, start));
        let ia = sim.add_host(MachineHost::new(a, Echo::default()));
        let ib = sim.add_host(MachineHost::new(b, Echo::default()));
        let host = sim.host_mut(ia).unwrap();
        host.send(udp(a, b, b"hello"));
        host.send(udp(a, b, b""));
        sim.run_until(start + Duration::from_secs(5)).unwrap();

        let hb = sim.host(ib).unwrap();
        assert_eq!(hb.received().len(), 2);
        assert_eq!(hb.received()[0].1, udp(a, b, b"hello"));
        assert_eq!(hb.received()[0].0, start + Duration::from_millis(10));
        assert_eq!(hb.errors().len(), 1);
        assert_eq!(hb.errors()[0].1, "empty");
        // The answer went out on b's timer, one second after the request arrived.
        assert_eq!(hb.sent(), &[udp(b, a, b"re:hello")]);
        assert_eq!(
            hb.events(),
            &[(start + Duration::from_millis(1010), 8usize)]
        );
        assert!(hb.has_event(|&n| n == 8) && !hb.has_event(|&n| n == 9));
        let ha = sim.host(ia).unwrap();
        assert_eq!(ha.received().len(), 1);
        assert_eq!(ha.received()[0].1.payload, b"re:hello");
        assert_eq!(ha.sent().len(), 2);
        assert!(ha.errors().is_empty() && ha.rejected().is_empty());
        assert!(hb.rejected().is_empty());
        assert!(ha.machine().pending.is_empty());
        assert_eq!(sim.network().stats().delivered, 3);
    }

    #[test]
    fn bad_datagrams_and_unwrappable_transmits_are_rejected() {
        let now = Instant::now();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let mut h = MachineHost::new(b, Echo::default());
        let mut d = Datagram::try_from(udp(a, b, b"x")).unwrap();
        d.payload[8] ^= 1;
        h.handle_datagram(now, d);
        assert!(h.received().is_empty() && h.pending.is_empty());
        assert!(matches!(h.rejected(), [AdaptError::Udp(_)]));
        // An IPv4 source with an IPv6 destination cannot get a UDP checksum: skipped, and the
        // next transmit still goes.
        h.send(udp(a, ip("2001:db8::1"), b"x"));
        h.send(udp(b, a, b"y"));
        let d = h.poll_transmit().unwrap();
        assert_eq!(d.inbound(Decap::Udp).unwrap().payload, b"y");
        assert!(h.poll_transmit().is_none());
        assert_eq!(h.rejected().len(), 2);
        assert_eq!(h.sent().len(), 2);
    }

    /// An NHRP-like machine over GRE: sees its payloads without the GRE header.
    struct InGre(Vec<(u16, Option<u32>, Vec<u8>)>);

    impl Machine for InGre {
        type Event = ();
        type Error = ();
        const DECAP: Decap = Decap::UdpAndGre;

        fn handle(&mut self, _now: Instant, d: Inbound<'_>) -> Result<(), ()> {
            let Proto::InGre(ptype) = d.proto else {
                return Err(());
            };
            self.0.push((ptype, d.gre_key, d.payload.to_vec()));
            Ok(())
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_transmit(&mut self) -> Option<Transmit> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    #[test]
    fn gre_machines_get_their_payloads_and_send_with_the_key() {
        let now = Instant::now();
        let (a, b) = (ip("172.16.1.1"), ip("172.17.0.1"));
        let nhrp = |src, dst| Transmit {
            src,
            dst,
            proto: Proto::InGre(0x2001),
            payload: b"nhrp".to_vec(),
        };
        let mut sender = MachineHost::new(a, InGre(Vec::new())).with_gre_key(42);
        sender.send(nhrp(a, b));
        let d = sender.poll_transmit().unwrap();
        assert_eq!(&d.payload[..8], &[0x20, 0, 0x20, 0x01, 0, 0, 0, 42]);
        let mut receiver = MachineHost::new(b, InGre(Vec::new()));
        receiver.handle_datagram(now, d);
        assert_eq!(receiver.0, [(0x2001, Some(42), b"nhrp".to_vec())]);
        assert_eq!(receiver.received()[0].1, nhrp(a, b));
        // Not GRE: handed on as an IP payload, which this machine refuses.
        receiver.handle_datagram(
            now,
            Datagram {
                src: a,
                dst: b,
                protocol: 50,
                payload: vec![0; 8],
            },
        );
        assert_eq!(receiver.errors().len(), 1);
        assert_eq!(receiver.into_machine().0.len(), 1);
    }
}
