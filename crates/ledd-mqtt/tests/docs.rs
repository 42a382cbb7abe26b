//! ledd-mqtt's pages cannot drift from the program: every option of
//! --help and every exit status is in ledd-mqtt(8), every configuration
//! key in ledd-mqtt.toml(5) and, commented, in the shipped mqtt.toml.
//! (tests/docs.rs at the root lints every page.)

use std::process::Command;

use ledd_mqtt::config::CONFIG_KEYS;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_option_and_exit_status_is_in_ledd_mqtt_8() {
    let output = Command::new(env!("CARGO_BIN_EXE_ledd-mqtt"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let man = repo_file("man/ledd-mqtt.8");
    let options: Vec<&str> = help
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("--"))
        .map(|word| word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|word| !word.is_empty())
        .collect();
    assert!(options.contains(&"check-config"), "{help}");
    for option in options {
        let documented = format!("Fl \\-{}", option.replace('-', "\\-"));
        assert!(man.contains(&documented), "ledd-mqtt.8 lacks --{option}");
    }
    for code in 0..=3 {
        assert!(
            help.contains(&format!("{code} ")),
            "--help lacks exit status {code}"
        );
        assert!(
            man.contains(&format!(".It {code}\n")),
            "ledd-mqtt.8 lacks exit status {code}"
        );
    }
}

#[test]
fn every_key_is_in_ledd_mqtt_toml_5_and_the_shipped_file() {
    let man = repo_file("man/ledd-mqtt.toml.5");
    let shipped = repo_file("etc/mqtt.toml");
    for key in CONFIG_KEYS {
        assert!(
            man.contains(&format!(".It Cm {key} ")),
            "ledd-mqtt.toml.5 lacks key {key}"
        );
        assert!(
            shipped
                .lines()
                .any(|line| line.starts_with(&format!("#{key} = "))),
            "etc/mqtt.toml lacks a commented {key} line"
        );
    }
    // broker is required and shipped commented out: the packaged file must
    // not start the bridge towards a made-up broker.
    assert!(!shipped.lines().any(|line| line.starts_with("broker")));
}
