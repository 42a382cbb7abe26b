//! The event loop: one thread, one calloop loop. It wires the listening
//! socket, the clients, signals and timers to the [`Engine`], and holds no
//! LED logic. With no client, no pending retry and no unsaved change it has
//! nothing to wake up for, so while the kernel blinks the LEDs, ledd sleeps.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, Interest, LoopHandle, LoopSignal, Mode, PostAction, RegistrationToken};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::config::Config;
use crate::engine::{Engine, Outcome, Peer};
use crate::led::Attributes;
use crate::protocol::{ErrorKind, MAX_LINE, Order, OrderError, Reply};
use crate::server::{Listener, notify_systemd};
use crate::uevent::{Uevent, UeventSocket};

/// Replies buffered for a client before ledd stops reading its orders.
const MAX_PENDING_OUTPUT: usize = 64 * 1024;
/// Orders handled for one client before the others get a turn.
const ORDERS_PER_TURN: usize = 64;
/// Waits before retrying a write the kernel refused for lack of permission
/// on a file a trigger has just created (udev fixes it a few ms later).
const PERMISSION_RETRY_MS: [u64; 7] = [5, 10, 20, 40, 80, 160, 320];
/// Connections accepted per wakeup: the listener is level-triggered, so the
/// rest wait for the next turn while clients that left are cleaned up.
const ACCEPTS_PER_TURN: usize = 32;
/// How long after the last client leaves ledd hands freed memory back.
const TRIM_DELAY: Duration = Duration::from_secs(1);
/// How long the listener rests when the process runs out of descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Options from the command line that are not in the configuration.
pub struct Options {
    pub config_path: PathBuf,
    /// Draw the LEDs' state on stdout (the try-it demo).
    pub show: bool,
}

struct Client {
    stream: Rc<UnixStream>,
    source: RegistrationToken,
    idle_timer: RegistrationToken,
    peer: Option<Peer>,
    input: Vec<u8>,
    output: Vec<u8>,
    /// The client sent end-of-file, or must not be read any more.
    read_closed: bool,
    /// An order waits for a retry or for the rate limit: later orders wait behind it.
    waiting: bool,
    last_activity: Instant,
    /// Token bucket of the rate limit: changes this client may make at once.
    allowance: f64,
    allowance_at: Instant,
}

pub struct Daemon {
    engine: Engine,
    options: Options,
    handle: LoopHandle<'static, Daemon>,
    signal: LoopSignal,
    listener_token: Option<RegistrationToken>,
    clients: HashMap<u64, Client>,
    next_client: u64,
    last_render: String,
    started: Instant,
    trim_pending: bool,
    /// The next attempt of a restore that waits for udev (none otherwise).
    restore_timer: Option<RegistrationToken>,
    /// The timer that writes coalesced changes to the state file; armed only
    /// while a change is unsaved, so a daemon at rest has no timer.
    save_timer: Option<RegistrationToken>,
}

