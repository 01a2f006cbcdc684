//! The workspace's docs stay true to its code: the sequential→threaded diffs
//! shown in docs/threading.md are regenerated and compared, and every
//! relative link in README.md and docs/ must resolve, and every lesson page
//! goes tutorial → break it → full lesson with a test behind each experiment
//! (scripts/docs.sh).

use std::path::Path;
use std::process::Command;

#[test]
#[cfg_attr(windows, ignore = "runs a bash or sh script, which Wine has not")]
fn threading_diffs_and_links_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/docs.sh"))
        .arg("--check")
        .output()
        .expect("bash is needed to run scripts/docs.sh");
    assert!(
        out.status.success(),
        "scripts/docs.sh --check failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
