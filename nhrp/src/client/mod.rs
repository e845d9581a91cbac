//! The next-hop client (NHC): a spoke that registers with its NHSs and resolves other spokes.
//!
//! [`Client`] and its handle/poll contract live here; the rules are in the submodules:
//! `config` (what it is configured with), `registration` (NHS registration, holdtime/3
//! refresh, back-off, NHS up/down), `resolution` (requests, replies, pending resolutions,
//! Traffic Indications), `answer` (Resolution Requests for this node) and `purge`.

mod answer;
mod config;
mod holddown;
mod purge;
mod registration;
mod resolution;
#[cfg(test)]
mod testing;

use std::net::IpAddr;
use std::time::Instant;

pub use config::{ClientConfig, Nhs, StaticMap};
pub use registration::NhsStatus;
pub use resolution::Resolution;

use registration::NhsState;
use resolution::Pending;

use crate::Error;
use crate::cache::{Cache, Entry, EntryFlags, EntryType, max_len};
use crate::machine::{Core, Event, Stats, Traffic, Transmit};
use crate::wire::{Address, Cie, CieCode, Message, NbmaAddress};

/// The NHRP client (NHC) of a spoke: registers with its NHSs (RFC 2332 §5.2.3), resolves
/// protocol addresses (§5.2.1), answers forwarded Resolution Requests for its own addresses
/// (§5.2.2), handles Purge Requests (§5.2.5), Error Indications (§5.2.7) and Cisco Traffic
/// Indications, and keeps the [`Cache`].
///
/// Sans-IO, with the handle/poll contract of the crate docs: feed it [`Client::handle_packet`]
/// and [`Client::handle_timeout`], drain [`Client::poll_transmit`] and [`Client::poll_event`],
/// and call `handle_timeout` at [`Client::poll_timeout`]. It never panics.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    core: Core,
    cache: Cache,
    nhs: Vec<NhsState>,
    all_down_reported: bool,
    pending: Vec<Pending>,
    held_down: holddown::HoldDown,
    purges: Vec<u32>,
    public_nbma: Option<IpAddr>,
}

