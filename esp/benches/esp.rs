//! ESP data-path benchmark.
//!
//! For each backend and suite, at 64 and 1400 bytes of payload, the raw primitive doing exactly
//! the work one ESP packet needs from it, and the ESP data path:
//! - `raw_seal`: seal in place of the ciphertext an ESP packet carries (payload, padding, pad
//!   length, next header; its length taken from the SA), per packet a nonce of salt and 64-bit
//!   sequence number and an 8-byte AAD of SPI and sequence number (RFC 4106); CBC: a random IV,
//!   encrypt, HMAC over header, IV and ciphertext; NULL: the HMAC only;
//! - `raw_copy_seal`: the same after copying the payload into the buffer (the copy the copying
//!   API's contract implies);
//! - `raw_open_in_place`: open in place of real ESP packets (nonce from the salt and the
//!   packet's IV, AAD its header; CBC: HMAC verify, then decrypt);
//! - `raw_open`: the same, copying the ciphertext out first;
//! - `encapsulate` / `decapsulate`: the full copying ESP data path (header, IV, padding,
//!   trailer, sequence number, anti-replay check and update, lifetimes (of each kind, never
//!   reached, so they are accounted), counters);
//! - `encapsulate_in_place` / `decapsulate_in_place`: the same data path on the payload where
//!   it lies (no copy of the payload, header and IV into headroom, trailer into spare capacity);
//! - `boringtun`: WireGuard's `Tunn::encapsulate` / `Tunn::decapsulate` on the same payloads.
//!
//! The inbound functions (raw and ESP alike) run over chunks of fresh packets made outside the
//! timed region (`bench_packets`), so both pay the same harness and memory traffic.
//!
//! After the run it prints ratio tables, raw time / ESP time in the same run: the copying API
//! against the raw primitive with the same copy, the copying API against the primitive alone,
//! and the in-place API against the primitive in place; then the boringtun figures alongside.
//! Run: `cargo bench -p dmvpn-esp [--features ring] -- --warm-up-time 1 --measurement-time 2`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dmvpn_esp::crypto::{ChaChaRandom, CryptoProvider, all_providers};
use dmvpn_esp::{
    EncryptionAlgorithm, InboundSa, Lifetime, Lifetimes, OutboundSa, SaConfig, SaKeys, Suite,
};
use dmvpn_wire::{IpProtocol, ipv4};

const SIZES: [usize; 2] = [64, 1400];
const SUITES: [&str; 6] = [
    "aes128gcm16",
    "aes256gcm16",
    "aes128-sha256",
    "aes256-sha256",
    "aes256-sha512",
    "null-sha256",
];

/// An IPv4 packet of `size` bytes from 10.0.0.1 to 10.0.0.2 (boringtun routes on it).
fn ipv4_payload(size: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..size).map(|i| i as u8).collect();
    ipv4::Repr::new(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        IpProtocol(253),
        size - ipv4::MIN_HEADER_LEN,
    )
    .emit(&mut ipv4::Packet::new_unchecked(&mut p[..]))
    .unwrap();
    p
}

fn group_name(provider: &CryptoProvider, suite: &str) -> String {
    format!("{}-{suite}", provider.name)
}

/// Packets per chunk of the inbound benchmarks: made outside the timed region, then opened in
/// one timed pass (about 400 KB at 1400 B: the packets stay in the cache, as on a real receive
/// path, and the raw reference reads the same packets the same way).
const CHUNK: u64 = 256;

/// A benchmarked operation: runs it `iters` times, returns the time taken (criterion's
/// `iter_custom` shape, also used by the paired measurement).
type Runner<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// Times `iters` runs of `op`.
fn timed<'a>(mut op: impl FnMut() + 'a) -> Runner<'a> {
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            op();
        }
        t.elapsed()
    })
}

