//! Main Mode with pre-shared keys (RFC 2409 §5, §5.4), both roles, with NAT-T's vendor IDs,
//! NAT-D payloads and float to port 4500 (RFC 3947 §3–4) and the DPD vendor ID (RFC 3706).
//!
//! ```text
//! I -> R  HDR, SA, VID...                    (1)
//! R -> I  HDR, SA, VID...                    (2)
//! I -> R  HDR, KE, Ni, NAT-D, NAT-D          (3)
//! R -> I  HDR, KE, Nr, NAT-D, NAT-D          (4)
//! I -> R  HDR*, IDii, HASH_I [, N(INITIAL-CONTACT)]   (5, on 4500 when a NAT was found)
//! R -> I  HDR*, IDir, HASH_R                 (6)
//! ```
//!
//! A retransmitted message is recognised by its bytes before anything is decrypted (the IV
//! chain must not move for it) and answered with our last message again. The IV chain moves
//! only after a message's HASH verified.

use core::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::algorithm::{Hash, phase1_cipher, phase1_cipher_attributes};
use crate::config::{Policy, is_legacy_group};
use crate::event::{Event, Phase1KeyLog, Phase1Suite};
use crate::keys::{Phase1Inputs, Phase1Keys};
use crate::wire::{
    AuthMethod, ExchangeType, HeaderRepr, IdPayload, IkeAttributes, IsakmpTransformId,
    KnownVendorId, LifeType, Lifetime, Message, NatDPayload, NatTNumbering, NotifyPayload,
    NotifyType, Payload, PayloadType, Proposal, ProtocolId, SaPayload, Transform,
    recognise_vendor_id,
};
use crate::{Error, Secret};

use super::{Cx, Handshake, IsakmpSa, NAT_T_PORT, NONCE_LEN, Phase, Retx, raw_body};

/// What `handle_main_mode` tells the endpoint besides its events.
#[derive(Debug, Default)]
pub(crate) struct MmOutcome {
    /// Main Mode finished just now.
    pub established: bool,
}

/// The phase 1 transform of a policy.
fn policy_transform(number: u8, p: &Policy) -> Transform {
    let (enc, bits) = phase1_cipher_attributes(p.cipher)
        .unwrap_or((crate::wire::EncryptionAlgorithm::AES_CBC, 128));
    let attrs = IkeAttributes {
        encryption: Some(enc),
        key_length: Some(bits),
        hash: Some(p.hash.to_attribute()),
        group: Some(p.group),
        auth_method: Some(AuthMethod::PRE_SHARED_KEY),
        lifetimes: vec![Lifetime::seconds(p.lifetime.as_secs())],
        ..IkeAttributes::default()
    };
    Transform::ike(number, &attrs)
}

/// The policy an offered transform matches, with the lifetime to use (the shorter of the
/// two): same cipher and key length, hash, group, pre-shared keys, nothing else asked for.
fn match_policy(t: &Transform, policies: &[Policy]) -> Option<Phase1Suite> {
    if t.transform_id != IsakmpTransformId::KEY_IKE.0 {
        return None;
    }
    let a = t.ike_attributes().ok()?;
    if a.auth_method != Some(AuthMethod::PRE_SHARED_KEY)
        || a.group_type.is_some()
        || a.prf.is_some()
        || !a.other.is_empty()
    {
        return None;
    }
    let cipher = phase1_cipher(a.encryption?, a.key_length).ok()?;
    let hash = Hash::from_attribute(a.hash?).ok()?;
    let group = a.group?;
    let mut policies: Vec<&Policy> = policies.iter().collect();
    policies.sort_by_key(|p| p.priority);
    let p = policies
        .into_iter()
        .find(|p| p.cipher == cipher && p.hash == hash && p.group == group)?;
    let theirs = a
        .lifetimes
        .iter()
        .find(|l| l.life_type == LifeType::SECONDS)
        .map(|l| Duration::from_secs(l.duration));
    let lifetime = theirs.map_or(p.lifetime, |t| {
        t.min(p.lifetime).max(Duration::from_secs(60))
    });
    Some(Phase1Suite {
        cipher,
        hash,
        group,
        lifetime,
    })
}

