//! Prints what the intake understands of each message file given, one JSON
//! object per line (`{"file","intent","order_number","amount","slips"}`).
//! Stand-in for `topup parse` while measuring the parser:
//! `cargo run --example parse -- FILE...`.

use std::path::Path;

use topup::domain::order_number::OrderNumber;
use topup::intake::parse_file;

fn main() -> anyhow::Result<()> {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match parse_file(Path::new(&arg), OrderNumber::DEFAULT_PREFIX) {
            Ok(value) => println!("{value}"),
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("Some files could not be read");
    }
    Ok(())
}