impl Client {
    /// A client; fails with [`Error::InvalidConfig`] listing every problem.
    pub fn new(now: Instant, config: ClientConfig) -> Result<Client, Error> {
        config.validate()?;
        let mut cache = Cache::new(config.max_cache, config.common.max_events);
        for m in &config.map {
            // Configuration is not news: drained as it goes, so any number of entries fits.
            cache.insert(now, m.entry(now))?;
            while cache.poll_event().is_some() {}
        }
        for p in &config.local_prefixes {
            let mut e = Entry::new(
                now,
                *p,
                config.common.protocol_addr,
                Some(config.common.nbma_addr),
                EntryType::Local,
            );
            e.flags = EntryFlags::AUTHORITATIVE;
            cache.insert(now, e)?;
            while cache.poll_event().is_some() {}
        }
        let nhs = config
            .nhs
            .iter()
            .filter_map(|n| {
                let nbma = n.nbma_in(&config.map)?;
                Some(NhsState::new(
                    n.protocol_addr,
                    nbma,
                    config.registration_backoff.initial,
                ))
            })
            .collect();
        let max_cache = config.max_cache;
        Ok(Client {
            core: Core::new(config.common.clone(), crate::machine::CLIENT_IDS),
            config,
            cache,
            nhs,
            all_down_reported: false,
            pending: Vec::new(),
            held_down: holddown::HoldDown::new(max_cache),
            purges: Vec::new(),
            public_nbma: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The cache (`show ip nhrp`: `client.cache().show(now, "Tunnel0")`).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Entries of the cache looked at so far ([`Cache::visits`]): a diagnostic, not part of
    /// the behaviour.
    pub fn cache_visits(&self) -> u64 {
        self.cache.visits()
    }

    /// A peer's NAT box rebound it from public address `old` to `new` (the node saw its
    /// authenticated traffic come from there): the mappings to it stay and name `new` from now
    /// on ([`Cache::rebind_nbma`]). An NHS's configured address does not move. Returns how many
    /// mappings moved.
    pub fn rebind_nbma(&mut self, old: IpAddr, new: IpAddr) -> usize {
        self.cache.rebind_nbma(old, new)
    }

    /// `show ip nhrp traffic` at `now`.
    pub fn traffic(&self, now: Instant) -> Traffic {
        self.core.traffic(now)
    }

    /// Drop and error counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.core.stats;
        s.events_dropped = s.events_dropped.saturating_add(self.cache.events_dropped());
        s
    }

    /// Transmits, events and quota-held packets queued.
    pub fn queued(&self) -> (usize, usize, usize) {
        self.core.queued()
    }

    /// This node's NBMA address as its NHS sees it, when NAT was detected.
    pub fn public_nbma(&self) -> Option<IpAddr> {
        self.public_nbma
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.core.poll_transmit()
    }

    /// Releases the spare capacity of the drained transmit and event queues (its own and its
    /// cache's), for a host of many idle clients such as a simulation of many spokes; nothing
    /// else changes.
    pub fn shrink_idle(&mut self) {
        self.core.shrink_idle();
        self.cache.shrink_idle();
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.drain_cache();
        self.core.poll_event()
    }

    /// When to call [`Client::handle_timeout`]: the earliest deadline (registration,
    /// retransmission, expiry, quota release).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let nhs = self.nhs.iter().filter_map(|n| n.next).min();
        let pending = self.pending.iter().map(|p| p.next).min();
        [
            nhs,
            pending,
            self.cache.next_expiry(),
            self.core.release_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn drain_cache(&mut self) {
        self.core.drain_cache(&mut self.cache);
    }

    /// The request ID of a new request: drawn from the key, none of this client's outstanding
    /// ones (registrations, resolutions, purges).
    fn fresh_request_id(&mut self) -> u32 {
        let (nhs, pending, purges) = (&self.nhs, &self.pending, &self.purges);
        self.core.request_id(|id| {
            nhs.iter().any(|n| n.outstanding() == Some(id))
                || pending.iter().any(|p| p.request_id == id)
                || purges.contains(&id)
        })
    }

    /// This node's own binding: its addresses with the configured holding time and MTU.
    fn own_cie(&self) -> Cie {
        Cie {
            code: CieCode::SUCCESS,
            prefix_len: max_len(self.config.common.protocol_addr),
            mtu: self.config.common.mtu,
            holding_time: self.config.holdtime,
            client_nbma_addr: NbmaAddress::from(self.config.common.nbma_addr),
            client_nbma_subaddr: NbmaAddress::EMPTY,
            client_proto_addr: Address::from(self.config.common.protocol_addr),
            preference: 0,
        }
    }

    /// Fires every due timer: registrations and their retransmissions (NHS down after the
    /// configured misses), resolution retransmissions and give-ups, expiry, quota release. A
    /// call before anything is due does nothing. Expiry stops when the event queue is full
    /// (cache events are never dropped), leaving [`Client::poll_timeout`] due for the next
    /// call once the events are polled.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.release(now);
        self.registration_timers(now);
        self.resolution_timers(now);
        self.cache.expire(now);
        self.drain_cache();
    }

    /// Handles one NHRP packet from `from_nbma` (the outer source address, post-NAT). On
    /// error the packet was dropped (and counted); the error says why.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        from_nbma: IpAddr,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let repr = self.core.receive(now, from_nbma, bytes)?;
        let r = match &repr.message {
            Message::RegistrationReply(_) => self.on_registration_reply(now, &repr),
            Message::ResolutionReply(_) => self.on_resolution_reply(now, from_nbma, &repr),
            Message::ResolutionRequest(_) => self.on_resolution_request(now, from_nbma, &repr),
            Message::PurgeRequest(_) => self.on_purge_request(now, from_nbma, &repr),
            Message::PurgeReply(b) => self.on_purge_reply(b),
            Message::TrafficIndication(t) => match dmvpn_wire::ip::destination(&t.packet) {
                Some(dst) => self.on_traffic_indication(now, dst),
                None => Err(Error::NotAnIpPacket {
                    reason: "Traffic Indication quotes no IP packet",
                }),
            },
            Message::ErrorIndication(ei) => {
                self.core.event(Event::ErrorIndication {
                    from: from_nbma,
                    code: ei.code,
                });
                self.on_error_indication(now, ei);
                Ok(())
            }
            Message::RegistrationRequest(_) | Message::Unknown(_) => Err(Error::Unexpected {
                packet_type: repr.packet_type(),
                reason: "a client does not accept this packet type",
            }),
        };
        self.drain_cache();
        r.map_err(|e| self.core.drop_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{HUB_NBMA, HUB_PROTO, SPOKE_NBMA, SPOKE_PROTO, events, hub, ip, spoke};
    use super::*;
    use crate::cache::Prefix;
    use crate::wire::{ErrorCode, Node, PacketType, Repr};
    use std::time::Duration;

    #[test]
    fn new_installs_static_maps_and_local_prefixes_silently() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.local_prefixes.push(Prefix::new(ip("192.168.2.0"), 24));
        });
        let hub_map = c.cache().get(&Prefix::host(ip(HUB_PROTO))).unwrap();
        assert_eq!(hub_map.kind, EntryType::Static);
        let local = c.cache().lookup(ip("192.168.2.9")).unwrap();
        assert_eq!(local.kind, EntryType::Local);
        assert_eq!(local.nbma, Some(ip(SPOKE_NBMA)));
        assert_eq!(local.next_hop, ip(SPOKE_PROTO));
        assert!(events(&mut c).is_empty(), "configuration is not news");
        assert_eq!(c.nhs_status().first().unwrap().nbma_addr, ip(HUB_NBMA));
        assert!(
            Client::new(t0, ClientConfig::new(ip(SPOKE_NBMA), ip("0.0.0.0"))).is_err(),
            "an invalid configuration makes no client"
        );
    }

