//! `dmvpn_core::ios::parse` on arbitrary text (the configuration file a daemon reads): it never
//! panics; what it accepts passes `NodeConfig::validate` and can build a node; what it refuses
//! names a line that exists, and a secret where a key goes never appears in its errors.
#![no_main]

use std::time::Instant;

use dmvpn_core::ios::parse;
use dmvpn_core::{Entropy, Node};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    // An interface the text does not give an address is "on the system" at a fixed address.
    let resolve = |_: &str| "198.51.100.7".parse().ok();
    match parse(&text, &resolve) {
        Ok(p) => {
            assert!(p.config.validate().is_ok());
            for n in &p.notes {
                assert!(
                    n.line >= 1 && n.line <= lines.max(1),
                    "note at line {}",
                    n.line
                );
            }
            // A configuration the parser accepted builds a node.
            let _ = Node::new(Instant::now(), p.config, Entropy::new([7; 32]));
        }
        Err(e) => {
            assert!(!e.problems.is_empty());
            let all: Vec<&str> = text.lines().collect();
            for pr in &e.problems {
                let Some(l) = pr.line else { continue };
                assert!(
                    l >= 1 && l <= lines.max(1),
                    "problem at line {l} of {lines}"
                );
                // A secret where a key goes (`pre-shared-key K`, `key K`, `password K`, …)
                // never comes back, whatever else is wrong with the line.
                let line = all
                    .get(l - 1)
                    .copied()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let words: Vec<&str> = line.split_whitespace().collect();
                let keyed = words.windows(2).any(|w| {
                    w[1] == "fuzz-secret-psk"
                        && matches!(
                            w[0],
                            "pre-shared-key" | "password" | "secret" | "key-string"
                        )
                        || (w[0] == "key" && w[1] == "fuzz-secret-psk")
                });
                // (Only when the word is nowhere else on the line: in a place no key goes, it
                // is not a secret the redaction can know.)
                let once = words.iter().filter(|w| **w == "fuzz-secret-psk").count() == 1;
                if keyed && once {
                    let shown = pr.to_string();
                    let leaked = shown
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .any(|t| t == "fuzz-secret-psk");
                    assert!(!leaked, "{shown}");
                }
            }
        }
    }
});