/// Times `run` over fresh packets from `make`, `CHUNK` at a time; only `run` is timed. The
/// inbound ESP benchmarks and their raw references both go through here, so they pay the same
/// harness and the same memory traffic.
fn timed_packets<'a>(
    mut make: impl FnMut(&mut Vec<u8>) + 'a,
    mut run: impl FnMut(&mut [u8]) -> usize + 'a,
) -> Runner<'a> {
    let mut pkts: Vec<Vec<u8>> = (0..CHUNK).map(|_| Vec::with_capacity(2048)).collect();
    Box::new(move |iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(CHUNK) as usize;
            for p in pkts[..n].iter_mut() {
                make(p);
            }
            let t = Instant::now();
            for p in pkts[..n].iter_mut() {
                black_box(run(black_box(&mut p[..])));
            }
            total += t.elapsed();
            left -= n as u64;
        }
        total
    })
}

/// A source of fresh ESP packets of one SA (each with the next sequence number).
fn packet_source(cfg: &SaConfig, now: Instant, payload: &[u8]) -> impl FnMut(&mut Vec<u8>) {
    let mut src = OutboundSa::new(cfg, now).unwrap();
    let payload = payload.to_vec();
    let mut wire = vec![0u8; 2048];
    move |p| {
        let pkt = src.encapsulate(now, 47, &payload, &mut wire).unwrap();
        p.clear();
        p.extend_from_slice(pkt);
    }
}

/// The comparisons of the ratio tables: (title, [(raw, ESP function)]).
const TABLES: [(&str, [(&str, &str); 2]); 3] = [
    (
        "Copying API vs the raw primitive with the same copy (seal = copy payload + seal, \
         open = copy ciphertext + open)",
        [
            ("raw_copy_seal", "encapsulate"),
            ("raw_open", "decapsulate"),
        ],
    ),
    (
        "Copying API vs the raw primitive without any copy (the strictest reference)",
        [
            ("raw_seal", "encapsulate"),
            ("raw_open_in_place", "decapsulate"),
        ],
    ),
    (
        "In place vs the raw primitive in place",
        [
            ("raw_seal", "encapsulate_in_place"),
            ("raw_open_in_place", "decapsulate_in_place"),
        ],
    ),
];

/// Paired ratios (raw time / ESP time) by (group, raw function, ESP function, size).
type Paired = Vec<(String, &'static str, &'static str, usize, f64)>;

