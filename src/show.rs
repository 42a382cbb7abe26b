//! `--show`: the LEDs' state drawn on standard output, live on a terminal,
//! one timed line per change otherwise (like a log).

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

pub struct Show {
    last: String,
    started: Instant,
}

impl Default for Show {
    fn default() -> Show {
        Show {
            last: String::new(),
            started: Instant::now(),
        }
    }
}

impl Show {
    /// Draws `line` (the engine's picture of the LEDs).
    pub fn draw(&mut self, line: String) {
        let mut stdout = io::stdout().lock();
        if stdout.is_terminal() {
            let _ = write!(stdout, "\r\x1b[K{line}");
            let _ = stdout.flush();
        } else if line != self.last {
            let elapsed = self.started.elapsed().as_secs_f64();
            let _ = writeln!(stdout, "{elapsed:7.2}s {line}");
        }
        self.last = line;
    }
}
