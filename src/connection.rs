//! One client's connection, without the event loop: its input and output
//! buffers, line framing, the pipelining bound, the rate limit, idleness and
//! the peer's credentials. The clock is passed in (`now`), so everything
//! here can be tested by feeding bytes and times.
//!
//! Also the admission policy for a new connection (per-user cap, and which
//! idle connection makes room when the global limit is reached).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::access::Peer;
use crate::protocol::{ErrorKind, Event, MAX_LINE, OrderError, Reply};

/// Replies buffered for a client before ledd stops reading its orders.
pub const MAX_PENDING_OUTPUT: usize = 64 * 1024;
/// Bytes read from a client at once.
/// How much one read takes from a socket: the size of the daemon's shared
/// read buffer ([`ReadBuffer`]).
const READ_CHUNK: usize = 4096;

/// The one buffer every connection reads into before its bytes join that
/// connection's input. Zeroed once, not at every read (a fresh 4 KiB array
/// per read was a third of the work of a `version` round trip).
pub struct ReadBuffer(Box<[u8]>);

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer(vec![0; READ_CHUNK].into_boxed_slice())
    }
}

/// What the framing found in a client's input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One order line, without its newline.
    Order(Vec<u8>),
    /// A line longer than [`MAX_LINE`]: the connection must be closed.
    TooLong,
}

/// What a read from the socket brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Bytes were added to the input.
    Data,
    /// The client will send nothing more.
    Eof,
    /// Nothing to read until the socket is readable again.
    WouldBlock,
}

/// Token bucket of the rate limit: `rate` changes a second, at most `rate` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    allowance: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(rate.max(1));
        TokenBucket {
            rate,
            allowance: rate,
            at: now,
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.rate;
        self.allowance = (self.allowance + refill).min(self.rate);
        self.at = now;
        if self.allowance >= 1.0 {
            self.allowance -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.allowance) / self.rate))
    }
}

