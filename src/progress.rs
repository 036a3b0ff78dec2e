//! Progress of a long run: a bar on a terminal (simulated time, speed-up, events/s, ETA), a
//! status line at most every ten seconds otherwise, or nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    #[default]
    Auto,
    Quiet,
}

impl Progress {
    pub fn message(&self, text: &str) {
        if *self != Progress::Quiet {
            eprintln!("twin: {text}");
        }
    }

    pub fn start(&self, total_ms: u64) -> Tracker {
        let bar = (*self == Progress::Auto && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total_ms / 1000);
            b.set_style(
                ProgressStyle::with_template("{bar:30} {msg} · ETA {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b
        });
        Tracker {
            quiet: *self == Progress::Quiet,
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
            total_ms,
        }
    }
}

pub struct Tracker {
    quiet: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    total_ms: u64,
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{}d {:02}:{:02}:{:02}",
        s / 86_400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

impl Tracker {
    pub fn update(&mut self, now_ms: u64, events: u64) {
        if self.quiet {
            return;
        }
        let wall = self.started.elapsed().as_secs_f64().max(1e-6);
        let text = format!(
            "simulated {} of {} · {:.0}× real time · {:.0} events/s",
            clock(now_ms),
            clock(self.total_ms),
            now_ms as f64 / 1000.0 / wall,
            events as f64 / wall
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(now_ms / 1000);
                bar.set_message(text);
            }
            None if self.last_line.elapsed() >= Duration::from_secs(10) => {
                self.last_line = Instant::now();
                eprintln!("twin: {text}");
            }
            None => {}
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
