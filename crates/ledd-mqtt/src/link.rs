//! The bridge's two ways of talking to ledd over its socket, like any
//! client: one `watch` connection that streams what every LED shows, and
//! one short connection per order.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ledd_protocol::{ErrorKind, Event, OrderError, Reply, quote};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc::UnboundedSender;

use crate::backoff::Backoff;

/// How long ledd has to answer one order.
const ORDER_TIMEOUT: Duration = Duration::from_secs(5);
/// Waits between attempts to reach ledd again.
const LEDD_RETRY_FIRST: Duration = Duration::from_secs(1);
const LEDD_RETRY_MAX: Duration = Duration::from_secs(30);

/// What the watch connection reports.
#[derive(Debug)]
pub enum WatchNews {
    /// ledd answered `watch`: the LEDs it will report on.
    Watching(Vec<String>),
    /// One LED shows something new (or is reported for the first time).
    Event(Event),
    /// The connection is lost or cannot be made; retrying.
    Lost(String),
}

/// Keeps a `watch` connection to ledd open for good, reconnecting with a
/// capped backoff, and reports what it hears on `news`. Returns when the
/// receiver is gone.
pub async fn watch(socket: PathBuf, news: UnboundedSender<WatchNews>) {
    let mut backoff = Backoff::new(LEDD_RETRY_FIRST, LEDD_RETRY_MAX);
    loop {
        let reason = match watch_once(&socket, &news, &mut backoff).await {
            Ok(()) => return,
            Err(reason) => reason,
        };
        if news.send(WatchNews::Lost(reason)).is_err() {
            return;
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// One watch connection, until it ends: `Ok` when nobody listens any more,
/// else why it ended.
async fn watch_once(
    socket: &Path,
    news: &UnboundedSender<WatchNews>,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let stream = UnixStream::connect(socket).await.map_err(|error| {
        format!(
            "cannot connect to ledd at {}: {error} (is ledd running?)",
            socket.display()
        )
    })?;
    let (reader, mut writer) = stream.into_split();
    writer.write_all(b"watch\n").await.map_err(|error| {
        format!(
            "ledd at {} closed the connection: {error}",
            socket.display()
        )
    })?;
    let mut lines = BufReader::new(reader).lines();
    let ended = || format!("ledd at {} closed the connection", socket.display());
    let first = lines
        .next_line()
        .await
        .map_err(|error| format!("{}: {error}", ended()))?
        .ok_or_else(ended)?;
    let reply = Reply::parse(&first)
        .map_err(|error| format!("ledd's answer to watch is not a reply: {error}"))?;
    if let Reply::Err(error) = &reply {
        return Err(format!("ledd refused to be watched: {error}"));
    }
    let leds = reply
        .field("watching")
        .unwrap_or_default()
        .split(',')
        .filter(|led| !led.is_empty())
        .map(str::to_string)
        .collect();
    backoff.reset();
    if news.send(WatchNews::Watching(leds)).is_err() {
        return Ok(());
    }
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|error| format!("{}: {error}", ended()))?
            .ok_or_else(ended)?;
        match Event::parse(&line) {
            Ok(event) => {
                if news.send(WatchNews::Event(event)).is_err() {
                    return Ok(());
                }
            }
            Err(error) => log::warn!("ignored a line from ledd's watch stream: {error}"),
        }
    }
}

/// Sends one order line to ledd on a connection of its own and returns its
/// reply; a failure to reach ledd is told the way ledd tells a refusal
/// (`err busy: …`), so that whoever sent the order reads one format.
pub async fn send_order(socket: &Path, line: &str) -> Reply {
    match tokio::time::timeout(ORDER_TIMEOUT, exchange(socket, line)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(problem)) => Reply::Err(OrderError::new(ErrorKind::Busy, problem)),
        Err(_) => Reply::Err(OrderError::new(
            ErrorKind::Busy,
            format!(
                "ledd at {} did not answer within {} s",
                socket.display(),
                ORDER_TIMEOUT.as_secs()
            ),
        )),
    }
}

async fn exchange(socket: &Path, line: &str) -> Result<Reply, String> {
    let unreachable = |error: std::io::Error| {
        format!(
            "ledd is not answering at {}: {error} (is ledd running?)",
            socket.display()
        )
    };
    let stream = UnixStream::connect(socket).await.map_err(unreachable)?;
    let (reader, mut writer) = stream.into_split();
    writer
        .write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(unreachable)?;
    let answer = BufReader::new(reader)
        .lines()
        .next_line()
        .await
        .map_err(unreachable)?
        .ok_or_else(|| {
            format!(
                "ledd at {} closed the connection without answering",
                socket.display()
            )
        })?;
    Reply::parse(&answer)
        .map_err(|error| format!("ledd's answer is not a reply ({error}): {}", quote(&answer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn an_order_gets_ledds_reply_or_a_busy_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("ledd.sock");
        runtime().block_on(async {
            let missing = send_order(&socket, "off status").await;
            let Reply::Err(error) = missing else {
                panic!("{missing:?}")
            };
            assert_eq!(error.kind, ErrorKind::Busy);
            assert!(
                error.message.contains("is ledd running?"),
                "{}",
                error.message
            );

            let listener = UnixListener::bind(&socket).unwrap();
            let server = tokio::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let (reader, mut writer) = stream.into_split();
                let line = BufReader::new(reader)
                    .lines()
                    .next_line()
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(line, "off status");
                writer.write_all(b"ok led=status mode=off\n").await.unwrap();
                // A second client closes without a word.
                drop(listener.accept().await.unwrap());
            });
            let reply = send_order(&socket, "off status").await;
            assert_eq!(reply.to_string(), "ok led=status mode=off");
            let silent = send_order(&socket, "off status").await;
            assert!(silent.to_string().starts_with("err busy: "), "{silent}");
            server.await.unwrap();
        });
    }

    #[test]
    fn the_watch_stream_reports_leds_events_and_losses() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("ledd.sock");
        runtime().block_on(async {
            let listener = UnixListener::bind(&socket).unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let watcher = tokio::spawn(watch(socket.clone(), tx));
            let (stream, _) = listener.accept().await.unwrap();
            let (reader, mut writer) = stream.into_split();
            let line = BufReader::new(reader).lines().next_line().await.unwrap().unwrap();
            assert_eq!(line, "watch");
            writer
                .write_all(b"ok watching=power,status\nevent led=status mode=off\n")
                .await
                .unwrap();
            assert!(matches!(rx.recv().await, Some(WatchNews::Watching(leds)) if leds == ["power", "status"]));
            assert!(matches!(rx.recv().await, Some(WatchNews::Event(e)) if e.field("led") == Some("status")));
            drop(writer);
            assert!(matches!(rx.recv().await, Some(WatchNews::Lost(reason)) if reason.contains("closed")));
            drop(rx);
            watcher.abort();
        });
    }
}
