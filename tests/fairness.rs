//! Fair to every local user: one user who holds thousands of idle
//! connections neither locks another user out nor slows their orders down,
//! and its connections past `max_connections_per_user` are refused clearly.

mod common;

use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{Connection, Ledd};

/// The flooder's uid (nobody); the other user is root, this test's.
const FLOODER: u32 = 65534;
const CAP: usize = 2000;
const EXTRA: usize = 100;
const ORDERS: usize = 300;

/// Turns the calling thread (only it: the raw system call, not libc's
/// process-wide setuid) into user `uid`, so the connections it makes carry
/// that uid in SO_PEERCRED.
fn become_user_on_this_thread(uid: u32) {
    // SAFETY: setresuid on the calling thread only; the thread does nothing
    // but open sockets afterwards.
    let status = unsafe { nix::libc::syscall(nix::libc::SYS_setresuid, uid, uid, uid) };
    assert_eq!(status, 0, "setresuid: {}", std::io::Error::last_os_error());
}

fn raise_descriptor_limit(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < wanted {
        assert!(hard >= wanted, "RLIMIT_NOFILE hard limit {hard} < {wanted}");
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
    }
}

/// Opens `count` connections as the flooder; returns them in order.
fn flood(ledd: &Ledd, count: usize) -> Vec<UnixStream> {
    let socket = ledd.socket.clone();
    std::thread::spawn(move || {
        become_user_on_this_thread(FLOODER);
        (0..count)
            .map(|_| UnixStream::connect(&socket).expect("the flooder connects"))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap()
}

/// What ledd has sent on a connection so far (it may have closed it).
fn received(stream: &UnixStream, wait: bool) -> String {
    stream.set_nonblocking(!wait).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = Vec::new();
    let mut buffer = [0u8; 512];
    loop {
        match (&*stream).read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("reading from ledd: {error}"),
        }
    }
    String::from_utf8(text).unwrap()
}

#[test]
#[ignore = "needs root (run as root: cargo test -- --include-ignored; tests/run-all.sh does)"]
fn a_flood_of_idle_connections_neither_locks_out_nor_slows_another_user() {
    common::require_root();
    raise_descriptor_limit((CAP + EXTRA + 200) as u64 * 2);
    let ledd = Ledd::start(&format!(
        "socket_mode = \"0666\"\nmax_connections = {CAP}\nmax_connections_per_user = {CAP}\nidle_timeout = 600"
    ));

    // The flooder takes every place, then asks for more.
    let started = Instant::now();
    let mut flooder = flood(&ledd, CAP + EXTRA);
    let extra = flooder.split_off(CAP);
    let refusal = format!(
        "err busy: too many connections for uid {FLOODER} (max_connections_per_user = {CAP}); close some and try again\n"
    );
    for stream in &extra {
        assert_eq!(received(stream, true), refusal);
    }
    println!(
        "flooder: {CAP} idle connections held and {EXTRA} refused in {:?}",
        started.elapsed()
    );
    // The global limit is reached too: every order of the other user must
    // still be served at once, on a connection per order and on one session.
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for i in 0..ORDERS {
        let order = if i % 2 == 0 { "status" } else { "blink 2" };
        let sent = Instant::now();
        let reply = Connection::new(&ledd.socket).send(order);
        let took = sent.elapsed();
        assert!(reply.starts_with("ok led=status"), "{order}: {reply}");
        worst = worst.max(took);
        total += took;
    }
    let mut session = Connection::new(&ledd.socket);
    for _ in 0..ORDERS {
        let sent = Instant::now();
        assert!(session.send("status").starts_with("ok led=status"));
        worst = worst.max(sent.elapsed());
    }
    println!(
        "other user: {ORDERS} connection-per-order orders (mean {:?}) and {ORDERS} orders on one session; slowest {worst:?}",
        total / ORDERS as u32
    );
    assert!(
        worst < Duration::from_millis(500),
        "an order of the other user took {worst:?}"
    );

    // The places came from the flooder's longest-idle connections, each told why.
    let notice = format!(
        "err busy: closing this connection, the longest idle, to admit a new one (max_connections = {CAP})\n"
    );
    let mut evicted = Vec::new();
    for (i, stream) in flooder.iter().enumerate() {
        match received(stream, false).as_str() {
            "" => {}
            text => {
                assert_eq!(text, notice);
                evicted.push(i);
            }
        }
    }
    let evicted_first = evicted.first() == Some(&0);
    let evicted = evicted.len();
    println!("flooder: {evicted} of its idle connections closed to make room");
    assert!(
        (1..=ORDERS + 1).contains(&evicted),
        "{evicted} connections evicted"
    );
    assert!(evicted_first, "the longest idle went first");
    drop(flooder);
    assert!(ledd.order("version").starts_with("ok version="));
}
