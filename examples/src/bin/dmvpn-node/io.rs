//! The node's sockets and devices: per tunnel source a raw IP socket for GRE (protocol 47) and
//! one for ESP (50), UDP sockets on 500 and 4500 for a protected source; per tunnel interface a
//! TUN device. An IPv6 raw socket reads the payload alone (the kernel keeps the IPv6 header):
//! the source comes from `recvmsg`, the destination from `IPV6_PKTINFO` (a socket bound to an
//! address still reads multicast of the groups the host joined, so the bound address is not
//! always the destination). Each one has a reader task that hands whole datagrams to the main loop through
//! one channel, in buffers of one shared pool that the main loop gives back after use (no
//! allocation per packet once the pool is warm). Sends are non-blocking: a full socket buffer drops the packet (counted), as
//! a router's output queue would.

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, setsockopt, sockopt::Ipv6RecvPacketInfo,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Largest datagram read.
pub const MTU_MAX: usize = 65_535;
/// Buffers the pool keeps.
const POOL: usize = 256;

/// A datagram in a pool buffer: the buffer stays [`MTU_MAX`] bytes long (so that taking it
/// again costs no zeroing), the datagram is its first `len` bytes.
pub struct Buf {
    data: Vec<u8>,
    len: usize,
}

impl Buf {
    fn new(data: Vec<u8>, len: usize) -> Buf {
        let len = len.min(data.len());
        Buf { data, len }
    }

    /// The buffer, for the pool.
    pub fn into_inner(self) -> Vec<u8> {
        self.data
    }
}

impl std::ops::Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or_default()
    }
}

/// What a reader read.
pub enum Rx {
    /// An IP packet from a tunnel interface's TUN device (the node routes it by destination).
    Tun { buf: Buf },
    /// An IPv4 packet (header included) of protocol `proto` from a raw socket.
    Raw { proto: u8, buf: Buf },
    /// The payload of an IPv6 packet of protocol `proto` from `src` to `dst` (an IPv6 raw
    /// socket reads no header).
    Raw6 {
        proto: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        buf: Buf,
    },
    /// A UDP datagram to `local` from `from`.
    Udp {
        local: SocketAddr,
        from: SocketAddr,
        buf: Buf,
    },
    /// A reader stopped: the socket or device is gone.
    Lost { what: String, error: std::io::Error },
}

/// The readers' buffers: taken by a reader for each datagram, given back by the main loop
/// once the node has handled it (no allocation per packet once warm).
#[derive(Clone, Default)]
pub struct Pool(Arc<Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// A buffer of [`MTU_MAX`] bytes: one given back (at full length: no zeroing, which was a
    /// 64 KB memset per packet, 16 % of a spoke's CPU), or a new one.
    fn take(&self) -> Vec<u8> {
        let mut b = self
            .0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default();
        if b.len() != MTU_MAX {
            b.resize(MTU_MAX, 0);
        }
        b
    }

    /// Gives a buffer back (at most [`POOL`] are kept).
    pub fn give(&self, buf: Buf) {
        let buf = buf.into_inner();
        if let Ok(mut v) = self.0.lock()
            && v.len() < POOL
        {
            v.push(buf);
        }
    }
}

/// Socket buffers for a burst: the default (about 200 KB) holds some 140 full-size packets,
/// which a TCP stream through the tunnel overruns while the loop is busy with the other
/// direction; each drop is a retransmission. Root may exceed `net.core.rmem_max` /
/// `wmem_max` (`SO_RCVBUFFORCE`); otherwise the kernel caps the size. Best effort: a socket
/// with the default size still works.
const SOCKET_BUFFER: usize = 4 << 20;

fn big_buffers(s: &Socket) {
    use nix::sys::socket::sockopt::{RcvBufForce, SndBufForce};
    if setsockopt(s, RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    }
    if setsockopt(s, SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    }
}

