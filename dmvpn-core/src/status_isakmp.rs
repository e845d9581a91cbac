//! `show crypto isakmp sa`: the IKEv1 (ISAKMP) SAs of a node as rows ([`IsakmpSaRow`]) and
//! as IOS 15's text ([`show_crypto_isakmp_sa`]). The node fills the rows from its IKEv1
//! machine; this module only names the states and lays them out.
//!
//! The layout is IOS 15's as Cisco documents it (the seeds show only the older 12.x table,
//! seed 002's `dst src state conn-id slot`, with its white space collapsed): an IPv4 table
//! under `IPv4 Crypto ISAKMP SA` with the columns `dst` and `src` 16 characters wide, `state`
//! 15, `conn-id` right-aligned in 7, then `status`; a blank line; then `IPv6 Crypto ISAKMP
//! SA` and a blank line, each IPv6 SA as three lines (`dst: A`, `src: A`, `state: S
//! conn-id: N status: S`: an IPv6 address does not fit the columns), followed by a blank
//! line. Addresses are printed as the rest of the node's `show` output prints them (IPv6 in
//! lower case, RFC 5952). Rows print in the order given: the caller sorts them (the node by
//! conn-id), so that identical state gives identical text.
//!
//! ```
//! use dmvpn_core::{IsakmpSaRow, IsakmpSaState, IsakmpSaStatus, show_crypto_isakmp_sa};
//!
//! let row = IsakmpSaRow {
//!     dst: "172.17.63.19".parse()?,
//!     src: "172.16.175.76".parse()?,
//!     state: IsakmpSaState::QmIdle,
//!     conn_id: 1001,
//!     status: IsakmpSaStatus::Active,
//! };
//! let text = show_crypto_isakmp_sa(&[row]);
//! assert!(text.contains("172.17.63.19    172.16.175.76   QM_IDLE           1001 ACTIVE\n"));
//! # Ok::<(), std::net::AddrParseError>(())
//! ```

use core::fmt::{self, Write as _};
use std::net::IpAddr;

/// The state of an ISAKMP SA as IOS names it (Main Mode, then Quick Mode's idle state; the
/// node never uses Aggressive Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsakmpSaState {
    /// `MM_NO_STATE`: created, no proposal agreed yet (or the negotiation failed).
    MmNoState,
    /// `MM_SA_SETUP`: the proposal is agreed (Main Mode messages 1 and 2), no key exchange
    /// yet.
    MmSaSetup,
    /// `MM_KEY_EXCH`: the Diffie-Hellman values and nonces are exchanged (messages 3 and 4),
    /// the peer not yet authenticated.
    MmKeyExch,
    /// `MM_KEY_AUTH`: the peer is authenticated (messages 5 and 6).
    MmKeyAuth,
    /// `QM_IDLE`: established, ready for Quick Mode.
    QmIdle,
}

impl fmt::Display for IsakmpSaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsakmpSaState::MmNoState => "MM_NO_STATE",
            IsakmpSaState::MmSaSetup => "MM_SA_SETUP",
            IsakmpSaState::MmKeyExch => "MM_KEY_EXCH",
            IsakmpSaState::MmKeyAuth => "MM_KEY_AUTH",
            IsakmpSaState::QmIdle => "QM_IDLE",
        })
    }
}

/// The `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsakmpSaStatus {
    /// `ACTIVE`: in use or in negotiation.
    Active,
    /// `DELETED`: being deleted (a failed negotiation, a deleted or expired SA).
    Deleted,
}

impl fmt::Display for IsakmpSaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsakmpSaStatus::Active => "ACTIVE",
            IsakmpSaStatus::Deleted => "DELETED",
        })
    }
}

/// One ISAKMP SA of `show crypto isakmp sa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IsakmpSaRow {
    /// `dst`: the responder's address (the peer's, when this node initiated).
    pub dst: IpAddr,
    /// `src`: the initiator's address.
    pub src: IpAddr,
    /// `state`.
    pub state: IsakmpSaState,
    /// `conn-id`: the SA's connection number.
    pub conn_id: u32,
    /// `status`.
    pub status: IsakmpSaStatus,
}

/// `show crypto isakmp sa`: the IPv4 SAs, then the IPv6 ones (a row's family is its `dst`'s),
/// each in the order given.
pub fn show_crypto_isakmp_sa(rows: &[IsakmpSaRow]) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = write_isakmp_sa(&mut s, rows);
    s
}

fn write_isakmp_sa(s: &mut String, rows: &[IsakmpSaRow]) -> fmt::Result {
    writeln!(s, "IPv4 Crypto ISAKMP SA")?;
    writeln!(
        s,
        "{:<15} {:<15} {:<14} {:>7} status",
        "dst", "src", "state", "conn-id"
    )?;
    for r in rows.iter().filter(|r| r.dst.is_ipv4()) {
        writeln!(
            s,
            "{:<15} {:<15} {:<14} {:>7} {}",
            r.dst.to_string(),
            r.src.to_string(),
            r.state.to_string(),
            r.conn_id,
            r.status
        )?;
    }
    writeln!(s)?;
    writeln!(s, "IPv6 Crypto ISAKMP SA")?;
    writeln!(s)?;
    for r in rows.iter().filter(|r| r.dst.is_ipv6()) {
        writeln!(s, "dst: {}", r.dst)?;
        writeln!(s, "src: {}", r.src)?;
        writeln!(
            s,
            "state: {:<15} conn-id: {:>6} status: {}",
            r.state.to_string(),
            r.conn_id,
            r.status
        )?;
        writeln!(s)?;
    }
    Ok(())
}

