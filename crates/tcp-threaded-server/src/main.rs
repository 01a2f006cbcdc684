//! Placeholder: this lesson is being written.
fn main() {
    eprintln!("tcp-threaded-server: not written yet");
    std::process::exit(1);
}
