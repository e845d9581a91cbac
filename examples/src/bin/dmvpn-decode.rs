//! `dmvpn-decode`: decodes DMVPN traffic in pcap/pcapng captures with this project's parsers and
//! prints one JSON object per frame: `{"frame": N, "layers": [{"proto": "gre", ...}, ...]}`.
//!
//! Usage: `dmvpn-decode [--check-roundtrip] FILE...`
//!
//! With `--check-roundtrip`, every header parsed is re-emitted from its parsed form and compared
//! with the original bytes. A parse error in a protocol we implement, or a mismatch, is reported on
//! that frame (an `"errors"` array) and makes the exit status 1. Frames we do not understand are
//! printed with the layers we do understand and are not errors. Exit status 2: bad usage or a file
//! that cannot be read.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use dmvpn_examples::decode::decode_file;

const USAGE: &str = "usage: dmvpn-decode [--check-roundtrip] FILE...";

fn main() -> ExitCode {
    let mut check = false;
    let mut files = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--check-roundtrip") => check = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(s) if s.starts_with("--") => {
                eprintln!("dmvpn-decode: unknown option {s}\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for path in &files {
        let frames = match decode_file(path, check) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("dmvpn-decode: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        for frame in &frames {
            if !frame.errors.is_empty() {
                failed += 1;
                for e in &frame.errors {
                    eprintln!(
                        "dmvpn-decode: {} frame {}: {e}",
                        path.display(),
                        frame.number
                    );
                }
            }
            if writeln!(out, "{}", frame.to_json()).is_err() {
                return ExitCode::from(2); // stdout closed (e.g. piped into head)
            }
        }
    }
    if check && failed > 0 {
        eprintln!("dmvpn-decode: {failed} frame(s) failed");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