/// NAT-D's hash: HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash (RFC 3947 §3.2).
fn nat_d(hash: Hash, cky_i: u64, cky_r: u64, addr: SocketAddr) -> Vec<u8> {
    let ip = match addr.ip() {
        core::net::IpAddr::V4(a) => a.octets().to_vec(),
        core::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    hash.digest(&[
        &cky_i.to_be_bytes(),
        &cky_r.to_be_bytes(),
        &ip,
        &addr.port().to_be_bytes(),
    ])
}

/// The vendor IDs we send: NAT-T (RFC 3947 and the draft Cisco IOS 12.x knows) when NAT-T
/// is on, and DPD.
fn our_vendor_ids(nat_t: bool) -> Vec<Payload> {
    let mut v = Vec::new();
    if nat_t {
        v.push(Payload::VendorId(KnownVendorId::NatTRfc3947.to_bytes()));
        v.push(Payload::VendorId(
            KnownVendorId::NatTDraft02Newline.to_bytes(),
        ));
    }
    v.push(Payload::VendorId(KnownVendorId::Dpd.to_bytes()));
    v
}

/// What the peer's vendor IDs say: its best NAT-T numbering and whether it does DPD.
fn peer_vendor_ids(payloads: &[Payload]) -> (Option<NatTNumbering>, bool) {
    let mut rfc = false;
    let mut draft = None;
    let mut dpd = false;
    for p in payloads {
        let Payload::VendorId(v) = p else { continue };
        let Some(m) = recognise_vendor_id(v) else {
            continue;
        };
        match m.id {
            KnownVendorId::NatTRfc3947 => rfc = true,
            KnownVendorId::Dpd => dpd = true,
            other => {
                if let Some(n) = other.nat_t_numbering() {
                    draft = draft.or(Some(n));
                }
            }
        }
    }
    (
        if rfc {
            Some(NatTNumbering::Rfc3947)
        } else {
            draft
        },
        dpd,
    )
}

/// The vendor ID that tells the peer which NAT-T numbering we chose.
fn nat_t_vendor_id(n: NatTNumbering) -> KnownVendorId {
    match n {
        NatTNumbering::Rfc3947 => KnownVendorId::NatTRfc3947,
        _ => KnownVendorId::NatTDraft02Newline,
    }
}

fn sa_body(sa: &SaPayload) -> Result<Vec<u8>, Error> {
    let p = Payload::Sa(sa.clone());
    let mut b = vec![0u8; p.body_len()];
    p.emit_body(&mut b)?;
    Ok(b)
}

impl IsakmpSa {
    /// Starts Main Mode: message 1 with every policy.
    pub fn start_main_mode(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        cookie_i: u64,
    ) -> Result<(), Error> {
        self.cookie_i = cookie_i;
        let transforms = cx
            .cfg
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| policy_transform(u8::try_from(i + 1).unwrap_or(u8::MAX), p))
            .collect();
        let sa = SaPayload::ipsec(vec![Proposal {
            number: 1,
            protocol_id: ProtocolId::ISAKMP,
            spi: vec![],
            transforms,
        }]);
        let sai_b = sa_body(&sa)?;
        let mut payloads = vec![Payload::Sa(sa)];
        payloads.extend(our_vendor_ids(cx.cfg.nat_traversal));
        let bytes = self
            .message(ExchangeType::MAIN_MODE, 0, payloads)
            .to_vec()?;
        self.hs = Some(Handshake {
            ke: None,
            nonce_i: Vec::new(),
            nonce_r: Vec::new(),
            g_xi: Vec::new(),
            g_xr: Vec::new(),
            sai_b,
        });
        self.phase = Phase::I1;
        self.send(cx, &bytes);
        self.retx = Some(Retx::new(cx.cfg, now, bytes));
        Ok(())
    }

    /// The responder's answer to message 1 (a new SA with `cookie_r` chosen): the first
    /// acceptable transform, echoed as offered. Errors are refusals (nothing is sent: an
    /// unauthenticated peer gets no oracle).
    pub fn answer_mm1(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        msg: &Message,
        raw: &[u8],
        cookie_r: u64,
    ) -> Result<(), Error> {
        self.cookie_i = msg.cookie_i;
        self.cookie_r = cookie_r;
        let payloads = msg.payloads().unwrap_or_default();
        let Some(Payload::Sa(offer)) = payloads.iter().find(|p| matches!(p, Payload::Sa(_))) else {
            return Err(Error::Malformed(
                "Main Mode message 1 without an SA payload",
            ));
        };
        self.psk(cx.cfg)?;
        let mut chosen = None;
        'outer: for prop in &offer.proposals {
            if prop.protocol_id != ProtocolId::ISAKMP {
                continue;
            }
            for t in &prop.transforms {
                if let Some(s) = match_policy(t, &cx.cfg.policies) {
                    chosen = Some((prop, t, s));
                    break 'outer;
                }
            }
        }
        let Some((prop, t, suite)) = chosen else {
            cx.counters.no_proposal_chosen += 1;
            return Err(Error::NoProposalChosen(
                "no phase 1 transform matches a crypto isakmp policy".into(),
            ));
        };
        if is_legacy_group(suite.group) {
            if !cx.cfg.allow_legacy_groups {
                cx.counters.no_proposal_chosen += 1;
                return Err(Error::NoProposalChosen("legacy group".into()));
            }
            cx.event(Event::LegacyGroup {
                sa: self.id,
                group: suite.group,
                pfs: false,
            });
        }
        let sai_b = raw_body(raw_first(raw), raw_chain(raw), PayloadType::SA)
            .ok_or(Error::Malformed("SA payload"))?
            .to_vec();
        let (nat_t, dpd) = peer_vendor_ids(payloads);
        self.nat_t = if cx.cfg.nat_traversal { nat_t } else { None };
        self.dpd.peer_supports = dpd;
        self.suite = Some(suite);
        let answer = SaPayload {
            doi: offer.doi,
            situation: offer.situation,
            proposals: vec![Proposal {
                number: prop.number,
                protocol_id: prop.protocol_id,
                spi: prop.spi.clone(),
                transforms: vec![t.clone()],
            }],
        };
        let mut out = vec![Payload::Sa(answer)];
        if let Some(n) = self.nat_t {
            out.push(Payload::VendorId(nat_t_vendor_id(n).to_bytes()));
        }
        out.push(Payload::VendorId(KnownVendorId::Dpd.to_bytes()));
        let bytes = self.message(ExchangeType::MAIN_MODE, 0, out).to_vec()?;
        self.hs = Some(Handshake {
            ke: None,
            nonce_i: Vec::new(),
            nonce_r: Vec::new(),
            g_xi: Vec::new(),
            g_xr: Vec::new(),
            sai_b,
        });
        self.phase = Phase::R2;
        self.last_rx = raw.to_vec();
        self.last_tx = bytes.clone();
        self.send(cx, &bytes);
        self.retx = Some(Retx::new(cx.cfg, now, bytes));
        Ok(())
    }

    /// A Main Mode message for this SA (header already matched by cookies).
    pub fn handle_main_mode(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        h: &HeaderRepr,
    ) -> Result<MmOutcome, Error> {
        if raw == self.last_rx.as_slice() {
            // A retransmission of the peer's last message: our answer again.
            if !self.last_tx.is_empty() {
                cx.counters.retransmits_answered += 1;
                let tx = self.last_tx.clone();
                self.send(cx, &tx);
            }
            return Ok(MmOutcome::default());
        }
        if remote.ip() != self.remote.ip() {
            return Err(Error::Dropped("Main Mode message from another address"));
        }
        let encrypted = h.flags.encryption();
        match (self.phase, encrypted) {
            (Phase::I1, false) => self.initiator_mm2(now, cx, raw),
            (Phase::I3, false) => self.initiator_mm4(now, cx, raw),
            (Phase::I5, true) => self.initiator_mm6(now, cx, raw),
            (Phase::R2, false) => self.responder_mm3(now, cx, local, remote, raw),
            (Phase::R4, true) => self.responder_mm5(now, cx, local, remote, raw),
            _ => Err(Error::Dropped("Main Mode message unexpected in this state")),
        }
    }

    fn initiator_mm2(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
    ) -> Result<MmOutcome, Error> {
        let msg = Message::parse(raw)?;
        let payloads = msg.payloads().unwrap_or_default();
        let Some(Payload::Sa(sa)) = payloads.iter().find(|p| matches!(p, Payload::Sa(_))) else {
            return Err(Error::Malformed(
                "Main Mode message 2 without an SA payload",
            ));
        };
        let (Some(prop), 1) = (sa.proposals.first(), sa.proposals.len()) else {
            return Err(Error::Malformed("message 2 must carry one proposal"));
        };
        let (Some(t), 1) = (prop.transforms.first(), prop.transforms.len()) else {
            return Err(Error::Malformed("message 2 must carry one transform"));
        };
        let suite = match_policy(t, &cx.cfg.policies).ok_or(Error::NoProposalChosen(
            "the responder chose a transform we did not offer".into(),
        ))?;
        if is_legacy_group(suite.group) {
            cx.event(Event::LegacyGroup {
                sa: self.id,
                group: suite.group,
                pfs: false,
            });
        }
        let (nat_t, dpd) = peer_vendor_ids(payloads);
        self.nat_t = if cx.cfg.nat_traversal { nat_t } else { None };
        self.dpd.peer_supports = dpd;
        self.cookie_r = msg.cookie_r;
        self.suite = Some(suite);
        let ke = crate::algorithm::start_key_exchange(&cx.cfg.provider, suite.group)?;
        let nonce = cx.random(NONCE_LEN)?;
        let mut out = vec![
            Payload::Ke(ke.public_value().to_vec()),
            Payload::Nonce(nonce.clone()),
        ];
        out.extend(self.nat_d_payloads(cx, suite.hash));
        let bytes = self.message(ExchangeType::MAIN_MODE, 0, out).to_vec()?;
        let hs = self.hs.as_mut().ok_or(Error::UnknownSa)?;
        hs.g_xi = ke.public_value().to_vec();
        hs.nonce_i = nonce;
        hs.ke = Some(ke);
        self.phase = Phase::I3;
        self.last_rx = raw.to_vec();
        self.send(cx, &bytes);
        self.retx = Some(Retx::new(cx.cfg, now, bytes));
        Ok(MmOutcome::default())
    }

    /// Our NAT-D payloads: the peer's address as we send to it, then ours (a random value
    /// with `force_encap`, so that we look NATed).
    fn nat_d_payloads(&self, cx: &Cx<'_>, hash: Hash) -> Vec<Payload> {
        let Some(n) = self.nat_t else {
            return Vec::new();
        };
        let them = nat_d(hash, self.cookie_i, self.cookie_r, self.remote);
        let us = if cx.cfg.force_encap {
            cx.random(hash.output_len())
                .unwrap_or_else(|_| vec![0; hash.output_len()])
        } else {
            nat_d(hash, self.cookie_i, self.cookie_r, self.local)
        };
        vec![
            Payload::NatD(NatDPayload {
                numbering: n,
                hash: them,
            }),
            Payload::NatD(NatDPayload {
                numbering: n,
                hash: us,
            }),
        ]
    }

    /// Reads the peer's NAT-D payloads (RFC 3947 §3.2): the first is our address as the
    /// peer sent to it, the others its own.
    fn detect_nat(
        &mut self,
        cx: &Cx<'_>,
        payloads: &[Payload],
        local: SocketAddr,
        remote: SocketAddr,
        hash: Hash,
    ) {
        let Some(_) = self.nat_t else { return };
        let mut ds = payloads.iter().filter_map(|p| match p {
            Payload::NatD(d) => Some(d.hash.as_slice()),
            _ => None,
        });
        let Some(first) = ds.next() else {
            return;
        };
        let ours = nat_d(hash, self.cookie_i, self.cookie_r, local);
        let theirs = nat_d(hash, self.cookie_i, self.cookie_r, remote);
        let behind = first != ours.as_slice() || cx.cfg.force_encap;
        let peer_behind = !ds.any(|d| d == theirs.as_slice());
        self.behind_nat = behind;
        self.nat = behind || peer_behind;
    }

    fn responder_mm3(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
    ) -> Result<MmOutcome, Error> {
        let msg = Message::parse(raw)?;
        let payloads = msg.payloads().unwrap_or_default();
        let suite = self.suite.ok_or(Error::UnknownSa)?;
        let g_xi = payloads
            .iter()
            .find_map(|p| match p {
                Payload::Ke(k) => Some(k.clone()),
                _ => None,
            })
            .ok_or(Error::Malformed("message 3 without KE"))?;
        let ni = nonce_of(payloads)?;
        let ke = crate::algorithm::start_key_exchange(&cx.cfg.provider, suite.group)?;
        let g_xy = ke.complete(&g_xi).map_err(Error::KeyExchange)?;
        let nr = cx.random(NONCE_LEN)?;
        self.detect_nat(cx, payloads, local, remote, suite.hash);
        let psk = self.psk(cx.cfg)?;
        let keys = Phase1Keys::derive_psk(
            &cx.cfg.provider,
            suite.hash,
            suite.cipher,
            psk,
            &Phase1Inputs {
                ni_b: &ni,
                nr_b: &nr,
                g_xi: &g_xi,
                g_xr: ke.public_value(),
                g_xy: g_xy.as_bytes(),
                cky_i: self.cookie_i,
                cky_r: self.cookie_r,
            },
        )?;
        let mut out = vec![
            Payload::Ke(ke.public_value().to_vec()),
            Payload::Nonce(nr.clone()),
        ];
        out.extend(self.nat_d_payloads(cx, suite.hash));
        let bytes = self.message(ExchangeType::MAIN_MODE, 0, out).to_vec()?;
        self.install_keys(cx, keys)?;
        let hs = self.hs.as_mut().ok_or(Error::UnknownSa)?;
        hs.g_xr = ke.public_value().to_vec();
        hs.g_xi = g_xi;
        hs.nonce_i = ni;
        hs.nonce_r = nr;
        self.phase = Phase::R4;
        self.last_rx = raw.to_vec();
        self.last_tx = bytes.clone();
        self.send(cx, &bytes);
        self.retx = Some(Retx::new(cx.cfg, now, bytes));
        Ok(MmOutcome::default())
    }

    fn install_keys(&mut self, cx: &Cx<'_>, keys: Phase1Keys) -> Result<(), Error> {
        self.cipher = Some(keys.cipher(&cx.cfg.provider)?);
        self.ivs = Some(keys.iv_tracker());
        self.keys = Some(keys);
        Ok(())
    }

    fn initiator_mm4(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
    ) -> Result<MmOutcome, Error> {
        let msg = Message::parse(raw)?;
        let payloads = msg.payloads().unwrap_or_default();
        let suite = self.suite.ok_or(Error::UnknownSa)?;
        let g_xr = payloads
            .iter()
            .find_map(|p| match p {
                Payload::Ke(k) => Some(k.clone()),
                _ => None,
            })
            .ok_or(Error::Malformed("message 4 without KE"))?;
        let nr = nonce_of(payloads)?;
        let (local, remote) = (self.local, self.remote);
        self.detect_nat(cx, payloads, local, remote, suite.hash);
        let psk = self.psk(cx.cfg)?;
        let hs = self.hs.as_ref().ok_or(Error::UnknownSa)?;
        let ke = hs.ke.as_ref().ok_or(Error::UnknownSa)?;
        let g_xy = ke.complete(&g_xr).map_err(Error::KeyExchange)?;
        let keys = Phase1Keys::derive_psk(
            &cx.cfg.provider,
            suite.hash,
            suite.cipher,
            psk,
            &Phase1Inputs {
                ni_b: &hs.nonce_i,
                nr_b: &nr,
                g_xi: &hs.g_xi,
                g_xr: &g_xr,
                g_xy: g_xy.as_bytes(),
                cky_i: self.cookie_i,
                cky_r: self.cookie_r,
            },
        )?;
        drop(g_xy);
        self.install_keys(cx, keys)?;
        if self.nat {
            // RFC 3947 §4: the initiator floats to 4500 with message 5.
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
        let id = IdPayload::ip(self.local.ip()).with_protocol(17, 500);
        let idii_b = id.to_body();
        let hs = self.hs.as_mut().ok_or(Error::UnknownSa)?;
        hs.g_xr = g_xr;
        hs.nonce_r = nr;
        hs.ke = None;
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        let hash_i = keys.hash_i(&hs.sai_b, &idii_b)?;
        let mut out = vec![Payload::Id(id), Payload::Hash(hash_i)];
        if self.initial_contact {
            out.push(Payload::Notify(NotifyPayload::initial_contact(
                self.cookie_i,
                self.cookie_r,
            )));
        }
        let bytes = self.seal(&self.message(ExchangeType::MAIN_MODE, 0, out))?;
        self.phase = Phase::I5;
        self.last_rx = raw.to_vec();
        self.send(cx, &bytes);
        self.retx = Some(Retx::new(cx.cfg, now, bytes));
        Ok(MmOutcome::default())
    }

    /// Opens message 5 (responder: HASH_I) or 6 (initiator: HASH_R) and checks its HASH over
    /// the ID payload's body; the IV chain moves only when it verified. A wrong key decrypts
    /// to garbage or to a HASH that does not verify: counted once per distinct message and
    /// reported, and the SA waits for a good one until it times out (a forged message cannot
    /// end a genuine negotiation).
    fn open_authenticated(
        &mut self,
        cx: &mut Cx<'_>,
        remote: SocketAddr,
        raw: &[u8],
    ) -> Result<crate::cipher::Opened, Error> {
        let (Some(cipher), Some(ivs), Some(keys), Some(hs)) =
            (&self.cipher, &self.ivs, &self.keys, &self.hs)
        else {
            return Err(Error::UnknownSa);
        };
        let responder = !self.initiator;
        let verified = cipher.open_message(&ivs.iv(0), raw).and_then(|(_, o)| {
            let first = o
                .payloads
                .first()
                .map_or(PayloadType::NONE, Payload::payload_type);
            let id_b = raw_body(first, &o.chain, PayloadType::ID)
                .ok_or(Error::Malformed("Main Mode message 5 or 6 without ID"))?;
            let hash = o
                .payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Hash(h) => Some(h.as_slice()),
                    _ => None,
                })
                .ok_or(Error::Malformed("Main Mode message 5 or 6 without HASH"))?;
            if responder {
                keys.verify_hash_i(&hs.sai_b, id_b, hash)?;
            } else {
                keys.verify_hash_r(&hs.sai_b, id_b, hash)?;
            }
            Ok(o)
        });
        match verified {
            Ok(o) => {
                if let Some(ivs) = &mut self.ivs {
                    ivs.advance(0, o.next_iv);
                }
                Ok(o)
            }
            Err(e) => {
                cx.counters.auth_failures += 1;
                self.last_rx = raw.to_vec();
                self.last_tx.clear();
                cx.event(Event::Refused {
                    sa: Some(self.id),
                    remote,
                    reason: NotifyType::INVALID_HASH_INFORMATION,
                });
                Err(e)
            }
        }
    }

    fn responder_mm5(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
    ) -> Result<MmOutcome, Error> {
        let o = self.open_authenticated(cx, remote, raw)?;
        let peer_id = o
            .payloads
            .iter()
            .find_map(|p| match p {
                Payload::Id(id) => Some(id.clone()),
                _ => None,
            })
            .ok_or(Error::Malformed("message 5 without ID"))?;
        self.peer_initial_contact = o.payloads.iter().any(
            |p| matches!(p, Payload::Notify(n) if n.notify_type == NotifyType::INITIAL_CONTACT),
        );
        if local.port() == NAT_T_PORT {
            self.local = local;
            self.remote = remote;
        }
        let id = IdPayload::ip(self.local.ip()).with_protocol(17, 500);
        let idir_b = id.to_body();
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        let hs = self.hs.as_ref().ok_or(Error::UnknownSa)?;
        let hash_r = keys.hash_r(&hs.sai_b, &idir_b)?;
        let bytes = self.seal(&self.message(
            ExchangeType::MAIN_MODE,
            0,
            vec![Payload::Id(id), Payload::Hash(hash_r)],
        ))?;
        self.send(cx, &bytes);
        self.last_rx = raw.to_vec();
        self.last_tx = bytes;
        self.retx = None;
        self.peer_id = Some(peer_id);
        self.up(now, cx)?;
        Ok(MmOutcome { established: true })
    }

    fn initiator_mm6(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
    ) -> Result<MmOutcome, Error> {
        let remote = self.remote;
        let o = self.open_authenticated(cx, remote, raw)?;
        self.peer_id = o.payloads.iter().find_map(|p| match p {
            Payload::Id(id) => Some(id.clone()),
            _ => None,
        });
        self.last_rx = raw.to_vec();
        self.last_tx.clear();
        self.retx = None;
        self.up(now, cx)?;
        Ok(MmOutcome { established: true })
    }

    /// Main Mode is done: lifetimes, keepalives, DPD, the event.
    fn up(&mut self, now: Instant, cx: &mut Cx<'_>) -> Result<(), Error> {
        let suite = self.suite.ok_or(Error::UnknownSa)?;
        self.phase = Phase::Up;
        self.established = Some(now);
        self.expire_at = Some(now + suite.lifetime);
        self.rekey_at = if self.initiator {
            Some(cx.rekey_at(now, suite.lifetime, false)?)
        } else {
            None
        };
        self.hs = None;
        if self.nat && self.behind_nat {
            self.keepalive_at = Some(now + cx.cfg.nat_keepalive);
        }
        self.dpd.last_activity = Some(now);
        self.dpd.seq = cx.random_u32()? & 0x7fff_ffff;
        cx.counters.isakmp_sas_established += 1;
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        cx.event(Event::IsakmpUp {
            sa: self.id,
            local: self.local,
            remote: self.remote,
            initiator: self.initiator,
            cookie_i: self.cookie_i,
            cookie_r: self.cookie_r,
            suite,
            peer_id: self
                .peer_id
                .clone()
                .unwrap_or_else(|| IdPayload::ip(self.remote.ip())),
            keys: Box::new(Phase1KeyLog {
                cookie_i: self.cookie_i,
                encryption_key: Secret::from_slice(keys.encryption_key().as_bytes()),
            }),
            nat: self.nat,
            behind_nat: self.behind_nat,
            replaces: self.replaces,
        });
        Ok(())
    }
}

/// The body of the (first) Nonce payload, 8–256 bytes (RFC 2409 §5).
pub(crate) fn nonce_of(payloads: &[Payload]) -> Result<Vec<u8>, Error> {
    let n = payloads
        .iter()
        .find_map(|p| match p {
            Payload::Nonce(n) => Some(n.clone()),
            _ => None,
        })
        .ok_or(Error::Malformed("no Nonce payload"))?;
    if !(8..=256).contains(&n.len()) {
        return Err(Error::Malformed("a nonce of 8 to 256 bytes"));
    }
    Ok(n)
}

/// The first payload type of a cleartext message.
fn raw_first(raw: &[u8]) -> PayloadType {
    raw.get(16).map_or(PayloadType::NONE, |b| PayloadType(*b))
}

/// The payload chain of a cleartext message (after the header, up to its Length).
fn raw_chain(raw: &[u8]) -> &[u8] {
    let len = raw
        .get(24..28)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| {
            usize::try_from(u32::from_be_bytes(b)).unwrap_or(usize::MAX)
        });
    raw.get(crate::wire::HEADER_LEN..len.min(raw.len()))
        .unwrap_or(&[])
}
