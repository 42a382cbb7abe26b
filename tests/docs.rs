//! The man pages cannot drift from the programs: every ledctl subcommand,
//! alias and option, every ledd option, every configuration key and every
//! error kind must appear in its page, and the pages must lint clean.

mod common;

use std::process::Command;

use ledd::config::{CONFIG_KEYS, LED_KEYS};
use ledd::protocol::{ErrorKind, Verb, canonical_verb};

fn page(name: &str) -> String {
    std::fs::read_to_string(format!("{}/man/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn help(binary: &str, args: &[&str]) -> String {
    let output = Command::new(binary).args(args).output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

/// Long options (`--json`) in a --help text.
fn long_options(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter_map(|word| word.strip_prefix("--"))
        .map(|word| {
            word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// A page documents `--name` as `Fl \-name` (with `-` escaped as `\-`).
fn documents_option(page: &str, option: &str) -> bool {
    page.contains(&format!("Fl \\-{}", option.replace('-', "\\-")))
}

#[test]
fn every_ledctl_subcommand_alias_and_option_is_in_ledctl_1() {
    let man = page("ledctl.1");
    let top = help(common::LEDCTL, &["--help"]);
    let commands: Vec<&str> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        // Continuation lines of wrapped descriptions are indented further.
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for command in &commands {
        assert!(
            man.contains(&format!(".It Cm {command}")),
            "ledctl.1 lacks subcommand {command}"
        );
        let sub = help(common::LEDCTL, &[command, "--help"]);
        for option in long_options(&sub) {
            assert!(
                documents_option(&man, &option),
                "ledctl.1 lacks --{option} (of {command})"
            );
        }
    }
    let aliases: Vec<&str> = top
        .split("[alias")
        .skip(1)
        .flat_map(|rest| {
            rest.split_once(": ")
                .unwrap()
                .1
                .split(']')
                .next()
                .unwrap()
                .split(", ")
        })
        .collect();
    // ledctl's aliases are the protocol's, all of them (one verb table).
    let protocol_aliases: Vec<&str> = Verb::ALL
        .iter()
        .flat_map(|verb| verb.aliases().iter().copied())
        .collect();
    assert_eq!(aliases, protocol_aliases);
    assert_eq!(aliases, ["clignote", "allume", "eteindre", "eteind"]);
    for alias in aliases {
        assert!(
            man.contains(&format!("Cm {alias}")),
            "ledctl.1 lacks alias {alias}"
        );
        assert!(
            canonical_verb(alias).is_some(),
            "alias {alias} is not a protocol alias"
        );
    }
    for option in long_options(&top) {
        assert!(documents_option(&man, &option), "ledctl.1 lacks --{option}");
    }
    // The exit codes in --help are the ones in the page.
    for code in 0..=5 {
        assert!(
            top.contains(&format!("  {code}  ")),
            "--help lacks exit code {code}"
        );
        assert!(
            man.contains(&format!(".It {code}\n")),
            "ledctl.1 lacks exit code {code}"
        );
    }
}

#[test]
fn every_ledd_option_is_in_ledd_8() {
    let man = page("ledd.8");
    let options = long_options(&help(common::LEDD, &["--help"]));
    assert!(options.contains(&"check-config".to_string()));
    for option in options {
        assert!(documents_option(&man, &option), "ledd.8 lacks --{option}");
    }
}

#[test]
fn every_config_key_is_in_ledd_toml_5() {
    let man = page("ledd.toml.5");
    for key in CONFIG_KEYS.iter().chain(LED_KEYS.iter()) {
        assert!(
            man.contains(&format!(".It Cm {key} ")),
            "ledd.toml.5 lacks key {key}"
        );
    }
}

#[test]
fn every_order_and_error_kind_is_in_ledd_protocol_7() {
    let man = page("ledd-protocol.7");
    for kind in ErrorKind::ALL {
        assert!(
            man.contains(&format!(".It Cm {kind}\n")),
            "ledd-protocol.7 lacks error kind {kind}"
        );
    }
    // The verbs come from the protocol crate's table: a new order fails
    // here until ledd-protocol(7) documents it.
    for verb in Verb::ALL {
        assert!(
            man.contains(&format!(".It Cm {verb}")),
            "ledd-protocol.7 lacks order {verb}"
        );
    }
    for alias in Verb::ALL.iter().flat_map(|verb| verb.aliases()) {
        assert!(
            man.contains(&format!("Cm {alias}")),
            "ledd-protocol.7 lacks alias {alias}"
        );
    }
}

/// `mandoc -T lint` reports nothing but, before the pages are installed and
/// indexed, that their cross-references are not found (tests/deb checks the
/// installed pages with nothing left out).
#[test]
fn man_pages_lint_clean() {
    // The project installs mandoc (tests/setup.sh): without it this fails.
    assert!(
        Command::new("mandoc").arg("-V").output().is_ok(),
        "mandoc is not installed: run tests/setup.sh (or apt-get install mandoc)"
    );
    for name in [
        "ledd.8",
        "ledctl.1",
        "ledd.toml.5",
        "ledd-protocol.7",
        "ledd-mqtt.8",
        "ledd-mqtt.toml.5",
    ] {
        let path = format!("{}/man/{name}", env!("CARGO_MANIFEST_DIR"));
        let output = Command::new("mandoc")
            .args(["-T", "lint", "-W", "warning", &path])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && report.trim().is_empty(),
            "{name}: {report}"
        );
    }
}
