//! What the NHRP server benches share: the spokes and the hub, the server, the requests, a
//! timer of operations and the table they print.
#![allow(dead_code)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dmvpn_nhrp::wire::{Node, Repr};
use dmvpn_nhrp::{MaxSend, ResolutionMode, Server, ServerConfig};

/// Spoke `i` (up to 2^24): NBMA 172.(16+a).b.c, tunnel 10.(1+a).b.c.
pub fn spoke(i: u32) -> Node {
    let [_, a, b, c] = i.to_be_bytes();
    Node::new(
        Ipv4Addr::new(172, 16u8.wrapping_add(a), b, c),
        Ipv4Addr::new(10, 1u8.wrapping_add(a), b, c),
    )
}

/// The hub.
pub fn hub() -> Node {
    Node::new(Ipv4Addr::new(172, 15, 0, 1), Ipv4Addr::new(10, 0, 0, 1))
}

/// A hub's server for `spokes` registrations: authoritative answers, a 10.0.0.0/8 cloud,
/// `max-send` out of the way, one queued event (the bench polls after every packet).
pub fn server(now: Instant, spokes: usize) -> Server {
    let h = hub();
    let mut c = ServerConfig::new(h.nbma_addr.addr.ip().unwrap(), h.proto_addr.ip().unwrap());
    c.resolution = ResolutionMode::Authoritative;
    c.tunnel_prefix_len = 8;
    c.max_registrations = spokes + 1;
    c.common.max_send = MaxSend {
        packets: 1_000_000,
        interval: Duration::from_nanos(1),
        ..MaxSend::default()
    };
    c.common.max_events = 1;
    Server::new(now, c).unwrap()
}

/// Spoke `i`'s NBMA address and Registration Request.
pub fn registration(i: u32) -> (IpAddr, Vec<u8>) {
    let s = spoke(i);
    let bytes = Repr::registration_request(i + 1, &s, &hub(), 7200, 1400)
        .to_bytes()
        .unwrap();
    (s.nbma_addr.addr.ip().unwrap(), bytes)
}

/// The Registration Requests of spokes `0..n`, back to back in one buffer (they all have the
/// same length), with the NBMA address of each.
pub struct Registrations {
    pub from: Vec<IpAddr>,
    pub bytes: Vec<u8>,
    pub len: usize,
}

impl Registrations {
    pub fn new(n: u32) -> Registrations {
        let len = registration(0).1.len();
        let mut r = Registrations {
            from: Vec::with_capacity(n as usize),
            bytes: Vec::with_capacity(n as usize * len),
            len,
        };
        for i in 0..n {
            let (from, b) = registration(i);
            assert_eq!(b.len(), len);
            r.from.push(from);
            r.bytes.extend_from_slice(&b);
        }
        r
    }

    pub fn count(&self) -> usize {
        self.from.len()
    }

    pub fn get(&self, i: usize) -> (IpAddr, &[u8]) {
        let i = i % self.count();
        (self.from[i], &self.bytes[i * self.len..(i + 1) * self.len])
    }
}

/// Handles one packet and throws away what it produced, as a node would poll it.
pub fn handle(s: &mut Server, now: Instant, from: IpAddr, bytes: &[u8]) {
    s.handle_packet(now, from, bytes).unwrap();
    while let Some(t) = s.poll_transmit() {
        black_box(t);
    }
    while let Some(e) = s.poll_event() {
        black_box(e);
    }
}

/// Nanoseconds per call of `f` and of its reference `g` (each called with 0, 1, 2, ...):
/// `rounds` rounds of `n` calls of each, alternating, and the fastest round of each. The
/// machine is shared: the fastest round is the one least disturbed, and alternating puts the
/// operation and its reference under the same conditions.
pub fn ns_per_op(
    rounds: usize,
    n: usize,
    mut f: impl FnMut(usize),
    mut g: impl FnMut(usize),
) -> (f64, f64) {
    let (mut k, mut best_f, mut best_g) = (0usize, f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..n {
            f(k + i);
        }
        best_f = best_f.min(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        for i in 0..n {
            g(k + i);
        }
        best_g = best_g.min(t.elapsed().as_nanos() as f64 / n as f64);
        k += n;
    }
    (best_f, best_g)
}

/// One row of the table: an operation with its time, and its reference with its time.
pub struct Row {
    pub what: &'static str,
    pub ns: f64,
    pub reference: &'static str,
    pub ref_ns: f64,
}

fn rate(ns: f64) -> String {
    let per_s = 1e9 / ns;
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else {
        format!("{:.0} k/s", per_s / 1e3)
    }
}

/// Prints the table of `rows` and of heap bytes per spoke (`bytes`, with the reference's).
pub fn print_table(title: &str, rows: &[Row], bytes: (f64, f64)) {
    println!("\n{title}");
    println!(
        "| {:<44} | {:>9} | {:>10} | {:<36} | {:>9} | {:>10} | {:>6} |",
        "what", "time/op", "rate", "reference (same run)", "time/op", "rate", "ratio"
    );
    println!("|{}|", ["-"; 7].join("|"));
    for r in rows {
        println!(
            "| {:<44} | {:>6.0} ns | {:>10} | {:<36} | {:>6.0} ns | {:>10} | {:>5.2}x |",
            r.what,
            r.ns,
            rate(r.ns),
            r.reference,
            r.ref_ns,
            rate(r.ref_ns),
            r.ns / r.ref_ns
        );
    }
    println!(
        "| {:<44} | {:>6.0} B  | {:>10} | {:<36} | {:>6.0} B  | {:>10} | {:>5.2}x |",
        "heap per registered spoke",
        bytes.0,
        "",
        "HashMap<IpAddr,(IpAddr,Instant)> entry",
        bytes.1,
        "",
        bytes.0 / bytes.1
    );
}
