//! ledctl against the real ledd: subcommands, aliases, output and exit codes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{LEDCTL, Ledd};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn subcommands_and_aliases_reach_the_daemon() {
    let ledd = Ledd::start("");
    let cases: [(&[&str], &str); 12] = [
        (
            &["blink", "2"],
            "status: blinking at 2 Hz (duty 50 %, on 250 ms / off 250 ms)\n",
        ),
        (
            &["clignote", "power", "4", "25"],
            "power: blinking at 3.984 Hz (duty 25.1 %, on 63 ms / off 188 ms)\n",
        ),
        (
            &["on", "power", "300"],
            "power: on at brightness 255 (asked 300, clamped to max_brightness)\n",
        ),
        (&["allume"], "status: on at brightness 1\n"),
        (&["off"], "status: off\n"),
        (&["eteindre", "power"], "power: off\n"),
        (&["eteind"], "status: off\n"),
        (&["heartbeat", "power"], "power: heartbeat\n"),
        (
            &["pattern", "power", "255:100", "0:100", "--repeat", "2"],
            "power: playing a pattern (2 steps, repeat 2)\n",
        ),
        (
            &["trigger", "power", "oneshot"],
            "power: following kernel trigger oneshot\n",
        ),
        (
            &["list"],
            "leds: ghost,power,status\ndefault: status\nbackend: sysfs\nstate_file: pending\n",
        ),
        (
            &["version"],
            &format!("version: {}\nprotocol: 1\n", env!("CARGO_PKG_VERSION")),
        ),
    ];
    for (args, expected) in cases {
        let output = ledd.ledctl(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), expected, "{args:?}");
    }
    let status = ledd.ledctl(&["status", "ghost"]);
    assert_eq!(
        stdout(&status),
        "ghost: no device (nowhere not found)\n  device: nowhere\n  exists: no\n  mode: unknown\n  claims: 0\n  shown: base\n"
    );
}

#[test]
fn json_output_for_scripts() {
    let ledd = Ledd::start("");
    let output = ledd.ledctl(&["--json", "blink", "2"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"ok": true, "led": "status", "device": "ACT", "mode": "blink", "freq": 2, "duty": 50, "delay_on": 250, "delay_off": 250})
    );
    let output = ledd.ledctl(&["--json", "status", "ghost"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["exists"], false);
    let output = ledd.ledctl(&["--json", "trigger", "mmc0"]);
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["error"]["kind"], "no-trigger");
    let output = ledd.ledctl(&["--json", "list"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        value["leds"],
        serde_json::json!(["ghost", "power", "status"])
    );
}

