//! IPv4 fragmentation (RFC 791 §2.3 "Fragmentation" and §3.2, "An Example Fragmentation
//! Procedure"), and a minimal reassembler for tests and tools.
//!
//! [`Fragmenter`] cuts a packet too big for a link into fragments that each fit the link's MTU:
//!
//! - every fragment but the last carries a multiple of 8 data bytes (the offset field counts
//!   8-byte units) and has More Fragments set; the last keeps the original's MF, so that a
//!   fragment of a fragment stays correct, and every offset is the original's plus the
//!   fragment's position in the original's data;
//! - the first fragment carries the original header with all its options; the others carry only
//!   the options whose copied flag (the type's top bit) is set, padded with End of Options to a
//!   multiple of 4 (RFC 791 §3.1, "Options");
//! - identification, type of service, TTL, protocol, DF (clear: a packet with DF set is refused),
//!   the reserved flag and the addresses are the original's; each header gets its own total length and checksum.
//!
//! It does not allocate: it borrows the packet and writes one fragment at a time into a buffer
//! the caller reuses ([`Fragmenter::next_into`]).
//!
//! [`reassemble`] puts the fragments of one datagram back together (RFC 791 §3.2, "An Example
//! Reassembly Procedure", without the timer: it is handed the complete set).

use crate::{Error, be, checksum, ipv4};

/// The smallest MTU of an IPv4 link: every module forwards 68 bytes unfragmented (RFC 791
/// §3.1, "Total Length"; a 60-byte header and 8 bytes of data).
pub const MIN_MTU: usize = 68;

/// The MF bit and offset mask of the 16-bit flags/fragment-offset word.
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// The options of a header that later fragments carry: those with the copied flag, in order,
/// padded with End of Options (0) to a multiple of 4. A malformed option list (a length below 2
/// or beyond the options) ends the walk: what follows is not copied.
fn copied_options(options: &[u8]) -> ([u8; ipv4::MAX_OPTIONS_LEN], usize) {
    let mut out = [0u8; ipv4::MAX_OPTIONS_LEN];
    let mut len = 0;
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            // End of Option List.
            0 => break,
            // No Operation: one byte, never copied (its copied flag is clear).
            1 => at += 1,
            _ => {
                let Some(&l) = options.get(at + 1) else { break };
                let l = usize::from(l);
                let Some(opt) = options.get(at..at + l).filter(|_| l >= 2) else {
                    break;
                };
                if kind & 0x80 != 0
                    && let Some(dst) = out.get_mut(len..len + l)
                {
                    dst.copy_from_slice(opt);
                    len += l;
                }
                at += l;
            }
        }
    }
    (out, len.next_multiple_of(4))
}

/// Cuts one IPv4 packet into fragments that fit an MTU (see the [module docs](self)).
///
/// ```
/// use dmvpn_wire::fragment::{Fragmenter, reassemble};
/// use dmvpn_wire::ip::IpProtocol;
/// use dmvpn_wire::ipv4;
///
/// let ip = ipv4::Repr::new([192, 168, 1, 25].into(), [192, 168, 2, 37].into(), IpProtocol::UDP, 1480);
/// let mut packet = vec![0u8; ip.buffer_len()];
/// ip.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..])).unwrap();
///
/// let mut f = Fragmenter::new(&packet, 576).unwrap();
/// assert_eq!(f.count(), 3); // 552 + 552 + 376 data bytes
/// let mut frags = Vec::new();
/// let mut buf = Vec::new();
/// while f.next_into(&mut buf) {
///     assert!(buf.len() <= 576);
///     frags.push(buf.clone());
/// }
/// assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), packet);
/// ```
#[derive(Debug, Clone)]
pub struct Fragmenter<'a> {
    /// The original header.
    header: &'a [u8],
    /// The original's data, up to its total length.
    data: &'a [u8],
    /// What later fragments carry of the options.
    copied: [u8; ipv4::MAX_OPTIONS_LEN],
    copied_len: usize,
    /// The original's fragment offset (bytes) and MF flag.
    base: usize,
    more: bool,
    mtu: usize,
    /// The next data byte to send, and whether the last fragment was written.
    pos: usize,
    done: bool,
}

