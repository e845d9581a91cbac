//! Lines of IOS configuration text: numbers, indentation, comments, words (keywords matched
//! without regard to case, as IOS does), and the redaction of secrets for everything shown.

/// One configuration line that is not empty and not a `!` comment.
pub(crate) struct Line<'a> {
    /// 1-based line number in the text.
    pub no: usize,
    /// Starts with white space (a sub-line of the block above, as `show running-config`
    /// prints it).
    pub indented: bool,
    /// The words, as written.
    pub words: Vec<&'a str>,
    /// The words in lower case, for matching keywords.
    lower: Vec<String>,
}

/// Every line of `text` that carries configuration (empty lines and `!` comments left out).
pub(crate) fn lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('!') {
                return None;
            }
            let words: Vec<&str> = trimmed.split_whitespace().collect();
            Some(Line {
                no: i + 1,
                indented: raw.starts_with(char::is_whitespace),
                lower: words.iter().map(|w| w.to_ascii_lowercase()).collect(),
                words,
            })
        })
        .collect()
}

impl<'a> Line<'a> {
    /// The `i`-th word in lower case, or `""` past the end.
    pub fn kw(&self, i: usize) -> &str {
        self.lower.get(i).map_or("", String::as_str)
    }

    /// The words from `i` on are exactly the keywords `ks`, and nothing follows.
    pub fn exactly(&self, i: usize, ks: &[&str]) -> bool {
        self.words.len() == i + ks.len() && self.starts_at(i, ks)
    }

    /// The words from `i` on begin with the keywords `ks`.
    pub fn starts_at(&self, i: usize, ks: &[&str]) -> bool {
        ks.iter().enumerate().all(|(j, k)| self.kw(i + j) == *k)
    }

    /// The `i`-th word as written.
    pub fn word(&self, i: usize) -> Option<&'a str> {
        self.words.get(i).copied()
    }

    /// The `i`-th word as written, or an error naming what was expected there.
    pub fn need(&self, i: usize, what: &str) -> Result<&'a str, String> {
        self.word(i).ok_or_else(|| format!("missing {what}"))
    }

    /// The words from `i` on, joined by one space.
    pub fn rest(&self, i: usize) -> String {
        self.words.get(i..).unwrap_or_default().join(" ")
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// The line as shown in errors and notes: its words, secrets replaced by `<redacted>`.
    pub fn shown(&self) -> String {
        redact(&self.words)
    }
}

/// `message` with every word that the redaction of `words` hides (see [`redact`]) replaced
/// by [`REDACTED`]: a message that quotes its line shows no more than the line as shown.
pub(crate) fn scrub(message: &str, words: &[&str]) -> String {
    let shown = redact(words);
    let visible: std::collections::BTreeSet<&str> = shown.split(' ').collect();
    let mut hidden: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !visible.contains(w) && !w.is_empty())
        .collect();
    // Longest first, so that a secret containing another is replaced whole.
    hidden.sort_by_key(|w| core::cmp::Reverse(w.len()));
    let mut out = message.to_string();
    for w in hidden {
        out = out.replace(w, REDACTED);
    }
    out
}

/// What replaces a secret in anything shown.
pub(crate) const REDACTED: &str = "<redacted>";

