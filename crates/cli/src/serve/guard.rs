//! Which upstream addresses the proxy may reach, checked where the connection is made.
//!
//! The proxy runs next to the user's machine (or inside a cluster), so an open proxy would let
//! any page that can reach it probe loopback services, the private network and the cloud
//! metadata endpoint. Names are therefore checked by the addresses they resolve to, inside the
//! resolver the HTTP client connects with: the address that was checked is the address that is
//! dialled, so a name that answers differently on a second lookup (DNS rebinding) gains nothing.

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is not a public one the proxy may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenKind {
    Loopback,
    Private,
    LinkLocal,
    CloudMetadata,
    /// Unspecified, broadcast, multicast, documentation and other ranges no registry lives in.
    NotRoutable,
}

impl ForbiddenKind {
    fn describe(self) -> &'static str {
        match self {
            ForbiddenKind::Loopback => "a loopback address",
            ForbiddenKind::Private => "a private-network address",
            ForbiddenKind::LinkLocal => "a link-local address",
            ForbiddenKind::CloudMetadata => "the cloud metadata endpoint",
            ForbiddenKind::NotRoutable => "not a public unicast address",
        }
    }
}

/// The cloud metadata services (AWS, GCP, Azure, ...) answer here with credentials.
const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// AWS's IPv6 metadata endpoint (inside the ULA range, named for a clearer message).
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254);

/// `None` for a public unicast address; otherwise what kind of address it is.
pub fn forbidden_kind(address: IpAddr) -> Option<ForbiddenKind> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<ForbiddenKind> {
    let [a, b, _, _] = address.octets();
    if address == METADATA_V4 {
        Some(ForbiddenKind::CloudMetadata)
    } else if address.is_loopback() {
        Some(ForbiddenKind::Loopback)
    } else if address.is_private() {
        Some(ForbiddenKind::Private)
    } else if address.is_link_local() {
        Some(ForbiddenKind::LinkLocal)
    } else if address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (carrier-grade NAT, often internal),
        // 192.0.0.0/24 (protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4.
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && address.octets()[2] == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240
    {
        Some(ForbiddenKind::NotRoutable)
    } else {
        None
    }
}

fn forbidden_v6(address: Ipv6Addr) -> Option<ForbiddenKind> {
    // An IPv4 address written as IPv6 reaches the IPv4 host: judge the IPv4 address.
    if let Some(v4) = address.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let segments = address.segments();
    // NAT64 (64:ff9b::/96) translates to the embedded IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, high, low] = segments;
        let embedded = Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
        return forbidden_v4(embedded);
    }
    if address == METADATA_V6 {
        Some(ForbiddenKind::CloudMetadata)
    } else if address.is_loopback() {
        Some(ForbiddenKind::Loopback)
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        // fc00::/7, unique local addresses: the IPv6 private ranges.
        Some(ForbiddenKind::Private)
    } else if (segments[0] & 0xffc0) == 0xfe80 || (segments[0] & 0xffc0) == 0xfec0 {
        // fe80::/10 link-local, and fec0::/10 (deprecated site-local, still private).
        Some(ForbiddenKind::LinkLocal)
    } else if address.is_unspecified()
        || address.is_multicast()
        // ::/96 (IPv4-compatible, deprecated) and 2001:db8::/32 (documentation).
        || segments[..6] == [0, 0, 0, 0, 0, 0]
        || segments[..2] == [0x2001, 0x0db8]
    {
        Some(ForbiddenKind::NotRoutable)
    } else {
        None
    }
}

/// A target the proxy refuses to reach; becomes a 403 whose body is this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTarget {
    /// The host as the request named it.
    pub host: String,
    /// The offending address (the host itself when it is an address literal).
    pub address: IpAddr,
    pub kind: ForbiddenKind,
}

impl fmt::Display for RefusedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = if self.host == self.address.to_string() {
            format!("{} is", self.host)
        } else {
            format!("{} resolves to {}, which is", self.host, self.address)
        };
        write!(
            f,
            "refusing to proxy to {}: {subject} {}; start layerscope serve with \
             --insecure-registry HOST:PORT to allow a registry there",
            self.host,
            self.kind.describe()
        )
    }
}

impl Error for RefusedTarget {}

/// Refuses an address literal that is not public (names go through [`CheckedResolver`]).
pub fn check_literal(host: &str, address: IpAddr) -> Result<(), RefusedTarget> {
    match forbidden_kind(address) {
        None => Ok(()),
        Some(kind) => Err(RefusedTarget {
            host: host.to_string(),
            address,
            kind,
        }),
    }
}

/// Every address of a name, or the first forbidden one as the reason to refuse the whole name
/// (a name mixing public and internal addresses is not one a registry would publish).
pub fn check_resolved(host: &str, addresses: &[SocketAddr]) -> Result<(), RefusedTarget> {
    for address in addresses {
        if let Some(kind) = forbidden_kind(address.ip()) {
            return Err(RefusedTarget {
                host: host.to_string(),
                address: address.ip(),
                kind,
            });
        }
    }
    Ok(())
}

/// The system resolver with [`check_resolved`] applied: the HTTP client connects only to the
/// addresses returned here, so the check and the connection use the same answer. Names given
/// with `--resolve` are answered from that list instead of DNS, and checked the same way.
#[derive(Debug, Default, Clone)]
pub struct CheckedResolver {
    pinned: Arc<Vec<PinnedName>>,
}

impl CheckedResolver {
    /// A resolver answering these names from their pinned addresses, every other from DNS.
    pub fn new(pinned: Vec<PinnedName>) -> CheckedResolver {
        CheckedResolver {
            pinned: Arc::new(pinned),
        }
    }