/// A raw IP socket of one protocol bound to a tunnel source. Tokio has no raw sockets; a raw
/// socket reads and writes datagrams just as a UDP socket does (`recvfrom`/`sendto`,
/// `recvmsg`), so it is driven through [`UdpSocket`] (whose methods are the system calls,
/// whatever the socket type).
pub struct RawSocket {
    sock: Arc<UdpSocket>,
    /// An IPv6 socket: it reads payloads, with the addresses beside them.
    v6: bool,
    /// Datagrams the kernel would not take (socket buffer full or an error).
    pub dropped: u64,
}

impl RawSocket {
    /// A raw socket for `proto` bound to `source`.
    pub fn open(source: IpAddr, proto: u8) -> std::io::Result<RawSocket> {
        let domain = if source.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let s = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(proto))))?;
        s.bind(&SockAddr::from(SocketAddr::new(source, 0)))?;
        if source.is_ipv6() {
            // The destination of each packet, and no multicast of groups others joined.
            setsockopt(&s, Ipv6RecvPacketInfo, &true)?;
            s.set_multicast_all_v6(false)?;
        }
        big_buffers(&s);
        s.set_nonblocking(true)?;
        let sock = UdpSocket::from_std(std::net::UdpSocket::from(s))?;
        Ok(RawSocket {
            sock: Arc::new(sock),
            v6: source.is_ipv6(),
            dropped: 0,
        })
    }

    /// Sends `payload` to `dst` (the kernel adds the IP header).
    pub fn send(&mut self, dst: IpAddr, payload: &[u8]) {
        if self
            .sock
            .try_send_to(payload, SocketAddr::new(dst, 0))
            .is_err()
        {
            self.dropped += 1;
        }
    }

    /// Starts the reader task: whole IPv4 packets, header included ([`Rx::Raw`]), or IPv6
    /// payloads with their addresses ([`Rx::Raw6`]).
    pub fn spawn_reader(&self, proto: u8, tx: mpsc::Sender<Rx>, pool: &Pool) {
        let pool = pool.clone();
        let sock = self.sock.clone();
        let v6 = self.v6;
        tokio::spawn(async move {
            // One control buffer for the task's life (IPV6_PKTINFO).
            let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo);
            loop {
                let mut data = pool.take();
                let rx = if v6 {
                    let fd = sock.as_raw_fd();
                    sock.async_io(Interest::READABLE, || recv6(fd, &mut data, &mut cmsg))
                        .await
                        .map(|r| r.map(|(n, src, dst)| (n, Some((src, dst)))))
                } else {
                    sock.recv_from(&mut data)
                        .await
                        .map(|(n, _)| Some((n, None)))
                };
                let msg = match rx {
                    Ok(None) => {
                        // Truncated, or without its addresses: not one to hand on.
                        pool.give(Buf::new(data, 0));
                        continue;
                    }
                    Ok(Some((n, None))) => Rx::Raw {
                        proto,
                        buf: Buf::new(data, n),
                    },
                    Ok(Some((n, Some((src, dst))))) => Rx::Raw6 {
                        proto,
                        src,
                        dst,
                        buf: Buf::new(data, n),
                    },
                    Err(error) => {
                        let _ = tx
                            .send(Rx::Lost {
                                what: format!("raw socket for IP protocol {proto}"),
                                error,
                            })
                            .await;
                        return;
                    }
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// One datagram from an IPv6 raw socket into `buf`: its length, source and destination;
/// `None` when it was truncated or came without its `IPV6_PKTINFO`.
fn recv6(
    fd: RawFd,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> std::io::Result<Option<(usize, Ipv6Addr, Ipv6Addr)>> {
    let mut iov = [IoSliceMut::new(buf)];
    let m = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(cmsg), MsgFlags::empty())?;
    if m.flags.contains(MsgFlags::MSG_TRUNC) {
        return Ok(None);
    }
    let dst = m.cmsgs().ok().and_then(|mut c| {
        c.find_map(|c| match c {
            ControlMessageOwned::Ipv6PacketInfo(i) => Some(Ipv6Addr::from(i.ipi6_addr.s6_addr)),
            _ => None,
        })
    });
    Ok(match (m.address.map(|a| a.ip()), dst) {
        (Some(src), Some(dst)) => Some((m.bytes, src, dst)),
        _ => None,
    })
}

/// A UDP socket (IKE on 500, IKE and ESP in UDP on 4500).
pub struct Udp {
    sock: Arc<UdpSocket>,
    /// Its address.
    pub local: SocketAddr,
    /// Datagrams the kernel would not take.
    pub dropped: u64,
}

impl Udp {
    /// Binds `local` (an IPv6 one with `IPV6_V6ONLY`: no IPv4-mapped peers).
    pub async fn bind(local: SocketAddr) -> std::io::Result<Udp> {
        let sock = if local.is_ipv6() {
            let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_only_v6(true)?;
            s.bind(&SockAddr::from(local))?;
            big_buffers(&s);
            s.set_nonblocking(true)?;
            UdpSocket::from_std(std::net::UdpSocket::from(s))?
        } else {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.bind(&SockAddr::from(local))?;
            big_buffers(&s);
            s.set_nonblocking(true)?;
            UdpSocket::from_std(std::net::UdpSocket::from(s))?
        };
        Ok(Udp {
            sock: Arc::new(sock),
            local,
            dropped: 0,
        })
    }

    /// Sends `payload` to `dst`.
    pub fn send(&mut self, dst: SocketAddr, payload: &[u8]) {
        if self.sock.try_send_to(payload, dst).is_err() {
            self.dropped += 1;
        }
    }

    /// Starts the reader task.
    pub fn spawn_reader(&self, tx: mpsc::Sender<Rx>, pool: &Pool) {
        let pool = pool.clone();
        let (sock, local) = (self.sock.clone(), self.local);
        tokio::spawn(async move {
            loop {
                let mut data = pool.take();
                match sock.recv_from(&mut data).await {
                    Ok((n, from)) => {
                        let buf = Buf::new(data, n);
                        // The address alone (an IPv6 peer's flow label and scope are not its
                        // identity).
                        let from = SocketAddr::new(from.ip(), from.port());
                        if tx.send(Rx::Udp { local, from, buf }).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = tx
                            .send(Rx::Lost {
                                what: format!("UDP socket {local}"),
                                error,
                            })
                            .await;
                        return;
                    }
                }
            }
        });
    }
}

/// The TUN device's transmit queue (packets).
const TUN_QUEUE: u32 = 2000;

/// A tunnel interface's TUN device.
pub struct Tun {
    dev: Arc<tun_rs::AsyncDevice>,
    /// Its name.
    pub name: String,
    /// Packets the device would not take.
    pub dropped: u64,
}

impl Tun {
    /// Creates the device `name` with the tunnel's overlay address and MTU.
    pub fn create(name: &str, address: ipnet::IpNet, mtu: u16) -> std::io::Result<Tun> {
        // A longer queue than TUN's default 500: a TCP burst into the tunnel waits there while
        // the loop encrypts, rather than being dropped.
        let b = tun_rs::DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .tx_queue_len(TUN_QUEUE);
        let b = match address {
            ipnet::IpNet::V4(n) => b.ipv4(n.addr(), n.prefix_len(), None),
            ipnet::IpNet::V6(n) => b.ipv6(n.addr(), n.prefix_len()),
        };
        let dev = b.build_async()?;
        Ok(Tun {
            dev: Arc::new(dev),
            name: name.to_string(),
            dropped: 0,
        })
    }

    /// Writes an IP packet to the device.
    pub fn send(&mut self, packet: &[u8]) {
        if self.dev.try_send(packet).is_err() {
            self.dropped += 1;
        }
    }

    /// Starts the reader task.
    pub fn spawn_reader(&self, tx: mpsc::Sender<Rx>, pool: &Pool) {
        let pool = pool.clone();
        let (dev, name) = (self.dev.clone(), self.name.clone());
        tokio::spawn(async move {
            loop {
                let mut data = pool.take();
                match dev.recv(&mut data).await {
                    Ok(n) => {
                        let buf = Buf::new(data, n);
                        if tx.send(Rx::Tun { buf }).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = tx
                            .send(Rx::Lost {
                                what: format!("TUN device {name}"),
                                error,
                            })
                            .await;
                        return;
                    }
                }
            }
        });
    }
}
