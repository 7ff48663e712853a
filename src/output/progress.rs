//! Progress for long transfers and builds: indicatif bars when stderr is a terminal; in CI logs (or any
//! non-terminal) one plain line per milestone, e.g.
//! `layer sha256:3f4a…: 256.0 MiB in 3.2s (80.0 MiB/s)`, so logs stay readable and grep-able.

use super::Sink;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Draws bars or prints milestone lines.
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    Bars(MultiProgress),
    Lines(Sink),
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Bars(_) => "Bars",
            Mode::Lines(_) => "Lines",
        })
    }
}

impl Progress {
    /// Bars on a terminal, plain lines to `sink` otherwise.
    pub fn new(terminal: bool, sink: Sink) -> Progress {
        let mode = if terminal {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Lines(sink)
        };
        Progress { mode }
    }

    /// For a step's [`super::Output`].
    pub fn for_output(output: &super::Output) -> Progress {
        Progress::new(output.stderr_is_terminal(), output.stderr())
    }

    /// A one-off milestone line (`build step 3/7 done`), printed in both modes.
    pub fn milestone(&self, text: &str) {
        match &self.mode {
            Mode::Bars(m) => {
                let _ = m.println(text);
            }
            Mode::Lines(sink) => write_line(sink, text),
        }
    }

    /// Starts a task of `total` bytes (or unknown size).
    pub fn task(&self, label: &str, total: Option<u64>) -> Task {
        let bar = match &self.mode {
            Mode::Bars(m) => {
                let bar = m.add(total.map_or_else(ProgressBar::new_spinner, ProgressBar::new));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            Mode::Lines(_) => None,
        };
        Task {
            label: label.to_string(),
            started: Instant::now(),
            bytes: 0,
            bar,
            progress: self.clone(),
        }
    }
}

/// A byte counter shown as a bar on a terminal; does nothing elsewhere (where milestone lines are
/// printed instead). Cheap to clone and to share between threads.
#[derive(Debug, Clone)]
pub struct Meter(Option<ProgressBar>);

impl Meter {
    /// Counts `n` more bytes.
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    /// Shows `text` beside the bar (a [`Progress::status`] line's current step).
    pub fn say(&self, text: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(text.to_string());
        }
    }

    /// Removes the bar.
    pub fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress {
    /// A live byte counter labelled `label`: a bar on a terminal, nothing otherwise.
    pub fn meter(&self, label: &str) -> Meter {
        match &self.mode {
            Mode::Bars(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix} {bytes} {binary_bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Meter(Some(bar))
            }
            Mode::Lines(_) => Meter(None),
        }
    }

    /// A live status line labelled `label` (a spinner, the time so far, and what [`Meter::say`]
    /// last said) on a terminal; nothing otherwise.
    pub fn status(&self, label: &str) -> Meter {
        match &self.mode {
            Mode::Bars(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Meter(Some(bar))
            }
            Mode::Lines(_) => Meter(None),
        }
    }
}

/// One tracked transfer or job.
#[derive(Debug)]
pub struct Task {
    label: String,
    started: Instant,
    bytes: u64,
    bar: Option<ProgressBar>,
    progress: Progress,
}

impl Task {
    /// Records `n` more bytes done.
    pub fn advance(&mut self, n: u64) {
        self.bytes += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Bytes recorded so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Ends the task with a word (`pushed`, `exists`, `mounted`) and prints the milestone line.
    pub fn finish(self, outcome: &str) {
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.progress
            .milestone(&milestone_text(&self.label, outcome, self.bytes, elapsed));
    }
}

/// `label: outcome, 256.0 MiB in 3.2s (80.0 MiB/s)`; without bytes, `label: outcome in 0.4s`.
pub fn milestone_text(label: &str, outcome: &str, bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if bytes == 0 {
        return format!("{label}: {outcome} in {secs:.1}s");
    }
    #[expect(clippy::cast_precision_loss, reason = "a rate shown to one decimal")]
    let bytes = bytes as f64;
    let rate = if secs > 0.0 { bytes / secs } else { 0.0 };
    format!(
        "{label}: {outcome}, {} in {secs:.1}s ({}/s)",
        human_bytes(bytes),
        human_bytes(rate)
    )
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn write_line(sink: &Sink, text: &str) {
    if let Ok(mut w) = sink.lock() {
        let _ = writeln!(w, "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sink;
    use crate::output::testing::Buffer;

    #[test]
    fn plain_mode_prints_one_line_per_milestone() {
        let buf = Buffer::default();
        let progress = Progress::new(false, sink(buf.clone()));
        let mut task = progress.task("layer sha256:3f4a", Some(300));
        task.advance(100);
        task.advance(200);
        assert_eq!(task.bytes(), 300);
        // Nothing is printed while the task runs.
        assert_eq!(buf.text(), "");
        task.finish("pushed");
        progress.milestone("manifest pushed");
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("layer sha256:3f4a: pushed, 300 B in "),
            "{text}"
        );
        assert!(lines[0].ends_with("B/s)"), "{text}");
        assert_eq!(lines[1], "manifest pushed");
    }

    #[test]
    fn meters_are_silent_outside_a_terminal() {
        let buf = Buffer::default();
        let progress = Progress::new(false, sink(buf.clone()));
        let meter = progress.meter("upload");
        meter.add(10);
        meter.clone().done();
        assert_eq!(buf.text(), "");
    }

    #[test]
    fn milestone_text_formats_sizes_and_rates() {
        assert_eq!(
            milestone_text("layer", "pushed", 256 * 1024 * 1024, Duration::from_secs(2)),
            "layer: pushed, 256.0 MiB in 2.0s (128.0 MiB/s)"
        );
        assert_eq!(
            milestone_text("build", "done", 0, Duration::from_millis(400)),
            "build: done in 0.4s"
        );
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}
