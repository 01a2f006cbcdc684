//! Placeholder: this lesson is being written.
fn main() {
    eprintln!("udp-broadcast: not written yet");
    std::process::exit(1);
}
