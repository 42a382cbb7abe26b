//! A small blocking client for ledd: connect to its socket, send orders,
//! read their replies (one at a time or pipelined), with timeouts, and the
//! exit codes that `ledctl` and scripts rely on. std only, no threads.
//!
//! ```no_run
//! use std::time::Duration;
//! use ledd_client::{Connection, ExitCode};
//! use ledd_protocol::{Order, Reply};
//!
//! let socket = ledd_client::socket_path(None); // $LEDD_SOCKET, else /run/ledd/ledd.sock
//! let mut ledd = Connection::connect(&socket, Duration::from_secs(10))?;
//! let reply = ledd.order(&Order::parse("blink power 2").unwrap())?;
//! assert_eq!(ExitCode::of_reply(&reply), ExitCode::Done);
//! // Pipelined: both orders go out in one write, the replies come in order.
//! let orders = [Order::parse("off power").unwrap(), Order::parse("status power").unwrap()];
//! let replies: Vec<Reply> = ledd.pipeline(&orders)?;
//! # Ok::<(), ledd_client::ClientError>(())
//! ```

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ledd_protocol::{DEFAULT_SOCKET, Order, Reply};

pub mod ssh;
use ssh::{SshTarget, Tunnel};

/// ledctl's exit codes (documented in ledctl(1)); other clients may use them too.
///
/// ```
/// use ledd_client::ExitCode;
/// use ledd_protocol::Reply;
///
/// assert_eq!(ExitCode::of_reply(&Reply::parse("ok").unwrap()) as u8, 0);
/// assert_eq!(ExitCode::of_reply(&Reply::parse("err busy: later").unwrap()) as u8, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The order was carried out.
    Done = 0,
    /// ledd refused the order (`err` reply).
    Refused = 1,
    /// The command line is wrong, or the order malformed or out of range.
    Usage = 2,
    /// ledd cannot be reached: no socket, or nobody listening on it.
    Unreachable = 3,
    /// The socket exists but this user may not connect to it.
    PermissionDenied = 4,
    /// The connection broke or timed out before the reply came.
    Broken = 5,
}

