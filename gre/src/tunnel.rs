//! A point-to-point or multipoint GRE tunnel endpoint: key matching, checksums, RFC 2890
//! sequencing per remote endpoint, and counters.
//!
//! The tunnel is Sans-IO: it builds and checks headers in caller buffers. The caller sends what
//! [`Tunnel::encapsulate_ip`] returns on a raw socket with the header included (or what
//! [`Tunnel::encapsulate`] returns on a protocol-47 raw socket where the kernel adds the IP header)
//! and passes what it receives to [`Tunnel::decapsulate_ip`] / [`Tunnel::decapsulate`].
//!
//! # Per-peer state: who gets it, and for how long
//!
//! Sources are trivially spoofed, and the `tunnel key` travels in clear, so a packet that passes
//! GRE's checks proves little. The tunnel therefore creates a peer entry (counters, sequence
//! numbers) only for a peer that is legitimate by the caller's judgement:
//!
//! - on transmit: [`Tunnel::encapsulate`] / [`Tunnel::encapsulate_ip`] to a peer the caller chose
//!   to send to;
//! - on admission: [`Tunnel::admit`], called by the upper layer once it has accepted a packet
//!   that [`Tunnel::decapsulate`] returned (an authenticated NHRP packet, traffic from a peer it
//!   has a mapping for). The admitted packet is counted in the new entry, and with sequencing
//!   the entry's receive window starts from it.
//!
//! [`Tunnel::decapsulate`] never creates an entry: a packet that fails a check (key, checksum,
//! sequence, peer) or that the upper layer never admits is counted in the [totals](Tunnel::totals)
//! only (and against the peer, when it already has an entry).
//!
//! Entries idle for [`Config::idle_timeout`] are removed by [`Tunnel::handle_timeout`] at the
//! instant [`Tunnel::poll_timeout`] asks for (Sans-IO: the caller brings the time). The totals
//! count every packet whether or not its peer has an entry, so removing an entry loses nothing
//! from them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Error;
use crate::wire::gre::{self, Protocol};
use crate::wire::ip::{self, PeerKey};
use dmvpn_wire::ip::Repr as IpRepr;
use dmvpn_wire::{HeaderOptions, IpProtocol};

/// Default bound on the number of remote endpoints with per-peer state.
pub const DEFAULT_MAX_PEERS: usize = 65_536;

/// Default [`Config::idle_timeout`]: ten minutes without a packet in or out.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The peer table is swept every `idle_timeout / SWEEPS_PER_IDLE_TIMEOUT`.
const SWEEPS_PER_IDLE_TIMEOUT: u32 = 8;

/// Point-to-point (`tunnel destination`) or multipoint (`tunnel mode gre multipoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One fixed remote endpoint; packets from any other source are dropped.
    PointToPoint {
        /// The remote endpoint (`tunnel destination`).
        remote: IpAddr,
    },
    /// mGRE: any remote endpoint, chosen per packet (by NHRP in a DMVPN).
    Multipoint,
}

/// Tunnel configuration, in the terms of an IOS tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Config {
    /// `tunnel source`: the local NBMA address.
    pub local: IpAddr,
    /// Point-to-point or multipoint.
    pub mode: Mode,
    /// `tunnel key`: sent in every packet and required to match on receipt (a packet with a
    /// different or missing key is dropped; so is a keyed packet on a tunnel without a key).
    pub key: Option<u32>,
    /// `tunnel checksum`: checksum every packet sent, and drop received packets without one.
    /// (Received checksums are verified whenever present, whatever this says.)
    pub checksum: bool,
    /// `tunnel sequence-datagrams`: number packets per remote endpoint and drop received packets
    /// that are missing a sequence number, duplicated or out of order (RFC 2890 §2.2).
    pub sequence: bool,
    /// Outer header options (TTL, TOS, DF, IPv6 flow label).
    pub outer: HeaderOptions,
    /// Bound on remote endpoints with per-peer state (counters, sequence numbers).
    pub max_peers: usize,
    /// How long a peer entry may go without a packet received from or sent to the peer (or an
    /// admission) before [`Tunnel::handle_timeout`] removes it; `None` keeps entries until
    /// [`Tunnel::remove_peer`]. Must not be zero.
    pub idle_timeout: Option<Duration>,
}

