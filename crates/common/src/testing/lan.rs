//! Two "machines" on one LAN, for running a lesson's server on one and its
//! client on the other, as the tutorials say to.
//!
//! [`Lan::new`] makes two network namespaces (see [`super::netns`]) joined
//! by one veth cable, with tutorial 5's style of addresses: the server at
//! [`SERVER_IP`] and the client at [`CLIENT_IP`], in 192.168.47.0/24. The
//! addresses exist only inside those namespaces, so nothing sent there can
//! leave them, and they are deleted when the [`Lan`] is dropped.
//!
//! A client test needs its server's binary, which belongs to another
//! package: [`lesson_bin`] builds and finds it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::netns::{missing_prerequisite, skip, Namespaces};

/// The server's "machine" (tutorial 5 uses this very address).
pub const SERVER_IP: &str = "192.168.47.130";
/// The client's "machine".
pub const CLIENT_IP: &str = "192.168.47.10";

/// The longest [`lesson_bin`] waits for cargo to build a binary.
pub const BUILD_WAIT: Duration = Duration::from_secs(300);

/// Two namespaces on one cable: `server` (eth0 [`SERVER_IP`]/24) and
/// `client` (eth0 [`CLIENT_IP`]/24). Declare it before the programs run in
/// it, so they are dropped (killed) first and the namespaces after.
pub struct Lan {
    /// The server's namespace.
    pub server: String,
    /// The client's namespace.
    pub client: String,
    _netns: Namespaces,
}

impl Lan {
    /// The LAN for `test`, or `None` when namespaces cannot be made here
    /// (after [`skip`] has said why; on CI that fails the test instead).
    /// `prefix` names the test file, as in [`Namespaces::new`].
    pub fn new(prefix: &str, test: &str) -> Option<Lan> {
        if let Some(why) = missing_prerequisite() {
            skip(test, &why);
            return None;
        }
        let mut netns = Namespaces::new(prefix, test);
        let server = match netns.add("srv") {
            Ok(name) => name,
            Err(e) => {
                skip(test, &format!("cannot create a network namespace: {e}"));
                return None;
            }
        };
        let client = netns.add("cli").unwrap_or_else(|e| panic!("{e}"));
        let server_cidr = format!("{SERVER_IP}/24");
        let client_cidr = format!("{CLIENT_IP}/24");
        netns.cable(
            (&server, &[server_cidr.as_str()]),
            (&client, &[client_cidr.as_str()]),
        );
        Some(Lan {
            server,
            client,
            _netns: netns,
        })
    }
}

/// The path of the binary `name` of the package `name` (every lesson's
/// binary is named after its package), built now so it is never stale.
///
/// It lives beside the running test's own target directory: the test is
/// `TARGET/[TRIPLE/]PROFILE/deps/TEST-HASH`, the binary
/// `TARGET/[TRIPLE/]PROFILE/NAME`. It is built with `$CARGO build -p NAME
/// --bin NAME` for the same target directory, profile and triple, which
/// takes well under a second when `cargo test --workspace` has built it
/// already. (cargo releases its build lock before it runs the tests, so
/// this does not deadlock; it waits at most [`BUILD_WAIT`] in any case.)
/// Each name is built once per test process. Panics with cargo's output
/// when the build fails.
pub fn lesson_bin(name: &str) -> String {
    static BUILT: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    // Held while building, so parallel tests wait for one build.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let path = build(name).unwrap_or_else(|e| panic!("lesson_bin({name:?}): {e}"));
    built.insert(name.to_string(), path.clone());
    path
}