/// Hashes the daemon's own connection ids (a counter, never a client's
/// bytes, so there is no collision attack to defend against): one multiply
/// instead of SipHash, which was a tenth of a `version` round trip, spent
/// finding the client again at each step of its order.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        // Fibonacci hashing: consecutive ids spread over the whole table,
        // the high bits (which the table's control bytes use) included.
        self.0 = (self.0 ^ id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One client's state between the socket and the engine.
pub struct Connection {
    /// The peer's credentials from SO_PEERCRED (and its groups), taken at accept.
    pub peer: Option<Peer>,
    input: Vec<u8>,
    output: Vec<u8>,
    /// The client sent end-of-file, or must not be read any more.
    read_closed: bool,
    /// An order waits for a retry or for the rate limit: later orders wait behind it.
    pub waiting: bool,
    last_activity: Instant,
    bucket: TokenBucket,
}

impl Connection {
    pub fn new(peer: Option<Peer>, rate_limit: u32, now: Instant) -> Connection {
        Connection {
            peer,
            input: Vec::new(),
            output: Vec::new(),
            read_closed: false,
            waiting: false,
            last_activity: now,
            bucket: TokenBucket::new(rate_limit, now),
        }
    }

    /// The uid its connections count against (none when credentials are unknown).
    pub fn uid(&self) -> Option<u32> {
        self.peer.as_ref().map(|peer| peer.uid)
    }

    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// When the connection counts as idle, unless something happens first.
    pub fn idle_deadline(&self, timeout: Duration) -> Instant {
        self.last_activity + timeout
    }

    /// Silent for `timeout`, and not in the middle of an order.
    pub fn is_idle(&self, now: Instant, timeout: Duration) -> bool {
        !self.waiting && now >= self.idle_deadline(timeout)
    }

    /// Adds bytes the client sent.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.input.extend_from_slice(bytes);
        self.last_activity = now;
    }

    /// Reads what the socket has (one chunk, through `buffer`) into the input.
    pub fn read_from(
        &mut self,
        mut reader: impl Read,
        buffer: &mut ReadBuffer,
        now: Instant,
    ) -> io::Result<Received> {
        let buffer = &mut buffer.0;
        loop {
            return match reader.read(buffer) {
                Ok(0) => {
                    self.read_closed = true;
                    Ok(Received::Eof)
                }
                Ok(n) => {
                    self.receive(&buffer[..n], now);
                    Ok(Received::Data)
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(Received::WouldBlock),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => Err(error),
            };
        }
    }

    /// The client sent end-of-file (or must not be read any more).
    pub fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    /// May ledd read and handle more orders now? Not while an order waits,
    /// nor while replies are piled up (the client must drain them first).
    pub fn may_take_orders(&self) -> bool {
        !self.waiting && self.output.len() < MAX_PENDING_OUTPUT
    }

    /// Takes the next complete line (after end-of-file the rest of the input
    /// counts as a line too), or says the input holds a line too long.
    pub fn next_line(&mut self) -> Option<Line> {
        match self.input.iter().position(|b| *b == b'\n') {
            Some(end) if end <= MAX_LINE => {
                let mut line: Vec<u8> = self.input.drain(..=end).collect();
                line.pop();
                Some(Line::Order(line))
            }
            Some(_) => Some(Line::TooLong),
            None if self.input.len() > MAX_LINE => Some(Line::TooLong),
            None if self.read_closed && !self.input.is_empty() => {
                Some(Line::Order(std::mem::take(&mut self.input)))
            }
            None => None,
        }
    }

    /// Puts a line back in front of the input (its turn comes later).
    pub fn put_back(&mut self, line: Vec<u8>) {
        self.input.splice(0..0, line.into_iter().chain([b'\n']));
    }

    /// Answers a line too long and stops reading the client.
    pub fn refuse_too_long(&mut self) {
        self.queue(&Reply::Err(OrderError::new(
            ErrorKind::TooLong,
            format!("an order is at most {MAX_LINE} bytes; closing the connection"),
        )));
        self.input.clear();
        self.read_closed = true;
    }

    /// Takes one change from the rate limit, or says how long to wait.
    pub fn take_token(&mut self, now: Instant) -> Result<(), Duration> {
        self.bucket.take(now)
    }

    /// Adds a reply to the output.
    pub fn queue(&mut self, reply: &Reply) {
        // Formatted straight into the output (writing to a Vec cannot fail):
        // no line of its own to allocate, grow and copy per reply.
        let _ = writeln!(self.output, "{reply}");
    }

    /// Adds an event (`watch`) to the output.
    pub fn queue_event(&mut self, event: &Event) {
        let _ = writeln!(self.output, "{event}");
    }

    /// Bytes waiting to go out.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Writes buffered replies until done or the socket would block.
    pub fn flush_to(&mut self, mut writer: impl Write, now: Instant) -> io::Result<()> {
        while !self.output.is_empty() {
            match writer.write(&self.output) {
                Ok(n) => {
                    self.output.drain(..n);
                    self.last_activity = now;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Finished: nothing more to read and nothing left to send.
    pub fn is_done(&self) -> bool {
        self.read_closed && self.output.is_empty()
    }
}

/// What to do with a new connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<Id> {
    Accept,
    /// Its user already has `max_connections_per_user` connections.
    RefuseUser,
    /// The global limit is reached: close this (longest-idle) connection first.
    Evict(Id),
}

/// The limits a new connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_user: usize,
}

/// Decides on a newcomer from user `uid`, given every open connection as
/// (id, uid, last activity). The per-user cap comes first; then, at the
/// global limit, the connection silent the longest makes room.
pub fn admit<Id: Copy>(
    open: impl Iterator<Item = (Id, Option<u32>, Instant)>,
    uid: Option<u32>,
    limits: Limits,
) -> Admission<Id> {
    let mut total = 0;
    let mut same_user = 0;
    let mut oldest: Option<(Id, Instant)> = None;
    for (id, owner, last) in open {
        total += 1;
        if owner == uid {
            same_user += 1;
        }
        if oldest.is_none_or(|(_, at)| last < at) {
            oldest = Some((id, last));
        }
    }
    if same_user >= limits.max_per_user {
        return Admission::RefuseUser;
    }
    match oldest {
        Some((id, _)) if total >= limits.max_connections => Admission::Evict(id),
        _ => Admission::Accept,
    }
}

/// The reply to a connection refused for its user's cap.
pub fn user_cap_refusal(uid: Option<u32>, cap: usize) -> Reply {
    let who = uid.map_or_else(|| "this user".to_string(), |uid| format!("uid {uid}"));
    Reply::Err(OrderError::new(
        ErrorKind::Busy,
        format!(
            "too many connections for {who} (max_connections_per_user = {cap}); close some and try again"
        ),
    ))
}

/// The reply to a connection closed to make room for a new one.
pub fn eviction_notice(max_connections: usize) -> Reply {
    Reply::Err(OrderError::new(
        ErrorKind::Busy,
        format!(
            "closing this connection, the longest idle, to admit a new one (max_connections = {max_connections})"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> (Connection, Instant) {
        let now = Instant::now();
        (Connection::new(None, 10, now), now)
    }

    fn order(text: &str) -> Option<Line> {
        Some(Line::Order(text.as_bytes().to_vec()))
    }

    #[test]
    fn lines_are_framed_and_a_partial_line_waits() {
        let (mut c, now) = connection();
        c.receive(b"version\nstat", now);
        assert_eq!(c.next_line(), order("version"));
        assert_eq!(c.next_line(), None);
        c.receive(b"us\r\n", now);
        assert_eq!(c.next_line(), order("status\r"));
        assert_eq!(c.next_line(), None);
    }

    #[test]
    fn the_last_line_without_newline_counts_after_eof() {
        let (mut c, now) = connection();
        c.receive(b"off", now);
        assert_eq!(c.next_line(), None);
        assert_eq!(
            c.read_from(&b""[..], &mut ReadBuffer::default(), now)
                .unwrap(),
            Received::Eof
        );
        assert_eq!(c.next_line(), order("off"));
        assert_eq!(c.next_line(), None);
        assert!(c.is_done());
    }

    #[test]
    fn connections_sharing_the_read_buffer_keep_their_own_bytes() {
        let (mut first, now) = connection();
        let (mut second, _) = connection();
        let mut buffer = ReadBuffer::default();
        let long = format!("blink {}\n", "9".repeat(100));
        first.read_from(long.as_bytes(), &mut buffer, now).unwrap();
        second.read_from(&b"off\n"[..], &mut buffer, now).unwrap();
        first.read_from(&b"on\n"[..], &mut buffer, now).unwrap();
        assert_eq!(second.next_line(), order("off"));
        assert_eq!(first.next_line(), order(long.trim_end()));
        assert_eq!(first.next_line(), order("on"));
        assert_eq!(first.next_line(), None);
    }

    #[test]
    fn connection_ids_hash_apart_in_the_table_control_bits() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hasher = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (0..1024u64).map(|id| hasher.hash_one(id)).collect();
        let distinct: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
        // hashbrown keys its control bytes on the top 7 bits: ids that all
        // shared them would turn every lookup into a scan.
        let top: std::collections::HashSet<_> = hashes.iter().map(|h| h >> 57).collect();
        assert!(top.len() > 100, "only {} of 128 top-bit values", top.len());
    }

    #[test]
    fn a_line_put_back_comes_first() {
        let (mut c, now) = connection();
        c.receive(b"a\nb\n", now);
        let Some(Line::Order(a)) = c.next_line() else {
            panic!()
        };
        c.put_back(a);
        assert_eq!(c.next_line(), order("a"));
        assert_eq!(c.next_line(), order("b"));
    }

    #[test]
    fn too_long_lines_are_refused_with_or_without_newline() {
        let (mut c, now) = connection();
        c.receive(&vec![b'x'; MAX_LINE], now);
        assert_eq!(c.next_line(), None, "exactly MAX_LINE may still end");
        c.receive(b"y", now);
        assert_eq!(c.next_line(), Some(Line::TooLong));
        c.refuse_too_long();
        assert!(c.is_read_closed());
        let mut sent = Vec::new();
        c.flush_to(&mut sent, now).unwrap();
        assert!(String::from_utf8(sent).unwrap().starts_with("err too-long"));
        let (mut c, now) = connection();
        c.receive(&[vec![b'x'; MAX_LINE + 1], b"\n".to_vec()].concat(), now);
        assert_eq!(c.next_line(), Some(Line::TooLong));
    }

    #[test]
    fn piled_up_output_stops_the_orders_until_flushed() {
        let (mut c, now) = connection();
        let reply = Reply::Ok(vec![("x".into(), "y".repeat(1000))]);
        while c.may_take_orders() {
            c.queue(&reply);
        }
        assert!(c.has_output());
        let mut sink = Vec::new();
        c.flush_to(&mut sink, now).unwrap();
        assert!(c.may_take_orders() && !c.has_output());
        assert!(sink.len() >= MAX_PENDING_OUTPUT);
        c.waiting = true;
        assert!(!c.may_take_orders());
    }

    #[test]
    fn the_token_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(4, start);
        for _ in 0..4 {
            assert_eq!(bucket.take(start), Ok(()));
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(250));
        assert!(bucket.take(start + Duration::from_millis(100)).is_err());
        assert_eq!(bucket.take(start + Duration::from_millis(250)), Ok(()));
        // A long pause refills no more than the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..4 {
            assert_eq!(bucket.take(later), Ok(()));
        }
        assert!(bucket.take(later).is_err());
    }

    #[test]
    fn idleness_counts_from_the_last_activity_and_not_while_waiting() {
        let (mut c, start) = connection();
        let timeout = Duration::from_secs(60);
        assert!(!c.is_idle(start + Duration::from_secs(59), timeout));
        assert!(c.is_idle(start + timeout, timeout));
        c.receive(b"x", start + Duration::from_secs(30));
        assert_eq!(c.idle_deadline(timeout), start + Duration::from_secs(90));
        c.waiting = true;
        assert!(!c.is_idle(start + Duration::from_secs(200), timeout));
    }

    #[test]
    fn admission_caps_each_user_then_evicts_the_longest_idle() {
        let t = Instant::now();
        let s = |n| t + Duration::from_secs(n);
        let limits = Limits {
            max_connections: 3,
            max_per_user: 2,
        };
        let open = [(1, Some(1000), s(5)), (2, Some(1000), s(1))];
        assert_eq!(
            admit(open.into_iter(), Some(1000), limits),
            Admission::RefuseUser
        );
        assert_eq!(admit(open.into_iter(), Some(0), limits), Admission::Accept);
        let full = [(1, Some(1000), s(5)), (2, Some(0), s(1)), (3, None, s(3))];
        assert_eq!(
            admit(full.into_iter(), Some(7), limits),
            Admission::Evict(2)
        );
        assert_eq!(admit(full.into_iter(), None, limits), Admission::Evict(2));
        assert_eq!(
            admit(std::iter::empty::<(u8, _, _)>(), Some(0), limits),
            Admission::Accept
        );
    }

    #[test]
    fn refusals_name_the_cap() {
        assert_eq!(
            user_cap_refusal(Some(1000), 64).to_string(),
            "err busy: too many connections for uid 1000 (max_connections_per_user = 64); close some and try again"
        );
        assert!(eviction_notice(3).to_string().starts_with("err busy: "));
    }
}
