//! The event loop: one thread, one calloop loop. It wires the listening
//! socket, the clients, signals and timers to the [`Engine`], and holds no
//! LED logic; a client's buffers, framing, rate limit and idleness live in
//! [`crate::connection`]. With no client, no pending retry and no unsaved
//! change it has nothing to wake up for, so while the kernel blinks the
//! LEDs, ledd sleeps.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, Interest, LoopHandle, LoopSignal, Mode, PostAction, RegistrationToken};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::access::Peer;
use crate::config::Config;
use crate::connection::{self, Admission, Connection, Limits, Line, ReadBuffer, Received};
use crate::engine::{Caller, Engine, Outcome};
use crate::led::Attributes;
use crate::logging::LevelFilter;
use crate::protocol::{ErrorKind, Event, Order, OrderError, Query, Reply};
use crate::server::{self, Listener};
use crate::show::Show;
use crate::uevent::{Uevent, UeventSocket};
use crate::watch::Watchers;

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
    /// `--log-level`: overrides the configuration's `log_level`.
    pub log_level: Option<LevelFilter>,
}

/// A connection as the loop sees it: the connection's state, its socket
/// and its registrations.
struct Client {
    conn: Connection,
    stream: Rc<UnixStream>,
    /// Readable (edge-triggered): the only interest while replies go out at once.
    source: RegistrationToken,
    /// Writable, only while replies wait for the client to read.
    write_watch: Option<RegistrationToken>,
    /// None once the connection watches: a watcher is silent on purpose,
    /// and at rest it must cost no wakeup.
    idle_timer: Option<RegistrationToken>,
}

pub struct Daemon {
    engine: Engine,
    options: Options,
    handle: LoopHandle<'static, Daemon>,
    signal: LoopSignal,
    listener_token: Option<RegistrationToken>,
    clients: HashMap<u64, Client, BuildHasherDefault<connection::IdHasher>>,
    next_client: u64,
    /// Where every client's bytes land first (one thread: one buffer).
    read_buffer: ReadBuffer,
    show: Show,
    /// The connections that sent `watch`, and what their LEDs last showed.
    watchers: Watchers,
    trim_pending: bool,
    /// The next attempt of a restore that waits for udev (none otherwise).
    restore_timer: Option<RegistrationToken>,
    /// The timer that writes coalesced changes to the state file; armed only
    /// while a change is unsaved, so a daemon at rest has no timer.
    save_timer: Option<RegistrationToken>,
    /// The one timer of the claims: at the nearest deadline, and only while
    /// a claim has one.
    claim_timer: Option<(RegistrationToken, Instant)>,
}