impl Config {
    /// A multipoint tunnel from `local` with no key, checksum or sequencing.
    pub fn multipoint(local: IpAddr) -> Config {
        Config {
            local,
            mode: Mode::Multipoint,
            key: None,
            checksum: false,
            sequence: false,
            outer: HeaderOptions::default(),
            max_peers: DEFAULT_MAX_PEERS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }

    /// A point-to-point tunnel from `local` to `remote` with no key, checksum or sequencing.
    pub fn point_to_point(local: IpAddr, remote: IpAddr) -> Config {
        Config {
            mode: Mode::PointToPoint { remote },
            ..Config::multipoint(local)
        }
    }
}

/// Why a received packet was dropped; each reason has its own counter in [`Drops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a valid GRE (or outer IP) packet, or a bad checksum.
    Malformed,
    /// Key different from the tunnel's, or missing, or present on an unkeyed tunnel.
    KeyMismatch,
    /// The tunnel requires checksums and the packet had none.
    ChecksumMissing,
    /// The tunnel sequences packets and the packet had no sequence number.
    SequenceMissing,
    /// Duplicate or out-of-order sequence number.
    OutOfOrder,
    /// From an endpoint other than a point-to-point tunnel's destination.
    WrongPeer,
    /// Outer destination is not the local endpoint.
    NotLocal,
    /// The peer table was full and the packet needed per-peer state.
    PeerLimit,
}

impl DropReason {
    fn of(err: &Error) -> DropReason {
        match err {
            Error::KeyMismatch { .. } => DropReason::KeyMismatch,
            Error::ChecksumMissing => DropReason::ChecksumMissing,
            Error::SequenceMissing => DropReason::SequenceMissing,
            Error::OutOfOrder { .. } => DropReason::OutOfOrder,
            Error::WrongPeer(_) => DropReason::WrongPeer,
            Error::NotLocal(_) => DropReason::NotLocal,
            Error::PeerLimit(..) => DropReason::PeerLimit,
            _ => DropReason::Malformed,
        }
    }
}

/// Drop counters, one per [`DropReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drops {
    /// [`DropReason::Malformed`].
    pub malformed: u64,
    /// [`DropReason::KeyMismatch`].
    pub key_mismatch: u64,
    /// [`DropReason::ChecksumMissing`].
    pub checksum_missing: u64,
    /// [`DropReason::SequenceMissing`].
    pub sequence_missing: u64,
    /// [`DropReason::OutOfOrder`].
    pub out_of_order: u64,
    /// [`DropReason::WrongPeer`].
    pub wrong_peer: u64,
    /// [`DropReason::NotLocal`].
    pub not_local: u64,
    /// [`DropReason::PeerLimit`].
    pub peer_limit: u64,
}

impl Drops {
    /// The counter for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Malformed => self.malformed,
            DropReason::KeyMismatch => self.key_mismatch,
            DropReason::ChecksumMissing => self.checksum_missing,
            DropReason::SequenceMissing => self.sequence_missing,
            DropReason::OutOfOrder => self.out_of_order,
            DropReason::WrongPeer => self.wrong_peer,
            DropReason::NotLocal => self.not_local,
            DropReason::PeerLimit => self.peer_limit,
        }
    }

    fn bump(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Malformed => &mut self.malformed,
            DropReason::KeyMismatch => &mut self.key_mismatch,
            DropReason::ChecksumMissing => &mut self.checksum_missing,
            DropReason::SequenceMissing => &mut self.sequence_missing,
            DropReason::OutOfOrder => &mut self.out_of_order,
            DropReason::WrongPeer => &mut self.wrong_peer,
            DropReason::NotLocal => &mut self.not_local,
            DropReason::PeerLimit => &mut self.peer_limit,
        };
        *c = c.saturating_add(1);
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.key_mismatch,
            self.checksum_missing,
            self.sequence_missing,
            self.out_of_order,
            self.wrong_peer,
            self.not_local,
            self.peer_limit,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Packet and byte counters. Bytes are payload (inner packet) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Packets decapsulated and accepted.
    pub packets_in: u64,
    /// Payload bytes decapsulated and accepted.
    pub bytes_in: u64,
    /// Packets encapsulated.
    pub packets_out: u64,
    /// Payload bytes encapsulated.
    pub bytes_out: u64,
    /// Received packets dropped, by reason.
    pub drops: Drops,
}

