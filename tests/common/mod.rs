//! Starts the real ledd binary on a temporary tree and socket, and talks to it.
#![allow(dead_code)] // each test file uses its own part of this

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// For the tests marked `#[ignore = "needs root ..."]`: run without root
/// (`--include-ignored` as a user), they fail instead of passing unrun.
pub fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test needs root: it is ignored unless asked for, and must not pass unrun"
    );
}

pub const LEDD: &str = env!("CARGO_BIN_EXE_ledd");
pub const LEDCTL: &str = env!("CARGO_BIN_EXE_ledctl");

/// The shared fake tree (tests/fakeleds): `fakeleds.sh` run with `args`.
fn fakeleds(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fakeleds/fakeleds.sh");
    let output = Command::new(script).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "fakeleds.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// The library that plays the kernel's part on a fake tree (built once).
pub fn fakeleds_lib() -> &'static str {
    static LIB: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LIB.get_or_init(|| fakeleds(&["lib"]))
}

/// A fake LED class device, idle, as the kernel shows it; ledd started by
/// [`Ledd`] sees it react to writes as the kernel's would (tests/fakeleds).
pub fn add_fake_led(root: &Path, device: &str, max_brightness: u32) {
    fakeleds(&[
        "led",
        root.to_str().unwrap(),
        device,
        &max_brightness.to_string(),
    ]);
}

/// The active trigger: the bracketed name of the `trigger` line.
pub fn active_trigger(root: &Path, device: &str) -> String {
    let line = read(root, device, "trigger");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or_else(|| panic!("no active trigger in {line:?}"))
        .to_string()
}

pub fn read(root: &Path, device: &str, file: &str) -> String {
    fs::read_to_string(root.join(device).join(file))
        .unwrap()
        .trim_end()
        .to_string()
}

pub struct Ledd {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub sysfs: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Ledd {
    /// A temporary directory with a sysfs tree holding `ACT` and `PWR`.
    pub fn prepare(extra_config: &str) -> Ledd {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let sysfs = dir.path().join("leds");
        add_fake_led(&sysfs, "ACT", 1);
        add_fake_led(&sysfs, "PWR", 255);
        let socket = dir.path().join("ledd.sock");
        let config = dir.path().join("ledd.toml");
        let text = format!(
            "socket = \"{}\"\nsysfs_root = \"{}\"\nstate_file = \"{}/state.toml\"\n{extra_config}\n",
            socket.display(),
            sysfs.display(),
            dir.path().display()
        );
        let text = if text.contains("[leds.") {
            text
        } else {
            format!(
                "{text}[leds.status]\ndevice = [\"ledd:green:status\", \"ACT\"]\n[leds.power]\ndevice = \"PWR\"\n[leds.ghost]\ndevice = \"nowhere\"\n"
            )
        };
        fs::write(&config, text).unwrap();
        let log = dir.path().join("ledd.log");
        Ledd {
            dir,
            config,
            socket,
            sysfs,
            child: None,
            log,
        }
    }

    pub fn start(extra_config: &str) -> Ledd {
        let mut ledd = Ledd::prepare(extra_config);
        ledd.spawn(&[]);
        ledd
    }

    pub fn start_simulated(extra_config: &str) -> Ledd {
        let mut ledd = Ledd::prepare(extra_config);
        ledd.spawn(&["--simulate"]);
        ledd
    }

    /// The real ledd binary on this tree, with the kernel's part played by
    /// the preloaded fake-tree library.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(LEDD);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("LD_PRELOAD", fakeleds_lib())
            .env("FAKE_LEDS_ROOT", &self.sysfs);
        command
    }