/// Runs ledd until SIGTERM or SIGINT.
pub fn run(
    config: Config,
    attrs: Box<dyn Attributes>,
    options: Options,
) -> Result<(), Box<dyn std::error::Error>> {
    server::raise_descriptor_limit(config.max_connections);
    let listener = Listener::open(&config)?;
    let mut event_loop: EventLoop<'static, Daemon> = EventLoop::try_new()?;
    let handle = event_loop.handle();
    let mut daemon = Daemon {
        engine: Engine::new(config, attrs),
        options,
        handle: handle.clone(),
        signal: event_loop.get_signal(),
        listener_token: None,
        clients: HashMap::default(),
        read_buffer: ReadBuffer::default(),
        next_client: 0,
        show: Show::default(),
        watchers: Watchers::default(),
        trim_pending: false,
        restore_timer: None,
        save_timer: None,
        claim_timer: None,
    };
    daemon.engine.report_devices();
    daemon.watch_devices_and_restore()?;
    let socket_activated = listener.is_socket_activated();
    let accept_source = Generic::new(listener.listener.try_clone()?, Interest::READ, Mode::Level);
    daemon.listener_token = Some(handle.insert_source(accept_source, |_, listener, daemon| {
        daemon.accept_all(listener);
        Ok(PostAction::Continue)
    })?);
    register_signals(&handle)?;
    daemon.start_timers()?;
    daemon.arm_claim_timer();
    info!(
        "listening on {}{}; protocol 1",
        daemon.engine.config().socket.display(),
        if socket_activated {
            " (socket from systemd)"
        } else {
            ""
        }
    );
    server::notify_ready();
    event_loop.run(None, &mut daemon, |_| {})?;
    daemon.stop();
    drop(listener);
    Ok(())
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

/// Whether an order changes an LED: it is rate-limited, logged at `info`
/// and saved. (The one place the daemon asks.)
fn is_change(order: &Order) -> bool {
    matches!(order, Order::Change(_) | Order::Release(_))
}

fn describe_peer(peer: Option<&Peer>) -> String {
    peer.map_or_else(|| "unknown peer".to_string(), Peer::to_string)
}

/// Start-up and shutdown.
impl Daemon {
    /// Watches for LEDs that appear later (before restoring, so none slips
    /// between), then restores the saved state.
    fn watch_devices_and_restore(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        match UeventSocket::open() {
            Ok(socket) => {
                let source = Generic::new(socket, Interest::READ, Mode::Level);
                self.handle
                    .insert_source(source, |_, socket, daemon| Ok(daemon.on_uevents(socket)))?;
            }
            Err(error) => warn!(
                "cannot watch for LED devices that appear later (kernel uevent socket: {error}); such an LED gets its saved state at the next reload"
            ),
        }
        if self.engine.config().restore {
            self.engine.plan_restore();
            let next = self.engine.restore_due(Instant::now());
            self.arm_restore_timer(next);
        }
        Ok(())
    }

    /// The `--show` drawing and the systemd watchdog's pings.
    fn start_timers(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        if self.options.show {
            self.handle
                .insert_source(Timer::immediate(), |_, _, daemon| {
                    let line = daemon.engine.render();
                    daemon.show.draw(line);
                    TimeoutAction::ToDuration(Duration::from_millis(40))
                })?;
        }
        if let Some(interval) = server::watchdog_interval() {
            // systemd restarts ledd if these pings stop: they prove the loop turns.
            self.handle
                .insert_source(Timer::from_duration(interval), move |_, _, _| {
                    server::notify_watchdog();
                    TimeoutAction::ToDuration(interval)
                })?;
            info!("pinging the systemd watchdog every {interval:?}");
        }
        Ok(())
    }

    fn stop(&mut self) {
        server::notify_stopping();
        if self.engine.config().on_exit == crate::config::OnExit::Off {
            info!("turning LEDs off (on_exit = \"off\")");
            self.engine.all_off();
        }
        // Changes still waiting for their coalesced save (and the LEDs just
        // turned off) are written before ledd goes.
        self.engine.flush();
        if self.options.show {
            println!();
        }
        info!("stopped");
    }
}

/// Connections: accept, admit, register, close.
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
                    self.pause_accepting();
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self) {
        let Some(token) = self.listener_token else {
            return;
        };
        let _ = self.handle.disable(&token);
        let _ =
            self.handle
                .insert_source(Timer::from_duration(ACCEPT_PAUSE), move |_, _, daemon| {
                    let _ = daemon.handle.enable(&token);
                    TimeoutAction::Drop
                });
    }

    /// The peer's credentials, taken once; its supplementary groups too when
    /// the access policy names groups.
    fn peer_of(&self, stream: &UnixStream) -> Option<Peer> {
        let cred = getsockopt(stream, PeerCredentials).ok()?;
        let peer = Peer::new(cred.pid(), cred.uid(), cred.gid());
        Some(if self.engine.policy().needs_groups() {
            peer.with_groups()
        } else {
            peer
        })
    }

    fn add_client(&mut self, stream: UnixStream) {
        if let Err(error) = stream.set_nonblocking(true) {
            warn!("dropping a connection that cannot be made non-blocking: {error}");
            return;
        }
        let peer = self.peer_of(&stream);
        let config = self.engine.config();
        let limits = Limits {
            max_connections: config.max_connections,
            max_per_user: config.max_connections_per_user,
        };
        let uid = peer.as_ref().map(|peer| peer.uid);
        let mut admission = self.admission(uid, limits);
        if admission == Admission::RefuseUser {
            // A client that reconnects at once can race ledd to its own last
            // close: let this user's connections notice their end-of-file
            // first, so that only connections still open count.
            self.reap_closed(uid);
            admission = self.admission(uid, limits);
        }
        match admission {
            Admission::Accept => {}
            Admission::RefuseUser => {
                let refusal = connection::user_cap_refusal(uid, limits.max_per_user);
                let _ = (&stream).write_all(format!("{refusal}\n").as_bytes());
                warn!(
                    "refused a connection from {}: max_connections_per_user ({}) reached",
                    describe_peer(peer.as_ref()),
                    limits.max_per_user
                );
                return;
            }
            Admission::Evict(old) => self.evict(old, limits.max_connections),
        }
        let now = Instant::now();
        let conn = Connection::new(peer, self.engine.config().rate_limit, now);
        if let Some(id) = self.register(stream, conn) {
            self.service(id);
        }
    }

    fn admission(&self, uid: Option<u32>, limits: Limits) -> Admission<u64> {
        let open = self
            .clients
            .iter()
            .map(|(id, client)| (*id, client.conn.uid(), client.conn.last_activity()));
        connection::admit(open, uid, limits)
    }

    /// Gives each connection of `uid` a turn, which closes those whose
    /// client has gone (at most `max_connections_per_user` of them).
    fn reap_closed(&mut self, uid: Option<u32>) {
        let ids: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, client)| client.conn.uid() == uid)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.service(id);
        }
    }

    /// Closes the longest-idle connection, telling it why, to admit a new one.
    fn evict(&mut self, id: u64, max_connections: usize) {
        if let Some(client) = self.clients.get(&id) {
            let notice = connection::eviction_notice(max_connections);
            let _ = (&*client.stream).write_all(format!("{notice}\n").as_bytes());
            info!(
                "max_connections ({max_connections}) reached: closed the longest idle connection (from {}) to admit a new one",
                describe_peer(client.conn.peer.as_ref())
            );
        }
        self.close(id);
    }

    /// Watches the client's socket (readable, edge-triggered: a readiness
    /// change wakes the loop once, and `service` reads until it would block)
    /// and its idle timer.
    fn register(&mut self, stream: UnixStream, conn: Connection) -> Option<u64> {
        let id = self.next_client;
        self.next_client += 1;
        let stream = Rc::new(stream);
        let source = Generic::new(Rc::clone(&stream), Interest::READ, Mode::Edge);
        let source = self.handle.insert_source(source, move |_, _, daemon| {
            daemon.service(id);
            Ok(PostAction::Continue)
        });
        let idle = conn.idle_deadline(self.engine.config().idle_timeout);
        let idle_timer = self
            .handle
            .insert_source(Timer::from_deadline(idle), move |_, _, daemon| {
                daemon.check_idle(id)
            });
        match (source, idle_timer) {
            (Ok(source), Ok(idle_timer)) => {
                let client = Client {
                    conn,
                    stream,
                    source,
                    write_watch: None,
                    idle_timer: Some(idle_timer),
                };
                self.clients.insert(id, client);
                Some(id)
            }
            (source, idle_timer) => {
                warn!("cannot watch a new connection; dropping it");
                for token in [source.ok(), idle_timer.ok()].into_iter().flatten() {
                    self.handle.remove(token);
                }
                None
            }
        }
    }

    fn close(&mut self, id: u64) {
        if let Some(client) = self.clients.remove(&id) {
            self.unregister(client);
        }
        self.watchers.remove(id);
        if self.engine.holds(id) {
            // Its `hold` claims end with it, at once.
            self.engine.connection_closed(id);
            self.after_claims_changed();
            self.publish(None);
        }
        self.schedule_trim();
    }

    fn unregister(&mut self, client: Client) {
        let tokens = [Some(client.source), client.write_watch, client.idle_timer];
        for token in tokens.into_iter().flatten() {
            self.handle.remove(token);
        }
    }

    /// Watches the socket for room to write while replies wait, and stops
    /// when they are out (most replies go out at once: no wakeup for them).
    fn watch_writes(&mut self, id: u64) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        match (client.conn.has_output(), client.write_watch) {
            (true, None) => {
                // A second descriptor: one epoll set cannot hold the same one twice.
                let watched = client.stream.try_clone().and_then(|stream| {
                    let source = Generic::new(stream, Interest::WRITE, Mode::Edge);
                    self.handle
                        .insert_source(source, move |_, _, daemon| {
                            daemon.service(id);
                            Ok(PostAction::Continue)
                        })
                        .map_err(|e| io::Error::other(e.to_string()))
                });
                match watched {
                    Ok(token) => client.write_watch = Some(token),
                    Err(error) => {
                        warn!(
                            "cannot wait for a client to read its replies ({error}); dropping it"
                        );
                        self.close(id);
                    }
                }
            }
            (false, Some(token)) => {
                client.write_watch = None;
                self.handle.remove(token);
            }
            _ => {}
        }
    }

    /// The idle timer fired: closes the connection if it has been silent
    /// for `idle_timeout`, or sleeps until it could be (activity does not
    /// touch the timer: it reads the last activity when it fires).
    fn check_idle(&mut self, id: u64) -> TimeoutAction {
        let timeout = self.engine.config().idle_timeout;
        let Some(client) = self.clients.get(&id) else {
            return TimeoutAction::Drop;
        };
        let now = Instant::now();
        // A connection that holds claims is silent on purpose.
        if !client.conn.is_idle(now, timeout) || self.engine.holds(id) {
            let deadline = client.conn.idle_deadline(timeout);
            return TimeoutAction::ToInstant(deadline.max(now + Duration::from_millis(10)));
        }
        info!("closing a connection silent for {timeout:?}");
        // The timer is dropped by returning Drop; only the socket sources remain.
        if let Some(mut client) = self.clients.remove(&id) {
            if let Some(token) = client.write_watch.take() {
                self.handle.remove(token);
            }
            self.handle.remove(client.source);
        }
        self.schedule_trim();
        TimeoutAction::Drop
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
                        server::give_back_memory();
                    }
                    TimeoutAction::Drop
                });
        if scheduled.is_err() {
            self.trim_pending = false;
        }
    }
}