/// The paired measurement of `raw` against `esp`: rounds of one short batch of each, in
/// alternating order, for about `budget`; returns the median over rounds of raw / ESP time.
/// On a loaded machine a batch is either undisturbed or an outlier, and both functions see the
/// same load in a round, which the separate criterion runs (seconds apart) do not.
fn paired_ratio(raw: &mut Runner<'_>, esp: &mut Runner<'_>, budget: Duration) -> f64 {
    // Batches of about 100 µs, whole chunks of packets.
    raw(CHUNK);
    let one = raw(CHUNK).as_secs_f64() / CHUNK as f64;
    let n = ((100e-6 / one) as u64).div_ceil(CHUNK).max(1) * CHUNK;
    let mut ratios = Vec::new();
    let end = Instant::now() + budget;
    let mut round = 0u32;
    while Instant::now() < end || ratios.len() < 21 {
        let (r, e) = if round.is_multiple_of(2) {
            let r = raw(n);
            (r, esp(n))
        } else {
            let e = esp(n);
            (raw(n), e)
        };
        ratios.push(r.as_secs_f64() / e.as_secs_f64());
        round += 1;
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn bench_suite(
    c: &mut Criterion,
    provider: &CryptoProvider,
    name: &str,
    opts: &Options,
    paired: &mut Paired,
) {
    let now = Instant::now();
    let suite = Suite::parse(name).unwrap();
    let ek = vec![0x42u8; suite.encryption.keymat_len()];
    let ik = vec![0x24u8; suite.integrity.key_len()];
    let spi = 0x1234_5678u32;
    let mut cfg = SaConfig::new(spi, suite, SaKeys::new(&ek, &ik), provider.clone());
    cfg.replay_window = 1024;
    // Real SAs have lifetimes, accounted per packet: here of each kind (time, bytes, packets),
    // soft at 90 %, too large to be reached by a run.
    cfg.lifetimes = Lifetimes::from_hard(Lifetime {
        time: Some(Duration::from_secs(3600)),
        bytes: Some(1 << 60),
        packets: Some(1 << 50),
    });
    let group_name = group_name(provider, name);
    let mut group = c.benchmark_group(&group_name);
    let aead_key = suite.encryption.is_aead().then(|| {
        let (k, _) = ek.split_at(suite.encryption.key_len());
        provider.aead(suite.encryption).unwrap().new_key(k).unwrap()
    });
    let mac = (!suite.encryption.is_aead()).then(|| {
        provider
            .hmac(suite.integrity)
            .unwrap()
            .new_key(&ik)
            .unwrap()
    });
    let cipher = (!suite.encryption.is_aead() && suite.encryption != EncryptionAlgorithm::Null)
        .then(|| {
            provider
                .cipher(suite.encryption)
                .unwrap()
                .new_key(&ek)
                .unwrap()
        });
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = ipv4_payload(size);
        let payload = &payload[..];
        let tx = OutboundSa::new(&cfg, now).unwrap();
        let hdr = tx.header_len();
        let icv_len = suite.icv_len();
        // What the primitive must process for one ESP packet: payload, padding, pad length and
        // next header (the ciphertext), its length taken from the SA itself.
        let ct_len = tx.encapsulated_len(size) - hdr - icv_len;
        // The ciphertext as the primitive sees it: payload then a trailer (written once; the
        // ESP path writes it per packet). The previous iteration's output stands for the next
        // input: same cost.
        let ct_buf = || {
            let mut buf = payload.to_vec();
            buf.resize(ct_len, 0);
            buf
        };
        let mut runners: Vec<(&'static str, Runner<'_>)> = Vec::new();

        if let Some(key) = &aead_key {
            let salt: [u8; 4] = ek[suite.encryption.key_len()..].try_into().unwrap();
            // RFC 4106: nonce = salt || 64-bit sequence number, AAD = SPI || 32-bit sequence
            // number; both built per packet, as ESP does.
            let nonce_aad = move |seq: u64| {
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&salt);
                nonce[4..].copy_from_slice(&seq.to_be_bytes());
                let mut aad = [0u8; 8];
                aad[..4].copy_from_slice(&spi.to_be_bytes());
                aad[4..].copy_from_slice(&(seq as u32).to_be_bytes());
                (nonce, aad)
            };
            for copy in [false, true] {
                let (mut buf, mut seq, mut tag) = (ct_buf(), 0u64, [0u8; 16]);
                let op = move || {
                    seq += 1;
                    let (nonce, aad) = nonce_aad(seq);
                    if copy {
                        buf[..size].copy_from_slice(black_box(payload));
                    }
                    key.seal(&nonce, &aad, black_box(&mut buf), &mut tag)
                        .unwrap();
                    black_box(&tag);
                };
                let name = if copy { "raw_copy_seal" } else { "raw_seal" };
                runners.push((name, timed(op)));
            }
            // Open: nonce from the salt and the packet's IV, AAD the packet's header.
            for copy in [true, false] {
                let mut out = vec![0u8; 2048];
                let run = move |pkt: &mut [u8]| {
                    let (hdr_iv, rest) = pkt.split_at_mut(hdr);
                    let (ct, icv) = rest.split_at_mut(ct_len);
                    let mut nonce = [0u8; 12];
                    nonce[..4].copy_from_slice(&salt);
                    nonce[4..].copy_from_slice(&hdr_iv[8..16]);
                    let tag: &[u8; 16] = (&*icv).try_into().unwrap();
                    let aad = &hdr_iv[..8];
                    if copy {
                        let dst = &mut out[..ct_len];
                        dst.copy_from_slice(ct);
                        key.open(&nonce, aad, dst, tag).unwrap();
                    } else {
                        key.open(&nonce, aad, ct, tag).unwrap();
                    }
                    ct_len
                };
                let name = if copy {
                    "raw_open"
                } else {
                    "raw_open_in_place"
                };
                runners.push((name, timed_packets(packet_source(&cfg, now, payload), run)));
            }
        } else {
            let (mac, cipher) = (mac.as_ref().unwrap(), cipher.as_ref());
            let random = provider.random.clone();
            let iv_len = suite.encryption.iv_len();
            // Seal: a random IV (CBC), encrypt, HMAC over header, IV and ciphertext.
            for copy in [false, true] {
                let (mut buf, mut iv, mut icv) = (ct_buf(), [0u8; 16], vec![0u8; icv_len]);
                let random = random.clone();
                let header = [1u8; 8];
                let op = move || {
                    if copy {
                        buf[..size].copy_from_slice(black_box(payload));
                    }
                    if let Some(k) = cipher {
                        random.fill(&mut iv).unwrap();
                        k.encrypt(&iv, black_box(&mut buf)).unwrap();
                    }
                    mac.sign(&[&header, &iv[..iv_len], &buf], &mut icv).unwrap();
                    black_box(&icv);
                };
                let name = if copy { "raw_copy_seal" } else { "raw_seal" };
                runners.push((name, timed(op)));
            }
            // Open: HMAC verify over header, IV and ciphertext, then decrypt.
            for copy in [true, false] {
                let mut out = vec![0u8; 2048];
                let run = move |pkt: &mut [u8]| {
                    let (auth, icv) = pkt.split_at_mut(hdr + ct_len);
                    let (hdr_iv, ct) = auth.split_at_mut(hdr);
                    mac.verify(&[&*hdr_iv, &*ct], icv).unwrap();
                    let ct = if copy {
                        let dst = &mut out[..ct_len];
                        dst.copy_from_slice(ct);
                        dst
                    } else {
                        ct
                    };
                    if let Some(k) = cipher {
                        let iv: &[u8; 16] = (&hdr_iv[8..]).try_into().unwrap();
                        k.decrypt(iv, ct).unwrap();
                    }
                    ct_len
                };
                let name = if copy {
                    "raw_open"
                } else {
                    "raw_open_in_place"
                };
                runners.push((name, timed_packets(packet_source(&cfg, now, payload), run)));
            }
        }

        let (mut tx, mut wire) = (tx, vec![0u8; 2048]);
        let encap = move || {
            black_box(
                tx.encapsulate(now, 47, black_box(payload), &mut wire)
                    .unwrap()
                    .len(),
            );
        };
        runners.push(("encapsulate", timed(encap)));
        let mut tx_ip = OutboundSa::new(&cfg, now).unwrap();
        let start = tx_ip.header_len();
        let mut ip_buf = Vec::with_capacity(start + size + tx_ip.max_trailer_len());
        ip_buf.resize(start, 0);
        ip_buf.extend_from_slice(payload);
        let encap_ip = move || {
            // The previous iteration's ciphertext stands for the next payload: same cost.
            ip_buf.truncate(start + size);
            black_box(
                tx_ip
                    .encapsulate_in_place(now, 47, black_box(&mut ip_buf), start)
                    .unwrap(),
            );
        };
        runners.push(("encapsulate_in_place", timed(encap_ip)));
        let (mut rx, mut out) = (InboundSa::new(&cfg, now).unwrap(), vec![0u8; 2048]);
        let decap = move |p: &mut [u8]| rx.decapsulate(now, p, &mut out).unwrap().payload.len();
        runners.push((
            "decapsulate",
            timed_packets(packet_source(&cfg, now, payload), decap),
        ));
        let mut rx_ip = InboundSa::new(&cfg, now).unwrap();
        let decap_ip =
            move |p: &mut [u8]| rx_ip.decapsulate_in_place(now, p).unwrap().payload.len();
        runners.push((
            "decapsulate_in_place",
            timed_packets(packet_source(&cfg, now, payload), decap_ip),
        ));

        for (func, run) in runners.iter_mut() {
            group.bench_function(BenchmarkId::new(*func, size), |b| b.iter_custom(&mut *run));
        }
        if let Some(budget) = opts.paired {
            for (_, pairs) in TABLES {
                for (raw, esp) in pairs {
                    let ids = [raw, esp].map(|f| format!("{group_name}/{f}/{size}"));
                    if !ids.iter().any(|id| opts.selects(id)) {
                        continue;
                    }
                    let i = runners.iter().position(|(f, _)| *f == raw).unwrap();
                    let j = runners.iter().position(|(f, _)| *f == esp).unwrap();
                    let (a, b) = if i < j {
                        let (lo, hi) = runners.split_at_mut(j);
                        (&mut lo[i].1, &mut hi[0].1)
                    } else {
                        let (lo, hi) = runners.split_at_mut(i);
                        (&mut hi[0].1, &mut lo[j].1)
                    };
                    let ratio = paired_ratio(a, b, budget);
                    paired.push((group_name.clone(), raw, esp, size, ratio));
                }
            }
        }
    }
    group.finish();
}