impl Counters {
    #[inline]
    fn count_in(&mut self, bytes: usize) {
        self.packets_in = self.packets_in.saturating_add(1);
        self.bytes_in = self.bytes_in.saturating_add(bytes as u64);
    }

    #[inline]
    fn count_out(&mut self, bytes: usize) {
        self.packets_out = self.packets_out.saturating_add(1);
        self.bytes_out = self.bytes_out.saturating_add(bytes as u64);
    }
}

/// Per remote endpoint state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer {
    /// Next sequence number to send (RFC 2890: the first packet carries 0).
    pub tx_sequence: u32,
    /// Last in-order sequence number received, if any.
    pub rx_sequence: Option<u32>,
    /// Counters for this endpoint.
    pub counters: Counters,
}

/// Bookkeeping of the peer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerTableStats {
    /// Entries created (on transmit or admission).
    pub created: u64,
    /// Entries not created because the table was full (`max_peers`), on transmit or admission.
    pub refused: u64,
    /// Entries removed after [`Config::idle_timeout`] without traffic.
    pub expired: u64,
}

/// A peer entry with its idle bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// The peer's address (the key, as the public API hands it out).
    remote: IpAddr,
    peer: Peer,
    /// A packet went in or out since the last sweep.
    active: bool,
    /// When the peer was last known active: an admission, or the sweep that saw it active.
    /// `None` until the first sweep or admission.
    stamp: Option<Instant>,
}

impl Slot {
    fn new(remote: IpAddr, peer: Peer, stamp: Option<Instant>) -> Slot {
        Slot {
            remote,
            peer,
            active: true,
            stamp,
        }
    }
}

/// A received packet that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The remote endpoint it came from.
    pub remote: IpAddr,
    /// The GRE header.
    pub header: gre::Repr,
    /// The payload: a slice of the received buffer.
    pub payload: &'a [u8],
    /// Whether the packet was counted against its remote's entry (it had one): [`Tunnel::admit`]
    /// counts it otherwise.
    counted: bool,
}

impl Received<'_> {
    /// The payload's protocol type.
    pub fn protocol(&self) -> Protocol {
        self.header.protocol
    }
}

/// A GRE tunnel endpoint (point-to-point or multipoint). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Tunnel {
    config: Config,
    /// Per-peer state. Hashed with foldhash (seeded per table with a random seed, so an
    /// attacker cannot precompute colliding addresses) rather than SipHash: the lookup is on
    /// every packet and SipHash was half the cost of a tunnel encapsulation. Collisions could
    /// only slow lookups down if many colliding entries existed, and entries are created only on
    /// transmit and admission (see the [module docs](self)), never for a source an attacker
    /// chooses, bounded by `max_peers`, and expire when idle. Nothing that reaches output
    /// depends on its order.
    peers: HashMap<PeerKey, Slot, foldhash::fast::RandomState>,
    /// `config.local` as a key, compared with each received packet's destination.
    local: PeerKey,
    totals: Counters,
    table: PeerTableStats,
    ip_id: u16,
    /// The latest time given (by [`Tunnel::admit`] or [`Tunnel::handle_timeout`]).
    clock: Option<Instant>,
    /// When the next sweep of idle entries is due.
    next_sweep: Option<Instant>,
}

/// RFC 2890 §2.2: `received` is in order after `last` if it is ahead by 1 to 2^31 − 1 in serial
/// arithmetic (so it survives the 2^32 wrap); equal or behind is a duplicate or out of order.
#[inline]
fn in_order(last: u32, received: u32) -> bool {
    let ahead = received.wrapping_sub(last);
    ahead != 0 && ahead < 0x8000_0000
}

