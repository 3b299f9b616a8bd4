//! Path globs, matched on the raw bytes of receipt paths.
//!
//! `*` matches any run of characters within one path segment, `**` (a whole segment) matches zero
//! or more segments, `?` one character, `[...]` one character of a set (`[!...]` or `[^...]` of
//! its complement), `\` makes the next character literal, and `${CWD}`/`${HOME}` expand to
//! values from the receipt, taken literally. A pattern without `/` and without a variable matches
//! the last segment (the file name) of a path. Matching backtracks only to the latest wildcard, so
//! its cost stays within pattern length × path length and a hostile pattern cannot make it explode.

use crate::context::{Context, Variable};
use crate::error::Problem;

/// Longest pattern accepted, in bytes: the Linux `PATH_MAX`.
const MAX_PATTERN_BYTES: usize = 4096;

/// What a pattern containing `/` may start with besides `/`, `**` and a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// File paths: nothing else.
    File,
    /// Unix socket destinations: also `@`, the prefix of abstract socket names.
    Socket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(Vec<u8>),
    Variable(Variable),
    Star,
    AnyChar,
    Class(CharClass),
    AnySegments,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CharClass {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl CharClass {
    /// `unit` is one decoded character, or `None` for a byte that is not part of valid UTF-8.
    fn matches(&self, unit: Option<char>) -> bool {
        match unit {
            Some(c) => self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated,
            None => self.negated,
        }
    }
}

/// A parsed path pattern, before its variables are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    tokens: Vec<Token>,
    file_name_only: bool,
}

