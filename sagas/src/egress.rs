//! Where webhook agents may be called: addresses on the public internet, and the networks an
//! operator allows (`OXBOW_WEBHOOK_ALLOW`). Every address a webhook's host resolves to is
//! checked when it is called, and the HTTP client connects only to the addresses checked, so
//! neither a stored URL nor a DNS answer can point a webhook at Oxbow's own network: the
//! cloud's metadata service, PostgreSQL, Redis, the broker.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, Default)]
pub struct Egress {
    allow: Arc<Vec<IpNet>>,
}

/// A webhook's address that agents may not be called at.
#[derive(Debug, thiserror::Error)]
#[error("the webhook's address is not one agents may be called at")]
pub struct NotAllowed;

impl Egress {
    pub fn new(allow: Vec<IpNet>) -> Egress {
        Egress { allow: Arc::new(allow) }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.iter().any(|network| network.contains(&ip))
    }

    /// The addresses `name` resolves to, when every one of them is permitted.
    async fn resolve_permitted(&self, name: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, 0)).await?.collect();
        if addresses.is_empty() || addresses.iter().any(|address| !self.permits(address.ip())) {
            return Err(Box::new(NotAllowed));
        }
        Ok(addresses)
    }
}

/// The HTTP client's resolver: only permitted addresses come out of it. (The client does not
/// resolve addresses written in a URL; the caller checks those with [`Egress::permits`].)
impl Resolve for Egress {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.clone();
        Box::pin(async move {
            let addresses = egress.resolve_permitted(name.as_str()).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is an address of the public internet: not loopback, private, link-local,
/// shared (carrier-grade NAT), multicast, broadcast, unspecified or reserved. An IPv6 address
/// that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is as public as that one.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [first, second, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || first == 0
        || first >= 240
        || (first == 100 && (64..128).contains(&second))
        // IETF protocol assignments (192.0.0.0/24) and benchmarking (198.18.0.0/15).
        || (first == 192 && second == 0 && ip.octets()[2] == 0)
        || (first == 198 && (second & 0xfe) == 18))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    // The IPv4 address inside: NAT64's well-known prefix (64:ff9b::/96), IPv4-compatible
    // (::/96, `::` and `::1` among them) and 6to4 (2002::/16). A gateway would take a call to
    // these to that IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0; 6] {
        return is_public_v4(v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(v4(segments[1], segments[2]));
    }
    let first = segments[0];
    !(ip.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Local-use NAT64 (64:ff9b:1::/48), whose IPv4 address may sit anywhere in it.
        || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
        // Teredo (2001::/32) hides an IPv4 address; documentation (2001:db8::/32); discard (100::/64).
        || (first == 0x2001 && (segments[1] == 0 || segments[1] == 0x0db8))
        || (first == 0x0100 && segments[1..4] == [0, 0, 0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass_unless_allowed() {
        let egress = Egress::default();
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            // An IPv4 address inside an IPv6 one: NAT64, local NAT64, compatible, 6to4.
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "::7f00:1",
            "::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "fec0::1",
            "2001::1",
            "2001:db8::1",
            "100::1",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
        ] {
            assert!(!egress.permits(denied.parse().unwrap()), "{denied}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(egress.permits(public.parse().unwrap()), "{public}");
        }
        let allowed = Egress::new(vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]);
        assert!(allowed.permits("127.0.0.1".parse().unwrap()) && allowed.permits("10.9.9.9".parse().unwrap()));
        assert!(!allowed.permits("127.0.0.2".parse().unwrap()) && !allowed.permits("169.254.169.254".parse().unwrap()));
    }
}