/// Orders: read, frame, rate-limit, carry out, reply.
impl Daemon {
    /// Moves one client forward as far as it can go without blocking:
    /// flushes replies, handles complete orders, reads more. Stops reading
    /// while replies are piled up (the client must drain them first) or
    /// while an order waits for a retry (replies stay in order).
    fn service(&mut self, id: u64) {
        let mut handled = 0;
        // One reading of the clock for the whole turn: activity is timed to
        // the turn, not to the microsecond.
        let now = Instant::now();
        loop {
            let Some(client) = self.clients.get_mut(&id) else {
                return;
            };
            if let Err(error) = client.conn.flush_to(&*client.stream, now) {
                if error.kind() != io::ErrorKind::BrokenPipe {
                    info!("dropping a client: {error}");
                }
                self.close(id);
                return;
            }
            if !client.conn.may_take_orders() {
                return self.watch_writes(id);
            }
            match client.conn.next_line() {
                Some(Line::Order(line)) if handled == ORDERS_PER_TURN => {
                    client.conn.put_back(line);
                    return self.next_turn(id);
                }
                Some(Line::Order(line)) => {
                    handled += 1;
                    self.take_order(id, line);
                    continue;
                }
                Some(Line::TooLong) => {
                    client.conn.refuse_too_long();
                    continue;
                }
                None => {}
            }
            if client.conn.is_read_closed() {
                if client.conn.is_done() {
                    self.close(id);
                } else {
                    self.watch_writes(id);
                }
                return;
            }
            match client
                .conn
                .read_from(&*client.stream, &mut self.read_buffer, now)
            {
                Ok(Received::Data | Received::Eof) => {}
                Ok(Received::WouldBlock) => return self.watch_writes(id),
                Err(error) => {
                    info!("dropping a client: {error}");
                    self.close(id);
                    return;
                }
            }
        }
    }

