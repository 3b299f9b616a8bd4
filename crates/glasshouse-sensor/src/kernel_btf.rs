//! Just enough of the kernel's BTF to choose the sensor's programs: the signatures of the
//! tracepoints it attaches to (`btf_trace_<name>` typedefs) and the names in the enums that say
//! which BPF map types and helpers the kernel has.
//!
//! One pass over the type section, reading only the names of typedefs and enums; aya parses the
//! whole BTF only when it relocates or loads.

use std::collections::{BTreeMap, BTreeSet};

/// Where the running kernel's BTF is.
pub(crate) const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// What a tracepoint argument is, as far as choosing a program goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A pointer.
    Ptr,
    /// An integer, a bool or an enum.
    Int,
    /// Anything else (a struct by value, ...).
    Other,
}

/// The facts glasshouse reads from a kernel's BTF.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct KernelFacts {
    /// Argument kinds of each tracepoint that was asked about and exists (without the leading
    /// `void *` context every `btf_trace_` prototype has).
    pub tracepoints: BTreeMap<String, Vec<Arg>>,
    /// The enumerator names that were asked about and exist.
    pub enumerators: BTreeSet<String>,
}

/// Reads the facts asked for from BTF `data`: the signatures of `tracepoints`, and which of
/// `enumerators` are members of the enum `bpf_map_type` or `bpf_func_id`.
pub(crate) fn read_facts(
    data: &[u8],
    tracepoints: &[&str],
    enumerators: &[&str],
) -> Result<KernelFacts, String> {
    let btf = Parsed::new(data)?;
    let mut facts = KernelFacts::default();
    let mut wanted_typedefs: BTreeMap<String, &str> = tracepoints
        .iter()
        .map(|tp| (format!("btf_trace_{tp}"), *tp))
        .collect();
    for id in 1..btf.offsets.len() as u32 {
        let (name_off, info, size_or_type) = btf.header(id)?;
        match kind(info) {
            KIND_TYPEDEF if !wanted_typedefs.is_empty() => {
                let name = btf.name(name_off)?;
                if let Some(tp) = wanted_typedefs.remove(name) {
                    if let Some(args) = btf.trace_args(size_or_type)? {
                        facts.tracepoints.insert(tp.to_owned(), args);
                    }
                }
            }
            KIND_ENUM | KIND_ENUM64 => {
                let name = btf.name(name_off)?;
                if name == "bpf_map_type" || name == "bpf_func_id" {
                    let step = if kind(info) == KIND_ENUM { 8 } else { 12 };
                    let body = btf.offsets[id as usize] + 12;
                    for i in 0..vlen(info) {
                        let variant = btf.name(btf.u32_at(body + i * step)?)?;
                        if enumerators.contains(&variant) {
                            facts.enumerators.insert(variant.to_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

fn kind(info: u32) -> u32 {
    (info >> 24) & 0x1f
}

fn vlen(info: u32) -> usize {
    (info & 0xffff) as usize
}

/// A BTF blob with the offset of every type's record.
struct Parsed<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Offset in `types` of each type's record, by id (id 0, void, has none: 0).
    offsets: Vec<usize>,
}

impl<'a> Parsed<'a> {
    fn new(data: &'a [u8]) -> Result<Self, String> {
        let u32_at = |at: usize| -> Result<usize, String> {
            data.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(|b| u32::from_le_bytes(b) as usize)
                .ok_or_else(|| "the kernel's BTF is truncated".to_owned())
        };
        let magic = data.get(..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        if magic != Some(MAGIC) {
            return Err(
                "the kernel's BTF does not start with the BTF magic (or is not little-endian)"
                    .into(),
            );
        }
        let hdr_len = u32_at(4)?;
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            data.get(start..start.checked_add(len)?)
        };
        let types = section(u32_at(8)?, u32_at(12)?)
            .ok_or("the kernel's BTF type section lies outside it")?;
        let strings = section(u32_at(16)?, u32_at(20)?)
            .ok_or("the kernel's BTF string section lies outside it")?;
        let mut parsed = Self {
            types,
            strings,
            offsets: vec![0],
        };
        let mut at = 0;
        while at < types.len() {
            parsed.offsets.push(at);
            let info = parsed.u32_at(at + 4)?;
            let n = vlen(info);
            let extra = match kind(info) {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * n,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * n,
                // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
                k if k <= KIND_ENUM64 => 0,
                k => return Err(format!("the kernel's BTF has a type of unknown kind {k}")),
            };
            at += 12 + extra;
        }
        Ok(parsed)
    }

    fn u32_at(&self, at: usize) -> Result<u32, String> {
        self.types
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| "the kernel's BTF type section is truncated".to_owned())
    }

    /// The record of type `id`: name offset, info, size or type.
    fn header(&self, id: u32) -> Result<(u32, u32, u32), String> {
        let at = *self
            .offsets
            .get(id as usize)
            .filter(|_| id != 0)
            .ok_or_else(|| format!("the kernel's BTF has no type {id}"))?;
        Ok((self.u32_at(at)?, self.u32_at(at + 4)?, self.u32_at(at + 8)?))
    }

    fn name(&self, off: u32) -> Result<&'a str, String> {
        let rest = self
            .strings
            .get(off as usize..)
            .ok_or("a name lies outside the kernel's BTF strings")?;
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end])
            .map_err(|_| "a name in the kernel's BTF is not UTF-8".into())
    }

    /// `id` without typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> Result<(u32, u32), String> {
        for _ in 0..32 {
            if id == 0 {
                return Ok((0, 0));
            }
            let (_, info, next) = self.header(id)?;
            match kind(info) {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = next
                }
                k => return Ok((id, k)),
            }
        }
        Err("a type chain in the kernel's BTF does not end".into())
    }

    /// The arguments of the tracepoint whose `btf_trace_` typedef points at `target`: a pointer
    /// to a function prototype whose first parameter is the context. `None` when it is not.
    fn trace_args(&self, target: u32) -> Result<Option<Vec<Arg>>, String> {
        let (ptr, k) = self.resolve(target)?;
        if k != KIND_PTR {
            return Ok(None);
        }
        let (_, _, pointee) = self.header(ptr)?;
        let (proto, k) = self.resolve(pointee)?;
        if k != KIND_FUNC_PROTO {
            return Ok(None);
        }
        let (_, info, _) = self.header(proto)?;
        let body = self.offsets[proto as usize] + 12;
        let mut args = Vec::new();
        for i in 1..vlen(info) {
            let (_, k) = self.resolve(self.u32_at(body + i * 8 + 4)?)?;
            args.push(match k {
                KIND_PTR => Arg::Ptr,
                KIND_INT | KIND_ENUM | KIND_ENUM64 => Arg::Int,
                _ => Arg::Other,
            });
        }
        Ok(Some(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_kernels_tracepoints_and_enums() {
        let data = std::fs::read(KERNEL_BTF).expect("these tests need the kernel's BTF");
        let facts = read_facts(
            &data,
            &["sys_enter", "sched_process_fork", "no_such_tracepoint_here"],
            &[
                "BPF_MAP_TYPE_RINGBUF",
                "BPF_FUNC_loop",
                "BPF_FUNC_no_such_helper",
            ],
        )
        .expect("parse");
        // sys_enter(struct pt_regs *regs, long id) and sched_process_fork(parent, child) on
        // every kernel since tp_btf exists.
        assert_eq!(facts.tracepoints["sys_enter"], [Arg::Ptr, Arg::Int]);
        assert_eq!(
            facts.tracepoints["sched_process_fork"],
            [Arg::Ptr, Arg::Ptr]
        );
        assert!(!facts.tracepoints.contains_key("no_such_tracepoint_here"));
        let expected: BTreeSet<String> = ["BPF_MAP_TYPE_RINGBUF", "BPF_FUNC_loop"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(facts.enumerators, expected);
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert!(read_facts(b"\x7fELF not btf at all", &[], &[]).is_err());
        assert!(read_facts(
            &[0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0],
            &[],
            &[]
        )
        .is_err());
    }
}