impl PathPattern {
    /// Parses `pattern`; a path-shaped pattern must be anchored as `anchor` allows.
    pub(crate) fn parse(pattern: &str, anchor: Anchor) -> Result<Self, Problem> {
        let bad = |why: String| Problem::BadGlob {
            pattern: pattern.to_owned(),
            why,
        };
        if pattern.is_empty() {
            return Err(bad("the pattern is empty".to_owned()));
        }
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(bad(format!("longer than {MAX_PATTERN_BYTES} bytes")));
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let position = i + 1;
            match chars[i] {
                '\\' => {
                    let next = chars
                        .get(i + 1)
                        .ok_or_else(|| bad("ends with a lone `\\`".to_owned()))?;
                    push_char(&mut literal, *next);
                    i += 2;
                }
                '$' if chars.get(i + 1) == Some(&'{') => {
                    let close = chars[i + 2..]
                        .iter()
                        .position(|&c| c == '}')
                        .map(|p| p + i + 2)
                        .ok_or_else(|| {
                            bad(format!(
                                "`${{` at character {position} is not closed by `}}`"
                            ))
                        })?;
                    let name: String = chars[i + 2..close].iter().collect();
                    let variable = match name.as_str() {
                        "CWD" => Variable::Cwd,
                        "HOME" => Variable::Home,
                        _ => {
                            return Err(Problem::UnknownVariable {
                                name,
                                pattern: pattern.to_owned(),
                            })
                        }
                    };
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::Variable(variable));
                    i = close + 1;
                }
                '*' if chars.get(i + 1) == Some(&'*') => {
                    let starts_segment = i == 0 || chars[i - 1] == '/';
                    let ends_segment = matches!(chars.get(i + 2), None | Some('/'));
                    if !starts_segment || !ends_segment {
                        return Err(bad(format!(
                            "`**` at character {position} must be a whole path segment \
                             (as in `/a/**/b`); use `*` within a segment"
                        )));
                    }
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::AnySegments);
                    i += 2;
                }
                '*' => {
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::Star);
                    i += 1;
                }
                '?' => {
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::AnyChar);
                    i += 1;
                }
                '[' => {
                    let (class, next) = parse_class(&chars, i).map_err(bad)?;
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::Class(class));
                    i = next;
                }
                c => {
                    push_char(&mut literal, c);
                    i += 1;
                }
            }
        }
        flush(&mut tokens, &mut literal);

        let has_slash = tokens
            .iter()
            .any(|t| matches!(t, Token::Literal(l) if l.contains(&b'/')));
        let has_variable = tokens.iter().any(|t| matches!(t, Token::Variable(_)));
        let file_name_only = !has_slash && !has_variable;
        if !file_name_only {
            let anchored = match tokens.first() {
                Some(Token::Literal(l)) => {
                    l.first() == Some(&b'/')
                        || (anchor == Anchor::Socket && l.first() == Some(&b'@'))
                }
                Some(Token::Variable(_) | Token::AnySegments) => true,
                _ => false,
            };
            if !anchored {
                return Err(bad(
                    "a pattern containing `/` must start with `/`, `**/`, `${CWD}` or `${HOME}` \
                     because receipt paths are absolute (write `${CWD}/src/*.rs`, not `src/*.rs`)"
                        .to_owned(),
                ));
            }
        }
        Ok(Self {
            tokens,
            file_name_only,
        })
    }

    /// The variables the pattern names, in order of appearance.
    pub(crate) fn variables(&self) -> impl Iterator<Item = Variable> + '_ {
        self.tokens.iter().filter_map(|t| match t {
            Token::Variable(v) => Some(*v),
            _ => None,
        })
    }

    /// Expands the variables from `context`; fails with the first variable that has no value.
    pub(crate) fn bind(&self, context: &Context) -> Result<BoundPath, Variable> {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        for token in &self.tokens {
            match token {
                Token::Literal(bytes) => push_bytes(&mut segments, &mut current, bytes),
                Token::Variable(variable) => {
                    let value = context.value(*variable).ok_or(*variable)?;
                    push_bytes(&mut segments, &mut current, value);
                }
                Token::Star => current.push(Piece::Star),
                Token::AnyChar => current.push(Piece::AnyChar),
                Token::Class(class) => current.push(Piece::Class(class.clone())),
                Token::AnySegments => {
                    if !current.is_empty() {
                        segments.push(SegmentPattern::Pieces(std::mem::take(&mut current)));
                    }
                    segments.push(SegmentPattern::AnySegments);
                }
            }
        }
        segments.push(SegmentPattern::Pieces(current));
        // Repeated and trailing slashes (also from a value such as `/home/u/`) carry no meaning,
        // exactly as in the paths the pattern is matched against.
        let segments = segments
            .into_iter()
            .enumerate()
            .filter(|(i, s)| *i == 0 || !matches!(s, SegmentPattern::Pieces(p) if p.is_empty()))
            .map(|(_, s)| s)
            .collect();
        Ok(BoundPath {
            segments,
            file_name_only: self.file_name_only,
        })
    }
}

fn push_char(literal: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn flush(tokens: &mut Vec<Token>, literal: &mut Vec<u8>) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal)));
    }
}

/// Parses the class opening at `chars[open]`; returns it and the index after its `]`.
fn parse_class(chars: &[char], open: usize) -> Result<(CharClass, usize), String> {
    let position = open + 1;
    let mut i = open + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars
            .get(i)
            .ok_or_else(|| format!("`[` at character {position} is not closed by `]`"))?;
        // A `]` right after the opening bracket is a member, not the end.
        if c == ']' && !ranges.is_empty() {
            break;
        }
        let (lo, after) = class_char(chars, i)?;
        let (hi, after) = match (chars.get(after), chars.get(after + 1)) {
            (Some('-'), Some(&next)) if next != ']' => class_char(chars, after + 1)?,
            _ => (lo, after),
        };
        if lo > hi {
            return Err(format!(
                "the range `{lo}-{hi}` in the `[...]` at character {position} runs backwards"
            ));
        }
        if lo <= '/' && '/' <= hi {
            return Err(format!(
                "the `[...]` at character {position} includes `/`, which never occurs within a \
                 segment"
            ));
        }
        ranges.push((lo, hi));
        i = after;
    }
    Ok((CharClass { negated, ranges }, i + 1))
}