/// Runs ledd until SIGTERM or SIGINT.
pub fn run(
    config: Config,
    attrs: Box<dyn Attributes>,
    options: Options,
) -> Result<(), Box<dyn std::error::Error>> {
    raise_descriptor_limit(config.max_connections);
    let listener = Listener::open(&config)?;
    let mut event_loop: EventLoop<'static, Daemon> = EventLoop::try_new()?;
    let handle = event_loop.handle();

    let mut daemon = Daemon {
        engine: Engine::new(config, attrs),
        options,
        handle: handle.clone(),
        signal: event_loop.get_signal(),
        listener_token: None,
        clients: HashMap::new(),
        next_client: 0,
        last_render: String::new(),
        started: Instant::now(),
        trim_pending: false,
        restore_timer: None,
        save_timer: None,
    };
    daemon.engine.report_devices();
    // Watch for LEDs that appear later before restoring, so none slips between.
    match UeventSocket::open() {
        Ok(socket) => {
            let source = Generic::new(socket, Interest::READ, Mode::Level);
            handle.insert_source(source, |_, socket, daemon| Ok(daemon.on_uevents(socket)))?;
        }
        Err(error) => warn!(
            "cannot watch for LED devices that appear later (kernel uevent socket: {error}); such an LED gets its saved state at the next reload"
        ),
    }
    if daemon.engine.config().restore {
        daemon.engine.plan_restore();
        let next = daemon.engine.restore_due(Instant::now());
        daemon.arm_restore_timer(next);
    }

    let socket_activated = listener.is_socket_activated();
    let Listener { ref listener, .. } = listener;
    let accept_source = Generic::new(listener.try_clone()?, Interest::READ, Mode::Level);
    daemon.listener_token = Some(handle.insert_source(accept_source, |_, listener, daemon| {
        daemon.accept_all(listener);
        Ok(PostAction::Continue)
    })?);
    register_signals(&handle)?;
    if daemon.options.show {
        handle.insert_source(Timer::immediate(), |_, _, daemon| {
            daemon.render();
            TimeoutAction::ToDuration(Duration::from_millis(40))
        })?;
    }

    if let Some(interval) = watchdog_interval() {
        // systemd restarts ledd if these pings stop: they prove the loop turns.
        handle.insert_source(Timer::from_duration(interval), move |_, _, _| {
            notify_systemd("WATCHDOG=1");
            TimeoutAction::ToDuration(interval)
        })?;
        info!("pinging the systemd watchdog every {interval:?}");
    }
    info!(
        "listening on {}{}; protocol 1",
        daemon.engine.config().socket.display(),
        if socket_activated {
            " (socket from systemd)"
        } else {
            ""
        }
    );
    notify_systemd("READY=1");
    event_loop.run(None, &mut daemon, |_| {})?;

    notify_systemd("STOPPING=1");
    if daemon.engine.config().on_exit == crate::config::OnExit::Off {
        info!("turning LEDs off (on_exit = \"off\")");
        daemon.engine.all_off();
    }
    // Changes still waiting for their coalesced save (and the LEDs just
    // turned off) are written before ledd goes.
    daemon.engine.flush();
    if daemon.options.show {
        println!();
    }
    info!("stopped");
    Ok(())
}

/// Half the watchdog period systemd asked for (WATCHDOG_USEC), if it asked this process.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    let for_us = std::env::var("WATCHDOG_PID")
        .map(|pid| pid.parse() == Ok(std::process::id()))
        .unwrap_or(true);
    (for_us && usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Makes room for `max_connections` clients below the descriptor limit.
fn raise_descriptor_limit(max_connections: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let wanted = max_connections as u64 + 64;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < wanted
    {
        let new_soft = wanted.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, new_soft, hard).is_err() || new_soft < wanted {
            warn!(
                "the descriptor limit ({new_soft}) is below max_connections + 64; connections past it will be refused"
            );
        }
    }
}

/// SIGTERM and SIGINT stop ledd, SIGHUP reloads the configuration. The
/// handlers only write to a pipe that the loop watches (signal-hook's self-pipe).
fn register_signals(handle: &LoopHandle<'static, Daemon>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let watch = |signals: &[i32], on_signal: fn(&mut Daemon)| -> io::Result<()> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        for signal in signals {
            signal_hook::low_level::pipe::register(*signal, writer.try_clone()?)?;
        }
        let source = Generic::new(reader, Interest::READ, Mode::Level);
        handle
            .insert_source(source, move |_, reader, daemon| {
                let mut drained = [0u8; 64];
                while matches!((&**reader).read(&mut drained), Ok(n) if n > 0) {}
                on_signal(daemon);
                Ok(PostAction::Continue)
            })
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(())
    };
    watch(&[SIGTERM, SIGINT], |daemon| {
        info!("stopping on signal");
        daemon.signal.stop();
    })?;
    watch(&[SIGHUP], Daemon::reload)
}