    /// Gives the others a turn; this client carries on at the loop's next
    /// turn. (A timer due now, not an idle callback: one added by an idle
    /// callback would wait for the next event.)
    fn next_turn(&mut self, id: u64) {
        let resumed = self
            .handle
            .insert_source(Timer::immediate(), move |_, _, daemon| {
                daemon.service(id);
                TimeoutAction::Drop
            });
        match resumed {
            Ok(_) => self.watch_writes(id),
            Err(error) => {
                error!("cannot give a client its next turn ({error}); dropping it");
                self.close(id);
            }
        }
    }

    /// One order line: parsed, held back by the rate limit if it changes an
    /// LED and the client has no allowance left, else carried out.
    fn take_order(&mut self, id: u64, line: Vec<u8>) {
        if self.watchers.is_watching(id) {
            if let Some(client) = self.clients.get_mut(&id) {
                client.conn.queue(&Reply::Err(OrderError::new(
                    ErrorKind::Usage,
                    "this connection is watching: send orders on another one",
                )));
            }
            return;
        }
        let order = match parse_line(&line) {
            Ok(order) => order,
            Err(error) => {
                let reply = Reply::Err(error);
                if let Some(client) = self.clients.get_mut(&id) {
                    debug!(
                        "order '{}' from {}: {reply}",
                        String::from_utf8_lossy(&line).escape_debug(),
                        describe_peer(client.conn.peer.as_ref())
                    );
                    client.conn.queue(&reply);
                }
                return;
            }
        };
        if is_change(&order) && !self.admit(id) {
            // Over the rate limit: the order waits (with those after it).
            if let Some(client) = self.clients.get_mut(&id) {
                client.conn.put_back(line);
            }
            return;
        }
        self.carry_out(id, order, 0);
    }

