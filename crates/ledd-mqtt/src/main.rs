//! ledd-mqtt: parses the command line, loads the configuration, and runs
//! bridge sessions until told to stop (a new session at each reload).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ledd::logging::{self, LevelFilter};
use ledd_mqtt::bridge::{Ended, Session, Signals};
use ledd_mqtt::config::{Config, DEFAULT_CONFIG_PATH};
use log::{error, info};
use tokio::signal::unix::{SignalKind, signal};

/// Exit code for a configuration (or a file it names) that does not load.
const EXIT_CONFIG: u8 = 1;
/// Exit code for a failure to start.
const EXIT_START: u8 = 3;

/// Bridges ledd to an MQTT broker: orders from topics go to ledd, what the
/// LEDs show is published, and Home Assistant finds them by discovery.
#[derive(Parser)]
#[command(
    name = "ledd-mqtt",
    version,
    after_help = "Exit status: 0 stopped cleanly (or --check-config found no problem), 1 configuration error, 2 usage error, 3 could not start.\nSignals: SIGTERM/SIGINT stop (availability goes offline), SIGHUP reloads the configuration.\nSee ledd-mqtt(8) and ledd-mqtt.toml(5)."
)]
struct Cli {
    /// Configuration file to use
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Check the configuration and the files it names, print what is wrong, and exit
    #[arg(long)]
    check_config: bool,
    /// Least severe messages to log: error, warn, info or debug (debug logs
    /// every order and every change ledd reports); overrides log_level
    #[arg(long, value_name = "LEVEL", value_parser = logging::parse_level_arg)]
    log_level: Option<LevelFilter>,
}

fn describe(config: &Config) -> String {
    let topics = ledd_mqtt::topics::Topics::new(config);
    let discovery = match &config.discovery_prefix {
        Some(prefix) => format!("discovery under {prefix}/"),
        None => "no discovery".into(),
    };
    format!(
        "broker {}, node {}, topics {}/…, {discovery}",
        config.broker,
        config.node,
        topics.command("L").trim_end_matches("/L/set"),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init("ledd-mqtt", cli.log_level.unwrap_or(LevelFilter::Info));
    let (config, credentials) = match ledd_mqtt::load(&cli.config) {
        Ok(loaded) => loaded,
        Err(problem) => {
            error!("{problem}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if cli.check_config {
        println!(
            "{}: configuration OK ({})",
            cli.config.display(),
            describe(&config)
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(problem) => {
            error!("cannot start the event loop: {problem}");
            return ExitCode::from(EXIT_START);
        }
    };
    runtime.block_on(run(cli, config, credentials))
}

async fn run(
    cli: Cli,
    mut config: Config,
    mut credentials: ledd_mqtt::credentials::Credentials,
) -> ExitCode {
    let signals = (|| {
        Ok::<_, std::io::Error>(Signals {
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    })();
    let mut signals = match signals {
        Ok(signals) => signals,
        Err(problem) => {
            error!("cannot take signals: {problem}");
            return ExitCode::from(EXIT_START);
        }
    };
    loop {
        logging::set_level(cli.log_level.unwrap_or(config.log_level));
        let mut session = Session::start(config, &credentials);
        notify_ready();
        let ended = session.run(&mut signals, &cli.config).await;
        session.stop().await;
        match ended {
            Ended::Stop => {
                info!("stopped");
                return ExitCode::SUCCESS;
            }
            Ended::Reload(loaded) => {
                (config, credentials) = *loaded;
                info!("reloaded {}: {}", cli.config.display(), describe(&config));
            }
        }
    }
}

/// Tells systemd (Type=notify) that the bridge runs; nothing without systemd.
fn notify_ready() {
    if let Err(problem) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        log::warn!("could not notify systemd: {problem}");
    }
}
