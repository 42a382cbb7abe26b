//! `ledd-calloop-floor SOCKET`: answers every line on SOCKET with `ok floor`,
//! through calloop as ledd does: a level-triggered listener, each client
//! edge-triggered and read until `EAGAIN`, one write per reply, and an idle
//! timer per client (ledd has one). Nothing else: no parsing, no engine. The
//! distance from bench/floor.c (epoll by hand) to this is the event loop's
//! cost; from this to ledd, ledd's own.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::time::Duration;

use calloop::generic::Generic;
use calloop::timer::{TimeoutAction, Timer};
use calloop::{EventLoop, Interest, LoopHandle, Mode, PostAction};

/// As long as ledd's default `idle_timeout`: it never fires during a run.
const IDLE: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: ledd-calloop-floor SOCKET");
        return ExitCode::from(2);
    };
    match serve(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledd-calloop-floor: {path}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: &str) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let mut event_loop: EventLoop<()> = EventLoop::try_new().map_err(io::Error::other)?;
    let handle = event_loop.handle();
    let clients = handle.clone();
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, _| {
                while let Ok((stream, _)) = listener.accept() {
                    add_client(&clients, stream)?;
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|error| io::Error::other(error.to_string()))?;
    event_loop
        .run(None, &mut (), |_| {})
        .map_err(io::Error::other)
}

fn add_client(handle: &LoopHandle<'static, ()>, stream: UnixStream) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    let idle = handle
        .insert_source(Timer::from_duration(IDLE), |_, _, _| TimeoutAction::Drop)
        .map_err(|error| io::Error::other(error.to_string()))?;
    let timers = handle.clone();
    let mut input = Vec::new();
    let mut buffer = vec![0u8; 4096];
    handle
        .insert_source(
            Generic::new(stream, Interest::READ, Mode::Edge),
            move |_, stream, _| {
                let mut stream: &UnixStream = stream;
                loop {
                    match stream.read(&mut buffer) {
                        Ok(0) => {
                            timers.remove(idle);
                            return Ok(PostAction::Remove);
                        }
                        Ok(n) => {
                            input.extend_from_slice(&buffer[..n]);
                            while let Some(end) = input.iter().position(|b| *b == b'\n') {
                                input.drain(..=end);
                                // The load generator reads every reply before its
                                // next order: a full socket is a broken client.
                                if stream.write_all(b"ok floor\n").is_err() {
                                    timers.remove(idle);
                                    return Ok(PostAction::Remove);
                                }
                            }
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            return Ok(PostAction::Continue);
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            timers.remove(idle);
                            return Ok(PostAction::Remove);
                        }
                    }
                }
            },
        )
        .map_err(|error| io::Error::other(error.to_string()))?;
    Ok(())
}
