//! Finding the secret spans of one text (a path, a script body) or of one argument vector.
//!
//! A text is scanned by every pattern that the pre-filter lets through, by the `NAME=VALUE` and
//! `--flag VALUE` rules, and as a list of whitespace-separated words for the flags that only some
//! programs give a secret (`sshpass -p`, `mysql -pX`, `curl -u user:pass`). An argument vector is
//! scanned the same way with its elements as the words, so a flag and its value may be two
//! elements. Overlapping spans are merged, so no part of a secret found by any rule stays clear.

use crate::rules::Rules;

/// Changes whenever the program table below changes; part of the rules' digest.
pub(crate) const PROGRAM_FLAGS_VERSION: &str = "program flags v1: sshpass -p; mysql* mariadb* -pX; redis-cli -a; curl -u -U --user --proxy-user; openssl -pass -passin -passout pass:; docker/podman login -p\n";

/// A secret's byte range in one string, and the rule that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) rule: String,
}

/// What part of a flag's value is secret.
#[derive(Debug, Clone, Copy)]
enum Part {
    Whole,
    /// After the first `:` (`user:password`); nothing when there is no `:`.
    AfterColon,
    /// After `pass:` (OpenSSL's pass phrase arguments); nothing for `env:`/`file:`.
    AfterPassPrefix,
}

/// A flag that one program (optionally only under one subcommand) gives a secret.
struct ProgramFlag {
    programs: &'static [&'static str],
    subcommand: Option<&'static str>,
    flag: &'static str,
    part: Part,
    /// `-pVALUE` in one word.
    attached: bool,
    /// `-p VALUE` in two words.
    separate: bool,
}

const MYSQL: &[&str] = &[
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
];
const CURL: &[&str] = &["curl"];
const OPENSSL: &[&str] = &["openssl"];

const PROGRAM_FLAGS: &[ProgramFlag] = &[
    ProgramFlag {
        programs: &["sshpass"],
        subcommand: None,
        flag: "-p",
        part: Part::Whole,
        attached: true,
        separate: true,
    },
    // `mysql -p VALUE` prompts and takes VALUE as the database: only the attached form is a secret.
    ProgramFlag {
        programs: MYSQL,
        subcommand: None,
        flag: "-p",
        part: Part::Whole,
        attached: true,
        separate: false,
    },
    ProgramFlag {
        programs: &["redis-cli"],
        subcommand: None,
        flag: "-a",
        part: Part::Whole,
        attached: false,
        separate: true,
    },
    ProgramFlag {
        programs: CURL,
        subcommand: None,
        flag: "-u",
        part: Part::AfterColon,
        attached: true,
        separate: true,
    },
    ProgramFlag {
        programs: CURL,
        subcommand: None,
        flag: "-U",
        part: Part::AfterColon,
        attached: true,
        separate: true,
    },
    ProgramFlag {
        programs: CURL,
        subcommand: None,
        flag: "--user",
        part: Part::AfterColon,
        attached: false,
        separate: true,
    },
    ProgramFlag {
        programs: CURL,
        subcommand: None,
        flag: "--proxy-user",
        part: Part::AfterColon,
        attached: false,
        separate: true,
    },
    ProgramFlag {
        programs: OPENSSL,
        subcommand: None,
        flag: "-pass",
        part: Part::AfterPassPrefix,
        attached: false,
        separate: true,
    },
    ProgramFlag {
        programs: OPENSSL,
        subcommand: None,
        flag: "-passin",
        part: Part::AfterPassPrefix,
        attached: false,
        separate: true,
    },
    ProgramFlag {
        programs: OPENSSL,
        subcommand: None,
        flag: "-passout",
        part: Part::AfterPassPrefix,
        attached: false,
        separate: true,
    },
    // `docker run -p` publishes ports; only `docker login -p` is a password.
    ProgramFlag {
        programs: &["docker", "podman"],
        subcommand: Some("login"),
        flag: "-p",
        part: Part::Whole,
        attached: false,
        separate: true,
    },
];

/// One word: which string it is in (an argv element, or 0 for a text) and where.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    elem: usize,
    start: usize,
    bytes: &'a [u8],
    /// A shell command separator follows it (`;`, `|`, `&`): the next word starts a command.
    ends_command: bool,
}

fn known_program(word: &[u8]) -> Option<&'static str> {
    let base = word.rsplit(|&b| b == b'/').next().unwrap_or(word);
    PROGRAM_FLAGS
        .iter()
        .flat_map(|f| f.programs.iter())
        .find(|p| p.as_bytes() == base)
        .copied()
}