fn class_char(chars: &[char], i: usize) -> Result<(char, usize), String> {
    match chars.get(i) {
        Some('\\') => chars
            .get(i + 1)
            .map(|&c| (c, i + 2))
            .ok_or_else(|| "ends with a lone `\\`".to_owned()),
        Some(&c) => Ok((c, i + 1)),
        None => Err("ends inside `[...]`".to_owned()),
    }
}

fn push_bytes(segments: &mut Vec<SegmentPattern>, current: &mut Vec<Piece>, bytes: &[u8]) {
    for &b in bytes {
        if b == b'/' {
            segments.push(SegmentPattern::Pieces(std::mem::take(current)));
        } else if let Some(Piece::Literal(literal)) = current.last_mut() {
            literal.push(b);
        } else {
            current.push(Piece::Literal(vec![b]));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Star,
    AnyChar,
    Class(CharClass),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SegmentPattern {
    Pieces(Vec<Piece>),
    AnySegments,
}

/// A pattern with its variables expanded, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoundPath {
    segments: Vec<SegmentPattern>,
    file_name_only: bool,
}

impl BoundPath {
    /// Whether `path` matches.
    pub(crate) fn matches(&self, path: &[u8]) -> bool {
        let segments = split_path(path);
        if self.file_name_only {
            return match segments.last() {
                Some(name) => match_segments(&self.segments, &[name]),
                None => false,
            };
        }
        match_segments(&self.segments, &segments)
    }

    /// What the pattern covers, for a sandbox that names directory trees and paths.
    pub(crate) fn shape(&self) -> crate::shape::PathShape {
        use crate::shape::PathShape;
        if self.file_name_only {
            // `**` and `*` as a file name match every path.
            let everything = match self.segments.as_slice() {
                [SegmentPattern::AnySegments] => true,
                [SegmentPattern::Pieces(p)] => matches!(p.as_slice(), [Piece::Star]),
                _ => false,
            };
            return if everything {
                PathShape::Tree(b"/".to_vec())
            } else {
                PathShape::Glob {
                    within: b"/".to_vec(),
                }
            };
        }
        let mut literal: Vec<&[u8]> = Vec::new();
        let mut rest = &self.segments[..];
        while let Some((SegmentPattern::Pieces(pieces), tail)) = rest.split_first() {
            match pieces.as_slice() {
                [] if literal.is_empty() => literal.push(b""),
                [Piece::Literal(l)] if !literal.is_empty() => literal.push(l),
                _ => break,
            }
            rest = tail;
        }
        let joined = if literal.len() <= 1 {
            b"/".to_vec()
        } else {
            literal.join(&b'/')
        };
        match rest {
            [] => PathShape::Exact(joined),
            [SegmentPattern::AnySegments] => PathShape::Tree(joined),
            _ => PathShape::Glob { within: joined },
        }
    }
}

/// Splits at `/`, dropping empty segments except the first (the one before a leading `/`).
fn split_path(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .enumerate()
        .filter(|(i, s)| *i == 0 || !s.is_empty())
        .map(|(_, s)| s)
        .collect()
}

/// Glob matching over segments, `**` playing the part of `*`. Backtracking only to the latest
/// `**` is enough (a later wildcard can absorb whatever an earlier one would), which keeps the
/// work to O(pattern × path).
fn match_segments(pattern: &[SegmentPattern], text: &[&[u8]]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        match pattern.get(p) {
            Some(SegmentPattern::AnySegments) => {
                resume = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(SegmentPattern::Pieces(pieces))
                if text.get(t).is_some_and(|seg| match_pieces(pieces, seg)) =>
            {
                p += 1;
                t += 1;
                continue;
            }
            Some(SegmentPattern::Pieces(_)) => {}
            None if t == text.len() => return true,
            None => {}
        }
        match resume {
            Some((rp, rt)) if rt < text.len() => {
                resume = Some((rp, rt + 1));
                p = rp;
                t = rt + 1;
            }
            _ => return false,
        }
    }
}

/// The same algorithm within one segment, stepping over whole characters so that `*` never
/// splits a UTF-8 sequence.
fn match_pieces(pieces: &[Piece], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if let Some(piece) = pieces.get(p) {
            let rest = &text[t..];
            let step = match piece {
                Piece::Star => {
                    resume = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Piece::Literal(literal) => rest.starts_with(literal).then_some(literal.len()),
                Piece::AnyChar => (!rest.is_empty()).then(|| next_unit(rest).1),
                Piece::Class(class) => {
                    let (unit, width) = next_unit(rest);
                    (!rest.is_empty() && class.matches(unit)).then_some(width)
                }
            };
            if let Some(width) = step {
                p += 1;
                t += width;
                continue;
            }
        } else if t == text.len() {
            return true;
        }
        match resume {
            Some((rp, rt)) if rt < text.len() => {
                let next = rt + next_unit(&text[rt..]).1;
                resume = Some((rp, next));
                p = rp;
                t = next;
            }
            _ => return false,
        }
    }
}

/// The first character of `text` and its width in bytes; a byte that does not start a valid
/// UTF-8 sequence is a unit of its own, with no character.
fn next_unit(text: &[u8]) -> (Option<char>, usize) {
    let width = match text.first() {
        Some(0x00..=0x7f) => 1,
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return (None, 1),
    };
    let decoded = text
        .get(..width)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|s| s.chars().next());
    match decoded {
        Some(c) => (Some(c), width),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glasshouse_receipt::OsText;

    fn matches(pattern: &str, path: &[u8]) -> bool {
        let context = Context::new(Some(OsText::from("/work")), Some(OsText::from("/home/u")));
        PathPattern::parse(pattern, Anchor::File)
            .unwrap()
            .bind(&context)
            .unwrap()
            .matches(path)
    }

    #[test]
    fn star_stays_within_a_segment_and_double_star_crosses() {
        assert!(matches("/a/*", b"/a/b"));
        assert!(!matches("/a/*", b"/a/b/c"));
        assert!(matches("/a/**", b"/a/b/c"));
        assert!(matches("/a/**", b"/a"));
        assert!(matches("/a/**/c", b"/a/c"));
        assert!(matches("/a/**/c", b"/a/x/y/c"));
        assert!(!matches("/a/**/c", b"/a/x/y/d"));
        assert!(matches("**/.env", b"/w/.env"));
        assert!(matches("**", b"/anything/at/all"));
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        assert!(matches("/?", "/é".as_bytes()));
        assert!(!matches("/??", "/é".as_bytes()));
        assert!(
            !matches("/*[!é]", "/é".as_bytes()),
            "`*` must not split a character"
        );
        assert!(matches("/?", &[b'/', 0xff]));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(matches("/[a-c]x", b"/bx"));
        assert!(!matches("/[!a-c]x", b"/bx"));
        assert!(matches("/[]]", b"/]"));
        assert!(matches("/\\*", b"/*"));
        assert!(!matches("/\\*", b"/a"));
    }

    #[test]
    fn file_name_patterns_match_the_last_segment() {
        assert!(matches("curl", b"/usr/bin/curl"));
        assert!(!matches("curl", b"/usr/bin/curl/x"));
        assert!(matches("nc.*", b"/usr/bin/nc.openbsd"));
        assert!(matches("*", b"/usr/bin/anything"));
    }

    #[test]
    fn variables_expand_literally() {
        assert!(matches("${HOME}/.ssh/**", b"/home/u/.ssh/id_ed25519"));
        assert!(!matches("${HOME}/.ssh/**", b"/home/v/.ssh/id_ed25519"));
        let context = Context::new(Some(OsText::from("/w*")), None);
        let bound = PathPattern::parse("${CWD}/x", Anchor::File)
            .unwrap()
            .bind(&context)
            .unwrap();
        assert!(bound.matches(b"/w*/x"));
        assert!(!bound.matches(b"/wz/x"), "a `*` in a value is literal");
    }
}