impl IsakmpSaRow {
    /// The row of an ISAKMP SA of the node's IKEv1 machine: `dst` the responder, `src` the
    /// initiator, the SA's number as conn-id.
    pub fn of(st: &dmvpn_ikev1::IsakmpSaStatus) -> IsakmpSaRow {
        use dmvpn_ikev1::IsakmpState as S;
        let (dst, src) = if st.initiator {
            (st.remote.ip(), st.local.ip())
        } else {
            (st.local.ip(), st.remote.ip())
        };
        let (state, status) = match st.state {
            S::MmNoState => (IsakmpSaState::MmNoState, IsakmpSaStatus::Active),
            S::MmSaSetup => (IsakmpSaState::MmSaSetup, IsakmpSaStatus::Active),
            S::MmKeyExch => (IsakmpSaState::MmKeyExch, IsakmpSaStatus::Active),
            S::QmIdle => (IsakmpSaState::QmIdle, IsakmpSaStatus::Active),
            S::Deleted => (IsakmpSaState::MmNoState, IsakmpSaStatus::Deleted),
        };
        IsakmpSaRow {
            dst,
            src,
            state,
            conn_id: u32::try_from(st.sa.0).unwrap_or(u32::MAX),
            status,
        }
    }
}

impl crate::Node {
    /// The rows of `show crypto isakmp sa`: every ISAKMP SA of the node's IKEv1 crypto
    /// groups, by group and then by conn-id.
    pub fn isakmp_sa_rows(&self, now: std::time::Instant) -> Vec<IsakmpSaRow> {
        self.crypto_status(now)
            .iter()
            .flat_map(|g| g.isakmp_sas.iter().map(IsakmpSaRow::of))
            .collect()
    }

    /// `show crypto isakmp sa`.
    pub fn show_crypto_isakmp_sa(&self, now: std::time::Instant) -> String {
        show_crypto_isakmp_sa(&self.isakmp_sa_rows(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dst: &str, src: &str, state: IsakmpSaState, conn_id: u32) -> IsakmpSaRow {
        IsakmpSaRow {
            dst: dst.parse().unwrap(),
            src: src.parse().unwrap(),
            state,
            conn_id,
            status: IsakmpSaStatus::Active,
        }
    }

    /// Seed 002's `show crypto isakmp sa` (Step 8), as the seed prints it.
    const SEED_002: &str = "\
Router# show crypto isakmp sa
dst src state conn-id slot
172.17.63.19 172.16.175.76 QM_IDLE 2 0
172.17.63.19 172.17.63.20 QM_IDLE 1 0
172.16.175.75 172.17.63.19 QM_IDLE 3 0
";

    #[test]
    fn the_seeds_sas_print_in_ios_15_columns() {
        let rows: Vec<IsakmpSaRow> = SEED_002
            .lines()
            .skip(2)
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(w[2], "QM_IDLE");
                row(w[0], w[1], IsakmpSaState::QmIdle, w[3].parse().unwrap())
            })
            .collect();
        let text = show_crypto_isakmp_sa(&rows);
        assert_eq!(
            text,
            "\
IPv4 Crypto ISAKMP SA
dst             src             state          conn-id status
172.17.63.19    172.16.175.76   QM_IDLE              2 ACTIVE
172.17.63.19    172.17.63.20    QM_IDLE              1 ACTIVE
172.16.175.75   172.17.63.19    QM_IDLE              3 ACTIVE

IPv6 Crypto ISAKMP SA

"
        );
        // Word for word, every row is the seed's but for IOS 15's status in place of 12.x's
        // slot.
        let ours: Vec<Vec<&str>> = text
            .lines()
            .skip(2)
            .take(3)
            .map(|l| l.split_whitespace().collect())
            .collect();
        for (o, seed) in ours.iter().zip(SEED_002.lines().skip(2)) {
            let seed: Vec<&str> = seed.split_whitespace().collect();
            assert_eq!(o[..4], seed[..4]);
        }
        // The header's words: 12.x's with `slot` replaced by `status`.
        let header = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>();
        assert_eq!(header, ["dst", "src", "state", "conn-id", "status"]);
    }

    #[test]
    fn states_statuses_and_the_ipv6_section() {
        let names: Vec<String> = [
            IsakmpSaState::MmNoState,
            IsakmpSaState::MmSaSetup,
            IsakmpSaState::MmKeyExch,
            IsakmpSaState::MmKeyAuth,
            IsakmpSaState::QmIdle,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            names,
            [
                "MM_NO_STATE",
                "MM_SA_SETUP",
                "MM_KEY_EXCH",
                "MM_KEY_AUTH",
                "QM_IDLE"
            ]
        );
        let mut v6 = row("2001:db8::1", "2001:db8::2", IsakmpSaState::MmKeyExch, 1002);
        v6.status = IsakmpSaStatus::Deleted;
        let rows = [
            v6,
            row(
                "255.255.255.255",
                "10.0.0.1",
                IsakmpSaState::MmNoState,
                4_294_967_295,
            ),
        ];
        assert_eq!(
            show_crypto_isakmp_sa(&rows),
            "\
IPv4 Crypto ISAKMP SA
dst             src             state          conn-id status
255.255.255.255 10.0.0.1        MM_NO_STATE    4294967295 ACTIVE

IPv6 Crypto ISAKMP SA

dst: 2001:db8::1
src: 2001:db8::2
state: MM_KEY_EXCH     conn-id:   1002 status: DELETED

"
        );
        assert_eq!(
            show_crypto_isakmp_sa(&[]),
            "IPv4 Crypto ISAKMP SA\ndst             src             state          conn-id status\n\nIPv6 Crypto ISAKMP SA\n\n"
        );
    }
}