impl ExitCode {
    /// `Done` for an `ok` reply, `Refused` for an `err` one.
    pub fn of_reply(reply: &Reply) -> ExitCode {
        match reply {
            Reply::Ok(_) => ExitCode::Done,
            Reply::Err(_) => ExitCode::Refused,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> std::process::ExitCode {
        std::process::ExitCode::from(code as u8)
    }
}

/// A failure to get a reply from ledd, with the exit code it stands for.
#[derive(Debug)]
pub struct ClientError {
    pub code: ExitCode,
    pub message: String,
}

impl ClientError {
    /// The word for this failure in ledctl's `--json` output.
    pub fn kind_word(&self) -> &'static str {
        match self.code {
            ExitCode::PermissionDenied => "permission",
            ExitCode::Unreachable => "unreachable",
            ExitCode::Usage => "usage",
            _ => "broken",
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}

/// Where a client finds ledd: the given path, else `$LEDD_SOCKET`, else the default.
pub fn socket_path(option: Option<PathBuf>) -> PathBuf {
    option
        .or_else(|| std::env::var_os("LEDD_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Connects to `socket`, sends `order`, and returns ledd's reply: what
/// `ledctl` does, one order per connection.
pub fn send(socket: &Path, order: &Order, timeout: Duration) -> Result<Reply, ClientError> {
    Connection::connect(socket, timeout)?.order(order)
}

/// Where ledd is: its socket on this machine, or on another one through ssh
/// (its socket there: the given one, else that machine's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Local(PathBuf),
    Ssh {
        target: SshTarget,
        socket: Option<PathBuf>,
    },
}

impl Endpoint {
    /// From ledctl's `-H`/`--host` (else `$LEDD_HOST`) and `-s`/`--socket`
    /// (else `$LEDD_SOCKET`): no host, or an empty one, is this machine.
    ///
    /// ```
    /// use ledd_client::Endpoint;
    /// # unsafe { std::env::remove_var("LEDD_HOST"); std::env::remove_var("LEDD_SOCKET") }
    /// let here = Endpoint::from_options(None, Some("/tmp/l.sock".into()))?;
    /// assert_eq!(here, Endpoint::Local("/tmp/l.sock".into()));
    /// let there = Endpoint::from_options(Some("ssh://pi@pi-12".into()), None)?;
    /// assert_eq!(there.to_string(), "ledd on ssh://pi@pi-12");
    /// # Ok::<(), ledd_client::ClientError>(())
    /// ```
    pub fn from_options(
        host: Option<String>,
        socket: Option<PathBuf>,
    ) -> Result<Endpoint, ClientError> {
        let host = host.or_else(|| std::env::var("LEDD_HOST").ok());
        match host.filter(|host| !host.is_empty()) {
            None => Ok(Endpoint::Local(socket_path(socket))),
            Some(url) => Ok(Endpoint::Ssh {
                target: url.parse()?,
                // The far side's $LEDD_SOCKET is not this one's.
                socket,
            }),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Local(socket) => write!(f, "ledd on {}", socket.display()),
            Endpoint::Ssh {
                target,
                socket: None,
            } => write!(f, "ledd on {target}"),
            Endpoint::Ssh {
                target,
                socket: Some(socket),
            } => write!(f, "ledd on {target} ({})", socket.display()),
        }
    }
}

/// `ledctl dial-stdio`: relays standard input to ledd's `socket` and ledd's
/// answers to standard output, until ledd closes the connection (after
/// standard input's end, once the last replies are out). The far end of
/// `ledctl -H ssh://…`; any program that speaks the protocol on a pipe can
/// use it too.
pub fn dial_stdio(socket: &Path) -> Result<(), ClientError> {
    let stream = UnixStream::connect(socket).map_err(|error| connect_error(socket, &error))?;
    let broken = |error: io::Error| ClientError {
        code: ExitCode::Broken,
        message: format!("relaying to ledd on {}: {error}", socket.display()),
    };
    let mut to_ledd = stream.try_clone().map_err(broken)?;
    // Not joined: when ledd closes, this process ends, and a read of
    // standard input that is still waiting ends with it.
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut to_ledd);
        let _ = to_ledd.shutdown(std::net::Shutdown::Write);
    });
    let mut from_ledd = stream;
    let mut stdout = io::stdout().lock();
    let mut buffer = [0u8; 8192];
    loop {
        // Line by line as it comes (a `watch` stream must not wait in a buffer).
        let n = match from_ledd.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(broken(error)),
        };
        stdout
            .write_all(&buffer[..n])
            .and_then(|()| stdout.flush())
            .map_err(broken)?;
    }
}

/// One connection to ledd: orders out, replies in, in order. Any stream
/// will do (`S`), a Unix socket in practice.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use std::os::unix::net::UnixStream;
/// use ledd_client::Connection;
/// use ledd_protocol::Order;
///
/// // A stand-in for ledd on the other end of a socket pair.
/// let (client, server) = UnixStream::pair()?;
/// let fake = std::thread::spawn(move || {
///     let mut lines = BufReader::new(server.try_clone().unwrap()).lines();
///     while let Some(Ok(line)) = lines.next() {
///         writeln!(&server, "ok echo={}", line.replace(' ', "_")).unwrap();
///     }
/// });
/// let mut ledd = Connection::from_stream(client, "a socket pair");
/// let reply = ledd.order(&Order::parse("clignote 2")?)?;
/// assert_eq!(reply.field("echo"), Some("blink_2"));
/// let replies = ledd.pipeline(&[Order::parse("off")?, Order::parse("list")?])?;
/// assert_eq!(replies[1].field("echo"), Some("list"));
/// assert_eq!(ledd.round_trip_line("hello")?, "ok echo=hello");
/// drop(ledd);
/// fake.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection<S: Read + Write = UnixStream> {
    reader: BufReader<S>,
    /// The last line read, reused so a round trip allocates nothing.
    line: String,
    /// Orders being written, reused likewise.
    out: Vec<u8>,
    /// Where the stream leads, for messages.
    peer: String,
    timeout: Option<Duration>,
    /// The ssh process the stream goes through, if it does. Declared last:
    /// dropped after the stream, so ssh sees end-of-file before it is waited for.
    tunnel: Option<Tunnel>,
}

