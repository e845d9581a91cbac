//! An NHRP client and server with `ip nhrp authentication` (the server's password "DMVPN", the
//! client's the same, a wrong one or none), at the addresses of the Cisco captures so that the
//! captured packets reach them as sent, driven by arbitrary packets, each other's genuine
//! authenticated packets (delivered, byte-mutated with the checksum fixed, or with the
//! Authentication extension tampered with and re-emitted), commands and timeouts.
//!
//! Checks: a packet that parses, is not an Error Indication and whose first Authentication
//! extension is not cleartext with exactly the receiver's password is rejected with
//! `AuthenticationFailure`, is counted in `authentication_failures`, and changes neither the
//! cache, the NHS status, the registrations nor anything else but counters and queued
//! transmits (an Error Indication when `authentication_failure_indication` is on); no other
//! packet is rejected for authentication; the counters add up at the end; `poll_timeout` is
//! exact.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use dmvpn_nhrp::wire::{
    AuthType, Authentication, ExtensionBody, ExtensionType, Packet, PacketType, Repr, Secret,
};
use dmvpn_nhrp::{
    Client, ClientConfig, Error, Event, MaxSend, OverQuota, Prefix, ResolutionMode, Route, Server,
    ServerConfig, Transmit,
};
use libfuzzer_sys::fuzz_target;

/// What to do to the Authentication extension of the next queued packet before delivering it.
#[derive(Debug, Arbitrary)]
enum Tamper {
    /// Cleartext with this password (up to 16 bytes).
    Password(Vec<u8>),
    /// The same data under another authentication type.
    AuthType(u32),
    /// No Authentication extension.
    Remove,
    /// The RFC 2332 layout (SPI 1, the source protocol address, then these bytes).
    Rfc2332(Vec<u8>),
    /// A wrong copy inserted before the genuine extension.
    Duplicate,
    /// The password cut or repeated to `n % 12` bytes.
    Resize(u8),
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arbitrary bytes to the client (false) or server (true) from 192.168.123.(n % 8).
    Raw(bool, u8, Vec<u8>),
    /// Deliver up to n queued packets between the two.
    Deliver(u8),
    /// Deliver the next queued packet with one byte changed and its checksum fixed.
    Mutate(u16, u8),
    /// Deliver the next queued packet with its Authentication extension changed.
    Tamper(Tamper),
    /// Let time pass (milliseconds × 16).
    Advance(u16),
    /// Fire timers at the earliest deadline.
    Timeout,
    Register,
    Resolve(u8),
    Purge(u8),
    ServerPurge(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// 0: the server's password, 1: a wrong one, otherwise none.
    client_password: u8,
    /// `ip nhrp authentication-failure indication` style Error Indications on both sides.
    indication: bool,
    forward: bool,
    ops: Vec<Op>,
}

const PASSWORD: &[u8] = b"DMVPN";
const MAX_CACHE: usize = 16;
const MAX_PENDING: usize = 4;
const MAX_TX: usize = 32;
const MAX_EVENTS: usize = 32;

/// The Cisco captures' tunnel (172.16.123.x) and NBMA (192.168.123.x) addresses: .1 is the hub.
fn addr(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(172, 16, 123, i % 8))
}

fn nbma(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 123, i % 8))
}

/// What a receiver with `password` must decide, from the bytes alone: `None` if the packet never
/// reaches the check (it does not parse, or it is an Error Indication, which carries no
/// authentication), else whether its first Authentication extension is cleartext (type 1) with
/// exactly the password.
fn verdict(bytes: &[u8], password: &[u8]) -> Option<bool> {
    let view = Packet::new_checked(bytes).ok()?;
    Repr::parse(&view).ok()?;
    if view.packet_type() == PacketType::ERROR_INDICATION {
        return None;
    }
    let mut want = vec![0, 0, 0, 1];
    want.extend_from_slice(password);
    let first = view
        .extensions()
        .flatten()
        .find(|e| e.ext_type == ExtensionType::AUTHENTICATION);
    Some(first.is_some_and(|e| e.data == &want[..]))
}

trait Machine {
    fn handle(&mut self, now: Instant, from: IpAddr, bytes: &[u8]) -> Result<(), Error>;
    /// Everything a packet could install or change, as text.
    fn state(&self) -> String;
    fn auth_failures(&self) -> u64;
    fn next_event(&mut self) -> Option<Event>;
}

impl Machine for Client {
    fn handle(&mut self, now: Instant, from: IpAddr, bytes: &[u8]) -> Result<(), Error> {
        self.handle_packet(now, from, bytes)
    }
    fn state(&self) -> String {
        format!(
            "{:?} {:?} {:?} {}",
            self.cache().iter().collect::<Vec<_>>(),
            self.nhs_status(),
            self.public_nbma(),
            self.pending_resolutions()
        )
    }
    fn auth_failures(&self) -> u64 {
        self.stats().authentication_failures
    }
    fn next_event(&mut self) -> Option<Event> {
        self.poll_event()
    }
}