/// The secret part of a flag's value that starts at `offset` of `word`.
fn part_span(word: &Word<'_>, offset: usize, part: Part, rule: &str) -> Option<(usize, Span)> {
    let value = word.bytes.get(offset..)?;
    let skip = match part {
        Part::Whole => 0,
        Part::AfterColon => value.iter().position(|&b| b == b':')? + 1,
        Part::AfterPassPrefix => value.strip_prefix(b"pass:").map(|_| 5)?,
    };
    let start = word.start + offset + skip;
    let end = word.start + word.bytes.len();
    (start < end).then(|| {
        (
            word.elem,
            Span {
                start,
                end,
                rule: rule.to_owned(),
            },
        )
    })
}

/// Spans found by reading `words` as a command line.
fn word_spans(rules: &Rules, words: &[Word<'_>]) -> Vec<(usize, Span)> {
    let mut out = Vec::new();
    let mut program: Option<&str> = None;
    let mut subcommand: Option<&[u8]> = None;
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let next = words.get(i + 1).filter(|_| !word.ends_command);
        let t = word.bytes;
        let mut consumed_next = false;
        if let Some(p) = known_program(t) {
            program = Some(p);
            subcommand = None;
        } else if t.starts_with(b"-") {
            let mut matched = false;
            for pf in PROGRAM_FLAGS.iter().filter(|pf| {
                program.is_some_and(|p| pf.programs.contains(&p))
                    && pf
                        .subcommand
                        .is_none_or(|s| subcommand == Some(s.as_bytes()))
            }) {
                let flag = pf.flag.as_bytes();
                if t == flag && pf.separate {
                    if let Some(n) = next {
                        out.extend(part_span(n, 0, pf.part, "secret_flag"));
                        consumed_next = true;
                    }
                    matched = true;
                } else if t.len() > flag.len() && t.starts_with(flag) {
                    let eq = t[flag.len()] == b'=' && flag.starts_with(b"--");
                    if eq || (pf.attached && !flag.starts_with(b"--")) {
                        out.extend(part_span(
                            &word,
                            flag.len() + usize::from(eq),
                            pf.part,
                            "secret_flag",
                        ));
                        matched = true;
                    }
                }
                if matched {
                    break;
                }
            }
            if !matched {
                let name_end = t.iter().position(|&b| b == b'=').unwrap_or(t.len());
                let name = std::str::from_utf8(&t[..name_end]).unwrap_or("");
                let long = name.starts_with("--") || name.len() > 2;
                if long && rules.is_secret_flag(name) {
                    if name_end < t.len() {
                        out.extend(part_span(&word, name_end + 1, Part::Whole, "secret_flag"));
                    } else if let Some(n) = next.filter(|n| !n.bytes.starts_with(b"-")) {
                        out.extend(part_span(n, 0, Part::Whole, "secret_flag"));
                        consumed_next = true;
                    }
                }
            }
        } else if program.is_some() && subcommand.is_none() {
            subcommand = Some(t);
        }
        if word.ends_command || (consumed_next && words[i + 1].ends_command) {
            program = None;
            subcommand = None;
        }
        i += if consumed_next { 2 } else { 1 };
    }
    out
}

/// The words of a text: split at whitespace, quotes and command separators taken off.
fn text_words(text: &[u8]) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut pos = 0;
    for piece in text.split(|b| b.is_ascii_whitespace()) {
        let start = pos;
        pos += piece.len() + 1;
        let lead = piece
            .iter()
            .take_while(|b| matches!(b, b'\'' | b'"' | b'(' | b'`'))
            .count();
        let mut end = piece.len();
        let mut ends_command = false;
        while end > lead
            && matches!(
                piece[end - 1],
                b'\'' | b'"' | b')' | b'`' | b';' | b'&' | b'|'
            )
        {
            ends_command |= matches!(piece[end - 1], b';' | b'&' | b'|');
            end -= 1;
        }
        if end > lead {
            words.push(Word {
                elem: 0,
                start: start + lead,
                bytes: &piece[lead..end],
                ends_command,
            });
        } else if ends_command {
            if let Some(last) = words.last_mut() {
                last.ends_command = true;
            }
        }
    }
    words
}

/// Without surrounding quotes, when the span has them.
fn unquote(text: &[u8], start: usize, end: usize) -> (usize, usize) {
    let v = &text[start..end];
    if v.len() >= 2 && (v[0] == b'\'' || v[0] == b'"') && v[v.len() - 1] == v[0] {
        (start + 1, end - 1)
    } else {
        (start, end)
    }
}

fn push(out: &mut Vec<Span>, start: usize, end: usize, rule: &str) {
    if start < end {
        out.push(Span {
            start,
            end,
            rule: rule.to_owned(),
        });
    }
}