/// What the bench's own arguments ask for, besides criterion's options.
struct Options {
    /// Criterion's filter (a substring of the benchmark id), if any.
    filter: Option<String>,
    /// Time per pair of the paired measurement; `None` when only profiling or listing.
    paired: Option<Duration>,
}

impl Options {
    fn from_args() -> Self {
        // Criterion's options that take a value (so that value is not the filter).
        const WITH_VALUE: [&str; 14] = [
            "--warm-up-time",
            "--measurement-time",
            "--profile-time",
            "--sample-size",
            "--save-baseline",
            "--baseline",
            "--baseline-lenient",
            "--load-baseline",
            "--output-format",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--nresamples",
            "--plotting-backend",
        ];
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut filter = None;
        let mut skip = false;
        for a in &args {
            if skip {
                skip = false;
            } else if WITH_VALUE.contains(&a.as_str()) {
                skip = true;
            } else if !a.starts_with('-') {
                filter = Some(a.clone());
            }
        }
        let quiet = args
            .iter()
            .any(|a| a == "--profile-time" || a == "--list" || a == "--test");
        let secs = std::env::var("ESP_PAIRED_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.5);
        Self {
            filter,
            paired: (!quiet && secs > 0.0).then(|| Duration::from_secs_f64(secs)),
        }
    }

    fn selects(&self, id: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| id.contains(f.as_str()))
    }
}