    fn pinned(&self, host: &str) -> Option<Vec<SocketAddr>> {
        let pinned = self
            .pinned
            .iter()
            .find(|pinned| pinned.name.eq_ignore_ascii_case(host))?;
        Some(
            pinned
                .addresses
                .iter()
                .map(|address| SocketAddr::new(*address, 0))
                .collect(),
        )
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let pinned = self.pinned(&host);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = match pinned {
                Some(addresses) => addresses,
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            check_resolved(&host, &addresses)?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// A host name answered with fixed addresses instead of DNS (`--resolve NAME=ADDR[,ADDR]`, as
/// curl's `--resolve`): pins a registry's address, and lets the address checks be tried
/// with names that resolve to internal addresses without a DNS server that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedName {
    name: String,
    addresses: Vec<IpAddr>,
}

impl PinnedName {
    /// Parses `NAME=ADDR[,ADDR...]`; IPv6 addresses are written bare or in brackets.
    pub fn parse(text: &str) -> Result<PinnedName, String> {
        let invalid = |why: &str| format!("{text:?} is not NAME=ADDR[,ADDR]: {why}");
        let (name, addresses) = text.split_once('=').ok_or_else(|| invalid("no '='"))?;
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-');
        if !name_ok {
            return Err(invalid("the name is not a host name"));
        }
        let addresses = addresses
            .split(',')
            .map(|address| {
                let bare = address.trim_start_matches('[').trim_end_matches(']');
                bare.parse::<IpAddr>()
                    .map_err(|_| invalid(&format!("{address:?} is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PinnedName {
            name: name.to_ascii_lowercase(),
            addresses,
        })
    }
}

/// The [`RefusedTarget`] somewhere in an error's chain of causes (the client wraps the
/// resolver's error in its own connect errors).
pub fn refused_cause<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a RefusedTarget> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<RefusedTarget>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<ForbiddenKind> {
        forbidden_kind(text.parse().unwrap())
    }

    #[test]
    fn internal_ipv4_ranges_are_forbidden() {
        assert_eq!(kind("127.0.0.1"), Some(ForbiddenKind::Loopback));
        assert_eq!(kind("127.8.9.10"), Some(ForbiddenKind::Loopback));
        for private in ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1"] {
            assert_eq!(kind(private), Some(ForbiddenKind::Private), "{private}");
        }
        assert_eq!(kind("169.254.1.1"), Some(ForbiddenKind::LinkLocal));
        assert_eq!(kind("169.254.169.254"), Some(ForbiddenKind::CloudMetadata));
        for odd in [
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert_eq!(kind(odd), Some(ForbiddenKind::NotRoutable), "{odd}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for public in ["1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn internal_ipv6_ranges_are_forbidden_including_ipv4_in_disguise() {
        assert_eq!(kind("::1"), Some(ForbiddenKind::Loopback));
        assert_eq!(kind("fd12:3456::1"), Some(ForbiddenKind::Private));
        assert_eq!(kind("fe80::1"), Some(ForbiddenKind::LinkLocal));
        assert_eq!(kind("fd00:ec2::254"), Some(ForbiddenKind::CloudMetadata));
        assert_eq!(kind("::ffff:127.0.0.1"), Some(ForbiddenKind::Loopback));
        assert_eq!(
            kind("::ffff:169.254.169.254"),
            Some(ForbiddenKind::CloudMetadata)
        );
        assert_eq!(kind("64:ff9b::10.0.0.1"), Some(ForbiddenKind::Private));
        assert_eq!(kind("::"), Some(ForbiddenKind::NotRoutable));
    }

    #[test]
    fn one_internal_address_refuses_the_whole_name() {
        let addresses: Vec<SocketAddr> = vec![
            "93.184.216.34:0".parse().unwrap(),
            "10.0.0.5:0".parse().unwrap(),
        ];
        let refused = check_resolved("rebind.example", &addresses).unwrap_err();
        assert_eq!(refused.kind, ForbiddenKind::Private);
        let message = refused.to_string();
        assert!(
            message.contains("rebind.example resolves to 10.0.0.5")
                && message.contains("--insecure-registry"),
            "{message}"
        );
    }

    #[test]
    fn pinned_names_parse_and_are_checked_like_resolved_ones() {
        let pinned = PinnedName::parse("Internal.Test=10.0.0.5,[fd00::1]").unwrap();
        assert_eq!(pinned.name, "internal.test");
        assert_eq!(pinned.addresses.len(), 2);
        for bad in [
            "internal.test",
            "=10.0.0.1",
            "a/b=10.0.0.1",
            "a=10.0.0",
            "a=",
        ] {
            assert!(PinnedName::parse(bad).is_err(), "{bad}");
        }
        let resolver = CheckedResolver::new(vec![pinned]);
        let addresses = resolver.pinned("internal.test").unwrap();
        let refused = check_resolved("internal.test", &addresses).unwrap_err();
        assert_eq!(refused.address, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert!(resolver.pinned("other.test").is_none());
    }

    #[test]
    fn the_refusal_is_found_below_wrapping_errors() {
        #[derive(Debug)]
        struct Wrapper(RefusedTarget);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("connect error")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused = check_literal("10.0.0.1", "10.0.0.1".parse().unwrap()).unwrap_err();
        let wrapped = Wrapper(refused.clone());
        assert_eq!(refused_cause(&wrapped), Some(&refused));
        assert_eq!(
            refused.to_string().split(';').next(),
            Some("refusing to proxy to 10.0.0.1: 10.0.0.1 is a private-network address")
        );
    }
}
