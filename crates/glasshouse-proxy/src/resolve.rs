//! Name resolution in the proxy (never in the sandbox) and the address ranges it refuses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs as _};

/// What kind of address a destination is, for the ranges the proxy refuses by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    /// Reachable on the internet.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254.0.0/16, fe80::/10 (cloud metadata services live here).
    LinkLocal,
    /// RFC 1918, 100.64.0.0/10, fc00::/7, and the unspecified, broadcast and multicast ranges.
    Private,
}

impl AddressClass {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::Private => "private",
        }
    }
}

pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_private()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
    {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_unspecified() || ip.is_multicast() || first & 0xfe00 == 0xfc00 {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

/// The addresses `host:port` may be reached at, or why none.
pub(crate) fn destinations(
    host: &str,
    port: u16,
    allow_internal: bool,
) -> Result<Vec<SocketAddr>, String> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    if found.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if allow_internal {
        return Ok(found);
    }
    let (reachable, refused): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|a| classify(a.ip()) == AddressClass::Public);
    if reachable.is_empty() {
        let first = refused[0];
        return Err(format!(
            "{host} resolves only to non-public addresses ({} {}), which the proxy does not reach unless internal destinations are allowed",
            classify(first.ip()).name(),
            first.ip()
        ));
    }
    Ok(reachable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_classified() {
        let class = |s: &str| classify(s.parse().unwrap());
        assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("127.8.9.10"), AddressClass::Loopback);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("169.254.169.254"), AddressClass::LinkLocal);
        assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "fd00::1",
            "::",
            "224.0.0.1",
        ] {
            assert_eq!(class(private), AddressClass::Private, "{private}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "2001:4860::1", "100.128.0.1"] {
            assert_eq!(class(public), AddressClass::Public, "{public}");
        }
    }

    #[test]
    fn internal_literals_are_refused_unless_allowed() {
        let err = destinations("127.0.0.1", 80, false).unwrap_err();
        assert!(err.contains("loopback 127.0.0.1"), "{err}");
        assert_eq!(
            destinations("[::1]", 80, true).unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
    }

    #[test]
    fn localhost_resolves_in_the_proxy_and_is_refused_by_default() {
        let err = destinations("localhost", 80, false).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let ok = destinations("localhost", 80, true).unwrap();
        assert!(ok.iter().all(|a| a.ip().is_loopback()));
    }
}
