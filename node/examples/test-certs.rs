//! Writes the certificates the end-to-end TLS tests use (made with rcgen, as
//! the Rust tests' are) into the directory given as the only argument:
//!
//! - `ca.crt`; `server.crt`/`.key` for 127.0.0.1 and localhost; `client.crt`/`.key`
//! - `expired.crt`/`.key`: a server certificate that expired in 2001
//! - `other-ca.crt` and `other-client.crt`/`.key`: a CA nobody trusts and a client of it
//! - `rotated-ca.crt` and `rotated.crt`/`.key`: what a rotation installs
//!
//! Test material only: the keys are written unencrypted.

#[path = "../tests/certs/mod.rs"]
mod certs;

use certs::Ca;
use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: test-certs DIR");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        std::process::exit(1);
    }
    let host = ["127.0.0.1", "localhost"];
    let ca = Ca::new("shoal test CA");
    let other = Ca::new("untrusted CA");
    let rotated = Ca::new("rotated CA");
    std::fs::write(dir.join("ca.crt"), &ca.pem).expect("write");
    std::fs::write(dir.join("other-ca.crt"), &other.pem).expect("write");
    std::fs::write(dir.join("rotated-ca.crt"), &rotated.pem).expect("write");
    ca.leaf(&host).write(&dir, "server");
    ca.leaf(&["client"]).write(&dir, "client");
    ca.expired(&host).write(&dir, "expired");
    other.leaf(&["client"]).write(&dir, "other-client");
    rotated.leaf(&host).write(&dir, "rotated");
}