/// Whether some `-` starts a word (where [`crate::rules`]' flag rule can match): most paths
/// have dashes only inside names, and skip that rule.
fn has_flag_start(text: &[u8]) -> bool {
    text.iter().enumerate().any(|(i, &b)| {
        b == b'-'
            && (i == 0
                || text[i - 1].is_ascii_whitespace()
                || matches!(text[i - 1], b'\'' | b'"' | b'(' | b';' | b'&' | b'|'))
    })
}

/// Spans of one text by its patterns and its `NAME=VALUE` and `--flag VALUE` parts (not its words).
fn pattern_spans(rules: &Rules, text: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    for idx in rules.prefilter.matches(text).iter() {
        let rule = &rules.patterns[idx];
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.name("s").or_else(|| caps.get(0)) else {
                continue;
            };
            if rule.name == "openai_key" && !m.as_bytes().iter().any(u8::is_ascii_digit) {
                continue;
            }
            push(&mut out, m.start(), m.end(), &rule.name);
        }
    }
    if has_flag_start(text) {
        for caps in rules.text_flag.captures_iter(text) {
            let (Some(n), Some(v)) = (caps.name("n"), caps.name("s")) else {
                continue;
            };
            let name = std::str::from_utf8(n.as_bytes()).unwrap_or("");
            if (name.starts_with("--") || name.len() > 2) && rules.is_secret_flag(name) {
                let (s, e) = unquote(text, v.start(), v.end());
                push(&mut out, s, e, "secret_flag");
            }
        }
    }
    if text.contains(&b'=') {
        for caps in rules.assignment.captures_iter(text) {
            let (Some(n), Some(v)) = (caps.name("n"), caps.name("s")) else {
                continue;
            };
            let name = std::str::from_utf8(n.as_bytes()).unwrap_or("");
            if rules.is_secret_name(name) {
                let (s, e) = unquote(text, v.start(), v.end());
                push(&mut out, s, e, "secret_assignment");
            }
        }
    }
    out
}

/// 40-character base64 tokens of `text`: AWS secret keys when an access key id is near. Hex
/// strings (commit ids, digests) are not taken: an AWS secret key has both letter cases.
fn aws_secret_spans(rules: &Rules, text: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    for caps in rules.aws_secret_near.captures_iter(text) {
        if let Some(m) = caps.name("s") {
            let b = m.as_bytes();
            if b.iter().any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase) {
                push(&mut out, m.start(), m.end(), "aws_secret_access_key");
            }
        }
    }
    out
}

/// Sorted, with overlapping spans merged (the first one's rule names the merged span) and
/// allowed values dropped.
fn finish(rules: &Rules, text: &[u8], mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| {
        let value = &text[s.start..s.end];
        // A marker is not a secret: redacting a redacted text changes nothing.
        !value.starts_with(b"[REDACTED:") && !rules.allowed_values.iter().any(|v| v == value)
    });
    // Stable: of two spans with the same range, the one found first (by rule priority) stays.
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start < last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}

/// The secret spans of one text.
pub(crate) fn text_spans(rules: &Rules, text: &[u8]) -> Vec<Span> {
    let mut spans = pattern_spans(rules, text);
    if text.iter().any(u8::is_ascii_whitespace) {
        spans.extend(
            word_spans(rules, &text_words(text))
                .into_iter()
                .map(|(_, s)| s),
        );
    }
    if spans.iter().any(|s| s.rule == "aws_access_key_id") {
        spans.extend(aws_secret_spans(rules, text));
    }
    finish(rules, text, spans)
}

/// The secret spans of each element of an argument vector.
pub(crate) fn argv_spans(rules: &Rules, argv: &[&[u8]]) -> Vec<Vec<Span>> {
    let mut per: Vec<Vec<Span>> = argv
        .iter()
        .map(|a| {
            let mut spans = pattern_spans(rules, a);
            if a.iter().any(u8::is_ascii_whitespace) {
                spans.extend(
                    word_spans(rules, &text_words(a))
                        .into_iter()
                        .map(|(_, s)| s),
                );
            }
            spans
        })
        .collect();
    let words: Vec<Word<'_>> = argv
        .iter()
        .enumerate()
        .map(|(elem, a)| Word {
            elem,
            start: 0,
            bytes: a,
            ends_command: false,
        })
        .collect();
    for (elem, span) in word_spans(rules, &words) {
        per[elem].push(span);
    }
    if per.iter().flatten().any(|s| s.rule == "aws_access_key_id") {
        for (spans, a) in per.iter_mut().zip(argv) {
            spans.extend(aws_secret_spans(rules, a));
        }
    }
    per.into_iter()
        .zip(argv)
        .map(|(spans, a)| finish(rules, a, spans))
        .collect()
}
