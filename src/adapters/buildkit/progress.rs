//! BuildKit's solve status as `docker build --progress=plain` prints it: each step (vertex) numbered
//! in the order it first appears (`#5 [stage-1 2/3] RUN make`), its output lines with the seconds
//! since it started (`#5 0.412 compiling…`), and how it ended (`#5 CACHED`, `#5 DONE 1.3s`, `#5
//! ERROR: …`). Secret values are replaced by `***` in every line.

use crate::secret::{Masks, mask_all};
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use std::collections::{HashMap, VecDeque};

/// How many output lines of a step are kept to show when it fails.
const TAIL: usize = 20;

/// One step's state.
#[derive(Debug, Default)]
struct Step {
    number: usize,
    name: String,
    started: Option<f64>,
    announced: bool,
    done: bool,
    /// Output not yet ended by a newline.
    partial: Vec<u8>,
    tail: VecDeque<String>,
}

/// The renderer.
#[derive(Debug, Default)]
pub struct Progress {
    steps: HashMap<String, Step>,
    next: usize,
    failed: Option<String>,
    redact: Masks,
}

fn seconds(t: Option<&bollard_buildkit_proto::google::protobuf::Timestamp>) -> Option<f64> {
    t.map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
}

impl Progress {
    /// A renderer that hides `redact` (secret values) wherever they appear.
    pub fn new(redact: Masks) -> Progress {
        Progress {
            redact,
            ..Progress::default()
        }
    }

    /// `line` with every secret value replaced by `***`.
    pub fn redact(&self, line: &str) -> String {
        self.redact.apply(line)
    }

    /// The step that failed and its last output lines.
    pub fn failed(&self) -> Option<(String, Vec<String>)> {
        let step = self.steps.get(self.failed.as_ref()?)?;
        Some((step.name.clone(), step.tail.iter().cloned().collect()))
    }

    /// Renders one status update.
    pub fn update(&mut self, status: &StatusResponse, emit: &mut (dyn FnMut(&str) + Send)) {
        let Progress {
            steps,
            next,
            failed,
            redact,
        } = self;
        let redact = redact.values();
        for v in &status.vertexes {
            let redacted = mask_all(redact, &v.name);
            let step = step(steps, next, &v.digest);
            if step.name.is_empty() {
                step.name = redacted;
            }
            if step.started.is_none() {
                step.started = seconds(v.started.as_ref());
            }
            let n = step.number;
            if !step.announced && (v.started.is_some() || v.cached) {
                step.announced = true;
                emit(&format!("#{n} {}", step.name));
            }
            if step.done {
                continue;
            }
            if v.cached {
                step.done = true;
                emit(&format!("#{n} CACHED"));
            } else if let Some(completed) = seconds(v.completed.as_ref()) {
                step.done = true;
                flush(step, emit, redact);
                if v.error.is_empty() {
                    let took = completed - step.started.unwrap_or(completed);
                    emit(&format!("#{n} DONE {took:.1}s"));
                } else {
                    let error = mask_all(redact, &v.error);
                    emit(&format!("#{n} ERROR: {error}"));
                    if failed.is_none() && !v.error.contains("context canceled") {
                        *failed = Some(v.digest.clone());
                    }
                }
            }
        }
        for s in &status.statuses {
            if s.completed.is_none() {
                continue;
            }
            let n = step(steps, next, &s.vertex).number;
            let amount = if s.total > 0 {
                format!(" {}/{}", bytes(s.current), bytes(s.total))
            } else if s.current > 0 {
                format!(" {}", bytes(s.current))
            } else {
                String::new()
            };
            let id = if s.name.is_empty() { &s.id } else { &s.name };
            emit(&format!("#{n} {id}{amount} done"));
        }
        for log in &status.logs {
            let at = seconds(log.timestamp.as_ref());
            let step = step(steps, next, &log.vertex);
            step.partial.extend_from_slice(&log.msg);
            let since = match (at, step.started) {
                (Some(at), Some(started)) => at - started,
                _ => 0.0,
            };
            while let Some(end) = step.partial.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = step.partial.drain(..=end).collect();
                let text = mask_all(redact, String::from_utf8_lossy(&raw).trim_end());
                emit(&format!("#{} {since:.3} {text}", step.number));
                step.tail.push_back(text);
                if step.tail.len() > TAIL {
                    step.tail.pop_front();
                }
            }
        }
    }
}

/// Prints a step's output that did not end with a newline.
fn flush(step: &mut Step, emit: &mut (dyn FnMut(&str) + Send), redact: &[String]) {
    if step.partial.is_empty() {
        return;
    }
    let raw = std::mem::take(&mut step.partial);
    let text = mask_all(redact, String::from_utf8_lossy(&raw).trim_end());
    emit(&format!("#{} {text}", step.number));
    step.tail.push_back(text);
    if step.tail.len() > TAIL {
        step.tail.pop_front();
    }
}

/// The step `digest`, numbered when first seen.
fn step<'a>(steps: &'a mut HashMap<String, Step>, next: &mut usize, digest: &str) -> &'a mut Step {
    steps.entry(digest.to_string()).or_insert_with(|| {
        *next += 1;
        Step {
            number: *next,
            ..Step::default()
        }
    })
}

/// `2B`, `1.5kB`, `12.3MB`, as BuildKit prints sizes.
fn bytes(n: i64) -> String {
    let n = n as f64;
    if n < 1000.0 {
        format!("{n}B")
    } else if n < 1e6 {
        format!("{:.1}kB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1}MB", n / 1e6)
    } else {
        format!("{:.2}GB", n / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;
    use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog};

    #[expect(clippy::unnecessary_wraps, reason = "the fields it fills are optional")]
    fn at(seconds: i64, nanos: i32) -> Option<bollard_buildkit_proto::google::protobuf::Timestamp> {
        Some(bollard_buildkit_proto::google::protobuf::Timestamp { seconds, nanos })
    }

    #[test]
    fn renders_steps_as_plain_progress_with_secrets_hidden() {
        let mut p = Progress::new(crate::secret::Masks::new(["hunter2".to_string()]));
        let mut lines = Vec::new();
        let mut emit = |l: &str| lines.push(l.to_string());
        let run = Vertex {
            digest: "sha256:b".into(),
            name: "[2/2] RUN make".into(),
            started: at(10, 0),
            ..Vertex::default()
        };
        p.update(
            &StatusResponse {
                vertexes: vec![
                    Vertex {
                        digest: "sha256:a".into(),
                        name: "[1/2] FROM base".into(),
                        cached: true,
                        ..Vertex::default()
                    },
                    run.clone(),
                ],
                logs: vec![VertexLog {
                    vertex: "sha256:b".into(),
                    timestamp: at(10, 500_000_000),
                    stream: 1,
                    msg: b"token hunter2\npart".to_vec(),
                }],
                ..StatusResponse::default()
            },
            &mut emit,
        );
        p.update(
            &StatusResponse {
                vertexes: vec![Vertex {
                    completed: at(11, 250_000_000),
                    error: "exit code: 2".into(),
                    ..run
                }],
                ..StatusResponse::default()
            },
            &mut emit,
        );
        assert_eq!(
            lines,
            [
                "#1 [1/2] FROM base",
                "#1 CACHED",
                "#2 [2/2] RUN make",
                "#2 0.500 token ***",
                "#2 part",
                "#2 ERROR: exit code: 2",
            ]
        );
        let (step, tail) = p.failed().unwrap();
        assert_eq!(step, "[2/2] RUN make");
        assert_eq!(tail, ["token ***", "part"]);
    }
}