#[test]
fn exit_codes() {
    let ledd = Ledd::start("");
    // 1: ledd refused, message on stderr.
    let output = ledd.ledctl(&["trigger", "mmc0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("ledctl: ledd refused: no-trigger: LED status (device ACT)")
    );
    let output = ledd.ledctl(&["blink", "nosuch", "2"]);
    assert_eq!(output.status.code(), Some(1));
    // 2: usage, detected before sending.
    for args in [
        &["blink", "0"][..],
        &["blink", "-1"],
        &["blink", "abc"],
        &["on", "0"],
        &["fly"],
        &["blink"],
        &["pattern", "1:1"],
    ] {
        let output = ledd.ledctl(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        stderr(&ledd.ledctl(&["blink", "0"])),
        "ledctl: frequency 0 Hz is out of range (0.001 to 500)\n"
    );
    // 3: nobody there.
    let missing = ledd.dir.path().join("missing.sock");
    let output = Command::new(LEDCTL)
        .arg("--socket")
        .arg(&missing)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("does not exist. Is ledd running"));
    let stale = ledd.dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let output = Command::new(LEDCTL)
        .arg("--socket")
        .arg(&stale)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    // LEDD_SOCKET is honoured, --socket wins over it.
    let output = Command::new(LEDCTL)
        .env("LEDD_SOCKET", &ledd.socket)
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let output = Command::new(LEDCTL)
        .env("LEDD_SOCKET", &ledd.socket)
        .arg("--socket")
        .arg(&missing)
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    // 5: a server that never answers.
    let mute = ledd.dir.path().join("mute.sock");
    let _listener = UnixListener::bind(&mute).unwrap();
    let output = Command::new(LEDCTL)
        .args(["--timeout", "0.3", "--socket"])
        .arg(&mute)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert!(stderr(&output).contains("did not answer within 0.3 s"));
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn permission_denied_on_the_socket_has_its_own_code() {
    common::require_root();
    let ledd = Ledd::start("");
    fs::set_permissions(&ledd.socket, fs::Permissions::from_mode(0o660)).unwrap();
    let output = Command::new(LEDCTL)
        .arg("--socket")
        .arg(&ledd.socket)
        .arg("status")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("join the group that owns it"));
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn the_access_policy_denies_changes_by_others_but_not_reads() {
    common::require_root();
    let ledd = Ledd::start(
        "socket_mode = \"0666\"\n[leds.status]\ndevice = \"ACT\"\nallow_groups = [\"root\"]\n[leds.open]\ndevice = \"PWR\"\n",
    );
    let as_nobody = |args: &[&str]| {
        Command::new(LEDCTL)
            .arg("--socket")
            .arg(&ledd.socket)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    let output = as_nobody(&["blink", "status", "2"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "ledctl: ledd refused: denied: LED status may be changed only by members of root (you are uid 65534)\n"
    );
    assert!(
        ledd.log_text().contains("from uid=65534 pid="),
        "refusals are logged with uid and pid"
    );
    assert_eq!(as_nobody(&["status", "status"]).status.code(), Some(0));
    assert_eq!(as_nobody(&["blink", "open", "2"]).status.code(), Some(0));
    assert_eq!(
        ledd.ledctl(&["blink", "status", "2"]).status.code(),
        Some(0),
        "root may"
    );
}

#[test]
fn help_and_completions() {
    let output = Command::new(LEDCTL).arg("--help").output().unwrap();
    let help = stdout(&output);
    for word in [
        "blink",
        "clignote",
        "eteindre",
        "--json",
        "--socket",
        "Exit status:",
        "4  permission denied",
    ] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let output = Command::new(LEDCTL)
        .args(["blink", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&output).contains("Usage: ledctl blink [LED] FREQ_HZ [DUTY_PERCENT]"));
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(LEDCTL)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(
            output.status.success() && stdout(&output).contains("clignote"),
            "{shell}"
        );
    }
    let output = Command::new(LEDCTL).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "no order is a usage error");
}

#[test]
fn dial_stdio_relays_pipelined_orders_and_says_why_it_cannot() {
    use std::io::Write;
    use std::process::Stdio;
    let ledd = Ledd::start("");
    let ledctl = |args: &[&str]| {
        let mut command = Command::new(LEDCTL);
        command.arg("--socket").arg(&ledd.socket).args(args);
        command
    };
    let mut relay = ledctl(&["dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    relay
        .stdin
        .take()
        .unwrap()
        .write_all(b"blink power 2\nstatus power\nversion\n")
        .unwrap();
    // Standard input closed: ledd answers the three, closes, dial-stdio ends.
    let output = relay.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("ok led=power") && lines[1].contains("mode=blink"));
    assert!(lines[2].starts_with("ok version="));

    let missing = ledd.dir.path().join("none.sock");
    let output = Command::new(LEDCTL)
        .args(["--socket", missing.to_str().unwrap(), "dial-stdio"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("does not exist"));

    // The far end of -H is always this machine's ledd.
    let output = ledctl(&["-H", "ssh://pi", "dial-stdio"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn a_bad_host_url_is_a_usage_error_and_runs_nothing() {
    let ledd = Ledd::start("");
    for url in ["tcp://pi", "ssh://-oProxyCommand=x", "ssh://pi:99999"] {
        let output = Command::new(LEDCTL)
            .args([
                "--socket",
                ledd.socket.to_str().unwrap(),
                "-H",
                url,
                "status",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("ssh://[user@]host[:port]"),
            "{}",
            stderr(&output)
        );
    }
}
