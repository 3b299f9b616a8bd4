//! Connect targets: addresses, CIDR blocks and ports for inet destinations, path globs for unix
//! sockets, and `*` for everything.
//!
//! Forms (a missing port means any port):
//! `1.2.3.4:443`, `1.2.3.4`, `10.0.0.0/8`, `10.0.0.0/8:443`, `127.0.0.1:*`, `*:53`,
//! `0.0.0.0/0:8000-8999`, `[::1]:443`, `[fd00::/8]`, `::1`, `fd00::/8`, `/run/*.sock`,
//! `@abstract-name`, `*`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as the IPv4
//! address it carries, so a v4 rule cannot be sidestepped through a v6 socket.

use crate::context::{Context, Variable};
use crate::error::Problem;
use crate::glob::{Anchor, BoundPath, PathPattern};
use std::net::{IpAddr, SocketAddr};

/// A parsed connect target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectPattern {
    /// `*`: every destination, of every kind.
    Everything,
    /// An inet address set and a port set.
    Inet {
        /// `None` for any address (`*:PORT`).
        network: Option<Network>,
        /// The ports.
        ports: Ports,
    },
    /// A unix socket path or abstract name.
    Socket(PathPattern),
}

/// An address block: `addr` with all bits past `prefix` zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// A port set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ports {
    Any,
    Range(u16, u16),
}

impl Ports {
    fn contains(self, port: u16) -> bool {
        match self {
            Self::Any => true,
            Self::Range(lo, hi) => lo <= port && port <= hi,
        }
    }
}

fn mask_v4(bits: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask_v6(bits: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix)))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; anything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl ConnectPattern {
    /// Parses a connect target as written in a rule.
    pub(crate) fn parse(target: &str) -> Result<Self, Problem> {
        let bad = |why: &str| Problem::BadConnectTarget {
            target: target.to_owned(),
            why: why.to_owned(),
        };
        if target.is_empty() {
            return Err(bad("the target is empty"));
        }
        if target == "*" {
            return Ok(Self::Everything);
        }
        if let Some(ports) = target.strip_prefix("*:") {
            return Ok(Self::Inet {
                network: None,
                ports: parse_ports(ports).map_err(|why| bad(&why))?,
            });
        }
        if target.starts_with(['/', '@', '$']) || target.starts_with("**") {
            return PathPattern::parse(target, Anchor::Socket).map(Self::Socket);
        }
        if let Some(rest) = target.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("`[` is not closed by `]`"))?;
            if !inside.contains(':') {
                return Err(bad(
                    "brackets are for IPv6 addresses; write IPv4 as `1.2.3.4:443`",
                ));
            }
            let network = parse_network(inside, target)?;
            if after.starts_with('/') {
                return Err(bad("put the prefix inside the brackets: `[fd00::/8]:443`"));
            }
            let ports = match after {
                "" => Ports::Any,
                _ => {
                    let ports = after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected `:PORT` after `]`"))?;
                    parse_ports(ports).map_err(|why| bad(&why))?
                }
            };
            return Ok(Self::Inet {
                network: Some(network),
                ports,
            });
        }
        // A bare address or block (IPv6 included) means any port.
        if let Ok(network) = parse_network(target, target) {
            return Ok(Self::Inet {
                network: Some(network),
                ports: Ports::Any,
            });
        }
        if let Some((host, ports)) = target.rsplit_once(':') {
            if host.contains(':') {
                return Err(bad(
                    "put an IPv6 address in brackets when giving a port: `[::1]:443`",
                ));
            }
            if host.contains('/') || looks_like_address(host) {
                return Ok(Self::Inet {
                    network: Some(parse_network(host, target)?),
                    ports: parse_ports(ports).map_err(|why| bad(&why))?,
                });
            }
        } else if target.contains('/') || looks_like_address(target) {
            // Report why the bare address or block did not parse.
            parse_network(target, target)?;
        }
        Err(bad(
            "not an address: receipts record IP addresses, not host names; write `1.2.3.4:443`, \
             `[::1]:443`, a CIDR block such as `10.0.0.0/8:443`, a unix socket path, or `*`",
        ))
    }

    /// The variables the target names (only unix socket paths have any).
    pub(crate) fn variables(&self) -> Vec<Variable> {
        match self {
            Self::Socket(pattern) => pattern.variables().collect(),
            _ => Vec::new(),
        }
    }

    /// Expands variables from `context`; fails with the first one that has no value.
    pub(crate) fn bind(&self, context: &Context) -> Result<BoundConnect, Variable> {
        Ok(match self {
            Self::Everything => BoundConnect::Everything,
            Self::Inet { network, ports } => BoundConnect::Inet {
                network: *network,
                ports: *ports,
            },
            Self::Socket(pattern) => BoundConnect::Socket(pattern.bind(context)?),
        })
    }
}

