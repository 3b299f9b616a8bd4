//! Which program serves each hook on the running kernel, and whether the kernel is new enough at
//! all.
//!
//! Some tracepoints changed between kernel versions: `sched_process_exit` gained `group_dead`,
//! `io_uring_complete` once passed the completion's fields and now passes the completion,
//! `io_uring_submit_sqe` became `io_uring_submit_req`, and `sock_send_length`/`sock_recv_length`
//! do not exist before 6.3. The object carries one program per signature; the kernel's BTF
//! (`btf_trace_<name>` typedefs) says which one fits. A hook with no fitting program is reported
//! as not attached, with what the receipt then misses. The choice depends only on the kernel, so
//! it is kept beside the relocated object for the rest of the boot.

use crate::kernel_btf::{self, Arg, KernelFacts};
use crate::relocated;
use glasshouse_receipt::HookStatus;

/// One program of the object and the tracepoint signature it is written for (the arguments
/// after the context).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Variant {
    /// The program's name in the object.
    pub program: &'static str,
    /// The tracepoint it attaches to.
    pub tracepoint: &'static str,
    /// The arguments it reads the tracepoint with.
    pub args: &'static [Arg],
}

/// One hook of the sensor.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hook {
    /// Its name: the first variant's program, and the name its program is pinned under in a
    /// kept set whichever variant serves it.
    pub name: &'static str,
    /// What a receipt does not show when the hook is missing.
    pub unseen: &'static str,
    /// The programs that can serve it, newest kernel first.
    pub variants: &'static [Variant],
}

const fn one(program: &'static str, tracepoint: &'static str, args: &'static [Arg]) -> Variant {
    Variant {
        program,
        tracepoint,
        args,
    }
}

use Arg::{Int, Ptr};

/// Every hook of the sensor.
pub(crate) const HOOKS: &[Hook] = &[
    Hook {
        name: "gh_fork",
        unseen: "new processes of the tree are not followed",
        variants: &[one("gh_fork", "sched_process_fork", &[Ptr, Ptr])],
    },
    Hook {
        name: "gh_exec",
        unseen: "programs the tree executed are not recorded",
        variants: &[one("gh_exec", "sched_process_exec", &[Ptr, Int, Ptr])],
    },
    Hook {
        name: "gh_exit",
        unseen: "process exits and exit statuses are not recorded",
        variants: &[
            one("gh_exit", "sched_process_exit", &[Ptr, Int]),
            one("gh_exit_v1", "sched_process_exit", &[Ptr]),
        ],
    },
    Hook {
        name: "gh_sys_enter",
        unseen: "system calls (file, network and process operations) are not seen",
        variants: &[one("gh_sys_enter", "sys_enter", &[Ptr, Int])],
    },
    Hook {
        name: "gh_sys_exit",
        unseen: "results of system calls (files opened, paths changed, connections) are not seen",
        variants: &[one("gh_sys_exit", "sys_exit", &[Ptr, Int])],
    },
    Hook {
        name: "gh_tcp_state",
        unseen: "outcomes of non-blocking TCP connects are not recorded",
        variants: &[one("gh_tcp_state", "inet_sock_set_state", &[Ptr, Int, Int])],
    },
    Hook {
        name: "gh_sock_send",
        unseen: "bytes sent on inet sockets are not counted (network.bytes_sent)",
        variants: &[one("gh_sock_send", "sock_send_length", &[Ptr, Int, Int])],
    },
    Hook {
        name: "gh_sock_recv",
        unseen: "bytes received on inet sockets are not counted (network.bytes_received)",
        variants: &[one("gh_sock_recv", "sock_recv_length", &[Ptr, Int, Int])],
    },
    Hook {
        name: "gh_uring_submit",
        unseen: "io_uring operations (opens, unlinks, renames, connects, ...) are not seen",
        variants: &[
            one("gh_uring_submit", "io_uring_submit_req", &[Ptr]),
            one("gh_uring_submit_sqe", "io_uring_submit_sqe", &[Ptr, Int]),
        ],
    },
    Hook {
        name: "gh_uring_complete",
        unseen: "results of io_uring operations are not seen",
        variants: &[
            one("gh_uring_complete", "io_uring_complete", &[Ptr, Ptr, Ptr]),
            one(
                "gh_uring_complete_v1",
                "io_uring_complete",
                &[Ptr, Ptr, Int, Int, Int, Int, Int],
            ),
        ],
    },
];

