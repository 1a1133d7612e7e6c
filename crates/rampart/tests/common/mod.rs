//! What the binary's integration tests share: the command, the address a started server
//! announces, and a real browser ([`browser`]).

#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};

/// `rampart`, with no setting inherited from the environment.
pub fn rampart() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rampart"));
    c.env_remove("RAMPART_DATA")
        .env_remove("RAMPART_LISTEN")
        .env_remove("RAMPART_CONFIG")
        .env_remove("RAMPART_POSTGRES_URL");
    c
}

/// The address a `rampart serve` started with piped stderr announces once its listener is
/// bound; stderr is then drained in the background so the server never blocks on a full pipe.
pub fn served_addr(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    addr
}