impl Connection<UnixStream> {
    /// Connects to ledd's socket; `timeout` bounds every later read and write.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Connection, ClientError> {
        let stream = UnixStream::connect(socket).map_err(|error| connect_error(socket, &error))?;
        Connection::with_timeout(stream, socket.display().to_string(), None, timeout)
    }

    /// Connects to ledd wherever `endpoint` says, through ssh for another
    /// machine; `timeout` bounds every later read and write (over ssh, the
    /// first reply waits for the ssh connection too).
    pub fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Connection, ClientError> {
        match endpoint {
            Endpoint::Local(socket) => Connection::connect(socket, timeout),
            Endpoint::Ssh { target, socket } => {
                let (stream, tunnel) = ssh::open(target, socket.as_deref())?;
                Connection::with_timeout(stream, target.to_string(), Some(tunnel), timeout)
            }
        }
    }

    fn with_timeout(
        stream: UnixStream,
        peer: String,
        tunnel: Option<Tunnel>,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let mut connection = Connection::from_stream(stream, peer);
        connection.timeout = Some(timeout);
        connection.tunnel = tunnel;
        let stream = connection.reader.get_ref();
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|error| connection.broken(error))?;
        Ok(connection)
    }
}

impl<S: Read + Write> Connection<S> {
    /// A connection over a stream already open; `peer` names it in messages.
    pub fn from_stream(stream: S, peer: impl Into<String>) -> Connection<S> {
        Connection {
            reader: BufReader::new(stream),
            line: String::new(),
            out: Vec::with_capacity(256),
            peer: peer.into(),
            timeout: None,
            tunnel: None,
        }
    }

    /// Sends an order and reads its reply.
    pub fn order(&mut self, order: &Order) -> Result<Reply, ClientError> {
        self.send(order)?;
        self.receive()
    }

    /// Sends several orders at once (one write), then reads their replies,
    /// which ledd sends in the same order.
    pub fn pipeline(&mut self, orders: &[Order]) -> Result<Vec<Reply>, ClientError> {
        self.out.clear();
        for order in orders {
            // Writing to a Vec cannot fail.
            let _ = writeln!(self.out, "{order}");
        }
        self.flush_out()?;
        orders.iter().map(|_| self.receive()).collect()
    }

    /// Sends an order without waiting for its reply.
    pub fn send(&mut self, order: &Order) -> Result<(), ClientError> {
        self.out.clear();
        let _ = writeln!(self.out, "{order}");
        self.flush_out()
    }

    /// Sends a line as it is (its newline added): for lines that are not
    /// valid orders on purpose, or whose parsing is ledd's business.
    pub fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        self.send_lines(&[line])
    }

    /// Sends several lines in one write (each with its newline added).
    pub fn send_lines<T: AsRef<str>>(&mut self, lines: &[T]) -> Result<(), ClientError> {
        self.out.clear();
        for line in lines {
            self.out.extend_from_slice(line.as_ref().as_bytes());
            self.out.push(b'\n');
        }
        self.flush_out()
    }

    /// Reads the next reply.
    pub fn receive(&mut self) -> Result<Reply, ClientError> {
        self.receive_line()?;
        Reply::parse(&self.line).map_err(|message| ClientError {
            code: ExitCode::Broken,
            message: format!("unexpected answer from {}: {message}", self.peer),
        })
    }

    /// Reads the next line from ledd as it is, without its newline.
    pub fn receive_line(&mut self) -> Result<&str, ClientError> {
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(_) if self.line.ends_with('\n') => {
                self.line.pop();
                Ok(&self.line)
            }
            Ok(_) => {
                let closed = ClientError {
                    code: ExitCode::Broken,
                    message: format!(
                        "ledd on {} closed the connection without a reply",
                        self.peer
                    ),
                };
                Err(self.through_tunnel(closed))
            }
            Err(error) => Err(self.broken(error)),
        }
    }

    /// Over ssh, a connection that ends early is explained by how ssh ended.
    fn through_tunnel(&mut self, error: ClientError) -> ClientError {
        match &mut self.tunnel {
            Some(tunnel) => tunnel.failure(error),
            None => error,
        }
    }

    /// Sends a line and reads the line that answers it, both as they are:
    /// the cheapest round trip (no parsing, no allocation once warm).
    pub fn round_trip_line(&mut self, line: &str) -> Result<&str, ClientError> {
        self.send_line(line)?;
        self.receive_line()
    }

    /// Reads everything ledd still sends, until it closes the connection.
    pub fn read_rest(&mut self) -> io::Result<String> {
        let mut text = String::new();
        self.reader.read_to_string(&mut text)?;
        Ok(text)
    }

    /// The stream, for what this API does not cover (shutting a side down).
    pub fn get_ref(&self) -> &S {
        self.reader.get_ref()
    }

    /// The stream, mutably. Bytes already read into the buffer stay there.
    pub fn get_mut(&mut self) -> &mut S {
        self.reader.get_mut()
    }

    fn flush_out(&mut self) -> Result<(), ClientError> {
        let result = self.reader.get_mut().write_all(&self.out);
        result.map_err(|error| self.broken(error))
    }

    /// The connection broke (or timed out): over ssh, a break that is ssh
    /// ending is explained by its exit status; a timeout is only a timeout.
    fn broken(&mut self, error: io::Error) -> ClientError {
        let message = match (error.kind(), self.timeout) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(timeout)) => {
                return ClientError {
                    code: ExitCode::Broken,
                    message: format!(
                        "ledd did not answer within {} s on {}",
                        timeout.as_secs_f64(),
                        self.peer
                    ),
                };
            }
            _ => format!("connection to ledd on {} broke: {error}", self.peer),
        };
        self.through_tunnel(ClientError {
            code: ExitCode::Broken,
            message,
        })
    }
}