/// Where this test binary was built: (target dir, triple if any, profile
/// dir name).
fn layout() -> Result<(PathBuf, Option<String>, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("no current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .filter(|deps| deps.ends_with("deps"))
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a cargo deps folder", exe.display()))?;
    let profile = file_name(profile_dir)?;
    let above = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent", profile_dir.display()))?;
    // cargo marks the root of a target directory it creates with
    // CACHEDIR.TAG (not one that existed before, as scripts/exercises.sh
    // makes it), and of every one with .rustc_info.json; with neither,
    // `above` is TARGET/TRIPLE (a `--target` build).
    if above.join("CACHEDIR.TAG").exists() || above.join(".rustc_info.json").exists() {
        return Ok((above.to_path_buf(), None, profile));
    }
    let target = above
        .parent()
        .ok_or_else(|| format!("{} has no parent", above.display()))?;
    Ok((target.to_path_buf(), Some(file_name(above)?), profile))
}

fn file_name(path: &Path) -> Result<String, String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no file name", path.display()))
}

fn build(name: &str) -> Result<String, String> {
    let (target_dir, triple, profile) = layout()?;
    let cargo = std::env::var("CARGO").map_err(|_| {
        "CARGO is not set: run the test with `cargo test`, which sets it".to_string()
    })?;
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--quiet", "-p", name, "--bin", name])
        .arg("--target-dir")
        .arg(&target_dir);
    // The folder is named after the profile, except dev's, which is
    // `debug` (and `cargo test` builds with the test profile, which
    // inherits dev's settings and folder; bench's uses release's).
    match profile.as_str() {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    if let Some(triple) = &triple {
        command.args(["--target", triple]);
    }
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    // Drain both pipes while waiting, so a chatty build never blocks.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let readers = [
        thread::spawn(move || read_all(out.as_mut())),
        thread::spawn(move || read_all(err.as_mut())),
    ];
    let deadline = Instant::now() + BUILD_WAIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown} took over {BUILD_WAIT:?} (is another cargo holding the build lock?)"
                ));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    let [_, stderr] = readers.map(|r| r.join().unwrap_or_default());
    if !status.success() {
        return Err(format!("{shown} failed ({status}):\n{stderr}"));
    }
    let mut path = target_dir;
    if let Some(triple) = triple {
        path.push(triple);
    }
    path.push(profile);
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        return Err(format!("{shown} worked, but {} is missing", path.display()));
    }
    Ok(path.to_string_lossy().into_owned())
}

fn read_all(pipe: Option<&mut impl std::io::Read>) -> String {
    let mut text = String::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_string(&mut text);
    }
    text
}

/// `cargo run -q -p BIN -- ARGS`, the way the lesson pages show a command,
/// for [`assert_page_shows`].
pub fn cargo_run(bin: &str, args: &[&str]) -> String {
    let mut line = format!("cargo run -q -p {bin} --");
    for arg in args {
        line.push(' ');
        if arg.contains(' ') || arg.is_empty() {
            line.push_str(&format!("'{arg}'"));
        } else {
            line.push_str(arg);
        }
    }
    line
}

/// Fail unless the page `page` (a path from the workspace root) has
/// `command` on one of its lines: a test that runs a command shown on a
/// page checks that the page still shows exactly that command.
pub fn assert_page_shows(page: &str, command: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(page);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        text.lines().any(|line| line.contains(command)),
        "{page} no longer shows `{command}`, which its two-machine test runs"
    );
}

/// One side of a two-machine run: the package (for the page's `cargo run
/// -q -p PACKAGE -- ARGS`), the path of its binary, and its arguments.
pub struct Side<'a> {
    /// The package, which names its binary too.
    pub package: &'a str,
    /// The built binary ([`lesson_bin`] or `env!("CARGO_BIN_EXE_...")`).
    pub bin: &'a str,
    /// The arguments, exactly as the page shows them.
    pub args: &'a [&'a str],
    /// The folder to run in (relative paths in `args` start there), or
    /// `None` for the test's own.
    pub cwd: Option<&'a Path>,
}

impl Side<'_> {
    /// `ip netns exec NS` runs what follows with no way to change folder,
    /// so a `cwd` becomes `env -C DIR BIN ARGS`.
    fn command(&self) -> (&str, Vec<&str>) {
        match self.cwd.and_then(Path::to_str) {
            Some(dir) => {
                let mut args = vec!["-C", dir, self.bin];
                args.extend_from_slice(self.args);
                ("env", args)
            }
            None => (self.bin, self.args.to_vec()),
        }
    }
}