impl Tunnel {
    /// Creates a tunnel. Fails if the configuration is inconsistent (a point-to-point destination
    /// of the other address family than the source, `max_peers` or `idle_timeout` of zero).
    pub fn new(config: Config) -> Result<Tunnel, Error> {
        if let Mode::PointToPoint { remote } = config.mode
            && remote.is_ipv4() != config.local.is_ipv4()
        {
            return Err(Error::FamilyMismatch(config.local, remote));
        }
        if config.max_peers == 0 {
            return Err(Error::Config("max_peers must be at least 1"));
        }
        if config.outer.flow_label > 0x000f_ffff {
            return Err(Error::Config("IPv6 flow label is 20 bits"));
        }
        if config.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::Config("idle_timeout must be more than zero"));
        }
        Ok(Tunnel {
            config,
            peers: HashMap::default(),
            local: PeerKey::of(config.local),
            totals: Counters::default(),
            table: PeerTableStats::default(),
            ip_id: 0,
            clock: None,
            next_sweep: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters over all endpoints (including packets from endpoints without per-peer state).
    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    /// State of one remote endpoint, if it has any.
    pub fn peer(&self, remote: IpAddr) -> Option<&Peer> {
        self.peers.get(&PeerKey::of(remote)).map(|s| &s.peer)
    }

    /// All remote endpoints with state, in no particular order.
    pub fn peers(&self) -> impl Iterator<Item = (&IpAddr, &Peer)> {
        self.peers.values().map(|s| (&s.remote, &s.peer))
    }

    /// Entries created, refused and expired so far.
    pub fn peer_table(&self) -> &PeerTableStats {
        &self.table
    }

    /// Forgets a remote endpoint (e.g. when NHRP deletes its mapping), returning its state.
    /// Its sequence numbers restart at zero if it comes back. Its traffic stays in the totals.
    pub fn remove_peer(&mut self, remote: IpAddr) -> Option<Peer> {
        let removed = self.peers.remove(&PeerKey::of(remote)).map(|s| s.peer);
        if self.peers.is_empty() {
            // As after a sweep that empties the table: the next entry schedules its own.
            self.next_sweep = None;
        }
        removed
    }

    /// The upper layer accepted `rx`, a packet [`Tunnel::decapsulate`] returned: its remote is a
    /// legitimate peer. Creates the peer's entry if it has none and marks the peer active at
    /// `now`; `rx` is counted in the entry if [`Tunnel::decapsulate`] could not (the entry did
    /// not exist yet), and with sequencing a new receive window starts at `rx`'s sequence
    /// number. Admit a packet once. Fails, creating nothing, if the table is full (`max_peers`;
    /// counted in [`PeerTableStats::refused`]) or the remote is not allowed on this tunnel; the
    /// packet itself stays accepted either way.
    pub fn admit(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Error> {
        self.check_remote(rx.remote)?;
        self.tick(now);
        let full = self.peers.len() >= self.config.max_peers;
        let slot = match self.peers.entry(PeerKey::of(rx.remote)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) if !full => {
                count_created(
                    &mut self.table,
                    &mut self.next_sweep,
                    &self.config,
                    self.clock,
                );
                e.insert(Slot {
                    active: false,
                    ..Slot::new(rx.remote, Peer::default(), Some(now))
                })
            }
            Entry::Vacant(_) => {
                self.table.refused = self.table.refused.saturating_add(1);
                return Err(Error::PeerLimit(self.config.max_peers, rx.remote));
            }
        };
        slot.stamp = Some(slot.stamp.map_or(now, |t| t.max(now)));
        if !rx.counted {
            slot.peer.counters.count_in(rx.payload.len());
            if self.config.sequence && slot.peer.rx_sequence.is_none() {
                slot.peer.rx_sequence = rx.header.sequence;
            }
        }
        Ok(())
    }

    /// When [`Tunnel::handle_timeout`] should next run: the next sweep for idle entries, while
    /// there are entries and an [`Config::idle_timeout`]. `None` also before the tunnel has been
    /// given the time at all (by [`Tunnel::admit`] or [`Tunnel::handle_timeout`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.peers.is_empty() || self.config.idle_timeout.is_none() {
            return None;
        }
        self.next_sweep
    }

    /// Removes the entries idle for at least [`Config::idle_timeout`], if the sweep
    /// [`Tunnel::poll_timeout`] announced is due (an early or spurious call only takes note of
    /// the time). See [`Tunnel::handle_timeout_keeping`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_timeout_keeping(now, |_| false);
    }

    /// Like [`Tunnel::handle_timeout`], and `keep` says which peers to keep whatever their idle
    /// time (a node keeps the peers it has NHRP mappings for; it removes them with their last
    /// mapping).
    ///
    /// Sweeps run every `idle_timeout / 8`. A peer is active when a packet from it was accepted
    /// (or admitted), or one was sent to it; a sweep notes the peers active since the previous
    /// one as active at its time, and removes a peer last active `idle_timeout` or more ago.
    /// So no entry goes before `idle_timeout` of silence, and one goes within `idle_timeout`
    /// plus two sweep intervals when this is called on time. Counted in
    /// [`PeerTableStats::expired`]; the removed peers' traffic stays in the totals.
    pub fn handle_timeout_keeping(&mut self, now: Instant, mut keep: impl FnMut(&IpAddr) -> bool) {
        self.tick(now);
        let Some(idle) = self.config.idle_timeout else {
            return;
        };
        let now = self.clock.unwrap_or(now);
        if self.peers.is_empty() || self.next_sweep.is_some_and(|t| t > now) {
            return;
        }
        let mut expired = 0u64;
        self.peers.retain(|_, slot| {
            let stamp = match slot.stamp {
                Some(t) if !slot.active && !keep(&slot.remote) => t,
                _ => {
                    slot.active = false;
                    slot.stamp = Some(slot.stamp.map_or(now, |t| t.max(now)));
                    return true;
                }
            };
            let gone = now.saturating_duration_since(stamp) >= idle;
            expired += u64::from(gone);
            !gone
        });
        self.table.expired = self.table.expired.saturating_add(expired);
        self.next_sweep = if self.peers.is_empty() {
            None
        } else {
            now.checked_add(sweep_interval(idle))
        };
    }

    /// Takes note of the time (monotonic: an earlier `now` is ignored).
    fn tick(&mut self, now: Instant) {
        if self.clock.is_none_or(|c| now > c) {
            self.clock = Some(now);
        }
    }

    /// The GRE header this tunnel puts on a payload of `protocol`/`payload_len` (the sequence
    /// number, if any, is filled in per peer by the encapsulate functions).
    #[inline]
    pub fn header(&self, protocol: Protocol, payload_len: usize) -> gre::Repr {
        gre::Repr {
            checksum_present: self.config.checksum,
            key: self.config.key,
            sequence: self.config.sequence.then_some(0),
            ..gre::Repr::new(protocol, payload_len)
        }
    }

    /// Bytes of headroom [`Tunnel::encapsulate`] needs in front of the payload.
    pub fn gre_overhead(&self) -> usize {
        self.header(Protocol::IPV4, 0).header_len()
    }

    /// Bytes of headroom [`Tunnel::encapsulate_ip`] needs in front of the payload.
    pub fn overhead(&self) -> usize {
        ip::overhead(self.config.local.is_ipv6(), &self.header(Protocol::IPV4, 0))
    }

    #[inline]
    fn check_remote(&self, remote: IpAddr) -> Result<(), Error> {
        match self.config.mode {
            Mode::PointToPoint { remote: r } if r != remote => Err(Error::WrongPeer(remote)),
            _ if remote.is_ipv4() != self.config.local.is_ipv4() => {
                Err(Error::FamilyMismatch(self.config.local, remote))
            }
            _ => Ok(()),
        }
    }

    /// Sends one packet to `remote`: `emit` writes the headers for the GRE header it is given
    /// (with the peer's next sequence number), and on success the packet is counted and the
    /// peer's sequence number advanced. One hash lookup for a known peer; the first packet to a
    /// new peer creates its entry if there is room (sending to a peer makes it legitimate), even
    /// if `emit` then fails, as before.
    #[inline]
    fn transmit<'a>(
        &mut self,
        key: PeerKey,
        protocol: Protocol,
        payload_len: usize,
        emit: impl FnOnce(&gre::Repr) -> Result<&'a mut [u8], Error>,
    ) -> Result<&'a mut [u8], Error> {
        let remote = key.addr();
        self.check_remote(remote)?;
        let mut header = self.header(protocol, payload_len);
        let sequence = self.config.sequence;
        if let Some(slot) = self.peers.get_mut(&key) {
            if sequence {
                header.sequence = Some(slot.peer.tx_sequence);
            }
            let out = emit(&header)?;
            commit_tx(Some(slot), payload_len);
            self.totals.count_out(payload_len);
            return Ok(out);
        }
        // The first packet to this peer (or one the full table has no entry for).
        let slot = if self.peers.len() < self.config.max_peers {
            count_created(
                &mut self.table,
                &mut self.next_sweep,
                &self.config,
                self.clock,
            );
            Some(
                self.peers
                    .entry(key)
                    .or_insert(Slot::new(remote, Peer::default(), None)),
            )
        } else {
            self.table.refused = self.table.refused.saturating_add(1);
            None
        };
        if sequence {
            match &slot {
                Some(s) => header.sequence = Some(s.peer.tx_sequence),
                None => return Err(Error::PeerLimit(self.config.max_peers, remote)),
            }
        }
        let out = emit(&header)?;
        commit_tx(slot, payload_len);
        self.totals.count_out(payload_len);
        Ok(out)
    }

    /// Writes this tunnel's GRE header for `remote` in front of the payload already at
    /// `buf[headroom..headroom + payload_len]` and returns the GRE packet (for a raw socket of
    /// protocol 47 where the kernel adds the IP header). `headroom` must be at least
    /// [`Tunnel::gre_overhead`]. No copy, no allocation (except the first packet to a new peer,
    /// which creates its entry).
    #[inline]
    pub fn encapsulate<'a>(
        &mut self,
        remote: IpAddr,
        protocol: Protocol,
        buf: &'a mut [u8],
        headroom: usize,
        payload_len: usize,
    ) -> Result<&'a mut [u8], Error> {
        self.transmit(PeerKey::of(remote), protocol, payload_len, |header| {
            gre::encapsulate(header, buf, headroom)
        })
    }

    /// Like [`Tunnel::encapsulate`], and also writes the outer IPv4/IPv6 header from the local
    /// endpoint to `remote` (for raw sockets with the header included, or captures). `headroom`
    /// must be at least [`Tunnel::overhead`].
    #[inline]
    pub fn encapsulate_ip<'a>(
        &mut self,
        remote: IpAddr,
        protocol: Protocol,
        buf: &'a mut [u8],
        headroom: usize,
        payload_len: usize,
    ) -> Result<&'a mut [u8], Error> {
        let key = PeerKey::of(remote);
        self.encapsulate_ip_to(key.bits, key.v6, protocol, buf, headroom, payload_len)
    }

    /// [`Tunnel::encapsulate_ip`] after the remote address is read into a [`PeerKey`] (in the
    /// caller, where the public function is inlined), passed in registers.
    fn encapsulate_ip_to<'a>(
        &mut self,
        bits: u128,
        v6: bool,
        protocol: Protocol,
        buf: &'a mut [u8],
        headroom: usize,
        payload_len: usize,
    ) -> Result<&'a mut [u8], Error> {
        let key = PeerKey { bits, v6 };
        let (local, outer_opts, ident) = (self.config.local, self.config.outer, self.ip_id);
        let out = self.transmit(key, protocol, payload_len, |header| {
            let outer = IpRepr::new(
                local,
                key.addr(),
                IpProtocol::GRE,
                header.buffer_len(),
                &outer_opts,
                ident,
            )?;
            ip::encapsulate(&outer, header, buf, headroom)
        })?;
        self.ip_id = self.ip_id.wrapping_add(1);
        Ok(out)
    }

    /// Checks a GRE packet (no outer IP header) received from `remote` and returns its payload.
    ///
    /// Every check failure is returned as an error and counted, in the totals and (when the
    /// remote has state) against the remote: malformed or bad checksum, key mismatch, missing
    /// checksum or sequence number when required, duplicate or out-of-order sequence number,
    /// wrong point-to-point peer.
    ///
    /// No packet creates per-peer state here, whether it passes or fails: an accepted packet is
    /// counted against its remote if the remote already has an entry, and in the totals only
    /// otherwise, until the caller [admits](Tunnel::admit) the remote (see the
    /// [module docs](self)). With sequencing, a packet from a remote without an entry is accepted
    /// as its first, unless the table is full (then no entry could ever number its successors:
    /// dropped as [`DropReason::PeerLimit`]).
    #[inline]
    pub fn decapsulate<'a>(
        &mut self,
        remote: IpAddr,
        packet: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        let key = PeerKey::of(remote);
        self.decapsulate_from(key.bits, key.v6, packet)
    }

    /// [`Tunnel::decapsulate`] from the remote as a [`PeerKey`].
    fn decapsulate_from<'a>(
        &mut self,
        bits: u128,
        v6: bool,
        packet: &'a [u8],
    ) -> Result<Received<'a>, Error> {
        let key = PeerKey { bits, v6 };
        let remote = key.addr();
        let config = &self.config;
        let room = self.peers.len() < config.max_peers;
        let slot = self.peers.get_mut(&key);
        let checked = check_rx(config, slot.as_deref().map(|s| &s.peer), remote, packet);
        let mut rx = match checked {
            Ok(rx) => rx,
            Err(e) => {
                let reason = DropReason::of(&e);
                self.totals.drops.bump(reason);
                if let Some(s) = slot {
                    s.peer.counters.drops.bump(reason);
                }
                return Err(e);
            }
        };
        match slot {
            Some(s) => {
                s.active = true;
                rx.counted = true;
                s.peer.counters.count_in(rx.payload.len());
                if config.sequence {
                    s.peer.rx_sequence = rx.header.sequence;
                }
            }
            None if config.sequence && !room => {
                self.totals.drops.bump(DropReason::PeerLimit);
                return Err(Error::PeerLimit(config.max_peers, remote));
            }
            None => {}
        }
        self.totals.count_in(rx.payload.len());
        Ok(rx)
    }

    /// Like [`Tunnel::decapsulate`] for a whole IP packet: also checks that it is GRE (protocol
    /// 47), not a fragment, and addressed to the local endpoint; the remote is its source.
    #[inline]
    pub fn decapsulate_ip<'a>(&mut self, packet: &'a [u8]) -> Result<Received<'a>, Error> {
        let local = self.local;
        let parsed = ip::outer_keys(packet).and_then(|(src, dst, payload)| {
            if dst != local {
                return Err(Error::NotLocal(dst.addr()));
            }
            Ok((src, payload))
        });
        match parsed {
            Ok((remote, gre_bytes)) => self.decapsulate_from(remote.bits, remote.v6, gre_bytes),
            Err(e) => {
                self.totals.drops.bump(DropReason::of(&e));
                Err(e)
            }
        }
    }
}