    /// Starts ledd and waits until it answers.
    pub fn spawn(&mut self, args: &[&str]) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready();
        self.check_fake_kernel();
    }

    /// ld.so ignores a preload it cannot open, with a warning only: make sure
    /// the fake kernel is really in the ledd under test.
    pub fn check_fake_kernel(&self) {
        let maps = fs::read_to_string(format!("/proc/{}/maps", self.pid())).unwrap();
        assert!(
            maps.contains("libfakeleds.so"),
            "the fake kernel library is not loaded in ledd: {}",
            self.log_text()
        );
    }

    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            // Connecting succeeds as soon as the socket is bound; a reply
            // comes only once the loop runs (after restoring the LEDs).
            let reply = ledd_client::Connection::connect(&self.socket, PROBE_TIMEOUT)
                .ok()
                .and_then(probe);
            if let Some(reply) = reply {
                assert!(reply.starts_with("ok version="), "probe got {reply:?}");
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("ledd exited with {status}: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("ledd did not come up: {}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
    }

    /// Waits for ledd to exit and returns its status code.
    pub fn wait_exit(&mut self) -> i32 {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ledd did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends one order on a new connection and returns the reply line.
    pub fn order(&self, line: &str) -> String {
        let mut connection = self.connect();
        connection.send(line)
    }

    pub fn connect(&self) -> Connection {
        Connection::new(&self.socket)
    }

    pub fn ledctl(&self, args: &[&str]) -> Output {
        Command::new(LEDCTL)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn read(&self, device: &str, file: &str) -> String {
        read(&self.sysfs, device, file)
    }

    pub fn active_trigger(&self, device: &str) -> String {
        active_trigger(&self.sysfs, device)
    }

    /// Writes an attribute as another program would, the fake kernel's
    /// reaction included (a trigger written behind ledd's back, say).
    pub fn kernel_write(&self, device: &str, attribute: &str, value: &str) {
        fakeleds(&[
            "write",
            self.sysfs.to_str().unwrap(),
            device,
            attribute,
            value,
        ]);
    }
}

impl Drop for Ledd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks `version` and reads to the end: ledd closes its side only after it
/// has forgotten the connection, so once this returns the probe no longer
/// counts against `max_connections`. `None` while ledd is not serving yet.
fn probe(mut connection: ledd_client::Connection) -> Option<String> {
    connection.send_line("version").ok()?;
    connection
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .ok()?;
    let reply = connection.read_rest().ok()?;
    (!reply.is_empty()).then_some(reply)
}

/// A client connection (the `ledd-client` library), taking and giving
/// lines as they are: the tests send malformed orders on purpose.
pub struct Connection {
    /// The same socket, for writing raw bytes or shutting a side down.
    pub stream: UnixStream,
    client: ledd_client::Connection,
}

impl Connection {
    pub fn new(socket: &Path) -> Connection {
        let client = ledd_client::Connection::connect(socket, Duration::from_secs(10))
            .unwrap_or_else(|error| panic!("{error}"));
        let stream = client.get_ref().try_clone().unwrap();
        Connection { stream, client }
    }

    /// Sends a line, returns the line that answers it.
    pub fn send(&mut self, line: &str) -> String {
        self.client
            .round_trip_line(line)
            .unwrap_or_else(|error| panic!("{line:?}: {error}"))
            .to_string()
    }

    /// Sends lines at once (pipelined), without reading their replies.
    pub fn send_lines(&mut self, lines: &[&str]) {
        self.client
            .send_lines(lines)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    pub fn receive(&mut self) -> String {
        self.client
            .receive_line()
            .unwrap_or_else(|error| panic!("incomplete reply: {error}"))
            .to_string()
    }

    /// Reads until the daemon closes the connection.
    pub fn rest(&mut self) -> String {
        self.client
            .read_rest()
            .expect("reading until ledd closes the connection")
    }

    /// Like [`Connection::rest`] when ledd closes with the client's bytes
    /// still unread: the kernel then resets the connection, which is the end too.
    pub fn rest_or_reset(&mut self) -> String {
        match self.client.read_rest() {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => String::new(),
            Err(error) => panic!("reading until ledd closes the connection: {error}"),
        }
    }

    /// Says goodbye (no more orders) and waits until ledd has closed the
    /// connection, so it no longer counts against `max_connections`.
    pub fn close(mut self) {
        self.stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(self.rest(), "", "nothing was left to answer");
    }
}