impl Daemon {
    fn accept_all(&mut self, listener: &UnixListener) {
        for _ in 0..ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, _)) => self.add_client(stream),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    // Out of descriptors: pause accepting instead of spinning on a
                    // listener that stays readable.
                    warn!("cannot accept a connection: {error}; pausing for {ACCEPT_PAUSE:?}");
                    if let Some(token) = self.listener_token {
                        let _ = self.handle.disable(&token);
                        let _ = self.handle.insert_source(
                            Timer::from_duration(ACCEPT_PAUSE),
                            move |_, _, daemon| {
                                let _ = daemon.handle.enable(&token);
                                TimeoutAction::Drop
                            },
                        );
                    }
                    return;
                }
            }
        }
    }

    fn add_client(&mut self, stream: UnixStream) {
        if self.clients.len() >= self.engine.config().max_connections {
            let refusal = Reply::Err(OrderError::new(
                ErrorKind::Busy,
                format!(
                    "too many connections (max_connections = {}); try again later",
                    self.engine.config().max_connections
                ),
            ));
            let _ = stream.set_nonblocking(true);
            let _ = (&stream).write_all(format!("{refusal}\n").as_bytes());
            warn!(
                "refused a connection: {} clients already connected",
                self.clients.len()
            );
            return;
        }
        if let Err(error) = stream.set_nonblocking(true) {
            warn!("dropping a connection that cannot be made non-blocking: {error}");
            return;
        }
        let peer = getsockopt(&stream, PeerCredentials).ok().map(|cred| Peer {
            pid: cred.pid(),
            uid: cred.uid(),
            gid: cred.gid(),
        });
        let id = self.next_client;
        self.next_client += 1;
        let stream = Rc::new(stream);
        // Edge-triggered for both directions: a readiness change wakes the
        // loop once, and `service` then reads and writes until it would block.
        let source = Generic::new(Rc::clone(&stream), Interest::BOTH, Mode::Edge);
        let source = self.handle.insert_source(source, move |_, _, daemon| {
            daemon.service(id);
            Ok(PostAction::Continue)
        });
        let idle = self.engine.config().idle_timeout;
        let idle_timer = self
            .handle
            .insert_source(Timer::from_duration(idle), move |_, _, daemon| {
                daemon.check_idle(id)
            });
        match (source, idle_timer) {
            (Ok(source), Ok(idle_timer)) => {
                self.clients.insert(
                    id,
                    Client {
                        stream,
                        source,
                        idle_timer,
                        peer,
                        input: Vec::new(),
                        output: Vec::new(),
                        read_closed: false,
                        waiting: false,
                        last_activity: Instant::now(),
                        allowance: f64::from(self.engine.config().rate_limit),
                        allowance_at: Instant::now(),
                    },
                );
                self.service(id);
            }
            (source, idle_timer) => {
                warn!("cannot watch a new connection; dropping it");
                for token in [source.ok(), idle_timer.ok()].into_iter().flatten() {
                    self.handle.remove(token);
                }
            }
        }
    }

    fn close(&mut self, id: u64) {
        if let Some(client) = self.clients.remove(&id) {
            self.handle.remove(client.source);
            self.handle.remove(client.idle_timer);
        }
        self.schedule_trim();
    }

    /// After a burst of clients, once all have left, gives the memory they
    /// used back to the system, so ledd's footprint does not keep its peak.
    fn schedule_trim(&mut self) {
        if !self.clients.is_empty() || self.trim_pending {
            return;
        }
        self.trim_pending = true;
        let scheduled =
            self.handle
                .insert_source(Timer::from_duration(TRIM_DELAY), |_, _, daemon| {
                    daemon.trim_pending = false;
                    if daemon.clients.is_empty() {
                        daemon.clients.shrink_to_fit();
                        // SAFETY: malloc_trim only returns free heap pages to the kernel.
                        #[cfg(target_env = "gnu")]
                        unsafe {
                            nix::libc::malloc_trim(0);
                        }
                    }
                    TimeoutAction::Drop
                });
        if scheduled.is_err() {
            self.trim_pending = false;
        }
    }

    fn check_idle(&mut self, id: u64) -> TimeoutAction {
        let timeout = self.engine.config().idle_timeout;
        let Some(client) = self.clients.get(&id) else {
            return TimeoutAction::Drop;
        };
        let deadline = client.last_activity + timeout;
        if Instant::now() < deadline || client.waiting {
            return TimeoutAction::ToInstant(
                deadline.max(Instant::now() + Duration::from_millis(10)),
            );
        }
        info!("closing a connection silent for {timeout:?}");
        // The timer is dropped by returning Drop; only the socket source remains to remove.
        if let Some(client) = self.clients.remove(&id) {
            self.handle.remove(client.source);
        }
        self.schedule_trim();
        TimeoutAction::Drop
    }

    /// Moves one client forward as far as it can go without blocking:
    /// flushes replies, handles complete orders, reads more. Stops reading
    /// while replies are piled up (the client must drain them first) or
    /// while an order waits for a retry (replies stay in order).
    fn service(&mut self, id: u64) {
        let mut handled = 0;
        loop {
            let Some(client) = self.clients.get_mut(&id) else {
                return;
            };
            if let Err(error) = flush(client) {
                if error.kind() != io::ErrorKind::BrokenPipe {
                    info!("dropping a client: {error}");
                }
                self.close(id);
                return;
            }
            if client.waiting || client.output.len() >= MAX_PENDING_OUTPUT {
                return;
            }
            if let Some(line) = take_line(&mut client.input, client.read_closed) {
                if handled == ORDERS_PER_TURN {
                    // Give the others a turn; carry on when the loop is idle.
                    client.input.splice(0..0, line.into_iter().chain([b'\n']));
                    self.handle.insert_idle(move |daemon| daemon.service(id));
                    return;
                }
                handled += 1;
                let order = parse_line(&line);
                if matches!(order, Ok(Order::Change(_))) && !self.admit(id) {
                    // Over the rate limit: the order waits (with those after it).
                    if let Some(client) = self.clients.get_mut(&id) {
                        client.input.splice(0..0, line.into_iter().chain([b'\n']));
                    }
                    return;
                }
                match order {
                    Ok(order) => self.carry_out(id, order, 0),
                    Err(error) => self.reply(id, &Reply::Err(error)),
                }
                continue;
            }
            if client.input.len() > MAX_LINE {
                let reply = Reply::Err(OrderError::new(
                    ErrorKind::TooLong,
                    format!("an order is at most {MAX_LINE} bytes; closing the connection"),
                ));
                client
                    .output
                    .extend_from_slice(format!("{reply}\n").as_bytes());
                client.input.clear();
                client.read_closed = true;
                continue;
            }
            if client.read_closed {
                if client.output.is_empty() {
                    self.close(id);
                }
                return;
            }
            let mut buffer = [0u8; 4096];
            match (&*client.stream).read(&mut buffer) {
                Ok(0) => client.read_closed = true,
                Ok(n) => {
                    client.input.extend_from_slice(&buffer[..n]);
                    client.last_activity = Instant::now();
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    info!("dropping a client: {error}");
                    self.close(id);
                    return;
                }
            }
        }
    }

    /// Takes one change from the client's allowance of `rate_limit` per
    /// second; when none is left, pauses the client until one is.
    fn admit(&mut self, id: u64) -> bool {
        let rate = f64::from(self.engine.config().rate_limit);
        let Some(client) = self.clients.get_mut(&id) else {
            return false;
        };
        let now = Instant::now();
        let refill = now.duration_since(client.allowance_at).as_secs_f64() * rate;
        client.allowance = (client.allowance + refill).min(rate);
        client.allowance_at = now;
        if client.allowance >= 1.0 {
            client.allowance -= 1.0;
            return true;
        }
        client.waiting = true;
        let wait = Duration::from_secs_f64((1.0 - client.allowance) / rate);
        let resumed = self
            .handle
            .insert_source(Timer::from_duration(wait), move |_, _, daemon| {
                if let Some(client) = daemon.clients.get_mut(&id) {
                    client.waiting = false;
                }
                daemon.service(id);
                TimeoutAction::Drop
            });
        if let Err(error) = resumed {
            error!("cannot schedule a rate-limited client: {error}");
            self.close(id);
        }
        false
    }

    /// Carries out an order for client `id`; on a transient permission error,
    /// holds the client's later orders and tries again on a timer.
    fn carry_out(&mut self, id: u64, order: Order, attempt: usize) {
        let may_retry = attempt < PERMISSION_RETRY_MS.len();
        let peer = self.clients.get(&id).and_then(|c| c.peer);
        match self.engine.execute(&order, peer, may_retry) {
            Outcome::Done(reply) => {
                if let Order::Change(_) = order {
                    let peer = peer.map_or_else(|| "unknown peer".to_string(), |p| p.to_string());
                    info!("order '{order}' from {peer}: {reply}");
                    self.schedule_save();
                }
                self.reply(id, &reply);
            }
            Outcome::RetryLater => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.waiting = true;
                }
                let delay = Duration::from_millis(PERMISSION_RETRY_MS[attempt]);
                let scheduled =
                    self.handle
                        .insert_source(Timer::from_duration(delay), move |_, _, daemon| {
                            if let Some(client) = daemon.clients.get_mut(&id) {
                                client.waiting = false;
                            }
                            daemon.carry_out(id, order.clone(), attempt + 1);
                            daemon.service(id);
                            TimeoutAction::Drop
                        });
                if let Err(error) = scheduled {
                    error!("cannot schedule a retry: {error}");
                    self.close(id);
                }
            }
        }
    }

    /// One timer for the nearest restore attempt while an LED waits for
    /// udev; none otherwise, so a finished restore leaves nothing to wake for.
    fn arm_restore_timer(&mut self, next: Option<Instant>) {
        if let Some(token) = self.restore_timer.take() {
            self.handle.remove(token);
        }
        let Some(at) = next else { return };
        let armed = self
            .handle
            .insert_source(Timer::from_deadline(at), |_, _, daemon| {
                // This timer is dropped on return: forget it before re-arming.
                daemon.restore_timer = None;
                let next = daemon.engine.restore_due(Instant::now());
                daemon.arm_restore_timer(next);
                TimeoutAction::Drop
            });
        match armed {
            Ok(token) => self.restore_timer = Some(token),
            Err(error) => error!("cannot schedule the next restore attempt: {error}"),
        }
    }

    /// Device events: an LED that appears may have a saved state to get.
    fn on_uevents(&mut self, socket: &UeventSocket) -> PostAction {
        let drained = match socket.drain() {
            Ok(drained) => drained,
            Err(error) => {
                error!(
                    "kernel uevent socket failed ({error}); LEDs that appear from now on get their saved state at the next reload"
                );
                return PostAction::Remove;
            }
        };
        let now = Instant::now();
        for device in drained.events.iter().filter_map(Uevent::added_led) {
            let next = self.engine.device_appeared(Some(device), now);
            self.arm_restore_timer(next);
        }
        if drained.lost {
            info!(
                "the kernel dropped device events; trying every restore still waiting for its device"
            );
            let next = self.engine.device_appeared(None, now);
            self.arm_restore_timer(next);
        }
        PostAction::Continue
    }

    /// Arms the save timer when a change waits to be written, and removes it
    /// when none does (the LEDs went back to what the file holds). A timer
    /// already armed is left alone: it reads the deadline again when it fires.
    fn schedule_save(&mut self) {
        match (self.engine.save_due_at(), self.save_timer) {
            (None, Some(token)) => {
                self.handle.remove(token);
                self.save_timer = None;
            }
            (Some(due), None) => {
                let timer = Timer::from_deadline(due);
                match self
                    .handle
                    .insert_source(timer, |_, _, daemon| daemon.save_when_due())
                {
                    Ok(token) => self.save_timer = Some(token),
                    Err(error) => {
                        // Without a timer the change would wait for the next
                        // order or the stop: write it now instead.
                        error!("cannot schedule the state-file save ({error}); saving at once");
                        self.engine.flush();
                    }
                }
            }
            _ => {}
        }
    }

    /// The save timer fired: writes the changes if they are due (later
    /// orders may have pushed the quiet deadline back), then sleeps until
    /// the next deadline, or goes away when nothing is left unsaved.
    fn save_when_due(&mut self) -> TimeoutAction {
        self.engine.save_if_due(Instant::now());
        match self.engine.save_due_at() {
            Some(due) => TimeoutAction::ToInstant(due),
            None => {
                self.save_timer = None;
                TimeoutAction::Drop
            }
        }
    }

    fn reply(&mut self, id: u64, reply: &Reply) {
        if let Some(client) = self.clients.get_mut(&id) {
            client
                .output
                .extend_from_slice(format!("{reply}\n").as_bytes());
        }
    }

    fn reload(&mut self) {
        notify_systemd(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            crate::server::monotonic_usec()
        ));
        let path = self.options.config_path.clone();
        match Config::load(&path) {
            Ok(mut config) => {
                let current = self.engine.config();
                if (&config.socket, config.socket_mode, &config.socket_group)
                    != (&current.socket, current.socket_mode, &current.socket_group)
                {
                    warn!(
                        "socket settings changed in {}: they take effect when ledd restarts",
                        path.display()
                    );
                    config.socket = current.socket.clone();
                    config.socket_mode = current.socket_mode;
                    config.socket_group = current.socket_group.clone();
                }
                // Pending changes belong to the running configuration's
                // state file; the new delays may also bring the deadline
                // forward, so the timer is set again from scratch.
                self.engine.flush();
                if let Some(token) = self.save_timer.take() {
                    self.handle.remove(token);
                }
                self.engine.reconfigure(config);
                info!("configuration reloaded from {}", path.display());
                self.engine.report_devices();
                let next = self.engine.retry_restores(Instant::now());
                self.arm_restore_timer(next);
                self.schedule_save();
            }
            Err(error) => error!("reload failed, keeping the running configuration: {error}"),
        }
        notify_systemd("READY=1");
    }

    fn render(&mut self) {
        use std::io::IsTerminal;
        let line = self.engine.render();
        let mut stdout = io::stdout().lock();
        if stdout.is_terminal() {
            let _ = write!(stdout, "\r\x1b[K{line}");
            let _ = stdout.flush();
        } else if line != self.last_render {
            // Not a terminal: one line per change, timed, like a log.
            let elapsed = self.started.elapsed().as_secs_f64();
            let _ = writeln!(stdout, "{elapsed:7.2}s {line}");
        }
        self.last_render = line;
    }
}

/// Reads one order line; bytes that are not UTF-8 are a usage error.
fn parse_line(line: &[u8]) -> Result<Order, OrderError> {
    match std::str::from_utf8(line) {
        Ok(text) => Order::parse(text.trim_end_matches('\r')),
        Err(_) => Err(OrderError::new(
            ErrorKind::Usage,
            "an order must be UTF-8 text",
        )),
    }
}

/// Writes buffered replies until done or the socket would block.
fn flush(client: &mut Client) -> io::Result<()> {
    while !client.output.is_empty() {
        match (&*client.stream).write(&client.output) {
            Ok(n) => {
                client.output.drain(..n);
                client.last_activity = Instant::now();
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Takes the first complete line out of `input` (the rest of the input
/// after end-of-file counts as a line too).
fn take_line(input: &mut Vec<u8>, at_eof: bool) -> Option<Vec<u8>> {
    match input.iter().position(|b| *b == b'\n') {
        Some(end) if end <= MAX_LINE => {
            let mut line: Vec<u8> = input.drain(..=end).collect();
            line.pop();
            Some(line)
        }
        None if at_eof && !input.is_empty() && input.len() <= MAX_LINE => {
            Some(std::mem::take(input))
        }
        _ => None,
    }
}
