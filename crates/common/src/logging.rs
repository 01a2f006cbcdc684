//! Logging setup: short lines on stderr, `info` unless `RUST_LOG` says otherwise.
//!
//! A line looks like `09:37:00.123 INFO  from 127.0.0.1:50312: "hello"`.
//! Set `RUST_LOG=debug` to see more, `RUST_LOG=warn` to see only problems.
//! Colours are used only when stderr is a terminal.

use std::io::Write;

use log::LevelFilter;

use crate::time::Utc;

/// Install the logger. Call once, at the start of `main`.
pub fn init() {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(LevelFilter::Info);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder.format(|buf, record| {
        let style = buf.default_level_style(record.level());
        writeln!(
            buf,
            "{} {style}{:<5}{style:#} {}",
            Utc::now().clock(),
            record.level(),
            record.args()
        )
    });
    // A second call (from a test, say) keeps the first logger.
    let _ = builder.try_init();
}