/// The words joined by one space, with every secret replaced by [`REDACTED`]: pre-shared
/// keys, NHRP passwords, and the passwords, secrets, keys and community strings of other
/// subsystems' lines (which end up in notes).
pub(crate) fn redact(words: &[&str]) -> String {
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let kw = |i: usize| lower.get(i).map_or("", String::as_str);
    let is_type = |i: usize| matches!(kw(i), "0" | "5" | "6" | "7" | "8" | "9");
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while let Some(w) = words.get(i) {
        out.push(w);
        let prev = if i == 0 { "" } else { kw(i - 1) };
        // Where the secret starts (index) and whether it runs to the end of the line.
        let secret: Option<(usize, bool)> = match kw(i) {
            "pre-shared-key" => {
                let mut j = i + 1;
                if matches!(kw(j), "local" | "remote") {
                    j += 1;
                }
                if is_type(j) {
                    j += 1;
                }
                Some((j, true))
            }
            "authentication" if prev == "nhrp" => Some((i + 1, true)),
            // `snmp-server user U G v3 auth sha K priv aes 128 K`: the rest.
            "auth" | "priv" if kw(0) == "snmp-server" => Some((i + 1, true)),
            "wpa-psk" => Some((i + 1, true)),
            "password" | "secret" | "key-string" | "authentication-key" | "message-digest-key"
            | "community" => Some((if is_type(i + 1) { i + 2 } else { i + 1 }, true)),
            // `tacacs-server key K`, `authentication local pre-share key K`, `key 7 K` in a
            // server block.
            "key"
                if matches!(prev, "tacacs-server" | "radius-server" | "pre-share")
                    || matches!(kw(0), "tacacs-server" | "radius-server" | "server-private")
                    || (i == 0 && is_type(1) && words.len() > 2) =>
            {
                Some((if is_type(i + 1) { i + 2 } else { i + 1 }, true))
            }
            // `crypto isakmp key K address A`: the key, then what it is for. So for any other
            // `key K` (a mistyped `crypto itakmp key K …` included), but `tunnel key N` (the GRE
            // key, a number on the wire) and the `key chain`/`key config-key` commands.
            "key"
                if !matches!(prev, "tunnel")
                    && !matches!(
                        kw(i + 1),
                        "chain" | "config-key" | "generate" | "zeroize" | ""
                    ) =>
            {
                // `crypto isakmp key 0 address A`: the key is `0`, not a type.
                let typed = is_type(i + 1) && kw(i + 2) != "address";
                Some((if typed { i + 2 } else { i + 1 }, false))
            }
            _ => None,
        };
        match secret {
            Some((start, to_end)) if start < words.len() => {
                out.extend(words.get(i + 1..start).unwrap_or_default());
                out.push(REDACTED);
                if to_end {
                    return out.join(" ");
                }
                i = start + 1;
            }
            _ => i += 1,
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn a_message_quoting_its_line_shows_no_secret() {
        let words: Vec<&str> = "crypto ipsec transform-set T esp-x key s3cret"
            .split_whitespace()
            .collect();
        assert_eq!(
            scrub("\"esp-x key s3cret\" is not a transform", &words),
            "\"esp-x key <redacted>\" is not a transform"
        );
        let plain: Vec<&str> = "tunnel key 100000".split_whitespace().collect();
        assert_eq!(scrub("key 100000 twice", &plain), "key 100000 twice");
    }

    #[test]
    fn secrets_are_redacted_and_nothing_else() {
        for (line, shown) in [
            ("pre-shared-key cisco123", "pre-shared-key <redacted>"),
            ("pre-shared-key local k1", "pre-shared-key local <redacted>"),
            (
                "pre-shared-key remote 0 k1",
                "pre-shared-key remote 0 <redacted>",
            ),
            (
                "ip nhrp authentication donttell",
                "ip nhrp authentication <redacted>",
            ),
            (
                "ipv6 nhrp authentication x y",
                "ipv6 nhrp authentication <redacted>",
            ),
            (
                "crypto isakmp key cisco47 address 0.0.0.0",
                "crypto isakmp key <redacted> address 0.0.0.0",
            ),
            ("enable secret 5 $1$abc", "enable secret 5 <redacted>"),
            (
                "username admin privilege 15 password 0 pw",
                "username admin privilege 15 password 0 <redacted>",
            ),
            (
                "snmp-server community public RO",
                "snmp-server community <redacted>",
            ),
            (
                "ip ospf message-digest-key 1 md5 k",
                "ip ospf message-digest-key <redacted>",
            ),
            ("key-string s3cret", "key-string <redacted>"),
            // A mistyped command still hides the word after `key`; the GRE key does not.
            (
                "crypto isakmp key 0 cisco47 address 0.0.0.0 0.0.0.0",
                "crypto isakmp key 0 <redacted> address 0.0.0.0 0.0.0.0",
            ),
            (
                "crypto isakmp key 0 address 0.0.0.0",
                "crypto isakmp key <redacted> address 0.0.0.0",
            ),
            (
                "crypto isakmp key cisco address ipv6 ::/0",
                "crypto isakmp key <redacted> address ipv6 ::/0",
            ),
            (
                "crypto isakmp keepalive 10 3 periodic",
                "crypto isakmp keepalive 10 3 periodic",
            ),
            (
                "crypto itakmp key s3cret address 0.0.0.0",
                "crypto itakmp key <redacted> address 0.0.0.0",
            ),
            ("tunnel key 100000", "tunnel key 100000"),
            ("key chain EIGRP", "key chain EIGRP"),
            ("tacacs-server key 7 0822", "tacacs-server key 7 <redacted>"),
            (
                "authentication local pre-share key k",
                "authentication local pre-share key <redacted>",
            ),
            ("tunnel key 100000", "tunnel key 100000"),
            ("ip nhrp network-id 99", "ip nhrp network-id 99"),
            ("pre-shared-key", "pre-shared-key"),
            ("key 7 0822455D", "key 7 <redacted>"),
            (
                "radius-server host 10.1.1.1 auth-port 1645 key s3",
                "radius-server host 10.1.1.1 auth-port 1645 key <redacted>",
            ),
            (
                "snmp-server user u g v3 auth sha pw1 priv aes 128 pw2",
                "snmp-server user u g v3 auth <redacted>",
            ),
            ("wpa-psk ascii 0 pw", "wpa-psk <redacted>"),
            ("key chain EIGRP", "key chain EIGRP"),
        ] {
            assert_eq!(r(line), shown, "{line}");
        }
    }

    #[test]
    fn comments_empty_lines_and_indentation() {
        let ls = lines("!\n\nhostname A\n ! note\n ip mtu 1400\r\n\tx Y\n");
        let got: Vec<(usize, bool, String)> = ls
            .iter()
            .map(|l| (l.no, l.indented, l.words.join(" ")))
            .collect();
        assert_eq!(
            got,
            [
                (3, false, "hostname A".into()),
                (5, true, "ip mtu 1400".into()),
                (6, true, "x Y".into())
            ]
        );
        assert_eq!(ls[2].kw(1), "y");
        assert!(ls[1].exactly(0, &["ip", "mtu", "1400"]));
        assert!(!ls[1].exactly(0, &["ip", "mtu"]));
        assert_eq!(ls[1].kw(7), "");
    }
}
