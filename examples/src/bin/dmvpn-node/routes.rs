//! Overlay routes in the kernel's table, through netlink (rtnetlink): `PREFIX dev TunnelN`, so
//! that the kernel hands the overlay's traffic to the node's TUN device; the node picks the
//! tunnel next hop itself (its own table: static routes, NHRP shortcuts).

use std::net::IpAddr;

use futures_util::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::{Handle, RouteMessageBuilder};

/// A netlink connection to the kernel's routing table.
pub struct Kernel {
    handle: Handle,
}

impl Kernel {
    /// Opens the connection (its task runs on the current runtime).
    pub fn new() -> std::io::Result<Kernel> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Kernel { handle })
    }

    async fn index(&self, dev: &str) -> Result<u32, String> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(dev.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(l.header.index),
            Ok(None) => Err(format!("no interface {dev}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn message(prefix: IpNet, index: Option<u32>) -> rtnetlink::packet_route::route::RouteMessage {
        let b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(prefix.network(), prefix.prefix_len());
        let b = match b {
            Ok(b) => b,
            Err(_) => RouteMessageBuilder::<IpAddr>::new(),
        };
        match index {
            Some(i) => b.output_interface(i).build(),
            None => b.build(),
        }
    }

    /// `ip route replace PREFIX dev DEV`.
    pub async fn add(&self, prefix: IpNet, dev: &str) -> Result<(), String> {
        let index = self.index(dev).await?;
        self.handle
            .route()
            .add(Self::message(prefix, Some(index)))
            .replace()
            .execute()
            .await
            .map_err(|e| e.to_string())
    }

    /// `ip route del PREFIX`.
    pub async fn del(&self, prefix: IpNet) -> Result<(), String> {
        self.handle
            .route()
            .del(Self::message(prefix, None))
            .execute()
            .await
            .map_err(|e| e.to_string())
    }
}