impl<'a> Fragmenter<'a> {
    /// A fragmenter of `packet` (a valid IPv4 packet; bytes beyond its total length are
    /// ignored) for links of `mtu` bytes. Errors: not IPv4 or inconsistent lengths
    /// ([`ipv4::Packet::check`]), Don't Fragment set ([`Error::DontFragment`]), an MTU that
    /// leaves no room for 8 data bytes behind the header ([`Error::MtuTooSmall`]).
    ///
    /// A packet that already fits is "fragmented" into one piece: itself.
    pub fn new(packet: &'a [u8], mtu: usize) -> Result<Fragmenter<'a>, Error> {
        let p = ipv4::Packet::new_checked(packet)?;
        if p.dont_fragment() {
            return Err(Error::DontFragment);
        }
        let hlen = p.header_len();
        let header = packet.get(..hlen).ok_or(Error::Truncated {
            needed: hlen,
            got: packet.len(),
        })?;
        let data = p.into_payload();
        let (copied, copied_len) = copied_options(p.options());
        // Later fragments' headers are never longer than the first's (the copied options are
        // some of the original's, and its options are a multiple of 4 long).
        let needed = hlen + 8;
        if mtu < needed && hlen + data.len() > mtu {
            return Err(Error::MtuTooSmall { mtu, needed });
        }
        let base = usize::from(p.fragment_offset());
        if base + data.len() > usize::from(u16::MAX) {
            // Beyond the largest datagram (RFC 791 §3.1): no valid fragment can say where it is.
            return Err(Error::TooLong(base + data.len()));
        }
        Ok(Fragmenter {
            header,
            data,
            copied,
            copied_len,
            base,
            more: p.more_fragments(),
            mtu,
            pos: 0,
            done: false,
        })
    }

    /// The header length of the fragment carrying data from `pos`.
    fn header_len_at(&self, pos: usize) -> usize {
        if pos == 0 {
            self.header.len()
        } else {
            ipv4::MIN_HEADER_LEN + self.copied_len
        }
    }

    /// Data bytes of the fragment starting at `pos`: all that is left if it fits, else the
    /// most that fits rounded down to a multiple of 8.
    fn data_len_at(&self, pos: usize) -> usize {
        let left = self.data.len().saturating_sub(pos);
        let room = self.mtu.saturating_sub(self.header_len_at(pos));
        if left <= room { left } else { room & !7 }
    }

    /// How many fragments the packet makes (1 if it fits).
    pub fn count(&self) -> usize {
        let mut pos = 0;
        let mut n = 0;
        // A fragment carries at least 8 bytes, so this ends after at most 8,192 rounds.
        loop {
            n += 1;
            let len = self.data_len_at(pos);
            if len == 0 || pos + len >= self.data.len() {
                return n;
            }
            pos += len;
        }
    }

    /// Writes the next fragment into `out` (cleared first; its capacity is reused) and returns
    /// `true`, or returns `false` when every fragment was written.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return false;
        }
        let pos = self.pos;
        let len = self.data_len_at(pos);
        let last = pos + len >= self.data.len();
        let Some(data) = self.data.get(pos..pos + len).filter(|_| len > 0 || last) else {
            // No room for data (never after `new`'s checks): stop rather than loop.
            self.done = true;
            return false;
        };
        self.pos = pos + len;
        self.done = last;
        out.clear();
        if pos == 0 {
            out.extend_from_slice(self.header);
        } else {
            out.extend_from_slice(self.header.get(..ipv4::MIN_HEADER_LEN).unwrap_or_default());
            out.extend_from_slice(self.copied.get(..self.copied_len).unwrap_or_default());
            // IHL of the shorter header.
            let ihl = (ipv4::MIN_HEADER_LEN + self.copied_len) / 4;
            if let Some(b) = out.first_mut() {
                *b = 0x40 | (ihl as u8 & 0x0f);
            }
        }
        let hlen = out.len();
        out.extend_from_slice(data);
        let total = u16::try_from(out.len()).unwrap_or(u16::MAX);
        let offset = ((self.base + pos) >> 3) as u16 & OFFSET_MASK;
        // DF (clear) and the reserved bit as they were; MF and the offset are this fragment's.
        let flags = be::u16(out, 6) & !(FLAG_MF | OFFSET_MASK);
        let mf = if last && !self.more { 0 } else { FLAG_MF };
        be::put_u16(out, 2, total);
        be::put_u16(out, 6, flags | mf | offset);
        be::put_u16(out, 10, 0);
        let c = checksum::checksum(out.get(..hlen).unwrap_or_default());
        be::put_u16(out, 10, c);
        true
    }
}

