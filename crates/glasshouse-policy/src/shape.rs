//! What a path rule covers, in the terms a sandbox can express (a directory tree, one path),
//! for compiling a policy into enforcement; and single-rule matching for reports.

use crate::context::{Context, Variable};
use crate::eval::BoundTarget;
use crate::net::Destination;
use crate::policy::{Matcher, Rule};

/// The set of paths a path rule matches, once its variables are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathShape {
    /// `P/**` (or `**`, P being `/`): P itself and everything beneath it.
    Tree(Vec<u8>),
    /// A pattern without wildcards: exactly this path.
    Exact(Vec<u8>),
    /// A glob: some paths, all of them beneath `within` (the literal directories before its
    /// first wildcard; `/` for a pattern that matches file names anywhere).
    Glob {
        /// The deepest directory every match lies beneath.
        within: Vec<u8>,
    },
    /// The target uses a variable that has no value: the rule matches nothing.
    Nothing(Variable),
}

impl Rule {
    /// What the rule's path target covers in `context`; `None` for a connect rule.
    pub fn path_shape(&self, context: &Context) -> Option<PathShape> {
        match &self.matcher {
            Matcher::Path(pattern) => Some(match pattern.bind(context) {
                Ok(bound) => bound.shape(),
                Err(variable) => PathShape::Nothing(variable),
            }),
            Matcher::Connect(_) => None,
        }
    }

    /// Whether the rule's target matches `target` (a path, or for a connect rule a receipt
    /// destination) in `context`, whatever its action and effect.
    pub fn target_matches(&self, target: &[u8], context: &Context) -> bool {
        let bound = match &self.matcher {
            Matcher::Path(p) => p.bind(context).map(BoundTarget::Path),
            Matcher::Connect(p) => p.bind(context).map(BoundTarget::Connect),
        };
        match bound {
            Ok(BoundTarget::Path(path)) => path.matches(target),
            Ok(BoundTarget::Connect(connect)) => connect.matches(&Destination::parse(target)),
            Err(_) => false,
        }
    }

    /// Whether a connect rule's target is a unix socket pattern (which names no inet
    /// destination).
    pub fn is_socket_target(&self) -> bool {
        matches!(
            &self.matcher,
            Matcher::Connect(crate::net::ConnectPattern::Socket(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn shape(target: &str) -> PathShape {
        let text = format!(
            "version = 1\ndefault = \"allow\"\n[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = '{target}'\nreason = \"r\"\n"
        );
        let policy = Policy::parse(text.as_bytes(), "t.toml").unwrap();
        let context = Context::new(Some("/w/d".into()), None);
        policy.rules()[0].path_shape(&context).unwrap()
    }

    #[test]
    fn shapes_name_trees_paths_and_globs() {
        assert_eq!(shape("/etc/**"), PathShape::Tree(b"/etc".to_vec()));
        assert_eq!(shape("**"), PathShape::Tree(b"/".to_vec()));
        assert_eq!(shape("*"), PathShape::Tree(b"/".to_vec()));
        assert_eq!(shape("/**"), PathShape::Tree(b"/".to_vec()));
        assert_eq!(shape("${CWD}/**"), PathShape::Tree(b"/w/d".to_vec()));
        assert_eq!(shape("${CWD}/out/"), PathShape::Exact(b"/w/d/out".to_vec()));
        assert_eq!(
            shape("/etc/passwd"),
            PathShape::Exact(b"/etc/passwd".to_vec())
        );
        assert_eq!(shape("/"), PathShape::Exact(b"/".to_vec()));
        let glob = |w: &str| PathShape::Glob {
            within: w.as_bytes().to_vec(),
        };
        assert_eq!(shape("/etc/*.conf"), glob("/etc"));
        assert_eq!(shape("/a/**/b"), glob("/a"));
        assert_eq!(shape("**/.env"), glob("/"));
        assert_eq!(shape("*.pem"), glob("/"));
        assert_eq!(shape("id_rsa"), glob("/"));
        assert_eq!(shape("${HOME}/**"), PathShape::Nothing(Variable::Home));
    }
}
