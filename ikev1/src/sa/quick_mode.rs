//! Quick Mode (RFC 2409 §5.5), both roles, with and without PFS, transport and tunnel mode,
//! UDP-encapsulated modes and NAT-OA under NAT-T (RFC 3947 §5), RESPONDER-LIFETIME (RFC 2407
//! §4.6.3.1) and the commit bit (RFC 2408 §3.1, §4.12).
//!
//! ```text
//! I -> R  HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] [, NAT-OAi, NAT-OAr]
//! R -> I  HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, NAT-OAi, NAT-OAr] [, N(RESPONDER-LIFETIME)]
//! I -> R  HDR*, HASH(3)
//! ```
//!
//! The initiator installs the two ESP SAs when it sends message 3 (or, if the responder set
//! the commit bit, when its CONNECTED notification arrives); the responder when message 3's
//! HASH(3) verifies.

use core::net::IpAddr;
use std::time::{Duration, Instant};

use dmvpn_esp::{Lifetime as EspLifetime, Lifetimes, Mode, SaConfig, Suite};
use dmvpn_ikev2::ChildSaUp;
use dmvpn_ikev2::crypto::KeyExchange;
use dmvpn_ikev2::wire::TrafficSelector;

use crate::algorithm::{esp_suite, esp_transform};
use crate::config::{EspTransform, is_legacy_group};
use crate::event::Event;
use crate::keys::{QuickModeKeys, split_hash};
use crate::wire::{
    EncapsulationMode, EspTransformId, ExchangeType, GroupDescription, IdPayload, IdValue,
    IpsecAttributes, LifeType, Lifetime, NatOaPayload, NatTNumbering, NotifyPayload, NotifyType,
    Payload, Proposal, ProtocolId, SaPayload, Transform,
};
use crate::{Error, Secret};

use super::main_mode::nonce_of;
use super::{Child, Cx, IsakmpSa, NONCE_LEN, Retx, linger};

/// How long the IPsec SA pair replaced by our rekey stays for the peer's packets in flight.
const REKEY_GRACE: Duration = Duration::from_secs(3);

/// A Quick Mode to run: its IDs (ours, the peer's) and the IPsec SA it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QmRequest {
    pub ids: (IdPayload, IdPayload),
    pub rekey_of: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QmState {
    /// Initiator: message 1 sent.
    Sent1,
    /// Initiator: message 3 sent, waiting for CONNECTED (commit bit).
    AwaitConnected,
    /// Responder: message 2 sent.
    Sent2,
    /// Finished: kept to answer retransmissions until `linger_until`.
    Done,
}

/// One Quick Mode exchange in progress (or just finished).
pub(crate) struct Qm {
    pub mid: u32,
    pub initiator: bool,
    pub state: QmState,
    pub ids: (IdPayload, IdPayload),
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub ke: Option<Box<dyn KeyExchange>>,
    pub spi_in: Option<u32>,
    pub rekey_of: Option<u32>,
    /// The responder's choice and keys, waiting for message 3 / CONNECTED.
    pub ready: Option<(EspTransform, u32, QuickModeKeys, Duration, Option<u64>)>,
    pub installed: bool,
    pub last_rx: Vec<u8>,
    pub last_tx: Vec<u8>,
    pub retx: Option<Retx>,
    pub linger_until: Option<Instant>,
}