/// The hooks without which the sensor cannot follow a tree at all: a kernel lacking one is
/// below the minimum.
const ESSENTIAL: &[&str] = &[
    "gh_fork",
    "gh_exec",
    "gh_exit",
    "gh_sys_enter",
    "gh_sys_exit",
];

/// BPF features the programs need, as the kernel's BTF names them, with what they are. Together
/// they set the oldest kernel glasshouse starts on: 5.17 (`bpf_loop`).
const FEATURES: &[(&str, &str)] = &[
    ("BPF_MAP_TYPE_RINGBUF", "the BPF ring buffer (Linux 5.8)"),
    (
        "BPF_FUNC_ringbuf_query",
        "the bpf_ringbuf_query helper (Linux 5.8)",
    ),
    ("BPF_MAP_TYPE_TASK_STORAGE", "BPF task storage (Linux 5.11)"),
    (
        "BPF_FUNC_task_storage_get",
        "the bpf_task_storage_get helper (Linux 5.11)",
    ),
    (
        "BPF_FUNC_get_current_task_btf",
        "the bpf_get_current_task_btf helper (Linux 5.11)",
    ),
    ("BPF_FUNC_loop", "the bpf_loop helper (Linux 5.17)"),
];

/// What serves one hook on this kernel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// This program.
    Load(&'static Variant),
    /// None: why.
    Absent(String),
}

/// The program of every hook on this kernel, or the feature it lacks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// One entry per hook of [`HOOKS`], in order.
    pub choices: Vec<(&'static Hook, Choice)>,
    /// A feature the kernel lacks that the sensor cannot do without.
    pub missing: Option<String>,
}

impl Plan {
    /// Chooses from the facts of a kernel's BTF.
    pub(crate) fn choose(facts: &KernelFacts) -> Self {
        let mut missing = FEATURES
            .iter()
            .find(|(name, _)| !facts.enumerators.contains(*name))
            .map(|(_, what)| (*what).to_owned());
        let choices: Vec<(&'static Hook, Choice)> = HOOKS
            .iter()
            .map(|hook| (hook, choose_variant(hook, facts)))
            .collect();
        if missing.is_none() {
            missing = choices.iter().find_map(|(hook, choice)| match choice {
                Choice::Absent(why) if ESSENTIAL.contains(&hook.name) => Some(why.clone()),
                _ => None,
            });
        }
        Self { choices, missing }
    }

    /// Reads a kernel's BTF (the running kernel's at [`kernel_btf::KERNEL_BTF`]) and chooses.
    pub(crate) fn for_kernel(btf: &std::path::Path) -> Result<Self, String> {
        let data = std::fs::read(btf).map_err(|e| format!("reading {}: {e}", btf.display()))?;
        let tracepoints: Vec<&str> = HOOKS
            .iter()
            .flat_map(|h| h.variants.iter().map(|v| v.tracepoint))
            .collect();
        let features: Vec<&str> = FEATURES.iter().map(|(name, _)| *name).collect();
        let facts = kernel_btf::read_facts(&data, &tracepoints, &features)?;
        Ok(Self::choose(&facts))
    }

    /// The plan as text, one line per hook (`hook program` or `hook - reason`), and a last
    /// `missing` line when a feature is missing.
    pub(crate) fn to_text(&self) -> String {
        let mut text = String::new();
        for (hook, choice) in &self.choices {
            match choice {
                Choice::Load(v) => text.push_str(&format!("{} {}\n", hook.name, v.program)),
                Choice::Absent(why) => {
                    text.push_str(&format!("{} - {}\n", hook.name, why.replace('\n', " ")))
                }
            }
        }
        if let Some(missing) = &self.missing {
            text.push_str(&format!("missing {}\n", missing.replace('\n', " ")));
        }
        text
    }

    /// Reads [`Plan::to_text`]'s output; `None` when it does not describe exactly [`HOOKS`].
    pub(crate) fn from_text(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let mut choices = Vec::new();
        for hook in HOOKS {
            let (name, rest) = lines.next()?.split_once(' ')?;
            if name != hook.name {
                return None;
            }
            let choice = match rest.split_once(' ') {
                Some(("-", why)) => Choice::Absent(why.to_owned()),
                _ => Choice::Load(hook.variants.iter().find(|v| v.program == rest)?),
            };
            choices.push((hook, choice));
        }
        let missing = match lines.next() {
            None => None,
            Some(line) => Some(line.strip_prefix("missing ")?.to_owned()),
        };
        lines.next().is_none().then_some(Self { choices, missing })
    }

    /// The hooks to load: (pin name, program, tracepoint).
    pub(crate) fn loadable(&self) -> impl Iterator<Item = (&'static str, &'static Variant)> + '_ {
        self.choices
            .iter()
            .filter_map(|(hook, choice)| match choice {
                Choice::Load(v) => Some((hook.name, *v)),
                Choice::Absent(_) => None,
            })
    }
}

