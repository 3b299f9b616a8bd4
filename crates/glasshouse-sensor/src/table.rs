//! The system calls the sensor decodes, as `bpf/syscalls.h` defines them for the BPF programs
//! too: build.rs turns the header's rows into [`DECODED`], so a call is added in one place.

use crate::interpret::PathEffect;

/// What user space needs of one row of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    /// The x86-64 syscall number.
    pub(crate) nr: u32,
    /// Its name, as the receipt shows it.
    pub(crate) name: &'static str,
    /// What a successful call does to the paths it names.
    pub(crate) effect: PathEffect,
}

include!(concat!(env!("OUT_DIR"), "/syscall_table.rs"));

/// `connect(2)`'s number.
pub(crate) const CONNECT: u32 = nr_of("connect");

/// The row of syscall `nr`, when the sensor decodes it.
pub(crate) fn decoded(nr: u32) -> Option<&'static Decoded> {
    DECODED.iter().find(|d| d.nr == nr)
}

/// The number of the decoded syscall `name`, when there is one.
pub(crate) fn by_name(name: &str) -> Option<u32> {
    DECODED.iter().find(|d| d.name == name).map(|d| d.nr)
}

/// The number of the decoded syscall `name`; a name missing from the table does not compile.
const fn nr_of(name: &str) -> u32 {
    let mut i = 0;
    while i < DECODED.len() {
        if same(DECODED[i].name.as_bytes(), name.as_bytes()) {
            return DECODED[i].nr;
        }
        i += 1;
    }
    panic!("not a syscall of bpf/syscalls.h")
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_its_x86_64_syscall() {
        for d in &DECODED {
            let known = syscalls::Sysno::new(d.nr as usize).map(|s| s.name());
            assert_eq!(known, Some(d.name), "bpf/syscalls.h: row {}", d.nr);
        }
        let mut numbers: Vec<u32> = DECODED.iter().map(|d| d.nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), DECODED.len(), "a number is in two rows");
    }

    /// The BPF programs take every syscall number from the table: a bare number in one of their
    /// switches or comparisons would be a second definition.
    #[test]
    fn the_bpf_source_has_no_syscall_number_of_its_own() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/glasshouse.bpf.c");
        let source = std::fs::read_to_string(path).expect("read glasshouse.bpf.c");
        let bare = bare_numbers(&source);
        assert!(
            bare.is_empty(),
            "syscall numbers outside bpf/syscalls.h: {bare:?}"
        );
        assert!(source.contains("GH_SYSCALLS(GH_CASE)"));
        // The check itself finds what it looks for.
        let planted = "    switch (in->nr) {\n    case 42: case 44:\n    if (in->nr == 316)\n";
        assert_eq!(bare_numbers(planted).len(), 2);
    }

    /// Lines comparing a call's number (`case 42:`, `nr == 42`) with a literal.
    fn bare_numbers(source: &str) -> Vec<String> {
        let compares = |line: &str| {
            let l = line.trim_start();
            let literal_after = |prefix: &str| {
                l.split(prefix)
                    .skip(1)
                    .any(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            };
            (l.starts_with("case ") && literal_after("case "))
                || literal_after("nr == ")
                || literal_after("nr != ")
        };
        source
            .lines()
            .filter(|line| compares(line))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn connect_is_42() {
        assert_eq!(CONNECT, syscalls::Sysno::connect as u32);
        assert_eq!(
            by_name("renameat2"),
            Some(syscalls::Sysno::renameat2 as u32)
        );
        assert_eq!(decoded(9999).map(|d| d.nr), None);
    }
}
