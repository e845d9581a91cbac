//! A named, recorded simulation: what every scenario test sets up before its first host and
//! writes out after its last assertion.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{Host, Network, Recorder, Sim};

/// A [`Sim`] over a seeded [`Network`] whose every datagram is recorded, with a name that says
/// where the recording goes: `<dir>/<name>.pcap`, written by [`Scenario::finish`].
///
/// It dereferences to the [`Sim`], so hosts are added, crashed and commanded, and time run
/// ([`Sim::run_for`], [`Sim::run_for_until`]), as on the simulation itself.
///
/// ```
/// use std::net::IpAddr;
/// use std::time::{Duration, Instant};
/// use dmvpn_netsim::{Inbound, Machine, MachineHost, Scenario, Transmit};
///
/// /// Says hello once to `peer`, if it has one.
/// struct Hello(Option<Transmit>);
/// impl Machine for Hello {
///     type Event = ();
///     type Error = ();
///     fn handle(&mut self, _: Instant, _: Inbound<'_>) -> Result<(), ()> { Ok(()) }
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self) -> Option<Transmit> { self.0.take() }
///     fn poll_timeout(&self) -> Option<Instant> { None }
/// }
///
/// let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
/// let hello = Transmit::udp((a, 500).into(), (b, 500).into(), b"hello".to_vec());
/// let dir = std::env::temp_dir().join("netsim-doc");
/// let mut s = Scenario::new("hello", 1, &dir);
/// s.add_host(MachineHost::new(a, Hello(Some(hello.clone()))));
/// let ib = s.add_host(MachineHost::new(b, Hello(None)));
/// assert!(s.run_for_until(Duration::from_secs(1), |sim| {
///     sim.host(ib).is_some_and(|h| !h.received().is_empty())
/// }).unwrap());
/// assert_eq!(s.host(ib).unwrap().received()[0].1, hello);
/// let recording = s.finish().unwrap();
/// assert_eq!(recording.frames().len(), 1);
/// assert!(dir.join("hello.pcap").exists());
/// ```
#[derive(Debug)]
pub struct Scenario<H: Host> {
    name: String,
    pcap: PathBuf,
    start: Instant,
    sim: Sim<H>,
}