impl Plan {
    /// The receipt's status of every hook, in order: a loadable hook attached unless
    /// `error_of(hook name)` says why not; an absent one with the reason.
    pub(crate) fn statuses(&self, error_of: impl Fn(&str) -> Option<String>) -> Vec<HookStatus> {
        self.choices
            .iter()
            .map(|(hook, choice)| match choice {
                Choice::Load(v) => {
                    let error = error_of(hook.name);
                    HookStatus::new(format!("tp_btf/{}", v.tracepoint), error.is_none(), error)
                }
                Choice::Absent(why) => {
                    let tracepoint = hook.variants.first().map_or(hook.name, |v| v.tracepoint);
                    HookStatus::new(format!("tp_btf/{tracepoint}"), false, Some(why.clone()))
                }
            })
            .collect()
    }

    /// Notes for the hooks of `statuses` (as [`Plan::statuses`] made them) that did not attach.
    pub(crate) fn notes(&self, statuses: &[HookStatus]) -> Vec<String> {
        self.choices
            .iter()
            .zip(statuses)
            .filter(|(_, status)| !status.attached)
            .map(|((hook, _), status)| {
                format!(
                    "hook {} did not attach: {}; this receipt is incomplete",
                    status.name, hook.unseen
                )
            })
            .collect()
    }
}

/// The plan for this boot of this kernel: the one kept beside the relocated object named
/// `key`, or one chosen now from the kernel's BTF (and kept).
pub(crate) fn for_this_boot(key: Option<&str>) -> Result<Plan, String> {
    let running = std::path::Path::new(kernel_btf::KERNEL_BTF);
    let dir = std::path::Path::new(relocated::CACHE_DIR);
    let plan_key = key.map(|k| {
        let digest = k.trim_start_matches("core-").trim_end_matches(".o");
        format!("hooks-{digest}.txt")
    });
    if let Some(plan_key) = &plan_key {
        let kept = relocated::load(dir, plan_key).and_then(|b| String::from_utf8(b).ok());
        if let Some(plan) = kept.as_deref().and_then(Plan::from_text) {
            return Ok(plan);
        }
    }
    let plan = Plan::for_kernel(running)?;
    if let Some(plan_key) = &plan_key {
        relocated::store(dir, plan_key, plan.to_text().as_bytes());
    }
    Ok(plan)
}

