//! Placeholder: this lesson is being written.
fn main() {
    eprintln!("tcp-client: not written yet");
    std::process::exit(1);
}
