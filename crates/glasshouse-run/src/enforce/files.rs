//! The file rules of [`super::ActionCompiler`]: a Landlock allow-list where the policy's
//! default denies, read-only and hidden paths for deny rules, and why a rule stays evaluated
//! only.

use super::*;

impl ActionCompiler<'_> {
    /// `default = "deny"`: a Landlock allow-list of the allow rules' trees.
    pub(super) fn allow_list(&mut self) -> Result<(), RunError> {
        let action = self.action;
        if !self.landlock_ok {
            // No allow-list; deny rules still get what mounts can do.
            let why = format!(
                "this kernel's Landlock (ABI {}) is older than ABI {LANDLOCK_MIN_ABI} (Linux 6.2), which the sandbox needs to limit {action}s to an allow-list",
                self.landlock
            );
            let rules: Vec<Rule> = self.rules().cloned().collect();
            for rule in &rules {
                let applied = match rule.effect() {
                    Effect::Allow => only(why.clone()),
                    Effect::Deny => self.deny_rule(rule)?,
                };
                self.push(Some(rule.number()), applied);
            }
            self.push(None, only(why));
            return Ok(());
        }
        let rules: Vec<Rule> = self.rules().cloned().collect();
        let mut grants: Vec<PathBuf> = Vec::new();
        let mut private_tmp = false;
        let mut decided = Vec::new();
        for rule in rules.iter().filter(|r| r.effect() == Effect::Allow) {
            let stricter = |why: String| {
                refused(format!(
                    "policy rule {} allows {action} of {}, but {why}; enforcing the policy would refuse what the rule allows: write the target as a directory tree (`/dir/**`) or an existing file, or drop --enforce",
                    rule.label(),
                    rule.target()
                ))
            };
            let applied = match rule.path_shape(self.context) {
                Some(PathShape::Nothing(v)) => only(format!("matches nothing: {v} has no value")),
                Some(PathShape::Glob { .. }) => {
                    return Err(stricter(
                        "it is a glob, and Landlock grants directory trees and files only".into(),
                    ))
                }
                Some(PathShape::Tree(p)) => {
                    let p = path_of(&p);
                    if Path::new(TMP).starts_with(&p) {
                        private_tmp = true;
                    }
                    if self.writable.private_tmp_only(&p) && p != Path::new(TMP) {
                        return Err(stricter(format!(
                            "{} lies in the sandbox's private /tmp, which starts empty (allow /tmp/** instead)",
                            p.display()
                        )));
                    }
                    if p != Path::new(TMP) {
                        match existing(rule, &p)? {
                            Some(c) => grants.push(c),
                            None => {
                                return Err(stricter(format!(
                                    "{} does not exist, and Landlock grants only existing paths",
                                    p.display()
                                )))
                            }
                        }
                    }
                    enforced("landlock")
                }
                Some(PathShape::Exact(p)) => {
                    let p = path_of(&p);
                    match existing(rule, &p)? {
                        Some(c) if !c.is_dir() => {
                            grants.push(c);
                            enforced("landlock")
                        }
                        Some(_) => return Err(stricter(format!(
                            "{} is a directory, and Landlock would grant everything beneath it (write {}/** for the tree)",
                            p.display(),
                            p.display()
                        ))),
                        None => {
                            return Err(stricter(format!(
                                "{} does not exist, and Landlock grants only existing paths",
                                p.display()
                            )))
                        }
                    }
                }
                _ => only(NOT_A_PATH),
            };
            decided.push((rule.number(), applied));
        }
        let denies: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.effect() == Effect::Deny)
            .collect();
        // Deny overrides allow: a denied tree that no granted tree holds takes the granted
        // trees inside it out of the grant (until nothing changes: a removal can uncover more).
        loop {
            let before = grants.len();
            for rule in &denies {
                if let Some(PathShape::Tree(p)) = rule.path_shape(self.context) {
                    let region = path_of(&p);
                    if !grants.iter().any(|g| region.starts_with(g) && *g != region) {
                        grants.retain(|g| !g.starts_with(&region));
                    }
                }
            }
            if grants.len() == before {
                break;
            }
        }
        for rule in denies {
            let applied = self.deny_in_allow_list(rule, &grants, private_tmp)?;
            decided.push((rule.number(), applied));
        }
        decided.sort_by_key(|(n, _)| *n);
        for (n, applied) in decided {
            self.push(Some(n), applied);
        }
        self.push(None, enforced("landlock"));
        let limit = Some(AccessLimit::new(grants, private_tmp));
        match action {
            Action::Read => self.sandbox.limit_reads = limit,
            _ => self.sandbox.limit_writes = limit,
        }
        Ok(())
    }

    /// A deny rule where only the allow rules' trees are granted.
    fn deny_in_allow_list(
        &mut self,
        rule: &Rule,
        allowed: &[PathBuf],
        private_tmp: bool,
    ) -> Result<Applied, RunError> {
        let (region, tree, glob) = match rule.path_shape(self.context) {
            Some(PathShape::Nothing(v)) => {
                return Ok(only(format!("matches nothing: {v} has no value")))
            }
            Some(PathShape::Tree(p)) => (path_of(&p), true, false),
            Some(PathShape::Exact(p)) => (path_of(&p), false, false),
            Some(PathShape::Glob { within }) => (path_of(&within), false, true),
            _ => return Ok(only(NOT_A_PATH)),
        };
        let covering = allowed
            .iter()
            .find(|a| region.starts_with(a))
            .cloned()
            .or_else(|| {
                (private_tmp && self.writable.private_tmp_only(&region)).then(|| PathBuf::from(TMP))
            });
        if covering.is_none() {
            if glob {
                if let Some(inside) = allowed.iter().find(|a| a.starts_with(&region)) {
                    return Ok(only(format!(
                        "a glob that reaches into the allowed tree {}: Landlock grants whole trees and cannot leave out the paths a glob names",
                        inside.display()
                    )));
                }
            }
            return Ok(Applied::Enforced {
                mechanism: "landlock",
                note: Some("outside every tree the policy allows".into()),
            });
        }
        let inside = covering.unwrap_or_default();
        self.deny_inside_allowed(rule, &region, tree, glob, &inside)
    }

    /// A deny inside a tree Landlock grants: only a mount can carve it out.
    fn deny_inside_allowed(
        &mut self,
        rule: &Rule,
        region: &Path,
        tree: bool,
        glob: bool,
        inside: &Path,
    ) -> Result<Applied, RunError> {
        let landlock_cannot = format!(
            "Landlock can only grant, and this lies inside the allowed tree {}",
            inside.display()
        );
        if glob {
            return Ok(only(format!(
                "{landlock_cannot}; a glob names no path a read-only mount or a hidden path could cover"
            )));
        }
        self.carve(rule, region, tree, &landlock_cannot)
    }

    /// `default = "allow"`: only deny rules restrict, each with a mount where it can.
    pub(super) fn deny_list(&mut self) -> Result<(), RunError> {
        let why = format!(
            "the policy's default allows {}s: an allow rule changes no decision, so there is nothing to enforce",
            self.action
        );
        let rules: Vec<Rule> = self.rules().cloned().collect();
        for rule in &rules {
            let applied = if rule.effect() == Effect::Allow {
                only(why.clone())
            } else {
                self.deny_rule(rule)?
            };
            self.push(Some(rule.number()), applied);
        }
        self.push(None, only(why));
        Ok(())
    }

    /// A deny rule without an allow-list: a mount where one covers it exactly.
    fn deny_rule(&mut self, rule: &Rule) -> Result<Applied, RunError> {
        Ok(match rule.path_shape(self.context) {
            Some(PathShape::Nothing(v)) => only(format!("matches nothing: {v} has no value")),
            Some(PathShape::Tree(p)) => self.carve(rule, &path_of(&p), true, "")?,
            Some(PathShape::Exact(p)) => self.carve(rule, &path_of(&p), false, "")?,
            Some(PathShape::Glob { within }) => self.glob_deny(&path_of(&within)),
            _ => only(NOT_A_PATH),
        })
    }

    /// A glob deny without an allow-list: enforced only when the sandbox refuses the whole
    /// directory it lies in.
    fn glob_deny(&self, within: &Path) -> Applied {
        if self.action == Action::Write
            && self.writable.covering(within).is_none()
            && self.writable.beneath(within).is_none()
            && !self.writable.private_tmp_only(within)
            && !Path::new(TMP).starts_with(within)
        {
            return Applied::Enforced {
                mechanism: "ro-root",
                note: Some(format!(
                    "{} lies outside every writable path of the sandbox",
                    within.display()
                )),
            };
        }
        only("a glob names no existing path that a read-only mount or a hidden path could cover")
    }

    /// A deny of `path` (a tree, or exactly the path) with a read-only mount (write) or a
    /// hidden path (read).
    fn carve(
        &mut self,
        rule: &Rule,
        path: &Path,
        tree: bool,
        prefix: &str,
    ) -> Result<Applied, RunError> {
        let lead = |why: String| {
            if prefix.is_empty() {
                why
            } else {
                format!("{prefix}; {why}")
            }
        };
        if self.writable.private_tmp_only(path) || Path::new(TMP).starts_with(path) {
            return Ok(only(lead(format!(
                "{} reaches into the sandbox's private /tmp, which starts empty and has no path to mount over",
                path.display()
            ))));
        }
        let write = self.action == Action::Write;
        if let Some(w) = self.writable.beneath(path) {
            return Ok(only(lead(format!(
                "{} holds the writable {}, which the sandbox keeps writable",
                path.display(),
                w.display()
            ))));
        }
        if !write && self.writable.cwd.starts_with(path) {
            return Ok(only(lead(format!(
                "{} holds the working directory, which cannot be hidden",
                path.display()
            ))));
        }
        if write && self.writable.covering(path).is_none() {
            return Ok(Applied::Enforced {
                mechanism: "ro-root",
                note: Some(format!(
                    "{} lies outside every writable path of the sandbox",
                    path.display()
                )),
            });
        }
        let Some(existing) = existing(rule, path)? else {
            return Ok(only(lead(format!(
                "{} does not exist when the sandbox is built, and only an existing path can be {}",
                path.display(),
                if write { "mounted read-only" } else { "hidden" }
            ))));
        };
        if existing.is_dir() && !tree {
            return Ok(only(lead(format!(
                "the rule names the directory {} but not what lies beneath it, and a mount covers both",
                path.display()
            ))));
        }
        if write {
            self.sandbox.read_only.push(existing);
            Ok(enforced("ro-mount"))
        } else {
            if self.writable.covering(&existing).is_some() {
                return Ok(only(lead(format!(
                    "{} lies in a writable path, where a hidden path would also refuse writes the policy allows",
                    path.display()
                ))));
            }
            self.sandbox.hidden.push(existing);
            Ok(Applied::Enforced {
                mechanism: "hidden",
                note: Some(
                    "replaced by an empty directory or file: reads find nothing there rather than fail (and nothing beneath it can be run)"
                        .into(),
                ),
            })
        }
    }
}