impl Qm {
    pub fn deadline(&self) -> Option<Instant> {
        match (self.retx.as_ref().map(|r| r.next), self.linger_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The encapsulation mode attribute of a mode, under NAT-T or not.
fn encapsulation(mode: Mode, nat: Option<NatTNumbering>) -> EncapsulationMode {
    match (mode, nat) {
        (Mode::Transport, None) => EncapsulationMode::TRANSPORT,
        (Mode::Tunnel, None) => EncapsulationMode::TUNNEL,
        (Mode::Transport, Some(NatTNumbering::Rfc3947)) => EncapsulationMode::UDP_TRANSPORT,
        (Mode::Tunnel, Some(NatTNumbering::Rfc3947)) => EncapsulationMode::UDP_TUNNEL,
        (Mode::Transport, Some(_)) => EncapsulationMode::UDP_TRANSPORT_DRAFT,
        (Mode::Tunnel, Some(_)) => EncapsulationMode::UDP_TUNNEL_DRAFT,
    }
}

/// An ESP transform of ours as offered.
fn offer(
    number: u8,
    t: &EspTransform,
    nat: Option<NatTNumbering>,
    pfs: Option<GroupDescription>,
    lifetime: Duration,
    kb: Option<u64>,
) -> Transform {
    let (id, bits, auth) = esp_transform(&t.suite);
    let mut lifetimes = vec![Lifetime::seconds(lifetime.as_secs())];
    if let Some(kb) = kb {
        lifetimes.push(Lifetime {
            life_type: LifeType::KILOBYTES,
            duration: kb,
        });
    }
    Transform::esp(
        number,
        id,
        &IpsecAttributes {
            encapsulation: Some(encapsulation(t.mode, nat)),
            lifetimes,
            group: pfs,
            auth_algorithm: auth,
            key_length: bits,
            ..IpsecAttributes::default()
        },
    )
}

/// What an offered ESP transform is: suite, mode, PFS group and lifetimes.
struct Offered {
    transform: EspTransform,
    group: Option<GroupDescription>,
    seconds: Option<u64>,
    kilobytes: Option<u64>,
}

fn read_offer(t: &Transform) -> Option<Offered> {
    let a = t.ipsec_attributes().ok()?;
    if a.key_rounds.is_some() || !a.other.is_empty() {
        return None;
    }
    let suite = esp_suite(
        EspTransformId(t.transform_id),
        a.key_length,
        a.auth_algorithm,
    )
    .ok()?;
    let enc = a.encapsulation.unwrap_or(EncapsulationMode::TUNNEL);
    let mode = if enc.is_transport() {
        Mode::Transport
    } else if enc.is_tunnel() {
        Mode::Tunnel
    } else {
        return None;
    };
    let of = |ty: LifeType| {
        a.lifetimes
            .iter()
            .find(|l| l.life_type == ty)
            .map(|l| l.duration)
    };
    Some(Offered {
        transform: EspTransform { suite, mode },
        group: a.group,
        seconds: of(LifeType::SECONDS),
        kilobytes: of(LifeType::KILOBYTES),
    })
}

/// A traffic selector for an ID (its protocol, all ports if the port is 0).
pub(crate) fn id_to_ts(id: &IdPayload) -> Option<TrafficSelector> {
    let (start, end): (IpAddr, IpAddr) = match id.value().ok()? {
        IdValue::Ipv4(a) => (a.into(), a.into()),
        IdValue::Ipv6(a) => (a.into(), a.into()),
        IdValue::Ipv4Subnet(a, m) => {
            let (a, m) = (u32::from(a), u32::from(m));
            (IpAddr::V4((a & m).into()), IpAddr::V4((a | !m).into()))
        }
        IdValue::Ipv6Subnet(a, m) => {
            let (a, m) = (u128::from(a), u128::from(m));
            (IpAddr::V6((a & m).into()), IpAddr::V6((a | !m).into()))
        }
        IdValue::Ipv4Range(a, b) => (a.into(), b.into()),
        IdValue::Ipv6Range(a, b) => (a.into(), b.into()),
        _ => return None,
    };
    let (start_port, end_port) = if id.port == 0 {
        (0, u16::MAX)
    } else {
        (id.port, id.port)
    };
    Some(TrafficSelector::Range {
        ip_protocol: id.protocol_id,
        start_port,
        end_port,
        start,
        end,
    })
}

impl IsakmpSa {
    /// Starts a Quick Mode (initiator): message 1.
    pub fn start_quick_mode(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        req: QmRequest,
    ) -> Result<u32, Error> {
        if !self.is_up() {
            return Err(Error::UnknownSa);
        }
        let mut mid = 0;
        for _ in 0..16 {
            let m = cx.random_u32()?;
            if m != 0 && !self.quick.iter().any(|q| q.mid == m) {
                mid = m;
                break;
            }
        }
        if mid == 0 {
            return Err(Error::Dropped("no free message ID"));
        }
        let spi_in = cx.new_spi()?;
        let ni = cx.random(NONCE_LEN)?;
        let ke = match cx.cfg.pfs {
            Some(g) => {
                if is_legacy_group(g) {
                    cx.event(Event::LegacyGroup {
                        sa: self.id,
                        group: g,
                        pfs: true,
                    });
                }
                Some(crate::algorithm::start_key_exchange(&cx.cfg.provider, g)?)
            }
            None => None,
        };
        let nat = if self.nat { self.nat_t } else { None };
        let transforms = cx
            .cfg
            .transforms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                offer(
                    u8::try_from(i + 1).unwrap_or(u8::MAX),
                    t,
                    nat,
                    cx.cfg.pfs,
                    cx.cfg.ipsec_lifetime,
                    cx.cfg.ipsec_lifetime_kb,
                )
            })
            .collect();
        let sa = SaPayload::ipsec(vec![Proposal {
            number: 1,
            protocol_id: ProtocolId::ESP,
            spi: spi_in.to_be_bytes().to_vec(),
            transforms,
        }]);
        let mut rest = vec![Payload::Sa(sa), Payload::Nonce(ni.clone())];
        if let Some(ke) = &ke {
            rest.push(Payload::Ke(ke.public_value().to_vec()));
        }
        rest.push(Payload::Id(req.ids.0.clone()));
        rest.push(Payload::Id(req.ids.1.clone()));
        self.push_nat_oa(&mut rest, req.ids.0.as_ip(), req.ids.1.as_ip(), cx);
        let bytes = self.seal_hashed(ExchangeType::QUICK_MODE, mid, rest, |k, after| {
            k.quick_mode_hash1(mid, after)
        })?;
        self.send(cx, &bytes);
        self.quick.push(Qm {
            mid,
            initiator: true,
            state: QmState::Sent1,
            ids: req.ids,
            ni,
            nr: Vec::new(),
            ke,
            spi_in: Some(spi_in),
            rekey_of: req.rekey_of,
            ready: None,
            installed: false,
            last_rx: Vec::new(),
            last_tx: Vec::new(),
            retx: Some(Retx::new(cx.cfg, now, bytes)),
            linger_until: None,
        });
        Ok(mid)
    }

    /// NAT-OAi and NAT-OAr in transport mode under NAT (RFC 3947 §5.2): the original
    /// addresses, for peers that fix up transport checksums.
    fn push_nat_oa(
        &self,
        rest: &mut Vec<Payload>,
        i: Option<IpAddr>,
        r: Option<IpAddr>,
        cx: &Cx<'_>,
    ) {
        let Some(n) = self.nat_t.filter(|_| self.nat) else {
            return;
        };
        if !cx.cfg.transforms.iter().any(|t| t.mode == Mode::Transport) {
            return;
        }
        for a in [i, r].into_iter().flatten() {
            let mut oa = NatOaPayload::new(a);
            oa.numbering = n;
            rest.push(Payload::NatOa(oa));
        }
    }

    /// A Quick Mode message (encrypted) for this SA.
    pub fn handle_quick_mode(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
        mid: u32,
    ) -> Result<(), Error> {
        if let Some(q) = self.quick.iter().find(|q| q.mid == mid)
            && raw == q.last_rx.as_slice()
        {
            if !q.last_tx.is_empty() {
                cx.counters.retransmits_answered += 1;
                let tx = q.last_tx.clone();
                self.send(cx, &tx);
            }
            return Ok(());
        }
        let (Some(cipher), Some(ivs), Some(keys)) = (&self.cipher, &self.ivs, &self.keys) else {
            return Err(Error::UnknownSa);
        };
        let (header, o) = cipher.open_message(&ivs.iv(mid), raw)?;
        let first = o
            .payloads
            .first()
            .map_or(crate::wire::PayloadType::NONE, Payload::payload_type);
        let (hash, after) = split_hash(first, &o.chain)?;
        let idx = self.quick.iter().position(|q| q.mid == mid);
        let qstate = idx
            .and_then(|i| self.quick.get(i))
            .map(|q| (q.state, q.initiator));
        let ok = match qstate {
            None => keys.verify_hash1(mid, after, hash),
            Some((QmState::Sent1, true)) => {
                let ni = idx
                    .and_then(|i| self.quick.get(i))
                    .map(|q| q.ni.clone())
                    .unwrap_or_default();
                keys.verify_hash2(mid, &ni, after, hash)
            }
            Some((QmState::Sent2, false)) => {
                let q = idx
                    .and_then(|i| self.quick.get(i))
                    .ok_or(Error::UnknownSa)?;
                if !after.is_empty() {
                    return Err(Error::Malformed(
                        "Quick Mode message 3 with more than HASH(3)",
                    ));
                }
                keys.verify_hash3(mid, &q.ni, &q.nr, hash)
            }
            _ => {
                return Err(Error::Dropped(
                    "Quick Mode message unexpected in this state",
                ));
            }
        };
        if let Err(e) = ok {
            cx.counters.hash_failures += 1;
            return Err(e);
        }
        if let Some(ivs) = &mut self.ivs {
            ivs.advance(mid, o.next_iv);
        }
        self.dpd.last_activity = Some(now);
        let payloads: Vec<Payload> = o.payloads.into_iter().skip(1).collect();
        match (qstate, idx) {
            (None, _) => self.respond_qm1(now, cx, raw, mid, &payloads),
            (Some((QmState::Sent1, _)), Some(i)) => {
                self.initiator_qm2(now, cx, raw, i, &payloads, header.flags.commit())
            }
            (Some((QmState::Sent2, _)), Some(i)) => self.responder_qm3(now, cx, raw, i),
            _ => Err(Error::Dropped("Quick Mode state")),
        }
    }

    fn respond_qm1(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), Error> {
        let refuse = |sa: &mut IsakmpSa, cx: &mut Cx<'_>, reason: NotifyType, spi: &[u8]| {
            cx.counters.no_proposal_chosen += u64::from(reason == NotifyType::NO_PROPOSAL_CHOSEN);
            cx.event(Event::Refused {
                sa: Some(sa.id),
                remote: sa.remote,
                reason,
            });
            let _ = sa.send_notify(cx, NotifyPayload::new(ProtocolId::ESP, spi, reason, &[]));
            if let Some(ivs) = &mut sa.ivs {
                ivs.forget(mid);
            }
        };
        let Some(Payload::Sa(sa)) = payloads.iter().find(|p| matches!(p, Payload::Sa(_))) else {
            return Err(Error::Malformed("Quick Mode message 1 without SA"));
        };
        let ni = nonce_of(payloads)?;
        let ke_i = payloads.iter().find_map(|p| match p {
            Payload::Ke(k) => Some(k.clone()),
            _ => None,
        });
        let ids: Vec<&IdPayload> = payloads
            .iter()
            .filter_map(|p| match p {
                Payload::Id(id) => Some(id),
                _ => None,
            })
            .collect();
        let (idci, idcr, ids_sent) = match ids.as_slice() {
            [] => (
                IdPayload::ip(self.remote.ip()),
                IdPayload::ip(self.local.ip()),
                false,
            ),
            [i, r] => ((*i).clone(), (*r).clone(), true),
            _ => {
                return Err(Error::Malformed(
                    "Quick Mode with other than zero or two IDs",
                ));
            }
        };
        // Choose: the first ESP proposal with a transform we have (in the initiator's order).
        let mut chosen = None;
        'outer: for prop in &sa.proposals {
            if prop.protocol_id != ProtocolId::ESP || prop.spi.len() != 4 {
                continue;
            }
            for t in &prop.transforms {
                let Some(o) = read_offer(t) else { continue };
                if !cx.cfg.transforms.contains(&o.transform) {
                    continue;
                }
                if ke_i.is_some() != o.group.is_some() {
                    continue;
                }
                if let Some(want) = cx.cfg.pfs
                    && o.group != Some(want)
                {
                    continue;
                }
                chosen = Some((prop, t, o));
                break 'outer;
            }
        }
        let first_spi = sa
            .proposals
            .first()
            .map(|p| p.spi.clone())
            .unwrap_or_default();
        let Some((prop, t, o)) = chosen else {
            refuse(self, cx, NotifyType::NO_PROPOSAL_CHOSEN, &first_spi);
            return Err(Error::NoProposalChosen(
                "no Quick Mode transform matches a transform set".into(),
            ));
        };
        if (self.nat && !self.nat_policy_ok(&idci, &idcr))
            || (!self.nat && !self.ids_ok(&idci, &idcr, o.transform.mode))
        {
            refuse(self, cx, NotifyType::INVALID_ID_INFORMATION, &prop.spi);
            return Err(Error::Dropped("Quick Mode IDs are not the two peers"));
        }
        if let Some(g) = o.group
            && is_legacy_group(g)
        {
            if !cx.cfg.allow_legacy_groups {
                refuse(self, cx, NotifyType::NO_PROPOSAL_CHOSEN, &prop.spi);
                return Err(Error::NoProposalChosen("legacy PFS group".into()));
            }
            cx.event(Event::LegacyGroup {
                sa: self.id,
                group: g,
                pfs: true,
            });
        }
        let spi_out = <[u8; 4]>::try_from(prop.spi.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| Error::Malformed("ESP SPI"))?;
        // Lifetimes: the shorter of theirs and ours; RESPONDER-LIFETIME if ours is shorter.
        let ours_s = cx.cfg.ipsec_lifetime.as_secs();
        let secs = o.seconds.map_or(ours_s, |s| s.min(ours_s)).max(1);
        let kb = match (o.kilobytes, cx.cfg.ipsec_lifetime_kb) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut told = Vec::new();
        if o.seconds.is_none_or(|s| s > secs) {
            told.push(Lifetime::seconds(secs));
        }
        if let (Some(k), Some(theirs)) = (kb, o.kilobytes)
            && theirs > k
        {
            told.push(Lifetime {
                life_type: LifeType::KILOBYTES,
                duration: k,
            });
        }
        let notify_attrs = if told.is_empty() {
            Vec::new()
        } else {
            IpsecAttributes {
                lifetimes: told,
                ..IpsecAttributes::default()
            }
            .to_attributes()
        };
        let spi_in = cx.new_spi()?;
        let nr = cx.random(NONCE_LEN)?;
        let (ke_r, g_qm) = match (o.group, &ke_i) {
            (Some(g), Some(pub_i)) => {
                let ke = crate::algorithm::start_key_exchange(&cx.cfg.provider, g)?;
                let s = ke.complete(pub_i).map_err(Error::KeyExchange)?;
                (Some(ke), Some(s))
            }
            _ => (None, None),
        };
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        let qk = keys.esp_keys(
            &o.transform.suite,
            spi_in,
            spi_out,
            g_qm.as_ref().map(Secret::as_bytes),
            &ni,
            &nr,
        )?;
        let answer = SaPayload {
            doi: sa.doi,
            situation: sa.situation,
            proposals: vec![Proposal {
                number: prop.number,
                protocol_id: ProtocolId::ESP,
                spi: spi_in.to_be_bytes().to_vec(),
                transforms: vec![t.clone()],
            }],
        };
        let mut rest = vec![Payload::Sa(answer), Payload::Nonce(nr.clone())];
        if let Some(ke) = &ke_r {
            rest.push(Payload::Ke(ke.public_value().to_vec()));
        }
        if ids_sent {
            rest.push(Payload::Id(idci.clone()));
            rest.push(Payload::Id(idcr.clone()));
        }
        if o.transform.mode == Mode::Transport {
            self.push_nat_oa(&mut rest, Some(self.remote.ip()), Some(self.local.ip()), cx);
        }
        if !notify_attrs.is_empty() {
            rest.push(Payload::Notify(NotifyPayload::responder_lifetime(
                ProtocolId::ESP,
                &spi_in.to_be_bytes(),
                &notify_attrs,
            )?));
        }
        let ni_c = ni.clone();
        let bytes = self.seal_hashed(ExchangeType::QUICK_MODE, mid, rest, |k, after| {
            k.quick_mode_hash2(mid, &ni_c, after)
        })?;
        self.send(cx, &bytes);
        let ours = (idcr, idci);
        let rekey_of = self
            .children
            .iter()
            .find(|c| c.ids == ours && !c.rekeying)
            .map(|c| c.spi_in);
        self.quick.push(Qm {
            mid,
            initiator: false,
            state: QmState::Sent2,
            ids: ours,
            ni,
            nr,
            ke: None,
            spi_in: Some(spi_in),
            rekey_of,
            ready: Some((o.transform, spi_out, qk, Duration::from_secs(secs), kb)),
            installed: false,
            last_rx: raw.to_vec(),
            last_tx: bytes.clone(),
            retx: Some(Retx::new(cx.cfg, now, bytes)),
            linger_until: None,
        });
        Ok(())
    }

    /// Without a NAT, the IDs of a transport-mode Quick Mode must be the two peers (a peer
    /// may not claim another host's traffic); tunnel-mode IDs are the caller's to check
    /// (`ChildSaUp`'s selectors).
    fn ids_ok(&self, idci: &IdPayload, idcr: &IdPayload, mode: Mode) -> bool {
        mode == Mode::Tunnel
            || (idci.as_ip() == Some(self.remote.ip()) && idcr.as_ip() == Some(self.local.ip()))
    }

    /// Behind a NAT, the IDs carry the private addresses: any single hosts are accepted in
    /// transport mode (the SA carries only the two peers' traffic whatever they say).
    fn nat_policy_ok(&self, idci: &IdPayload, idcr: &IdPayload) -> bool {
        idci.as_ip().is_some() && idcr.as_ip().is_some()
            || (id_to_ts(idci).is_some() && id_to_ts(idcr).is_some())
    }

    fn initiator_qm2(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
        i: usize,
        payloads: &[Payload],
        commit: bool,
    ) -> Result<(), Error> {
        let Some(Payload::Sa(sa)) = payloads.iter().find(|p| matches!(p, Payload::Sa(_))) else {
            return Err(Error::Malformed("Quick Mode message 2 without SA"));
        };
        let (Some(prop), 1) = (sa.proposals.first(), sa.proposals.len()) else {
            return Err(Error::Malformed("message 2 must carry one proposal"));
        };
        let (Some(t), 1) = (prop.transforms.first(), prop.transforms.len()) else {
            return Err(Error::Malformed("message 2 must carry one transform"));
        };
        let o = read_offer(t).ok_or(Error::NoProposalChosen(
            "the responder's transform is not one we offered".into(),
        ))?;
        if !cx.cfg.transforms.contains(&o.transform) || o.group != cx.cfg.pfs {
            return Err(Error::NoProposalChosen(
                "the responder's transform is not one we offered".into(),
            ));
        }
        let spi_out = <[u8; 4]>::try_from(prop.spi.as_slice())
            .map(u32::from_be_bytes)
            .map_err(|_| Error::Malformed("ESP SPI"))?;
        let nr = nonce_of(payloads)?;
        let q = self.quick.get(i).ok_or(Error::UnknownSa)?;
        let g_qm = match (
            &q.ke,
            payloads.iter().find_map(|p| match p {
                Payload::Ke(k) => Some(k),
                _ => None,
            }),
        ) {
            (Some(ke), Some(pub_r)) => Some(ke.complete(pub_r).map_err(Error::KeyExchange)?),
            (None, None) => None,
            _ => {
                return Err(Error::Malformed(
                    "KE in Quick Mode message 2 does not match PFS",
                ));
            }
        };
        // RESPONDER-LIFETIME lowers ours.
        let mut secs = cx.cfg.ipsec_lifetime.as_secs();
        let mut kb = cx.cfg.ipsec_lifetime_kb;
        for p in payloads {
            let Payload::Notify(n) = p else { continue };
            if let Some(Ok(attrs)) = n.responder_lifetime_attributes()
                && let Ok(a) = IpsecAttributes::parse(&attrs)
            {
                for l in a.lifetimes {
                    if l.life_type == LifeType::SECONDS {
                        secs = secs.min(l.duration).max(1);
                    } else if l.life_type == LifeType::KILOBYTES {
                        kb = Some(kb.map_or(l.duration, |k| k.min(l.duration)));
                    }
                }
            }
        }
        let spi_in = q.spi_in.ok_or(Error::UnknownSa)?;
        let keys = self.keys.as_ref().ok_or(Error::UnknownSa)?;
        let qk = keys.esp_keys(
            &o.transform.suite,
            spi_in,
            spi_out,
            g_qm.as_ref().map(Secret::as_bytes),
            &q.ni,
            &nr,
        )?;
        let h3 = keys.quick_mode_hash3(q.mid, &q.ni, &nr)?;
        let mid = q.mid;
        let msg = self.message(ExchangeType::QUICK_MODE, mid, vec![Payload::Hash(h3)]);
        let bytes = self.seal(&msg)?;
        self.send(cx, &bytes);
        let Some(q) = self.quick.get_mut(i) else {
            return Err(Error::UnknownSa);
        };
        q.nr = nr;
        q.ke = None;
        q.last_rx = raw.to_vec();
        q.last_tx = bytes;
        q.retx = None;
        q.ready = Some((o.transform, spi_out, qk, Duration::from_secs(secs), kb));
        if commit {
            // RFC 2408 §4.12: wait for the responder's CONNECTED before using the SAs.
            q.state = QmState::AwaitConnected;
            q.linger_until = Some(now + cx.cfg.half_open_timeout);
            return Ok(());
        }
        self.install(now, cx, i)
    }

    fn responder_qm3(
        &mut self,
        now: Instant,
        cx: &mut Cx<'_>,
        raw: &[u8],
        i: usize,
    ) -> Result<(), Error> {
        if let Some(q) = self.quick.get_mut(i) {
            q.last_rx = raw.to_vec();
            q.last_tx.clear();
            q.retx = None;
        }
        self.install(now, cx, i)
    }

    /// The commit bit's CONNECTED for a Quick Mode waiting for it.
    pub fn connected(&mut self, now: Instant, cx: &mut Cx<'_>, mid: u32) -> Result<(), Error> {
        let i = self
            .quick
            .iter()
            .position(|q| q.mid == mid && q.state == QmState::AwaitConnected)
            .ok_or(Error::Dropped("CONNECTED for no Quick Mode"))?;
        self.install(now, cx, i)
    }

    /// Installs a finished Quick Mode's SAs: `ChildUp`, the child recorded, the exchange
    /// kept a while for retransmissions.
    fn install(&mut self, now: Instant, cx: &mut Cx<'_>, i: usize) -> Result<(), Error> {
        let id = self.id;
        let (local, remote, nat) = (self.local, self.remote, self.nat);
        let Some(q) = self.quick.get_mut(i) else {
            return Err(Error::UnknownSa);
        };
        let Some((transform, spi_out, qk, secs, kb)) = q.ready.take() else {
            return Err(Error::UnknownSa);
        };
        q.state = QmState::Done;
        q.installed = true;
        q.linger_until = Some(now + linger());
        let initiator = q.initiator;
        let rekey_of = q.rekey_of;
        let ids = q.ids.clone();
        let spi_in = qk.inbound.spi;
        let bytes = kb.map(|k| k.saturating_mul(1024));
        let lifetimes = Lifetimes {
            soft: EspLifetime {
                time: None,
                bytes: bytes.map(|b| b - b / 10),
                packets: None,
            },
            hard: EspLifetime {
                time: Some(secs),
                bytes,
                packets: None,
            },
        };
        let sa_cfg = |spi: u32, k: dmvpn_esp::SaKeys, suite: Suite| {
            let mut s = SaConfig::new(spi, suite, k, cx.cfg.provider.esp.clone());
            s.mode = transform.mode;
            s.replay_window = cx.cfg.replay_window;
            s.lifetimes = lifetimes;
            s
        };
        let inbound = sa_cfg(spi_in, qk.inbound.keys, transform.suite);
        let outbound = sa_cfg(spi_out, qk.outbound.keys, transform.suite);
        let local_ts = id_to_ts(&ids.0).into_iter().collect();
        let remote_ts = id_to_ts(&ids.1).into_iter().collect();
        let rekey_at = Some(cx.rekey_at(now, secs, !initiator)?);
        self.children.push(Child {
            spi_in,
            spi_out,
            ids,
            rekey_at,
            expire_at: now + secs,
            delete_at: None,
            rekeying: false,
        });
        cx.counters.quick_modes += 1;
        cx.event(Event::ChildUp {
            sa: id,
            child: Box::new(ChildSaUp {
                inbound,
                outbound,
                local_ts,
                remote_ts,
                local,
                remote,
                udp_encap: nat,
            }),
            rekey_of,
        });
        if let Some(old) = rekey_of {
            if initiator {
                // Our rekey: the old pair goes shortly (strongSwan and IOS delete the
                // replaced SA once the new one is up). Not at once: the peer switches to the
                // new pair only when message 3 reaches it, so what it sent on the old one
                // before is still on its way to us.
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                    c.rekeying = true;
                    c.rekey_at = None;
                    c.delete_at = Some((now + REKEY_GRACE).min(c.expire_at));
                }
            } else if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                // The peer's rekey: the peer deletes the old pair when it is done with it
                // (or keeps it to its end, strongSwan's `delete_rekeyed = no`); we keep
                // receiving on it until then, and never rekey it again.
                c.rekeying = true;
                c.rekey_at = None;
            }
        }
        Ok(())
    }

    /// Quick Mode timers: retransmissions, give-ups, lingering exchanges forgotten.
    pub fn quick_timeouts(&mut self, now: Instant, cx: &mut Cx<'_>) {
        let mut failed = Vec::new();
        let mut resend = Vec::new();
        for q in &mut self.quick {
            if let Some(r) = &mut q.retx
                && r.next <= now
            {
                match r.fire(cx.cfg, now) {
                    Some(b) => resend.push(b),
                    None => {
                        q.retx = None;
                        failed.push(q.mid);
                    }
                }
            }
            if q.linger_until.is_some_and(|t| t <= now) {
                if q.state == QmState::AwaitConnected {
                    failed.push(q.mid);
                }
                q.linger_until = None;
                if q.retx.is_none() && !failed.contains(&q.mid) {
                    failed.push(q.mid);
                }
            }
        }
        for b in resend {
            cx.counters.retransmits += 1;
            self.send(cx, &b);
        }
        for mid in failed {
            self.drop_quick(cx, mid, true);
        }
    }

    /// Forgets a Quick Mode exchange; `report` a failure of ours (`ChildFailed`).
    pub fn drop_quick(&mut self, cx: &mut Cx<'_>, mid: u32, report: bool) {
        let Some(i) = self.quick.iter().position(|q| q.mid == mid) else {
            return;
        };
        let q = self.quick.swap_remove(i);
        if let Some(ivs) = &mut self.ivs {
            ivs.forget(mid);
        }
        if !q.installed {
            if let Some(spi) = q.spi_in {
                cx.esp_spis.remove(&spi);
            }
            if let Some(old) = q.rekey_of
                && let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old)
            {
                c.rekeying = false;
            }
            if report && q.initiator {
                cx.event(Event::ChildFailed {
                    sa: self.id,
                    error: NotifyType::NO_PROPOSAL_CHOSEN,
                });
            }
        }
    }

    /// A failure notification for our Quick Mode with this SPI (or the only one pending).
    pub fn quick_refused(&mut self, cx: &mut Cx<'_>, spi: &[u8], error: NotifyType) {
        let pending: Vec<&Qm> = self
            .quick
            .iter()
            .filter(|q| q.initiator && !q.installed)
            .collect();
        let by_spi = pending
            .iter()
            .find(|q| q.spi_in.map(|s| s.to_be_bytes().to_vec()) == Some(spi.to_vec()));
        let mid = match (by_spi, pending.as_slice()) {
            (Some(q), _) => Some(q.mid),
            (None, [only]) => Some(only.mid),
            _ => None,
        };
        if let Some(mid) = mid {
            self.drop_quick(cx, mid, false);
            cx.event(Event::ChildFailed { sa: self.id, error });
        }
    }

    /// Starts a rekey of the child with inbound SPI `spi` (same IDs).
    pub fn rekey_child(&mut self, now: Instant, cx: &mut Cx<'_>, spi: u32) -> Result<(), Error> {
        let c = self
            .children
            .iter_mut()
            .find(|c| c.spi_in == spi)
            .ok_or(Error::UnknownChild(spi))?;
        if c.rekeying {
            return Ok(());
        }
        c.rekeying = true;
        c.rekey_at = None;
        let ids = c.ids.clone();
        self.start_quick_mode(
            now,
            cx,
            QmRequest {
                ids,
                rekey_of: Some(spi),
            },
        )
        .map(|_| ())
    }

    /// Child timers: rekeys due, expiries.
    pub fn child_timeouts(&mut self, now: Instant, cx: &mut Cx<'_>) {
        let due: Vec<u32> = self
            .children
            .iter()
            .filter(|c| c.rekey_at.is_some_and(|t| t <= now) && !c.rekeying)
            .map(|c| c.spi_in)
            .collect();
        for spi in due {
            if self.rekey_child(now, cx, spi).is_err()
                && let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi)
            {
                c.rekey_at = None;
            }
        }
        let expired: Vec<u32> = self
            .children
            .iter()
            .filter(|c| c.expire_at <= now || c.delete_at.is_some_and(|t| t <= now))
            .map(|c| c.spi_in)
            .collect();
        if !expired.is_empty() {
            self.delete_children(now, cx, &expired);
        }
    }
}
