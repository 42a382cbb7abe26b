//! ledd: the LED daemon. Parses the command line, loads the configuration,
//! picks the backend, and hands over to the event loop.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ledd::config::{Config, DEFAULT_CONFIG_PATH};
use ledd::daemon::{self, Options};
use ledd::led::Attributes;
use ledd::led::sim::SimulatedAttributes;
use ledd::led::sysfs::SysfsAttributes;
use ledd::logging::{self, LevelFilter};
use log::{error, warn};

/// Exit code for a configuration that does not load.
const EXIT_CONFIG: u8 = 1;
/// Exit code for a failure to start (socket in use, no permission, ...).
const EXIT_START: u8 = 3;

/// Takes orders over a Unix socket and hands them to the kernel's LED class,
/// so the kernel blinks the LEDs while ledd sleeps.
#[derive(Parser)]
#[command(
    name = "ledd",
    version,
    after_help = "Exit status: 0 stopped cleanly (or --check-config found no problem), 1 configuration error, 2 usage error, 3 could not start.\nSignals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration.\nSee ledd(8), ledd.toml(5) and ledd-protocol(7)."
)]
struct Cli {
    /// Configuration file to use
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Check the configuration, print what is wrong, and exit
    #[arg(long)]
    check_config: bool,
    /// Drive simulated LEDs in memory instead of /sys/class/leds (no hardware needed)
    #[arg(long)]
    simulate: bool,
    /// Draw the LEDs' state live on standard output
    #[arg(long)]
    show: bool,
    /// Least severe messages to log: error, warn, info or debug (debug logs
    /// every order, queries too); overrides the configuration's log_level
    #[arg(long, value_name = "LEVEL", value_parser = logging::parse_level_arg)]
    log_level: Option<LevelFilter>,
}

/// What `--check-config` adds to parsing: names the system must know.
fn check_config(path: &std::path::Path, config: &Config) -> ExitCode {
    let unknown = |group: &&String| {
        nix::unistd::Group::from_name(group)
            .ok()
            .flatten()
            .is_none()
    };
    if let Some(group) = config.socket_group.as_ref().filter(unknown) {
        error!(
            "{}: key 'socket_group': group '{group}' does not exist on this system",
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    for led in config.leds.values() {
        for unknown in ledd::access::unknown_names(led) {
            warn!(
                "{}: key 'leds.{}': the access policy names {unknown}, which does not exist",
                path.display(),
                led.name
            );
        }
    }
    println!(
        "{}: configuration OK ({} LEDs)",
        path.display(),
        config.leds.len()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init("ledd", cli.log_level.unwrap_or(LevelFilter::Info));
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(problem) => {
            error!("{problem}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    logging::set_level(cli.log_level.unwrap_or(config.log_level));
    if cli.check_config {
        return check_config(&cli.config, &config);
    }
    let attrs: Box<dyn Attributes> = if cli.simulate {
        // One simulated device per LED, named like its first choice.
        let devices: Vec<String> = config
            .leds
            .values()
            .map(|led| led.devices[0].clone())
            .collect();
        warn!(
            "SIMULATED LEDs: nothing in {} is touched; simulated devices: {}",
            config.sysfs_root.display(),
            devices.join(", ")
        );
        Box::new(SimulatedAttributes::new(devices))
    } else {
        Box::new(SysfsAttributes::new(config.sysfs_root.clone()))
    };
    let options = Options {
        config_path: cli.config,
        show: cli.show,
        log_level: cli.log_level,
    };
    match daemon::run(config, attrs, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            error!("{problem}");
            ExitCode::from(EXIT_START)
        }
    }
}
