//! Placeholder: this lesson is being written.
fn main() {
    eprintln!("tcp-server: not written yet");
    std::process::exit(1);
}