/// Puts the fragments of one IPv4 datagram back together (in any order): the header of the
/// fragment with the lowest offset, with the total length, MF (the last fragment's) and
/// checksum rewritten, and the data of all of them. The result is the datagram before it was
/// fragmented (itself a fragment if it was one: its offset and MF come back too).
///
/// Errors with [`Error::Reassembly`] if the fragments are not all of one datagram
/// (identification, addresses, protocol), overlap, leave a hole, or none ends the datagram; with
/// the parse errors of [`ipv4::Repr::parse`] if one is malformed (checksums are verified). No
/// timers, no limits beyond the 65,535-byte datagram: a tool for tests and decoders, not a
/// reassembly queue facing the network.
pub fn reassemble<'a>(fragments: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, Error> {
    let mut parts: Vec<(usize, ipv4::Repr, &'a [u8], &'a [u8])> = Vec::new();
    for f in fragments {
        let p = ipv4::Packet::new_checked(f)?;
        let r = ipv4::Repr::parse(&p)?;
        let header = f.get(..p.header_len()).unwrap_or_default();
        parts.push((usize::from(r.fragment_offset), r, header, p.into_payload()));
    }
    parts.sort_by_key(|(off, ..)| *off);
    let Some((start, first, header, _)) = parts.first().copied() else {
        return Err(Error::Reassembly("no fragments"));
    };
    let mut out = header.to_vec();
    let mut next = start;
    let mut more = true;
    for (off, r, _, data) in &parts {
        if r.identification != first.identification
            || r.src_addr != first.src_addr
            || r.dst_addr != first.dst_addr
            || r.protocol != first.protocol
        {
            return Err(Error::Reassembly("fragments of different datagrams"));
        }
        if !more {
            return Err(Error::Reassembly("data after the last fragment"));
        }
        if *off != next {
            return Err(Error::Reassembly(if *off < next {
                "overlapping fragments"
            } else {
                "a hole between fragments"
            }));
        }
        out.extend_from_slice(data);
        next += data.len();
        more = r.more_fragments;
    }
    let total = u16::try_from(out.len()).map_err(|_| Error::TooLong(out.len()))?;
    let flags = be::u16(&out, 6);
    let flags = (flags & !FLAG_MF) | if more { FLAG_MF } else { 0 };
    be::put_u16(&mut out, 2, total);
    be::put_u16(&mut out, 6, flags);
    be::put_u16(&mut out, 10, 0);
    let c = checksum::checksum(out.get(..header.len()).unwrap_or_default());
    be::put_u16(&mut out, 10, c);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::IpProtocol;
    use proptest::prelude::*;

    fn packet(opts: &[u8], payload_len: usize, offset: u16, mf: bool) -> Vec<u8> {
        let r = ipv4::Repr {
            identification: 0x1234,
            ttl: 63,
            dscp_ecn: 0xb8,
            options: ipv4::Options::new(opts).unwrap(),
            fragment_offset: offset,
            more_fragments: mf,
            ..ipv4::Repr::new(
                [192, 168, 1, 25].into(),
                [192, 168, 2, 37].into(),
                IpProtocol::UDP,
                payload_len,
            )
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut ipv4::Packet::new_unchecked(&mut b[..]))
            .unwrap();
        for (i, x) in b[r.header_len()..].iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        b
    }

    fn all(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let mut f = Fragmenter::new(packet, mtu).unwrap();
        let n = f.count();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while f.next_into(&mut buf) {
            out.push(buf.clone());
        }
        assert_eq!(out.len(), n);
        out
    }

    #[test]
    fn rfc791_offsets_flags_lengths_and_checksums() {
        let p = packet(&[], 1480, 0, false);
        let frags = all(&p, 1400);
        assert_eq!(frags.len(), 2);
        let a = ipv4::Repr::parse(&ipv4::Packet::new_checked(&frags[0][..]).unwrap()).unwrap();
        let b = ipv4::Repr::parse(&ipv4::Packet::new_checked(&frags[1][..]).unwrap()).unwrap();
        // 1380 bytes fit behind a 20-byte header; 1376 is the multiple of 8.
        assert_eq!(
            (a.payload_len, a.fragment_offset, a.more_fragments),
            (1376, 0, true)
        );
        assert_eq!(
            (b.payload_len, b.fragment_offset, b.more_fragments),
            (104, 1376, false)
        );
        for r in [a, b] {
            assert_eq!((r.identification, r.ttl, r.dscp_ecn), (0x1234, 63, 0xb8));
            assert!(!r.dont_fragment);
        }
        assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), p);
    }

    #[test]
    fn only_copied_options_go_into_later_fragments() {
        // NOP, a copied option (Loose Source Route, type 131, len 7), Record Route (7, not
        // copied, len 7), then EOL padding: 1 + 7 + 7 + 1 = 16 bytes.
        let mut opts = vec![1, 131, 7, 4, 10, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0];
        opts.resize(16, 0);
        let p = packet(&opts, 200, 0, false);
        let frags = all(&p, 100);
        let first = ipv4::Packet::new_checked(&frags[0][..]).unwrap();
        assert_eq!((first.header_len(), first.options()), (36, &opts[..]));
        for f in &frags[1..] {
            let v = ipv4::Packet::new_checked(&f[..]).unwrap();
            assert_eq!(v.header_len(), 28, "20 + LSRR (7) padded to 8");
            assert_eq!(v.options(), &[131, 7, 4, 10, 0, 0, 1, 0]);
            assert_eq!(v.compute_checksum(), v.checksum());
            assert!(f.len() <= 100);
        }
        assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), p);
    }

    #[test]
    fn a_fragment_of_a_fragment_keeps_its_offset_and_mf() {
        // A middle fragment: offset 800, MF set.
        let p = packet(&[], 600, 800, true);
        let frags = all(&p, 268);
        let reprs: Vec<ipv4::Repr> = frags
            .iter()
            .map(|f| ipv4::Repr::parse(&ipv4::Packet::new_checked(&f[..]).unwrap()).unwrap())
            .collect();
        assert_eq!(
            reprs.iter().map(|r| r.fragment_offset).collect::<Vec<_>>(),
            [800, 1048, 1296]
        );
        assert!(
            reprs.iter().all(|r| r.more_fragments),
            "the last keeps the original's MF"
        );
        assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), p);
        // The last fragment of a datagram: MF clear on the last piece only.
        let p = packet(&[], 600, 800, false);
        let frags = all(&p, 268);
        let last = ipv4::Packet::new_checked(&frags[2][..]).unwrap();
        assert!(!last.more_fragments());
        // The reserved flag (RFC 791 §3.1, bit 0) stays as it was, in every fragment.
        let mut evil = packet(&[], 600, 0, false);
        evil[6] |= 0x80;
        let mut v = ipv4::Packet::new_unchecked(&mut evil[..]);
        let c = v.compute_checksum();
        v.set_checksum(c);
        let frags = all(&evil, 268);
        assert!(frags.iter().all(|f| f[6] & 0x80 != 0));
        assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), evil);
    }

    #[test]
    fn refusals() {
        let mut df = packet(&[], 100, 0, false);
        df[6] |= 0x40;
        assert_eq!(Fragmenter::new(&df, 68).unwrap_err(), Error::DontFragment);
        let big_header = packet(&[0x94, 4, 0, 0].repeat(10), 100, 0, false);
        assert_eq!(
            Fragmenter::new(&big_header, 67).unwrap_err(),
            Error::MtuTooSmall {
                mtu: 67,
                needed: 68
            }
        );
        assert!(Fragmenter::new(&big_header, 68).is_ok());
        assert!(Fragmenter::new(&[0x45, 0, 0], 576).is_err());
        // A packet that fits is one fragment: itself.
        let small = packet(&[], 10, 0, false);
        assert_eq!(all(&small, 576), vec![small.clone()]);
        // An empty payload too.
        let empty = packet(&[], 0, 0, false);
        assert_eq!(all(&empty, 68), vec![empty.clone()]);
        let frags = all(&packet(&[], 100, 0, false), 68);
        assert!(frags.len() >= 3);
        let holed = [&frags[0][..], &frags[2][..]];
        assert_eq!(
            reassemble(holed),
            Err(Error::Reassembly("a hole between fragments"))
        );
        let overlapping = frags[..2].iter().chain(&frags[1..]).map(Vec::as_slice);
        assert_eq!(
            reassemble(overlapping),
            Err(Error::Reassembly("overlapping fragments"))
        );
        assert!(reassemble(std::iter::empty()).is_err());
    }

    proptest! {
        /// Any valid IPv4 packet (options, offsets, MF as they come) cut for any MTU from 68:
        /// every fragment fits, every non-last one carries a multiple of 8, and the pieces
        /// reassemble into the original.
        #[test]
        fn fragments_reassemble_into_the_original(
            words in 0usize..=10,
            opt_bytes in proptest::collection::vec(any::<u8>(), 40),
            payload_len in 0usize..3000,
            offset in 0u16..0x1000,
            mf in any::<bool>(),
            mtu in MIN_MTU..1600,
            shuffle in any::<u64>(),
        ) {
            let p = packet(&opt_bytes[..words * 4], payload_len, offset << 3, mf);
            let mut f = Fragmenter::new(&p, mtu).unwrap();
            let n = f.count();
            let mut frags = Vec::new();
            let mut buf = Vec::new();
            while f.next_into(&mut buf) {
                prop_assert!(buf.len() <= mtu);
                frags.push(buf.clone());
            }
            prop_assert_eq!(frags.len(), n);
            for w in frags.iter().take(n.saturating_sub(1)) {
                let v = ipv4::Packet::new_checked(&w[..]).unwrap();
                prop_assert_eq!(v.payload().len() % 8, 0);
                prop_assert!(v.more_fragments());
            }
            // Any order.
            let k = frags.len();
            if k > 1 {
                frags.rotate_left((shuffle as usize) % k);
            }
            prop_assert_eq!(reassemble(frags.iter().map(Vec::as_slice)).unwrap(), p);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), mtu in 0usize..300) {
            if let Ok(mut f) = Fragmenter::new(&bytes, mtu) {
                let _ = f.count();
                let mut buf = Vec::new();
                let mut n = 0;
                while f.next_into(&mut buf) && n < 1000 {
                    n += 1;
                }
                prop_assert!(n < 1000);
            }
            let _ = reassemble([&bytes[..], &bytes[..]]);
        }
    }
}