fn boringtun_pair() -> (Tunn, Tunn) {
    let sk_a = StaticSecret::from([1u8; 32]);
    let sk_b = StaticSecret::from([2u8; 32]);
    let (pk_a, pk_b) = (PublicKey::from(&sk_a), PublicKey::from(&sk_b));
    let mut a = Tunn::new(sk_a, pk_b, None, None, 1, None);
    let mut b = Tunn::new(sk_b, pk_a, None, None, 2, None);
    let mut buf = vec![0u8; 2048];
    let mut buf2 = vec![0u8; 2048];
    let init = match a.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("no handshake initiation"),
    };
    let resp = match b.decapsulate(None, &init, &mut buf2) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        _ => panic!("no handshake response"),
    };
    if let TunnResult::WriteToNetwork(keepalive) = a.decapsulate(None, &resp, &mut buf) {
        let keepalive = keepalive.to_vec();
        let _ = b.decapsulate(None, &keepalive, &mut buf2);
    }
    (a, b)
}

fn bench_boringtun(c: &mut Criterion) {
    let mut group = c.benchmark_group("boringtun");
    let (mut a, mut b) = boringtun_pair();
    let mut dst = vec![0u8; 2048];
    let mut dst2 = vec![0u8; 2048];
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = ipv4_payload(size);
        group.bench_function(BenchmarkId::new("encapsulate", size), |bench| {
            bench.iter(|| match a.encapsulate(black_box(&payload), &mut dst) {
                TunnResult::WriteToNetwork(p) => p.len(),
                _ => panic!("boringtun encapsulate failed"),
            })
        });
        group.bench_function(BenchmarkId::new("decapsulate", size), |bench| {
            bench.iter_batched_ref(
                || match a.encapsulate(&payload, &mut dst2) {
                    TunnResult::WriteToNetwork(p) => p.to_vec(),
                    _ => panic!("boringtun encapsulate failed"),
                },
                |pkt| match b.decapsulate(None, black_box(pkt), &mut dst) {
                    TunnResult::WriteToTunnelV4(p, _) => p.len(),
                    _ => panic!("boringtun decapsulate failed"),
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("criterion")
}

/// Median time in ns of one benchmark of this run, from criterion's estimates.
fn median_ns(group: &str, func: &str, size: usize) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(func)
        .join(size.to_string())
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn mbs(size: usize, ns: f64) -> f64 {
    size as f64 / ns * 1e3
}

/// The ratio tables: each comparison of `TABLES`, per backend, suite and size, from criterion's
/// medians (raw median / ESP median) and from the paired measurement (median of per-round
/// ratios, the figure to trust on a loaded machine).
fn report(providers: &[CryptoProvider], paired: &Paired) {
    println!(
        "\nRatios raw / ESP time in this run (> 1: the ESP function is faster than the raw reference)"
    );
    println!(
        "  crit = criterion medians (raw {{seal|open}} median / ESP median), \
         paired = median of per-round ratios, raw and ESP batches interleaved"
    );
    for (title, [(seal, encap), (open, decap)]) in TABLES {
        println!("\n{title}");
        println!(
            "{:<26} {:>5}  {:>9} {:>9} {:>6} {:>6}   {:>9} {:>9} {:>6} {:>6}",
            "backend-suite",
            "bytes",
            "raw MB/s",
            "ESP MB/s",
            "crit",
            "paired",
            "raw MB/s",
            "ESP MB/s",
            "crit",
            "paired"
        );
        println!(
            "{:<26} {:>5}  {:^32}   {:^32}",
            "",
            "",
            format!("{seal} / {encap}"),
            format!("{open} / {decap}")
        );
        for p in providers {
            for s in SUITES {
                let g = group_name(p, s);
                for size in SIZES {
                    let get = |f| median_ns(&g, f, size);
                    let pair = |raw: &str, esp: &str| {
                        paired
                            .iter()
                            .find(|(pg, r, e, sz, _)| {
                                *pg == g && *r == raw && *e == esp && *sz == size
                            })
                            .map_or("-".to_string(), |x| format!("{:.2}", x.4))
                    };
                    if let (Some(rs), Some(en), Some(ro), Some(de)) =
                        (get(seal), get(encap), get(open), get(decap))
                    {
                        println!(
                            "{g:<26} {size:>5}  {:>9.0} {:>9.0} {:>6.2} {:>6}   {:>9.0} {:>9.0} {:>6.2} {:>6}",
                            mbs(size, rs),
                            mbs(size, en),
                            rs / en,
                            pair(seal, encap),
                            mbs(size, ro),
                            mbs(size, de),
                            ro / de,
                            pair(open, decap),
                        );
                    }
                }
            }
        }
    }
    for size in SIZES {
        if let (Some(en), Some(de)) = (
            median_ns("boringtun", "encapsulate", size),
            median_ns("boringtun", "decapsulate", size),
        ) {
            println!(
                "{:<26} {size:>5}  {:>10} {:>10.0} {:>6}   {:>10} {:>10.0}",
                "boringtun (ChaCha20-Poly1305)",
                "",
                mbs(size, en),
                "",
                "",
                mbs(size, de)
            );
        }
    }
}

fn main() {
    let providers = all_providers(Arc::new(ChaChaRandom::from_os().unwrap()));
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .configure_from_args();
    let opts = Options::from_args();
    let mut paired = Paired::new();
    for p in &providers {
        for s in SUITES {
            bench_suite(&mut c, p, s, &opts, &mut paired);
        }
    }
    bench_boringtun(&mut c);
    c.final_summary();
    report(&providers, &paired);
}
