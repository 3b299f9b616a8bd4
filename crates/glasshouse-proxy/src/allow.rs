//! The allowlist: host patterns (`example.com`, `*.example.com`, optional `:port`).

use crate::ProxyError;

/// One allowlist entry as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    text: String,
    /// Lowercase, without a trailing dot. For a wildcard, the suffix after `*.`.
    name: String,
    wildcard: bool,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses `host`, `*.domain`, `host:port`, `*.domain:port` or `[v6]:port`.
    pub fn parse(text: &str) -> Result<Self, ProxyError> {
        let bad = |why: &str| ProxyError::BadPattern {
            pattern: text.to_owned(),
            reason: why.to_owned(),
        };
        let (host, port) =
            split_host_port(text).ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("the host name is empty"));
        }
        if name.contains('*') {
            return Err(bad("`*` is allowed only as a leading `*.` label"));
        }
        if name
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':')))
        {
            return Err(bad(
                "a host name holds only letters, digits, `-`, `_` and `.`",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            name,
            wildcard,
            port,
        })
    }

    /// The pattern as written (what the receipt names as the rule).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern names this host (already normalized) and port.
    fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.wildcard {
            host.len() > self.name.len()
                && host.ends_with(&self.name)
                && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
        } else {
            host == self.name
        }
    }
}

/// Splits an optional `:port` off `text`; `None` when the port is not a valid port.
/// A bracketed IPv6 literal keeps its colons; a bare IPv6 literal has no port.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(parse_port(port)?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(parse_port(port)?))),
        _ => Some((text, None)),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Normalizes a requested host for matching: lowercase, no trailing dot, no IPv6 brackets.
pub(crate) fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Host patterns; a request is allowed when any of them matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    patterns: Vec<HostPattern>,
}

impl Allowlist {
    /// Parses every pattern; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, ProxyError> {
        Ok(Self {
            patterns: patterns
                .iter()
                .map(|p| HostPattern::parse(p.as_ref()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The first pattern that allows `host:port`.
    pub fn find(&self, host: &str, port: u16) -> Option<&HostPattern> {
        let host = normalize_host(host);
        self.patterns.iter().find(|p| p.matches(&host, port))
    }

    /// Whether there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[HostPattern] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, host: &str, port: u16) -> bool {
        Allowlist::parse(&[pattern])
            .unwrap()
            .find(host, port)
            .is_some()
    }

    #[test]
    fn exact_names_match_themselves_on_any_port_unless_a_port_is_given() {
        assert!(allows("example.com", "example.com", 443));
        assert!(allows("example.com", "EXAMPLE.com.", 80));
        assert!(!allows("example.com", "www.example.com", 443));
        assert!(!allows("example.com", "badexample.com", 443));
        assert!(allows("example.com:443", "example.com", 443));
        assert!(!allows("example.com:443", "example.com", 80));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        assert!(allows("*.example.com", "a.example.com", 443));
        assert!(allows("*.example.com", "a.b.example.com", 443));
        assert!(!allows("*.example.com", "example.com", 443));
        assert!(!allows("*.example.com", "aexample.com", 443));
        assert!(!allows("*.example.com:80", "a.example.com", 443));
    }

    #[test]
    fn address_literals_match() {
        assert!(allows("127.0.0.1:8080", "127.0.0.1", 8080));
        assert!(allows("[::1]:8080", "[::1]", 8080));
        assert!(allows("::1", "::1", 1));
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in [
            "",
            "*.",
            "a.*.com",
            "ex ample.com",
            "example.com:0",
            "example.com:http",
            "[::1",
        ] {
            let err = HostPattern::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