fn choose_variant(hook: &'static Hook, facts: &KernelFacts) -> Choice {
    let mut seen = Vec::new();
    for variant in hook.variants {
        match facts.tracepoints.get(variant.tracepoint) {
            Some(args) if args == variant.args => return Choice::Load(variant),
            Some(args) => seen.push(format!("{}{:?}", variant.tracepoint, args)),
            None => {}
        }
    }
    let names: Vec<&str> = hook.variants.iter().map(|v| v.tracepoint).collect();
    let mut names = names;
    names.dedup();
    if seen.is_empty() {
        Choice::Absent(format!(
            "this kernel has no tracepoint {}",
            names.join(" or ")
        ))
    } else {
        seen.dedup();
        Choice::Absent(format!(
            "this kernel's tracepoint has a signature glasshouse has no program for: {}",
            seen.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn facts(tracepoints: &[(&str, &[Arg])], without: &[&str]) -> KernelFacts {
        KernelFacts {
            tracepoints: tracepoints
                .iter()
                .map(|(n, a)| ((*n).to_owned(), a.to_vec()))
                .collect::<BTreeMap<_, _>>(),
            enumerators: FEATURES
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !without.contains(n))
                .map(String::from)
                .collect(),
        }
    }

    const COMMON: &[(&str, &[Arg])] = &[
        ("sched_process_fork", &[Ptr, Ptr]),
        ("sched_process_exec", &[Ptr, Int, Ptr]),
        ("sys_enter", &[Ptr, Int]),
        ("sys_exit", &[Ptr, Int]),
        ("inet_sock_set_state", &[Ptr, Int, Int]),
    ];

    fn program_of(plan: &Plan, hook: &str) -> Option<&'static str> {
        plan.choices
            .iter()
            .find(|(h, _)| h.name == hook)
            .and_then(|(_, c)| match c {
                Choice::Load(v) => Some(v.program),
                Choice::Absent(_) => None,
            })
    }

    /// The signatures of Debian's 6.1 kernel, as its BTF states them.
    #[test]
    fn a_6_1_kernel_gets_the_old_variants_and_no_byte_counts() {
        let mut tps = COMMON.to_vec();
        tps.push(("sched_process_exit", &[Ptr]));
        tps.push(("io_uring_submit_sqe", &[Ptr, Int]));
        tps.push(("io_uring_complete", &[Ptr, Ptr, Int, Int, Int, Int, Int]));
        let plan = Plan::choose(&facts(&tps, &[]));
        assert_eq!(plan.missing, None);
        assert_eq!(program_of(&plan, "gh_exit"), Some("gh_exit_v1"));
        assert_eq!(
            program_of(&plan, "gh_uring_submit"),
            Some("gh_uring_submit_sqe")
        );
        assert_eq!(
            program_of(&plan, "gh_uring_complete"),
            Some("gh_uring_complete_v1")
        );
        assert_eq!(program_of(&plan, "gh_sock_send"), None);
        let text = plan.to_text();
        assert!(
            text.contains("gh_sock_send - this kernel has no tracepoint sock_send_length\n"),
            "{text}"
        );
        assert_eq!(Plan::from_text(&text), Some(plan));
    }

    /// 6.12: the new submit tracepoint, byte counts, still the old exit and completion.
    #[test]
    fn a_6_12_kernel_mixes_old_and_new() {
        let mut tps = COMMON.to_vec();
        tps.push(("sched_process_exit", &[Ptr]));
        tps.push(("io_uring_submit_req", &[Ptr]));
        tps.push(("io_uring_complete", &[Ptr, Ptr, Int, Int, Int, Int, Int]));
        tps.push(("sock_send_length", &[Ptr, Int, Int]));
        tps.push(("sock_recv_length", &[Ptr, Int, Int]));
        let plan = Plan::choose(&facts(&tps, &[]));
        assert_eq!(program_of(&plan, "gh_exit"), Some("gh_exit_v1"));
        assert_eq!(
            program_of(&plan, "gh_uring_submit"),
            Some("gh_uring_submit")
        );
        assert_eq!(
            program_of(&plan, "gh_uring_complete"),
            Some("gh_uring_complete_v1")
        );
        assert_eq!(program_of(&plan, "gh_sock_recv"), Some("gh_sock_recv"));
        assert_eq!(plan.loadable().count(), HOOKS.len());
    }

    #[test]
    fn an_unknown_signature_loads_nothing_rather_than_the_wrong_program() {
        let mut tps = COMMON.to_vec();
        tps.push(("sched_process_exit", &[Ptr, Int]));
        tps.push(("io_uring_complete", &[Ptr, Int]));
        let plan = Plan::choose(&facts(&tps, &[]));
        let (_, choice) = &plan
            .choices
            .iter()
            .find(|(h, _)| h.name == "gh_uring_complete")
            .unwrap();
        assert!(
            matches!(choice, Choice::Absent(why) if why.contains("signature")),
            "{choice:?}"
        );
    }

    #[test]
    fn a_kernel_without_bpf_loop_or_an_essential_tracepoint_is_below_the_minimum() {
        let mut tps = COMMON.to_vec();
        tps.push(("sched_process_exit", &[Ptr]));
        let plan = Plan::choose(&facts(&tps, &["BPF_FUNC_loop"]));
        assert_eq!(
            plan.missing.as_deref(),
            Some("the bpf_loop helper (Linux 5.17)")
        );
        let plan = Plan::choose(&facts(&COMMON[..4], &[]));
        assert_eq!(
            plan.missing.as_deref(),
            Some("this kernel has no tracepoint sched_process_exit")
        );
        assert_eq!(Plan::from_text(&plan.to_text()), Some(plan));
    }

    #[test]
    fn text_of_another_hook_list_is_refused() {
        assert_eq!(Plan::from_text(""), None);
        assert_eq!(Plan::from_text("gh_fork gh_fork\n"), None);
        assert_eq!(Plan::from_text("gh_exec gh_exec\n"), None);
    }

    /// On the kernel these tests run on, every program of the object must be loadable.
    #[test]
    fn the_running_kernel_needs_no_missing_feature() {
        let plan =
            Plan::for_kernel(std::path::Path::new(kernel_btf::KERNEL_BTF)).expect("read BTF");
        assert_eq!(plan.missing, None, "{}", plan.to_text());
    }
}