    /// Takes one change from the client's allowance of `rate_limit` per
    /// second; when none is left, pauses the client until one is.
    fn admit(&mut self, id: u64) -> bool {
        let Some(client) = self.clients.get_mut(&id) else {
            return false;
        };
        let Err(wait) = client.conn.take_token(Instant::now()) else {
            return true;
        };
        client.conn.waiting = true;
        let resumed = self
            .handle
            .insert_source(Timer::from_duration(wait), move |_, _, daemon| {
                if let Some(client) = daemon.clients.get_mut(&id) {
                    client.conn.waiting = false;
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
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let caller = Caller {
            peer: client.conn.peer.as_ref(),
            connection: Some(id),
            closing: client.conn.is_read_closed(),
        };
        match self.engine.execute(&order, &caller, may_retry) {
            Outcome::Done(reply) => {
                let peer = client.conn.peer.as_ref();
                if is_change(&order) {
                    info!("order '{order}' from {}: {reply}", describe_peer(peer));
                    client.conn.queue(&reply);
                    self.after_claims_changed();
                    self.publish(reply.field("led"));
                } else {
                    debug!("order '{order}' from {}: {reply}", describe_peer(peer));
                    client.conn.queue(&reply);
                    if let (Order::Query(Query::Watch { leds: named }), Some(leds)) =
                        (&order, reply.field("watching"))
                    {
                        let leds: Vec<String> = leds.split(',').map(str::to_string).collect();
                        self.start_watching(id, leds, named.is_empty());
                    }
                }
            }
            Outcome::RetryLater => {
                client.conn.waiting = true;
                let delay = Duration::from_millis(PERMISSION_RETRY_MS[attempt]);
                let scheduled =
                    self.handle
                        .insert_source(Timer::from_duration(delay), move |_, _, daemon| {
                            if let Some(client) = daemon.clients.get_mut(&id) {
                                client.conn.waiting = false;
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
}

/// `watch`: the connections that follow the LEDs' shown state.
impl Daemon {
    /// The connection `id` has been answered `ok watching=...`: from now
    /// on it gets an event per watched LED, now and at every change. It
    /// loses its idle timer (a watcher is silent and must cost no wakeup).
    fn start_watching(&mut self, id: u64, leds: Vec<String>, every: bool) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if let Some(token) = client.idle_timer.take() {
            self.handle.remove(token);
        }
        if every {
            self.watchers.add_every(id, leds.iter().cloned());
        } else {
            self.watchers.add(id, leds.iter().cloned());
        }
        for led in leds {
            let event = self.watchers.first(&led, self.engine.watched_state(&led));
            self.send_event(id, &event);
        }
    }

    /// After a reload: every change it made is an event, including the
    /// last one of an LED it removed (`exists=no error=unknown-led`). Then
    /// those who watch every LED stop watching a removed one and get the
    /// first event of each LED it added. (In that order: an LED that comes
    /// back is a change to those who named it, and new to the others.)
    fn follow_reloaded_leds(&mut self) {
        let configured: BTreeSet<String> = self.engine.config().leds.keys().cloned().collect();
        self.publish(None);
        self.watchers.drop_unconfigured(&configured);
        for (id, led) in self.watchers.add_configured(&configured) {
            let event = self.watchers.first(&led, self.engine.watched_state(&led));
            self.send_event(id, &event);
        }
    }

    /// Tells the watchers of `led` (of every LED with `None`) what it shows
    /// now, if that changed. Costs nothing while nobody watches.
    fn publish(&mut self, led: Option<&str>) {
        if self.watchers.is_empty() {
            return;
        }
        for watched in self.watchers.watched() {
            if led.is_some_and(|led| led != watched) {
                continue;
            }
            let fields = self.engine.watched_state(&watched);
            if let Some((event, clients)) = self.watchers.changed(&watched, fields) {
                for id in clients {
                    self.send_event(id, &event);
                }
            }
        }
    }

    /// One event out to a watcher, at once if its socket has room; one that
    /// lets its events pile up is disconnected, so no one waits for it.
    fn send_event(&mut self, id: u64, event: &Event) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        client.conn.queue_event(event);
        if client.conn.pending_output() > connection::MAX_PENDING_OUTPUT {
            warn!(
                "a watcher ({}) does not read its events: disconnected",
                describe_peer(client.conn.peer.as_ref())
            );
            self.close(id);
            return;
        }
        if let Err(error) = client.conn.flush_to(&*client.stream, Instant::now()) {
            if error.kind() != io::ErrorKind::BrokenPipe {
                info!("dropping a watcher: {error}");
            }
            self.close(id);
            return;
        }
        self.watch_writes(id);
    }
}

/// Timers of the engine (restore, save), device events and reload.
impl Daemon {
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
                daemon.publish(None);
                TimeoutAction::Drop
            });
        match armed {
            Ok(token) => self.restore_timer = Some(token),
            Err(error) => error!("cannot schedule the next restore attempt: {error}"),
        }
    }

    /// After an order, an expiry or a closed connection: the save, the
    /// claims' deadline and the restore attempts may have moved.
    fn after_claims_changed(&mut self) {
        self.schedule_save();
        self.arm_claim_timer();
        let next = self.engine.next_restore();
        if next.is_some() || self.restore_timer.is_some() {
            self.arm_restore_timer(next);
        }
    }

    /// Keeps the claim timer at the nearest deadline: re-armed when it
    /// moves (a shorter claim came), removed when no claim has one.
    fn arm_claim_timer(&mut self) {
        let due = self.engine.claims_due_at();
        if self.claim_timer.map(|(_, at)| at) == due {
            return;
        }
        if let Some((token, _)) = self.claim_timer.take() {
            self.handle.remove(token);
        }
        let Some(at) = due else { return };
        let armed = self
            .handle
            .insert_source(Timer::from_deadline(at), |_, _, daemon| {
                // This timer is dropped on return: forget it before re-arming.
                daemon.claim_timer = None;
                daemon.engine.expire_claims(Instant::now());
                daemon.after_claims_changed();
                daemon.publish(None);
                TimeoutAction::Drop
            });
        match armed {
            Ok(token) => self.claim_timer = Some((token, at)),
            Err(error) => error!("cannot schedule the end of a claim: {error}"),
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
        // An LED that came or went changes what its watchers see.
        if drained.lost || drained.events.iter().any(Uevent::is_led) {
            self.publish(None);
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

    fn reload(&mut self) {
        server::notify_reloading();
        let path = self.options.config_path.clone();
        match Config::load(&path) {
            Ok(config) => self.take_config(config),
            Err(error) => error!("reload failed, keeping the running configuration: {error}"),
        }
        server::notify_ready();
    }

    /// Swaps in a reloaded configuration (socket settings wait for a restart).
    fn take_config(&mut self, mut config: Config) {
        let path = &self.options.config_path;
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
        crate::logging::set_level(self.options.log_level.unwrap_or(config.log_level));
        // Pending changes belong to the running configuration's state file;
        // the new delays may also bring the deadline forward, so the timer
        // is set again from scratch.
        self.engine.flush();
        if let Some(token) = self.save_timer.take() {
            self.handle.remove(token);
        }
        self.engine.reconfigure(config);
        info!("configuration reloaded from {}", path.display());
        self.engine.report_devices();
        self.look_up_missing_groups();
        let next = self.engine.retry_restores(Instant::now());
        self.arm_restore_timer(next);
        self.schedule_save();
        self.arm_claim_timer();
        self.follow_reloaded_leds();
    }

    /// A reload that brings group rules in: the groups of clients already
    /// connected are looked up now, not on the path of their next order.
    fn look_up_missing_groups(&mut self) {
        if !self.engine.policy().needs_groups() {
            return;
        }
        for client in self.clients.values_mut() {
            if let Some(peer) = client.conn.peer.take() {
                let peer = match peer.groups {
                    Some(_) => peer,
                    None => peer.with_groups(),
                };
                client.conn.peer = Some(peer);
            }
        }
    }
}
