//! Bad command lines: each refused with exit 2 (or 1), one line on stderr,
//! nothing on stdout, no panic. The table is in
//! `common::testing::command_lines`, shared by every lesson.

use common::testing::command_lines::refuses_bad_command_lines;

#[test]
fn bad_command_lines_are_refused() {
    refuses_bad_command_lines(
        env!("CARGO_BIN_EXE_udp-chunked-transfer"),
        "udp-chunked-transfer",
    );
}