impl Machine for Server {
    fn handle(&mut self, now: Instant, from: IpAddr, bytes: &[u8]) -> Result<(), Error> {
        self.handle_packet(now, from, bytes)
    }
    fn state(&self) -> String {
        format!(
            "{:?} {:?} {}",
            self.cache().iter().collect::<Vec<_>>(),
            self.multicast_nbmas(),
            self.redirect_pairs()
        )
    }
    fn auth_failures(&self) -> u64 {
        self.stats().authentication_failures
    }
    fn next_event(&mut self) -> Option<Event> {
        self.poll_event()
    }
}

/// One machine with its password and the authentication failures it must have counted.
struct Side<M> {
    m: M,
    password: Option<&'static [u8]>,
    failures: u64,
}

impl<M: Machine> Side<M> {
    fn deliver(&mut self, now: Instant, from: IpAddr, bytes: &[u8]) {
        while self.m.next_event().is_some() {}
        let before = self.m.state();
        let counted = self.m.auth_failures();
        let verdict = self.password.and_then(|p| verdict(bytes, p));
        let r = self.m.handle(now, from, bytes);
        let rejected = matches!(r, Err(Error::AuthenticationFailure));
        if verdict == Some(false) {
            assert!(rejected, "an unauthenticated packet got {r:?}");
        } else {
            assert!(
                !rejected,
                "rejected for authentication, verdict {verdict:?}"
            );
        }
        if rejected {
            self.failures += 1;
            assert_eq!(self.m.auth_failures(), counted + 1, "failure not counted");
            assert_eq!(
                self.m.state(),
                before,
                "an unauthenticated packet changed state"
            );
            while let Some(e) = self.m.next_event() {
                assert!(
                    matches!(e, Event::QuotaExceeded { .. }),
                    "an unauthenticated packet raised {e:?}"
                );
            }
        } else {
            assert_eq!(self.m.auth_failures(), counted);
        }
    }
}

/// The packet with its Authentication extension changed as `how` says, re-emitted (length and
/// checksum right); `None` if it does not parse or does not re-emit.
fn tamper(bytes: &[u8], how: &Tamper) -> Option<Vec<u8>> {
    let mut repr = Repr::parse_bytes(bytes).ok()?;
    let at = repr
        .extensions
        .iter()
        .position(|e| e.ext_type() == ExtensionType::AUTHENTICATION);
    let current = at.and_then(|i| match &repr.extensions.get(i)?.body {
        ExtensionBody::Authentication(a) => Some(a.clone()),
        _ => None,
    });
    let password = current
        .as_ref()
        .map_or(PASSWORD.to_vec(), |a| a.data.expose().to_vec());
    let replace = |repr: Repr, a: Authentication| repr.with_authentication_extension(a);
    let repr = match how {
        Tamper::Password(p) => replace(
            repr,
            Authentication {
                auth_type: AuthType::CLEARTEXT,
                data: Secret::new(p.iter().take(16).copied().collect()),
            },
        ),
        Tamper::AuthType(t) => {
            let mut a = current.unwrap_or_default();
            a.auth_type = AuthType(*t);
            replace(repr, a)
        }
        Tamper::Remove => {
            if let Some(i) = at {
                repr.extensions.remove(i);
            }
            repr
        }
        Tamper::Rfc2332(d) => {
            let a = Authentication::rfc2332(1, &repr.src_proto_addr, d);
            replace(repr, a)
        }
        Tamper::Duplicate => {
            let mut wrong = password.clone();
            if let Some(b) = wrong.last_mut() {
                *b ^= 1;
            }
            let ext =
                dmvpn_nhrp::wire::Extension::new(ExtensionBody::Authentication(Authentication {
                    auth_type: AuthType::CLEARTEXT,
                    data: Secret::new(wrong),
                }));
            repr.extensions.insert(at.unwrap_or(0), ext);
            repr
        }
        Tamper::Resize(n) => {
            let n = usize::from(*n % 12);
            let data = password.iter().copied().cycle().take(n).collect();
            replace(
                repr,
                Authentication {
                    auth_type: AuthType::CLEARTEXT,
                    data: Secret::new(data),
                },
            )
        }
    };
    repr.to_bytes().ok()
}

