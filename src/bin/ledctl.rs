//! ledctl: sends one order to ledd and prints the reply.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ledd::output;
use ledd::protocol::{Order, Reply, Verb};
use ledd_client::{Connection, Endpoint, ExitCode};

const EXIT_CODES: &str = "\
Exit status:
  0  done
  1  ledd refused the order (its message is on standard error)
  2  usage error: bad arguments, or an order that is malformed or out of range
  3  cannot reach ledd: no socket, or nobody listening on it
  4  permission denied on the socket (join the group that owns it, normally 'leds')
  5  the connection broke or timed out before the reply

See ledctl(1) and ledd-protocol(7).";

/// Send an order to ledd, the LED daemon, and print its reply.
#[derive(Parser)]
#[command(name = "ledctl", version, after_help = EXIT_CODES, arg_required_else_help = true)]
struct Cli {
    /// ledd's socket [default: $LEDD_SOCKET, else /run/ledd/ledd.sock; with --host, the far machine's]
    #[arg(short, long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Drive ledd on another machine through ssh: ssh://[user@]host[:port] [default: $LEDD_HOST]
    #[arg(short = 'H', long, value_name = "URL", global = true)]
    host: Option<String>,
    /// Print the reply as JSON, for scripts
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for ledd's reply
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, global = true)]
    timeout: f64,
    #[command(subcommand)]
    order: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Blink an LED at FREQ_HZ (0.001 to 500), with DUTY_PERCENT on (1 to 99, default 50)
    Blink {
        #[arg(value_name = "ARGS", num_args = 1..=3, required = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Light an LED at its maximum brightness, or at BRIGHTNESS (clamped to the maximum)
    On {
        #[arg(value_name = "ARGS", num_args = 0..=2, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Turn an LED off (no trigger, dark)
    Off {
        /// The LED (default: the configured default LED)
        led: Option<String>,
    },
    /// Let the kernel's heartbeat trigger drive an LED
    Heartbeat {
        /// The LED (default: the configured default LED)
        led: Option<String>,
    },
    /// Let the kernel play a pattern of BRIGHTNESS:MS steps (at least 2)
    Pattern {
        #[arg(value_name = "ARGS", num_args = 2.., required = true)]
        args: Vec<String>,
        /// Times to play the pattern; -1 plays it forever
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        repeat: Option<i32>,
    },
    /// Hand an LED to any kernel trigger it lists (mmc0, cpu, netdev, ...)
    Trigger {
        #[arg(value_name = "ARGS", num_args = 1..=2, required = true)]
        args: Vec<String>,
    },
    /// Show an LED's state, as the kernel reports it
    Status {
        /// The LED (default: the configured default LED)
        led: Option<String>,
    },
    /// List the configured LEDs
    List,
    /// Show ledd's version and protocol
    Version,
    /// Relay standard input and output to ledd's socket (the far end of --host)
    DialStdio,
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// The subcommands that take their words as free ARGS: their usage line is
/// the protocol's (clap cannot tell which of the words is the LED).
const USAGE_FROM_PROTOCOL: [Verb; 4] = [Verb::Blink, Verb::On, Verb::Pattern, Verb::Trigger];

/// ledctl's command line: the derived one, with each order's aliases and
/// usage line taken from the protocol's verb table (one source of truth).
fn command() -> clap::Command {
    let mut command = Cli::command();
    for verb in Verb::ALL {
        command = command.mut_subcommand(verb.name(), |sub| {
            let sub = sub.visible_aliases(verb.aliases());
            if USAGE_FROM_PROTOCOL.contains(&verb) {
                // ledctl spells `repeat=N` as an option.
                let usage = verb.usage().replace("[repeat=N]", "[--repeat N]");
                sub.override_usage(format!("ledctl {usage}"))
            } else {
                sub
            }
        });
    }
    // mut_subcommand moves each one to the end: put the last one back last,
    // so the completion scripts list the subcommands in their usual order.
    command.mut_subcommand("completions", |sub| sub)
}

/// The order line a subcommand stands for.
fn order_line(command: &Command) -> String {
    let (verb, mut words): (Verb, Vec<String>) = match command {
        Command::Blink { args } => (Verb::Blink, args.clone()),
        Command::On { args } => (Verb::On, args.clone()),
        Command::Off { led } => (Verb::Off, led.iter().cloned().collect()),
        Command::Heartbeat { led } => (Verb::Heartbeat, led.iter().cloned().collect()),
        Command::Pattern { args, .. } => (Verb::Pattern, args.clone()),
        Command::Trigger { args } => (Verb::Trigger, args.clone()),
        Command::Status { led } => (Verb::Status, led.iter().cloned().collect()),
        Command::List => (Verb::List, Vec::new()),
        Command::Version | Command::DialStdio | Command::Completions { .. } => {
            (Verb::Version, Vec::new())
        }
    };
    if let Command::Pattern {
        repeat: Some(count),
        ..
    } = command
    {
        words.push(format!("repeat={count}"));
    }
    std::iter::once(verb.name().to_string())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

fn fail(json: bool, kind: &str, code: ExitCode, message: &str) -> ProcessExit {
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": false, "error": {"kind": kind, "message": message}})
        );
    } else {
        eprintln!("ledctl: {message}");
    }
    code.into()
}

fn main() -> ProcessExit {
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|error| error.exit());
    if let Command::Completions { shell } = cli.order {
        clap_complete::generate(shell, &mut command(), "ledctl", &mut std::io::stdout());
        return ProcessExit::SUCCESS;
    }
    if let Command::DialStdio = cli.order {
        // Always this machine's ledd: it is the far end of someone's --host.
        let socket = ledd_client::socket_path(cli.socket);
        return match ledd_client::dial_stdio(&socket) {
            Ok(()) => ProcessExit::SUCCESS,
            Err(error) => fail(false, error.kind_word(), error.code, &error.message),
        };
    }
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 3600.0) {
        return fail(
            cli.json,
            "usage",
            ExitCode::Usage,
            "--timeout takes seconds between 0 and 3600",
        );
    }
    // The order is checked here with ledd's own parser, so a malformed one
    // is a usage error before anything is sent.
    let order = match Order::parse(&order_line(&cli.order)) {
        Ok(order) => order,
        Err(error) => {
            return fail(
                cli.json,
                error.kind.as_str(),
                ExitCode::Usage,
                &error.message,
            );
        }
    };
    let timeout = Duration::from_secs_f64(cli.timeout);
    let reply = match Endpoint::from_options(cli.host, cli.socket)
        .and_then(|endpoint| Connection::open(&endpoint, timeout))
        .and_then(|mut ledd| ledd.order(&order))
    {
        Ok(reply) => reply,
        Err(error) => return fail(cli.json, error.kind_word(), error.code, &error.message),
    };
    let mut stdout = std::io::stdout().lock();
    let code = ExitCode::of_reply(&reply);
    let printed = if cli.json {
        writeln!(stdout, "{}", output::to_json(&reply))
    } else {
        match &reply {
            Reply::Ok(_) => writeln!(stdout, "{}", output::to_text(&reply)),
            Reply::Err(error) => {
                eprintln!("ledctl: ledd refused: {error}");
                Ok(())
            }
        }
    };
    if printed.is_err() {
        return ExitCode::Broken.into();
    }
    code.into()
}