/// What a two-machine run showed.
pub struct Talk {
    /// The `listening on` address the server printed.
    pub listening: String,
    /// The server's stderr (its log), after it stopped.
    pub server_log: String,
    /// The server's exit status.
    pub server_status: std::process::ExitStatus,
    /// The client's stdout.
    pub client_stdout: String,
    /// The client's stderr (its log).
    pub client_log: String,
    /// The client's exit status.
    pub client_status: std::process::ExitStatus,
}

/// Start `server` in the server's namespace, run `client` to the end in
/// the client's, then stop the server with Ctrl+C's SIGINT (or, with
/// `server_exits`, wait for it to exit by itself, as a chunked receiver
/// does after one file) and collect
/// what both printed. Both commands must appear on every one of `pages`
/// (paths from the workspace root; see [`assert_page_shows`]). With `TWO_MACHINES_SHOW=1` in the environment it
/// prints both screens, as the pages show them.
pub fn serve_and_ask(
    lan: &Lan,
    pages: &[&str],
    server: &Side,
    client: &Side,
    server_exits: bool,
) -> Talk {
    let server_line = cargo_run(server.package, server.args);
    let client_line = cargo_run(client.package, client.args);
    let (bin, args) = server.command();
    let mut running = super::netns::start_in(&lan.server, bin, &args);
    let listening = running.addr().to_string();
    let (bin, args) = client.command();
    let out = super::netns::run_in(&lan.client, bin, &args, "");
    // A receiver that got its file exits by itself; a server waits for
    // Ctrl+C.
    if !server_exits {
        running.interrupt();
    }
    let server_status = running.wait_exit(super::WAIT);
    let talk = Talk {
        listening,
        server_log: running.stderr(),
        server_status,
        client_stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        client_log: String::from_utf8_lossy(&out.stderr).into_owned(),
        client_status: out.status,
    };
    if std::env::var_os("TWO_MACHINES_SHOW").is_some() {
        super::netns::say(&format!(
            "server $ {server_line}\nlistening on {}\n{}\nclient $ {client_line}\n{}{}",
            talk.listening, talk.server_log, talk.client_log, talk.client_stdout
        ));
    }
    for page in pages {
        assert_page_shows(page, &server_line);
        assert_page_shows(page, &client_line);
    }
    talk
}

/// A client lesson's command on the pages: the server's LAN address, not
/// 127.0.0.1.
pub const ASK: &[&str] = &["--host", SERVER_IP, "--message", "hello"];

/// The client lesson `client` (its package and its built binary) asks
/// [`ASK`] of the server lesson `server ARGS` across the LAN, both run as
/// `pages` show them ([`serve_and_ask`]); the server must listen on
/// `listening`, and the client must print `Message received` and succeed.
/// `None` when namespaces cannot be made here (the test is skipped).
pub fn client_asks_server(
    prefix: &str,
    test: &str,
    client: (&str, &str),
    server: &str,
    args: &[&str],
    listening: &str,
    pages: &[&str],
) -> Option<Talk> {
    let lan = Lan::new(prefix, test)?;
    let bin = lesson_bin(server);
    let (package, client_bin) = client;
    let talk = serve_and_ask(
        &lan,
        pages,
        &Side {
            package: server,
            bin: &bin,
            args,
            cwd: None,
        },
        &Side {
            package,
            bin: client_bin,
            args: ASK,
            cwd: None,
        },
        false,
    );
    assert_eq!(talk.listening, listening);
    assert!(
        talk.client_status.success(),
        "client failed: {}",
        talk.client_log
    );
    assert_eq!(talk.client_stdout, "Message received\n");
    Some(talk)
}

/// The ports that follow [`CLIENT_IP`] in `log` (`192.168.47.10:PORT`), in
/// order: how a server's log names the client's machine.
pub fn client_ports(log: &str) -> Vec<u16> {
    let needle = format!("{CLIENT_IP}:");
    let mut ports = Vec::new();
    let mut rest = log;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(port) = digits.parse() {
            ports.push(port);
        }
    }
    ports
}