fuzz_target!(|input: Input| {
    let mut now = Instant::now();
    let max_send = MaxSend {
        packets: 10,
        interval: Duration::from_secs(10),
        over_quota: OverQuota::Drop,
        max_held: 4,
    };
    let client_password: Option<&'static [u8]> = match input.client_password % 3 {
        0 => Some(PASSWORD),
        1 => Some(b"DMVPM"),
        _ => None,
    };
    let mut cc = ClientConfig::new(nbma(2), addr(2)).with_nhs(addr(1), nbma(1));
    cc.holdtime = 30;
    cc.max_cache = MAX_CACHE;
    cc.max_pending = MAX_PENDING;
    cc.local_prefixes = vec![Prefix::new(IpAddr::V4(Ipv4Addr::new(10, 2, 2, 0)), 24)];
    let mut sc = ServerConfig::new(nbma(1), addr(1));
    sc.max_registrations = MAX_CACHE;
    sc.max_redirect_pairs = 8;
    sc.routes = vec![Route {
        prefix: Prefix::new(IpAddr::V4(Ipv4Addr::new(10, 2, 2, 0)), 24),
        next_hop: addr(2),
    }];
    sc.resolution = if input.forward {
        ResolutionMode::Forward
    } else {
        ResolutionMode::Authoritative
    };
    for (common, password) in [
        (&mut cc.common, client_password),
        (&mut sc.common, Some(PASSWORD)),
    ] {
        common.max_send = max_send;
        common.max_transmits = MAX_TX;
        common.max_events = MAX_EVENTS;
        common.authentication = password.map(Secret::from);
        common.authentication_failure_indication = input.indication;
    }
    let (Ok(c), Ok(s)) = (Client::new(now, cc), Server::new(now, sc)) else {
        return;
    };
    let mut c = Side {
        m: c,
        password: client_password,
        failures: 0,
    };
    let mut s = Side {
        m: s,
        password: Some(PASSWORD),
        failures: 0,
    };
    // Packets in flight: (to the server?, transmit).
    let mut wire: Vec<(bool, Transmit)> = Vec::new();
    let deliver = |c: &mut Side<Client>,
                   s: &mut Side<Server>,
                   now: Instant,
                   to_server: bool,
                   from: IpAddr,
                   bytes: &[u8]| {
        if to_server {
            s.deliver(now, from, bytes);
        } else {
            c.deliver(now, from, bytes);
        }
    };
    for op in input.ops.into_iter().take(128) {
        match op {
            Op::Raw(to_server, from, bytes) => {
                deliver(&mut c, &mut s, now, to_server, nbma(from), &bytes);
            }
            Op::Deliver(n) => {
                for _ in 0..n.min(16) {
                    if wire.is_empty() {
                        break;
                    }
                    let (to_server, t) = wire.remove(0);
                    deliver(&mut c, &mut s, now, to_server, t.src, &t.payload);
                }
            }
            Op::Mutate(pos, val) => {
                if !wire.is_empty() {
                    let (to_server, mut t) = wire.remove(0);
                    let len = t.payload.len();
                    if let Some(b) = t.payload.get_mut(usize::from(pos) % len.max(1)) {
                        *b ^= val;
                    }
                    Packet::new_unchecked(&mut t.payload[..]).fill_checksum();
                    deliver(&mut c, &mut s, now, to_server, t.src, &t.payload);
                }
            }
            Op::Tamper(how) => {
                if !wire.is_empty() {
                    let (to_server, t) = wire.remove(0);
                    let bytes = tamper(&t.payload, &how).unwrap_or(t.payload);
                    deliver(&mut c, &mut s, now, to_server, t.src, &bytes);
                }
            }
            Op::Advance(ms) => now += Duration::from_millis(u64::from(ms) * 16),
            Op::Timeout => {
                let next = [c.m.poll_timeout(), s.m.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                if let Some(t) = next {
                    now = now.max(t);
                }
                c.m.handle_timeout(now);
                s.m.handle_timeout(now);
                if next.is_some() {
                    assert!(c.m.poll_timeout().is_none_or(|t| t > now));
                    assert!(s.m.poll_timeout().is_none_or(|t| t > now));
                }
            }
            Op::Register => c.m.register(now),
            Op::Resolve(i) => {
                let _ = c.m.resolve(now, addr(i));
            }
            Op::Purge(i) => {
                c.m.purge(now, addr(i));
            }
            Op::ServerPurge(i) => {
                s.m.purge(now, addr(i));
            }
        }
        assert!(c.m.cache().len() <= MAX_CACHE && s.m.cache().len() <= MAX_CACHE);
        while let Some(t) = c.m.poll_transmit() {
            if wire.len() < 256 {
                wire.push((true, t));
            }
        }
        while let Some(t) = s.m.poll_transmit() {
            if wire.len() < 256 {
                wire.push((false, t));
            }
        }
        while c.m.poll_event().is_some() {}
        while s.m.poll_event().is_some() {}
    }
    assert_eq!(c.m.stats().authentication_failures, c.failures);
    assert_eq!(s.m.stats().authentication_failures, s.failures);
});