    #[test]
    fn poll_timeout_is_the_earliest_deadline_and_early_timeouts_do_nothing() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| c.holdtime = 600);
        assert_eq!(c.poll_timeout(), None, "nothing started");
        c.register(t0);
        c.resolve(t0 + Duration::from_millis(300), ip("10.0.0.3"))
            .unwrap();
        // Registration retransmission at +1 s, resolution retransmission at +1.3 s.
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        events(&mut c);
        let queued = c.queued();
        c.handle_timeout(t0 + Duration::from_millis(999));
        assert_eq!(c.queued(), queued, "a spurious timeout changes nothing");
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        c.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(1300)));
    }

    #[test]
    fn a_failed_resolution_is_not_asked_again_within_the_negative_holding_time() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |c| {
            c.resolution_attempts = 1;
            c.negative_holding_time = Duration::from_secs(10);
        });
        let target = ip("10.0.0.3");
        assert_eq!(c.resolve(t0, target).unwrap(), Resolution::Pending);
        assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 1);
        // No answer: it gives up at +1 s.
        c.handle_timeout(t0 + Duration::from_secs(1));
        assert!(events(&mut c).contains(&Event::ResolutionFailed { target }));
        // Asked again at once and for the next 10 s: nothing is sent.
        for at in [1, 2, 10] {
            let now = t0 + Duration::from_secs(at);
            assert_eq!(c.resolve(now, target).unwrap(), Resolution::Negative);
            assert!(c.poll_transmit().is_none(), "a request at +{at} s");
        }
        assert_eq!(c.pending_resolutions(), 0);
        // Then it may be asked again.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(c.resolve(later, target).unwrap(), Resolution::Pending);
        assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 1);
    }

    #[test]
    fn packets_a_client_does_not_take_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut c = spoke(t0, |_| {});
        let other = Node::new(ip("172.16.3.1"), ip("10.0.0.3"));
        let reg = Repr::registration_request(5, &other, &hub(), 600, 1400);
        assert!(matches!(
            c.handle_packet(t0, ip("172.16.3.1"), &reg.to_bytes().unwrap()),
            Err(Error::Unexpected {
                packet_type: PacketType::REGISTRATION_REQUEST,
                ..
            })
        ));
        assert!(matches!(
            c.handle_packet(t0, ip("172.16.3.1"), &[0u8; 10]),
            Err(Error::Truncated { .. })
        ));
        let s = c.stats();
        assert_eq!((s.dropped, s.malformed), (1, 1));
        assert_eq!(c.traffic(t0).received(PacketType::REGISTRATION_REQUEST), 1);
        // An Error Indication is reported, whatever it quotes.
        let ei = Repr::error_indication(&[], ErrorCode::LOOP_DETECTED, 0, &hub());
        c.handle_packet(t0, ip(HUB_NBMA), &ei.to_bytes().unwrap())
            .unwrap();
        assert_eq!(
            events(&mut c),
            vec![Event::ErrorIndication {
                from: ip(HUB_NBMA),
                code: ErrorCode::LOOP_DETECTED
            }]
        );
    }
}