fn connect_error(socket: &Path, error: &io::Error) -> ClientError {
    match error.kind() {
        io::ErrorKind::PermissionDenied => ClientError {
            code: ExitCode::PermissionDenied,
            message: format!(
                "permission denied on {}: join the group that owns it (normally 'leds': sudo adduser $USER leds, then log in again)",
                socket.display()
            ),
        },
        io::ErrorKind::NotFound => ClientError {
            code: ExitCode::Unreachable,
            message: format!(
                "cannot reach ledd: {} does not exist. Is ledd running (systemctl status ledd)? Another socket can be named with --socket or LEDD_SOCKET",
                socket.display()
            ),
        },
        io::ErrorKind::ConnectionRefused => ClientError {
            code: ExitCode::Unreachable,
            message: format!(
                "cannot reach ledd: nobody is listening on {} (ledd has stopped; start it with: systemctl start ledd)",
                socket.display()
            ),
        },
        _ => ClientError {
            code: ExitCode::Unreachable,
            message: format!("cannot reach ledd on {}: {error}", socket.display()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledd_protocol::Query;
    use std::os::unix::net::UnixListener;

    const VERSION: Order = Order::Query(Query::Version);

    #[test]
    fn unreachable_sockets_have_their_own_codes() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.sock");
        let error = send(&missing, &VERSION, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.code, ExitCode::Unreachable);
        let stale = dir.path().join("stale.sock");
        drop(UnixListener::bind(&stale).unwrap());
        let error = send(&stale, &VERSION, Duration::from_secs(1)).unwrap_err();
        assert_eq!(error.code, ExitCode::Unreachable);
        assert!(error.message.contains("nobody is listening"), "{error}");
    }

    /// A fake ledd on a socket pair: reads `n` lines, answers each.
    fn fake(n: usize, answer: &'static str) -> (Connection, std::thread::JoinHandle<Vec<String>>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let server = std::thread::spawn(move || {
            let mut reader = BufReader::new(theirs.try_clone().unwrap());
            let mut seen = Vec::new();
            for _ in 0..n {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                seen.push(line.trim_end().to_string());
                (&theirs).write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        let mut connection = Connection::from_stream(ours, "test");
        connection.timeout = Some(Duration::from_millis(500));
        (connection, server)
    }

    #[test]
    fn pipelined_orders_get_their_replies_in_order() {
        let (mut connection, server) = fake(2, "ok led=power mode=off\n");
        let orders = [
            Order::parse("eteindre power").unwrap(),
            Order::parse("status power").unwrap(),
        ];
        let replies = connection.pipeline(&orders).unwrap();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].field("mode"), Some("off"));
        assert_eq!(server.join().unwrap(), ["off power", "status power"]);
    }

    #[test]
    fn silence_is_a_timeout_and_garbage_is_broken() {
        let (mut connection, server) = fake(1, "bonjour\n");
        let error = connection.order(&VERSION).unwrap_err();
        assert_eq!(error.code, ExitCode::Broken);
        assert!(error.message.contains("not a ledd reply"), "{error}");
        server.join().unwrap();
        let error = connection.receive().unwrap_err();
        assert_eq!(error.code, ExitCode::Broken);
        assert!(error.message.contains("closed the connection"), "{error}");
        let (ours, _theirs) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut silent = Connection::from_stream(ours, "test");
        silent.timeout = Some(Duration::from_millis(50));
        let error = silent.order(&VERSION).unwrap_err();
        assert!(error.message.contains("did not answer within"), "{error}");
    }
}
