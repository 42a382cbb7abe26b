//! ledctl: sends one order to ledd and prints the reply.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ledd::output;
use ledd::protocol::{Event, Order, Reply, Verb};
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
    /// Make the change a claim that ends after DURATION (500ms, 10s, 2m, 1h, 1d)
    #[arg(long = "for", value_name = "DURATION", global = true)]
    for_duration: Option<String>,
    /// The claim's priority, 0 to 9 (default 5): the highest live claim is shown
    #[arg(long, value_name = "N", global = true)]
    priority: Option<String>,
    #[command(subcommand)]
    order: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Blink an LED at FREQ_HZ (0.001 to 500), with DUTY_PERCENT on (1 to 99, default 50)
    Blink {
        // Up to 3 words, and the protocol's for=, hold, priority= (--for, --priority).
        #[arg(value_name = "ARGS", num_args = 1..=6, required = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Light an LED at its maximum brightness, or at BRIGHTNESS (clamped to the maximum)
    On {
        #[arg(value_name = "ARGS", num_args = 0..=5, allow_hyphen_values = true)]
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
        #[arg(value_name = "ARGS", num_args = 1..=5, required = true)]
        args: Vec<String>,
    },
    /// Make an LED blink fast on top of everything, for 30 s or --for, to find the device
    Identify {
        /// The LED (default: the configured default LED)
        led: Option<String>,
    },
    /// Let the kernel blink TEXT in Morse code (ITU timing)
    Morse {
        #[arg(value_name = "ARGS", num_args = 1.., required = true)]
        args: Vec<String>,
        /// Speed in words per minute, 5 to 60 (default 20): a dot lasts 1200/N ms
        #[arg(long, value_name = "N")]
        wpm: Option<u32>,
        /// Times to play the text; -1 plays it forever
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        repeat: Option<i32>,
    },
    /// Let the kernel blink SOS in Morse code, over and over
    Sos {
        /// The LED (default: the configured default LED)
        led: Option<String>,
        /// Speed in words per minute, 5 to 60 (default 20): a dot lasts 1200/N ms
        #[arg(long, value_name = "N")]
        wpm: Option<u32>,
    },
    /// Let the kernel fade an LED up and down every PERIOD (default 4s; needs max_brightness > 1)
    Breathe {
        #[arg(value_name = "ARGS", num_args = 0..=2)]
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
    /// List the live claims, on one LED or on all
    Claims {
        /// The LED (default: every LED)
        led: Option<String>,
    },
    /// End your claims (or one by ID, or all you may end), on one LED or on all
    Release {
        #[arg(value_name = "ARGS", num_args = 0..=2)]
        args: Vec<String>,
    },
    /// Place ORDER as a claim held while COMMAND runs, then exit with its status
    Hold {
        /// The order, as for the other subcommands (blink 8, on power, ...)
        #[arg(value_name = "ORDER", required = true, num_args = 1..)]
        order: Vec<String>,
        /// The command to run, after --
        #[arg(value_name = "COMMAND", required = true, last = true)]
        command: Vec<String>,
    },
    /// Print the LEDs' state now and at every change, until interrupted
    Watch {
        /// The LEDs (default: every LED)
        leds: Vec<String>,
    },
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
const USAGE_FROM_PROTOCOL: [Verb; 7] = [
    Verb::Blink,
    Verb::On,
    Verb::Pattern,
    Verb::Trigger,
    Verb::Morse,
    Verb::Breathe,
    Verb::Release,
];

/// ledctl's command line: the derived one, with each order's aliases and
/// usage line taken from the protocol's verb table (one source of truth).
fn command() -> clap::Command {
    let mut command = Cli::command();
    for verb in Verb::ALL {
        command = command.mut_subcommand(verb.name(), |sub| {
            let sub = sub.visible_aliases(verb.aliases());
            if USAGE_FROM_PROTOCOL.contains(&verb) {
                // ledctl spells `repeat=N` and `wpm=N` as options.
                let usage = verb
                    .usage()
                    .replace("[repeat=N]", "[--repeat N]")
                    .replace("[wpm=N]", "[--wpm N]");
                sub.override_usage(format!("ledctl {usage}"))
            } else {
                sub
            }
        });
    }
    // mut_subcommand moves each one to the end: put the last ones back last,
    // so the completion scripts list the subcommands in their usual order.
    command
        .mut_subcommand("hold", |sub| sub)
        .mut_subcommand("completions", |sub| sub)
}

/// The order line a subcommand stands for, with `--for` and `--priority`
/// as the protocol's trailing modifiers.
fn order_line(cli: &Cli) -> String {
    let mut line = match &cli.order {
        // `hold blink 8`: the order's own words, then `hold`.
        Command::Hold { order, .. } => format!("{} hold", order.join(" ")),
        command => command_line(command),
    };
    if let Some(duration) = &cli.for_duration {
        line.push_str(&format!(" for={duration}"));
    }
    if let Some(priority) = &cli.priority {
        line.push_str(&format!(" priority={priority}"));
    }
    line
}

/// The order line of a subcommand other than `hold`.
fn command_line(command: &Command) -> String {
    let (verb, mut words): (Verb, Vec<String>) = match command {
        Command::Blink { args } => (Verb::Blink, args.clone()),
        Command::On { args } => (Verb::On, args.clone()),
        Command::Off { led } => (Verb::Off, led.iter().cloned().collect()),
        Command::Heartbeat { led } => (Verb::Heartbeat, led.iter().cloned().collect()),
        Command::Pattern { args, .. } => (Verb::Pattern, args.clone()),
        Command::Trigger { args } => (Verb::Trigger, args.clone()),
        Command::Identify { led } => (Verb::Identify, led.iter().cloned().collect()),
        Command::Morse { args, .. } => (Verb::Morse, args.clone()),
        Command::Sos { led, .. } => (Verb::Sos, led.iter().cloned().collect()),
        Command::Breathe { args } => (Verb::Breathe, args.clone()),
        Command::Status { led } => (Verb::Status, led.iter().cloned().collect()),
        Command::List => (Verb::List, Vec::new()),
        Command::Claims { led } => (Verb::Claims, led.iter().cloned().collect()),
        Command::Release { args } => (Verb::Release, args.clone()),
        Command::Watch { leds } => (Verb::Watch, leds.clone()),
        Command::Version
        | Command::DialStdio
        | Command::Completions { .. }
        | Command::Hold { .. } => (Verb::Version, Vec::new()),
    };
    let (wpm, repeat) = match command {
        Command::Pattern { repeat, .. } => (None, *repeat),
        Command::Morse { wpm, repeat, .. } => (*wpm, *repeat),
        Command::Sos { wpm, .. } => (*wpm, None),
        _ => (None, None),
    };
    words.extend(wpm.map(|wpm| format!("wpm={wpm}")));
    words.extend(repeat.map(|count| format!("repeat={count}")));
    std::iter::once(verb.name().to_string())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a reply as ledctl does; false if stdout is gone.
fn print_reply(reply: &Reply, json: bool) -> bool {
    let mut stdout = std::io::stdout().lock();
    let printed = if json {
        writeln!(stdout, "{}", output::to_json(reply))
    } else {
        match reply {
            Reply::Ok(_) => writeln!(stdout, "{}", output::to_text(reply)),
            Reply::Err(error) => {
                eprintln!("ledctl: ledd refused: {error}");
                Ok(())
            }
        }
    };
    printed.is_ok()
}

/// `ledctl watch`: the reply, then one line per event until ledd closes the
/// connection (or the user interrupts). Only the reply waits `timeout`.
fn watch(endpoint: &Endpoint, order: &Order, timeout: Duration, json: bool) -> ProcessExit {
    let mut ledd = match Connection::open(endpoint, timeout) {
        Ok(ledd) => ledd,
        Err(error) => return fail(json, error.kind_word(), error.code, &error.message),
    };
    match ledd.order(order) {
        Ok(Reply::Ok(_)) => {}
        Ok(refused) => {
            return if print_reply(&refused, json) {
                ExitCode::Refused.into()
            } else {
                ExitCode::Broken.into()
            };
        }
        Err(error) => return fail(json, error.kind_word(), error.code, &error.message),
    }
    if let Err(error) = ledd.get_ref().set_read_timeout(None) {
        return fail(json, "broken", ExitCode::Broken, &error.to_string());
    }
    let mut stdout = std::io::stdout().lock();
    loop {
        let line = match ledd.receive_line() {
            Ok(line) => line,
            Err(error) => return fail(json, error.kind_word(), error.code, &error.message),
        };
        let Ok(event) = Event::parse(line) else {
            continue; // not an event: nothing this client asked for
        };
        let shown = if json {
            output::event_to_json(&event).to_string()
        } else {
            output::event_to_text(&event)
        };
        // A closed pipe (`ledctl watch | head`) ends the watch quietly.
        if writeln!(stdout, "{shown}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ProcessExit::SUCCESS;
        }
    }
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
        if cli.host.is_some() {
            return fail(
                false,
                "usage",
                ExitCode::Usage,
                "dial-stdio relays to this machine's ledd: it takes no --host",
            );
        }
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
    let order = match Order::parse(&order_line(&cli)) {
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
    let endpoint = match Endpoint::from_options(cli.host, cli.socket) {
        Ok(endpoint) => endpoint,
        Err(error) => return fail(cli.json, error.kind_word(), error.code, &error.message),
    };
    if let Command::Hold { command, .. } = &cli.order {
        return hold::run(&endpoint, &order, command, timeout, cli.json);
    }
    if let Command::Watch { .. } = &cli.order {
        return watch(&endpoint, &order, timeout, cli.json);
    }
    let reply = match Connection::open(&endpoint, timeout).and_then(|mut ledd| ledd.order(&order)) {
        Ok(reply) => reply,
        Err(error) => return fail(cli.json, error.kind_word(), error.code, &error.message),
    };
    if !print_reply(&reply, cli.json) {
        return ExitCode::Broken.into();
    }
    ExitCode::of_reply(&reply).into()
}

/// `ledctl hold ORDER… -- COMMAND`: the claim lives as long as this
/// connection, which lives as long as COMMAND.
mod hold {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitCode as ProcessExit;
    use std::sync::mpsc;
    use std::time::Duration;

    use ledd::protocol::{Order, Reply};
    use ledd_client::{Connection, Endpoint, ExitCode};

    /// How often a lost connection is tried again while COMMAND runs.
    const RECONNECT: Duration = Duration::from_millis(500);

    pub fn run(
        endpoint: &Endpoint,
        order: &Order,
        command: &[String],
        timeout: Duration,
        json: bool,
    ) -> ProcessExit {
        let (lost_tx, lost) = mpsc::channel();
        let placed = match place(endpoint, order, timeout, lost_tx.clone()) {
            Ok(reply) => reply,
            Err((code, message)) => return super::fail(json, "hold", code, &message),
        };
        if !super::print_reply(&placed, json) {
            return ExitCode::Broken.into();
        }
        if let Reply::Err(_) = placed {
            return ExitCode::Refused.into();
        }
        let Some((program, args)) = command.split_first() else {
            return super::fail(
                json,
                "usage",
                ExitCode::Usage,
                "hold needs a COMMAND after --",
            );
        };
        let mut child = match std::process::Command::new(program).args(args).spawn() {
            Ok(child) => child,
            Err(error) => {
                return super::fail(
                    json,
                    "usage",
                    ExitCode::Usage,
                    &format!("cannot run {program}: {error}"),
                );
            }
        };
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    // Our exit closes the connection: ledd ends the claim.
                    let code = status
                        .code()
                        .or_else(|| status.signal().map(|signal| 128 + signal))
                        .unwrap_or(1);
                    return ProcessExit::from(u8::try_from(code).unwrap_or(1));
                }
                Ok(None) => {}
                Err(error) => {
                    eprintln!("ledctl: cannot wait for {program}: {error}");
                    return ExitCode::Broken.into();
                }
            }
            if lost.recv_timeout(Duration::from_millis(100)).is_ok() {
                // ledd restarted (or went away): place the claim again once it is back.
                eprintln!("ledctl: lost ledd; placing the claim again when it is back");
                let mut placed = false;
                while !placed && matches!(child.try_wait(), Ok(None)) {
                    match place(endpoint, order, timeout, lost_tx.clone()) {
                        Ok(Reply::Ok(_)) => placed = true,
                        Ok(Reply::Err(error)) => {
                            eprintln!("ledctl: ledd refused the claim again: {error}");
                            placed = true;
                        }
                        Err(_) => std::thread::sleep(RECONNECT),
                    }
                }
            }
        }
    }

    /// Connects, places the claim, and leaves a thread watching the
    /// connection, which says on `lost` when ledd closes it.
    fn place(
        endpoint: &Endpoint,
        order: &Order,
        timeout: Duration,
        lost: mpsc::Sender<()>,
    ) -> Result<Reply, (ExitCode, String)> {
        let mut connection =
            Connection::open(endpoint, timeout).map_err(|e| (e.code, e.message))?;
        let reply = connection.order(order).map_err(|e| (e.code, e.message))?;
        let mut stream = connection
            .get_ref()
            .try_clone()
            .map_err(|e| (ExitCode::Broken, e.to_string()))?;
        // Nothing more is said on it: block until it closes.
        let _ = stream.set_read_timeout(None);
        std::thread::spawn(move || {
            let _keep = connection;
            let mut byte = [0u8; 1];
            while matches!(stream.read(&mut byte), Ok(n) if n > 0) {}
            let _ = lost.send(());
        });
        Ok(reply)
    }
}