impl<H: Host> Scenario<H> {
    /// An empty network whose clock starts now, with all randomness drawn from `seed`, recording
    /// every datagram sent; [`Scenario::finish`] writes it to `<dir>/<name>.pcap`.
    pub fn new(name: impl Into<String>, seed: u64, dir: impl AsRef<Path>) -> Scenario<H> {
        let name = name.into();
        let pcap = dir.as_ref().join(format!("{name}.pcap"));
        let start = Instant::now();
        let mut net = Network::new(seed, start);
        net.record(Recorder::new(start));
        Scenario {
            name,
            pcap,
            start,
            sim: Sim::new(net),
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the scenario's clock started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Where [`Scenario::finish`] writes the recording.
    pub fn pcap_path(&self) -> &Path {
        &self.pcap
    }

    /// The simulation.
    pub fn sim(&self) -> &Sim<H> {
        &self.sim
    }

    /// The simulation, mutably.
    pub fn sim_mut(&mut self) -> &mut Sim<H> {
        &mut self.sim
    }

    /// The simulation, taken out of the scenario (with the recorder still on its network).
    pub fn into_sim(self) -> Sim<H> {
        self.sim
    }

    /// Stops recording, writes the pcap to [`Scenario::pcap_path`] (creating directories) and
    /// returns the recording. Fails if it was finished already or recording was stopped.
    pub fn finish(&mut self) -> std::io::Result<Recorder> {
        let recorder = self
            .sim
            .network_mut()
            .take_recorder()
            .ok_or_else(|| std::io::Error::other("the scenario is not recording"))?;
        recorder.write(&self.pcap)?;
        Ok(recorder)
    }
}

impl<H: Host> std::ops::Deref for Scenario<H> {
    type Target = Sim<H>;

    fn deref(&self) -> &Sim<H> {
        &self.sim
    }
}

impl<H: Host> std::ops::DerefMut for Scenario<H> {
    fn deref_mut(&mut self) -> &mut Sim<H> {
        &mut self.sim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Datagram, MachineHost};
    use dmvpn_wire::{Proto, Transmit};
    use std::net::IpAddr;
    use std::time::Duration;

    /// Sends a datagram every second.
    struct Beacon {
        addr: IpAddr,
        peer: IpAddr,
        next: Instant,
        out: Option<Datagram>,
    }

    impl Host for Beacon {
        fn addr(&self) -> IpAddr {
            self.addr
        }
        fn handle_datagram(&mut self, _: Instant, _: Datagram) {}
        fn handle_timeout(&mut self, now: Instant) {
            self.next = now + Duration::from_secs(1);
            self.out = Some(Datagram {
                src: self.addr,
                dst: self.peer,
                protocol: 253,
                payload: vec![1],
            });
        }
        fn poll_transmit(&mut self) -> Option<Datagram> {
            self.out.take()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.next)
        }
    }

    #[test]
    fn records_runs_and_writes_the_pcap_where_named() {
        let dir = std::env::temp_dir().join(format!("netsim-scenario-{}", std::process::id()));
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut s = Scenario::new("beacon", 3, &dir);
        assert_eq!(s.name(), "beacon");
        assert_eq!(s.pcap_path(), dir.join("beacon.pcap"));
        let start = s.start();
        assert_eq!(s.now(), start);
        s.add_host(Beacon {
            addr: a,
            peer: b,
            next: start,
            out: None,
        });
        s.run_for(Duration::from_millis(2500)).unwrap();
        assert_eq!(s.now(), start + Duration::from_millis(2500));
        assert_eq!(s.network().stats().sent, 3);
        // Nobody at b: the predicate never holds and the limit is where it stops.
        assert!(
            !s.run_for_until(Duration::from_secs(2), |sim| sim
                .network()
                .stats()
                .delivered
                > 0)
                .unwrap()
        );
        assert_eq!(s.now(), start + Duration::from_millis(4500));
        assert!(
            s.run_for_until(Duration::from_secs(10), |sim| sim.network().stats().sent
                >= 7)
                .unwrap()
        );
        assert_eq!(s.now(), start + Duration::from_secs(6));
        let rec = s.finish().unwrap();
        assert_eq!(rec.frames().len(), 7);
        let bytes = std::fs::read(dir.join("beacon.pcap")).unwrap();
        // pcap header (24) + 7 × (record header 16 + IPv4 20 + 1).
        assert_eq!(bytes.len(), 24 + 7 * (16 + 21));
        assert!(s.finish().is_err(), "finished twice");
        assert_eq!(s.into_sim().network().stats().sent, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn machine_hosts_in_a_scenario() {
        struct Quiet;
        impl crate::Machine for Quiet {
            type Event = ();
            type Error = ();
            fn handle(&mut self, _: Instant, _: crate::Inbound<'_>) -> Result<(), ()> {
                Ok(())
            }
            fn handle_timeout(&mut self, _: Instant) {}
            fn poll_transmit(&mut self) -> Option<Transmit> {
                None
            }
            fn poll_timeout(&self) -> Option<Instant> {
                None
            }
        }
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut s = Scenario::new("quiet", 1, std::env::temp_dir());
        let ia = s.add_host(MachineHost::new(a, Quiet));
        let ib = s.add_host(MachineHost::new(b, Quiet));
        s.host_mut(ia).unwrap().send(Transmit {
            src: a,
            dst: b,
            proto: Proto::InGre(0x2001),
            payload: vec![0; 20],
        });
        s.run_for(Duration::from_secs(1)).unwrap();
        assert_eq!(s.host(ib).unwrap().received()[0].1.proto, Proto::GRE);
        assert_eq!(s.sim().network().recorder().unwrap().frames().len(), 1);
        assert_eq!(s.sim_mut().network_mut().stats().delivered, 1);
    }
}