/// Counts a packet sent to a peer, marks it active and advances its sequence number.
#[inline]
fn commit_tx(slot: Option<&mut Slot>, payload_len: usize) {
    if let Some(slot) = slot {
        slot.active = true;
        slot.peer.counters.count_out(payload_len);
        slot.peer.tx_sequence = slot.peer.tx_sequence.wrapping_add(1);
    }
}

/// Time between two sweeps of the peer table.
fn sweep_interval(idle: Duration) -> Duration {
    (idle / SWEEPS_PER_IDLE_TIMEOUT).max(Duration::from_millis(1))
}

/// Counts a new entry and schedules a sweep if none is (from the latest time known).
fn count_created(
    table: &mut PeerTableStats,
    next_sweep: &mut Option<Instant>,
    config: &Config,
    clock: Option<Instant>,
) {
    table.created = table.created.saturating_add(1);
    if next_sweep.is_none()
        && let (Some(idle), Some(clock)) = (config.idle_timeout, clock)
    {
        *next_sweep = clock.checked_add(sweep_interval(idle));
    }
}

/// The receive checks, in order: remote allowed, GRE valid (checksum verified), key equal,
/// checksum present if required, sequence present and in order if sequencing.
#[inline(always)]
fn check_rx<'a>(
    config: &Config,
    peer: Option<&Peer>,
    remote: IpAddr,
    packet: &'a [u8],
) -> Result<Received<'a>, Error> {
    match config.mode {
        Mode::PointToPoint { remote: r } if r != remote => return Err(Error::WrongPeer(remote)),
        _ => {}
    }
    let (header, payload) = gre::decapsulate(packet)?;
    if header.key != config.key {
        return Err(Error::KeyMismatch {
            expected: config.key,
            received: header.key,
        });
    }
    if config.checksum && !header.checksum_present {
        return Err(Error::ChecksumMissing);
    }
    if config.sequence {
        let received = header.sequence.ok_or(Error::SequenceMissing)?;
        if let Some(last) = peer.and_then(|p| p.rx_sequence)
            && !in_order(last, received)
        {
            return Err(Error::OutOfOrder { last, received });
        }
    }
    Ok(Received {
        remote,
        header,
        payload,
        counted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic() {
        assert!(in_order(0, 1));
        assert!(in_order(u32::MAX, 0));
        assert!(in_order(5, 5 + 0x7fff_ffff));
        assert!(!in_order(5, 5));
        assert!(!in_order(5, 4));
        assert!(!in_order(5, 5u32.wrapping_add(0x8000_0000)));
    }
}