/// Digits, dots, slashes and hex colons only: what an address or a block is made of.
fn looks_like_address(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'))
        && text.chars().any(|c| c.is_ascii_digit())
}

/// Parses `ADDR` or `ADDR/PREFIX`; `target` is the whole target, for messages.
fn parse_network(text: &str, target: &str) -> Result<Network, Problem> {
    let bad_cidr = |why: String| Problem::BadCidr {
        target: target.to_owned(),
        why,
    };
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text.parse().map_err(|_| Problem::BadConnectTarget {
        target: target.to_owned(),
        why: format!("`{addr_text}` is not an IP address"),
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => {
            let prefix: u8 = p.parse().ok().filter(|n| *n <= max).ok_or_else(|| {
                bad_cidr(format!("prefix `/{p}` must be a number from 0 to {max}"))
            })?;
            let masked = match addr {
                IpAddr::V4(a) => IpAddr::V4(mask_v4(u32::from(a), prefix).into()),
                IpAddr::V6(a) => IpAddr::V6(mask_v6(u128::from(a), prefix).into()),
            };
            if masked != addr {
                return Err(bad_cidr(format!(
                    "`{addr}` has bits set past the /{prefix} prefix; did you mean `{masked}/{prefix}`?"
                )));
            }
            prefix
        }
    };
    // Judge a mapped block as the IPv4 block it is, like mapped destinations.
    Ok(match addr {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Network {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            None => Network { addr, prefix },
        },
        _ => Network { addr, prefix },
    })
}

fn parse_ports(text: &str) -> Result<Ports, String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port (0 to 65535)"))
    };
    match text {
        "*" => Ok(Ports::Any),
        _ => match text.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (port(lo)?, port(hi)?);
                if lo > hi {
                    return Err(format!("the port range `{text}` runs backwards"));
                }
                Ok(Ports::Range(lo, hi))
            }
            None => {
                let p = port(text)?;
                Ok(Ports::Range(p, p))
            }
        },
    }
}

/// A connect target with its variables expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BoundConnect {
    Everything,
    Inet {
        network: Option<Network>,
        ports: Ports,
    },
    Socket(BoundPath),
}

impl BoundConnect {
    /// Whether `destination` matches.
    pub(crate) fn matches(&self, destination: &Destination<'_>) -> bool {
        match (self, destination) {
            (Self::Everything, _) => true,
            (Self::Inet { network, ports }, Destination::Inet(addr)) => {
                network.is_none_or(|n| n.contains(addr.ip())) && ports.contains(addr.port())
            }
            (Self::Socket(path), Destination::Socket(bytes)) => path.matches(bytes),
            _ => false,
        }
    }
}

/// A receipt's network destination, classified once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination<'a> {
    /// `ip:port` or `[v6]:port`.
    Inet(SocketAddr),
    /// A unix socket path or `@abstract` name.
    Socket(&'a [u8]),
    /// Anything else; only `*` matches it.
    Other,
}

impl<'a> Destination<'a> {
    /// Classifies a receipt's `dst`.
    pub(crate) fn parse(dst: &'a [u8]) -> Self {
        if let Some(addr) = std::str::from_utf8(dst)
            .ok()
            .and_then(|s| s.parse::<SocketAddr>().ok())
        {
            return Self::Inet(addr);
        }
        match dst.first() {
            Some(b'/' | b'@') => Self::Socket(dst),
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_v4(0xffff_ffff, 0), 0);
        assert_eq!(mask_v4(0xffff_ffff, 8), 0xff00_0000);
        assert_eq!(mask_v4(0xffff_ffff, 32), 0xffff_ffff);
        assert_eq!(mask_v6(u128::MAX, 0), 0);
        assert_eq!(mask_v6(u128::MAX, 128), u128::MAX);
        assert_eq!(mask_v6(u128::MAX, 1), 1 << 127);
    }
}
