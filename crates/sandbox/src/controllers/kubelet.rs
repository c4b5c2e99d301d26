//! The simulated kubelet, as a pure function: given a pod, when its containers may start and the
//! simulated time now, what its status, events and container logs are.
//!
//! Being a function of time (not a sequence of steps) makes catching up trivial: a pod loaded
//! from a state file, or a clock moved forward, gets the status it would have had by then.
//!
//! Behaviour follows the pod lifecycle documentation:
//! https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ (phases, container states,
//! conditions, restart policy with back-off 10 s, 20 s, 40 s... capped at five minutes) and
//! https://kubernetes.io/docs/concepts/workloads/pods/init-containers/ (init containers run one
//! after another, each to completion, before the app containers start; a failing one is restarted
//! unless the pod's restartPolicy is Never).
//!
//! Failure on demand, by image tag (documented in `docs/sandbox.md`): a tag ending in
//! `-crashloop` exits with code 1 shortly after it starts; one ending in `-pullfail` cannot be
//! pulled (`ErrImagePull`, then `ImagePullBackOff`).

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{Occurrence, Severity};
use super::meta;
use crate::clock::{Clock, SimTime, timestamp};

/// How long the simulated steps take, in simulated time.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Pulling an image.
    pub pull: Duration,
    /// Creating and starting a container after the pull.
    pub start: Duration,
    /// From start to the first successful readiness probe (only with a `readinessProbe`).
    pub probe: Duration,
    /// How long a `-crashloop` container runs before it exits with code 1.
    pub crash_after: Duration,
    /// How long an init container runs.
    pub init_run: Duration,
    /// How long a Job's container runs.
    pub job_run: Duration,
    /// The first restart back-off; it doubles each time.
    pub backoff_initial: Duration,
    /// The back-off cap.
    pub backoff_max: Duration,
}

impl Default for Timing {
    /// A pod with one container and a readiness probe is Ready one second after it is created.
    fn default() -> Self {
        Self {
            pull: Duration::from_millis(500),
            start: Duration::from_millis(200),
            probe: Duration::from_millis(300),
            crash_after: Duration::from_millis(500),
            init_run: Duration::from_millis(300),
            job_run: Duration::from_secs(1),
            // https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
        }
    }
}

impl Timing {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.min(16));
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// What an image does, by its tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Starts, becomes ready, keeps running (or completes, for init and Job containers).
    Runs,
    /// Exits with code 1 shortly after every start.
    CrashLoops,
    /// Cannot be pulled.
    PullFails,
}

/// The behaviour an image's tag asks for.
pub fn behavior(image: &str) -> Behavior {
    let tag = image_tag(image);
    if tag.ends_with("-crashloop") {
        Behavior::CrashLoops
    } else if tag.ends_with("-pullfail") {
        Behavior::PullFails
    } else {
        Behavior::Runs
    }
}

/// The tag of an image reference (`latest` when absent; a digest is not a tag).
fn image_tag(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_segment = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last_segment
        .split_once(':')
        .map_or("latest", |(_, tag)| tag)
}

/// The image as the container runtime reports it: registry and tag filled in, as
/// `docker.io/library/nginx:latest` for `nginx`.
pub fn normalize_image(image: &str) -> String {
    let (name, suffix) = match image.split_once('@') {
        Some((name, digest)) => (name, format!("@{digest}")),
        None => {
            let last_slash = image.rfind('/').map_or(0, |i| i + 1);
            match image[last_slash..].find(':') {
                Some(i) => (&image[..last_slash + i], image[last_slash + i..].to_owned()),
                None => (image, ":latest".to_owned()),
            }
        }
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        name.to_owned()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{full}{suffix}")
}

/// The repository of a normalised image, without tag or digest.
fn repository(full_image: &str) -> &str {
    let name = full_image.split('@').next().unwrap_or(full_image);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    }
}

/// 64 hex digits derived from `seed`, for container and image IDs.
fn hex64(seed: &str) -> String {
    (0..8_u8)
        .map(|i| format!("{:08x}", meta::fnv32a(format!("{i}:{seed}").as_bytes())))
        .collect()
}

/// How the pod restarts containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Always restart (Deployments, StatefulSets, DaemonSets).
    Always,
    /// Restart failed containers (Jobs may choose it).
    OnFailure,
    /// Never restart.
    Never,
}

impl RestartPolicy {
    fn of(pod: &Value) -> Self {
        match meta::str_at(pod, "/spec/restartPolicy") {
            Some("OnFailure") => Self::OnFailure,
            Some("Never") => Self::Never,
            _ => Self::Always,
        }
    }
}

/// The log of one container: the current instance and, after a restart, the previous one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogState {
    /// How often the container has restarted.
    pub restarts: u32,
    /// Lines of the current instance.
    pub current: Vec<String>,
    /// Lines of the instance before the last restart.
    pub previous: Option<Vec<String>>,
}

/// Where a container stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// Not running (not started yet, or backing off).
    Waiting,
    /// Running; ready from the given time on, if it becomes ready.
    Running { ready_at: Option<SimTime> },
    /// Exited with 0 for good (init and Job containers).
    Completed { at: SimTime },
    /// Exited with an error for good (restartPolicy Never).
    Failed { at: SimTime },
}

/// One container's simulated life so far.
#[derive(Clone, Debug)]
struct ContainerRun {
    name: String,
    status: Value,
    events: Vec<Occurrence>,
    log: LogState,
    outcome: Outcome,
    ever_started: bool,
    next: Option<SimTime>,
}

/// Events with the same reason and message fold into one with a count.
#[derive(Default)]
struct EventLog {
    field_path: String,
    events: Vec<Occurrence>,
}

impl EventLog {
    fn add(&mut self, severity: Severity, reason: &str, message: String, at: SimTime) {
        if let Some(e) = self
            .events
            .iter_mut()
            .find(|e| e.reason == reason && e.message == message)
        {
            e.count += 1;
            e.last = at;
            return;
        }
        let mut occurrence = Occurrence::once(severity, reason, message, at);
        occurrence.field_path = Some(self.field_path.clone());
        self.events.push(occurrence);
    }
}

/// The things about the pod a container's story needs.
struct PodContext<'a> {
    name: &'a str,
    namespace: &'a str,
    uid: &'a str,
    clock: &'a Clock,
    timing: &'a Timing,
    restart: RestartPolicy,
}

impl PodContext<'_> {
    fn ts(&self, at: SimTime) -> String {
        timestamp(self.clock.wall(at))
    }
}

fn earliest(a: Option<SimTime>, b: SimTime, now: SimTime) -> Option<SimTime> {
    if b <= now {
        return a;
    }
    Some(a.map_or(b, |a| a.min(b)))
}

/// Simulate one container from `t0` (when it may start) to `now`. `completes`: an init or Job
/// container, which exits 0 after running a while instead of running for ever.
fn run_container(
    pod: &PodContext<'_>,
    container: &Value,
    role: &str,
    t0: SimTime,
    now: SimTime,
    completes: bool,
) -> ContainerRun {
    let timing = pod.timing;
    let name = meta::str_at(container, "/name")
        .unwrap_or_default()
        .to_owned();
    let image = meta::str_at(container, "/image")
        .unwrap_or_default()
        .to_owned();
    let full_image = normalize_image(&image);
    let image_id = if full_image.contains('@') {
        full_image.clone()
    } else {
        format!("{}@sha256:{}", repository(&full_image), hex64(&image))
    };
    let mut events = EventLog {
        field_path: format!("spec.{role}{{{name}}}"),
        events: Vec::new(),
    };
    let mut next = None;
    let mut log = LogState::default();
    let has_probe = container.get("readinessProbe").is_some();
    let restarts_allowed = match pod.restart {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => true,
        RestartPolicy::Never => false,
    };
    let waiting = |reason: &str, message: Option<String>| {
        let mut w = json!({"reason": reason});
        if let Some(m) = message {
            meta::set(&mut w, "message", json!(m));
        }
        json!({"waiting": w})
    };
    let base = |state: Value,
                last: Value,
                ready: bool,
                restarts: u32,
                started: Option<bool>,
                container_id: Option<String>| {
        let mut s = json!({
            "name": name,
            "image": full_image,
            "imageID": "",
            "ready": ready,
            "restartCount": restarts,
            "state": state,
            "lastState": last,
        });
        if let Some(started) = started {
            meta::set(&mut s, "started", json!(started));
        }
        if let Some(id) = container_id {
            meta::set(&mut s, "containerID", json!(id));
            meta::set(&mut s, "imageID", json!(image_id));
        }
        s
    };

    if now < t0 {
        return ContainerRun {
            name: name.clone(),
            status: base(
                waiting("PodInitializing", None),
                json!({}),
                false,
                0,
                Some(false),
                None,
            ),
            events: Vec::new(),
            log,
            outcome: Outcome::Waiting,
            ever_started: false,
            next: Some(t0),
        };
    }

    if behavior(&image) == Behavior::PullFails {
        // Pull attempts with back-off; the waiting reason alternates between ErrImagePull (right
        // after a failed attempt) and ImagePullBackOff (while waiting for the next).
        // https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff
        let mut attempt_at = t0;
        let mut attempt = 0_u32;
        let mut state = waiting("ContainerCreating", None);
        loop {
            if now < attempt_at {
                next = earliest(next, attempt_at, now);
                break;
            }
            events.add(
                Severity::Normal,
                "Pulling",
                format!("Pulling image \"{image}\""),
                attempt_at,
            );
            let failed_at = attempt_at + timing.pull;
            if now < failed_at {
                next = earliest(next, failed_at, now);
                break;
            }
            let reason = format!(
                "rpc error: code = NotFound desc = failed to pull and unpack image \"{full_image}\": failed to resolve reference \"{full_image}\": {full_image}: not found"
            );
            events.add(
                Severity::Warning,
                "Failed",
                format!("Failed to pull image \"{image}\": {reason}"),
                failed_at,
            );
            events.add(
                Severity::Warning,
                "Failed",
                "Error: ErrImagePull".to_owned(),
                failed_at,
            );
            state = waiting(
                "ErrImagePull",
                Some(format!(
                    "failed to pull and unpack image \"{full_image}\": not found"
                )),
            );
            let delay = timing.backoff(attempt);
            let backoff_at = failed_at + (delay / 10).min(Duration::from_secs(1));
            if now < backoff_at {
                next = earliest(next, backoff_at, now);
                break;
            }
            events.add(
                Severity::Normal,
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
                backoff_at,
            );
            events.add(
                Severity::Warning,
                "Failed",
                "Error: ImagePullBackOff".to_owned(),
                backoff_at,
            );
            state = waiting(
                "ImagePullBackOff",
                Some(format!(
                    "Back-off pulling image \"{image}\": ErrImagePull: {reason}"
                )),
            );
            attempt_at = failed_at + delay;
            attempt += 1;
        }
        return ContainerRun {
            name: name.clone(),
            status: base(state, json!({}), false, 0, Some(false), None),
            events: events.events,
            log,
            outcome: Outcome::Waiting,
            ever_started: false,
            next,
        };
    }

    // The image is pulled once; later starts find it on the node.
    events.add(
        Severity::Normal,
        "Pulling",
        format!("Pulling image \"{image}\""),
        t0,
    );
    let pulled_at = t0 + timing.pull;
    if now < pulled_at {
        return ContainerRun {
            name: name.clone(),
            status: base(
                waiting(
                    if role == "initContainers" {
                        "PodInitializing"
                    } else {
                        "ContainerCreating"
                    },
                    None,
                ),
                json!({}),
                false,
                0,
                Some(false),
                None,
            ),
            events: events.events,
            log,
            outcome: Outcome::Waiting,
            ever_started: false,
            next: Some(pulled_at),
        };
    }
    events.add(
        Severity::Normal,
        "Pulled",
        format!("Successfully pulled image \"{image}\" in {}ms ({}ms including waiting). Image size: 0 bytes.", timing.pull.as_millis(), timing.pull.as_millis()),
        pulled_at,
    );

    let crashes = behavior(&image) == Behavior::CrashLoops;
    let mut start_at = pulled_at + timing.start;
    let mut instance = 0_u32;
    let mut last_state = json!({});
    loop {
        // Instance `instance` is created at `start_at - start` and starts at `start_at`.
        if instance > 0 {
            events.add(
                Severity::Normal,
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
                start_at - timing.start,
            );
        }
        let created_at = start_at - timing.start;
        if now < created_at {
            next = earliest(next, created_at, now);
            break;
        }
        events.add(
            Severity::Normal,
            "Created",
            format!("Created container: {name}"),
            created_at,
        );
        let container_id = format!(
            "containerd://{}",
            hex64(&format!("{}/{name}/{instance}", pod.uid))
        );
        if now < start_at {
            next = earliest(next, start_at, now);
            let status = base(
                waiting("ContainerCreating", None),
                last_state.clone(),
                false,
                instance,
                Some(false),
                None,
            );
            return ContainerRun {
                name: name.clone(),
                status,
                events: events.events,
                log,
                outcome: Outcome::Waiting,
                ever_started: instance > 0,
                next,
            };
        }
        events.add(
            Severity::Normal,
            "Started",
            format!("Started container {name}"),
            start_at,
        );
        if instance > 0 {
            log.previous = Some(std::mem::take(&mut log.current));
        }
        log.restarts = instance;
        log.current = startup_lines(container, &name, &image, role, crashes);
        let ends_at = match (crashes, completes) {
            (true, _) => Some(start_at + timing.crash_after),
            (false, true) => Some(
                start_at
                    + if role == "initContainers" {
                        timing.init_run
                    } else {
                        timing.job_run
                    },
            ),
            (false, false) => None,
        };
        let running = json!({"running": {"startedAt": pod.ts(start_at)}});
        match ends_at {
            None => {
                let ready_at = if has_probe {
                    start_at + timing.probe
                } else {
                    start_at
                };
                let ready = now >= ready_at;
                next = earliest(next, ready_at, now);
                let status = base(
                    running,
                    last_state,
                    ready,
                    instance,
                    Some(true),
                    Some(container_id),
                );
                return ContainerRun {
                    name: name.clone(),
                    status,
                    events: events.events,
                    log,
                    outcome: Outcome::Running {
                        ready_at: Some(ready_at),
                    },
                    ever_started: true,
                    next,
                };
            }
            Some(end) if now < end => {
                next = earliest(next, end, now);
                // An init container is never "ready"; a Job container is ready while it runs.
                let ready = role != "initContainers" && !crashes;
                let ready_at = ready.then_some(start_at);
                let status = base(
                    running,
                    last_state,
                    ready,
                    instance,
                    Some(true),
                    Some(container_id),
                );
                return ContainerRun {
                    name: name.clone(),
                    status,
                    events: events.events,
                    log,
                    outcome: Outcome::Running { ready_at },
                    ever_started: true,
                    next,
                };
            }
            Some(end) => {
                let exit_code = if crashes { 1 } else { 0 };
                let terminated = json!({"terminated": {
                    "exitCode": exit_code,
                    "reason": if crashes { "Error" } else { "Completed" },
                    "startedAt": pod.ts(start_at),
                    "finishedAt": pod.ts(end),
                    "containerID": container_id,
                }});
                if crashes {
                    log.current.push(format!(
                        "fatal: {name} exited: the image tag of \"{image}\" ends in -crashloop"
                    ));
                }
                if !crashes {
                    log.current.push(format!("{name}: done"));
                    let status = base(
                        terminated,
                        last_state,
                        false,
                        instance,
                        Some(false),
                        Some(container_id),
                    );
                    return ContainerRun {
                        name: name.clone(),
                        status,
                        events: events.events,
                        log,
                        outcome: Outcome::Completed { at: end },
                        ever_started: true,
                        next,
                    };
                }
                if !restarts_allowed {
                    let status = base(
                        terminated,
                        last_state,
                        false,
                        instance,
                        Some(false),
                        Some(container_id),
                    );
                    return ContainerRun {
                        name: name.clone(),
                        status,
                        events: events.events,
                        log,
                        outcome: Outcome::Failed { at: end },
                        ever_started: true,
                        next,
                    };
                }
                // Crashed. The first crash is restarted at once; the back-off (10 s, 20 s,
                // 40 s, ...) applies from the second on, so a container in CrashLoopBackOff has
                // restarted at least once and `logs --previous` has the crashed run:
                // https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts
                let delay = match instance {
                    0 => Duration::ZERO,
                    n => timing.backoff(n - 1),
                };
                let restart_at = end + delay;
                last_state = terminated.clone();
                // Right after the exit the kubelet shows the terminated state; from its next
                // sync on, the back-off (none after the first crash).
                let backoff_from = end + (delay / 20).min(Duration::from_millis(500));
                if !delay.is_zero() && now >= backoff_from {
                    events.add(
                        Severity::Warning,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {name} in pod {}_{}({})",
                            pod.name, pod.namespace, pod.uid
                        ),
                        backoff_from,
                    );
                }
                if now < restart_at {
                    let state = if now < backoff_from {
                        next = earliest(next, backoff_from, now);
                        terminated
                    } else {
                        waiting(
                            "CrashLoopBackOff",
                            Some(format!(
                                "back-off {}s restarting failed container={name} pod={}_{}({})",
                                delay.as_secs(),
                                pod.name,
                                pod.namespace,
                                pod.uid
                            )),
                        )
                    };
                    next = earliest(next, restart_at, now);
                    let status = base(
                        state,
                        last_state,
                        false,
                        instance,
                        Some(false),
                        Some(container_id),
                    );
                    return ContainerRun {
                        name: name.clone(),
                        status,
                        events: events.events,
                        log,
                        outcome: Outcome::Waiting,
                        ever_started: true,
                        next,
                    };
                }
                instance += 1;
                start_at = restart_at + timing.start;
            }
        }
    }
    let status = base(
        waiting("ContainerCreating", None),
        last_state,
        false,
        instance,
        Some(false),
        None,
    );
    ContainerRun {
        name,
        status,
        events: events.events,
        log,
        outcome: Outcome::Waiting,
        ever_started: instance > 0,
        next,
    }
}

/// What a container prints when it starts: its command for init and Job containers, its ports
/// for servers. Plain lines, as an application writes them.
fn startup_lines(
    container: &Value,
    name: &str,
    image: &str,
    role: &str,
    crashes: bool,
) -> Vec<String> {
    let mut lines = vec![format!("{name}: starting {image}")];
    let command: Vec<&str> = ["/command", "/args"]
        .iter()
        .filter_map(|p| container.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !command.is_empty() {
        lines.push(format!("+ {}", command.join(" ")));
    }
    if crashes {
        lines.push(format!("{name}: loading configuration"));
        return lines;
    }
    if role == "containers" {
        let ports: Vec<i64> = container
            .get("ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| p.get("containerPort").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        for port in ports {
            lines.push(format!("{name}: listening on port {port}"));
        }
        lines.push(format!("{name}: started"));
    }
    lines
}

/// The simulated state of a pod at some time.
#[derive(Clone, Debug)]
pub struct PodRun {
    /// The pod's `status`, complete.
    pub status: Value,
    /// The kubelet's events about the pod.
    pub events: Vec<Occurrence>,
    /// Each container's log, by container name (init containers included).
    pub logs: Vec<(String, LogState)>,
    /// When the status changes next, if it will.
    pub next: Option<SimTime>,
    /// Is the pod Ready?
    pub ready: bool,
}

/// Where a scheduled pod runs.
#[derive(Clone, Debug)]
pub struct Placement {
    /// When it was scheduled.
    pub scheduled_at: SimTime,
    /// When its volumes were ready and its containers could start.
    pub started_at: SimTime,
    /// The node's IP.
    pub host_ip: String,
    /// The pod's IP.
    pub pod_ip: String,
}

/// Simulate a scheduled pod whose volumes are ready, from `placement.started_at` to `now`.
pub fn run_pod(
    pod: &Value,
    placement: &Placement,
    now: SimTime,
    clock: &Clock,
    timing: &Timing,
) -> PodRun {
    let ctx = PodContext {
        name: meta::name(pod),
        namespace: meta::namespace(pod),
        uid: meta::uid(pod),
        clock,
        timing,
        restart: RestartPolicy::of(pod),
    };
    let empty = Vec::new();
    let inits = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mains = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut events = Vec::new();
    let mut logs = Vec::new();
    let mut next = None;
    let mut init_statuses = Vec::new();
    let mut t = placement.started_at;
    let mut initialized = true;
    let mut init_failed = false;
    let mut incomplete_inits = Vec::new();
    for init in inits {
        if !initialized {
            // Later init containers wait for the earlier ones.
            let name = meta::str_at(init, "/name").unwrap_or_default();
            incomplete_inits.push(name.to_owned());
            init_statuses.push(json!({
                "name": name, "image": normalize_image(meta::str_at(init, "/image").unwrap_or_default()), "imageID": "",
                "ready": false, "restartCount": 0, "started": false,
                "state": {"waiting": {"reason": "PodInitializing"}}, "lastState": {},
            }));
            continue;
        }
        let run = run_container(&ctx, init, "initContainers", t, now, true);
        next = merge(next, run.next);
        events.extend(run.events);
        logs.push((run.name.clone(), run.log));
        match run.outcome {
            Outcome::Completed { at } => t = at,
            Outcome::Failed { .. } => {
                initialized = false;
                init_failed = true;
                incomplete_inits.push(run.name.clone());
            }
            _ => {
                initialized = false;
                incomplete_inits.push(run.name.clone());
            }
        }
        init_statuses.push(run.status);
    }
    let init_done_at = t;

    let mut container_statuses = Vec::new();
    let mut unready = Vec::new();
    let mut ready_since = init_done_at;
    let mut any_started = false;
    let mut all_completed = !mains.is_empty();
    let mut any_failed = false;
    for container in mains {
        let completes = ctx.restart != RestartPolicy::Always;
        let run = if initialized {
            run_container(&ctx, container, "containers", init_done_at, now, completes)
        } else {
            let name = meta::str_at(container, "/name")
                .unwrap_or_default()
                .to_owned();
            ContainerRun {
                status: json!({
                    "name": name, "image": normalize_image(meta::str_at(container, "/image").unwrap_or_default()), "imageID": "",
                    "ready": false, "restartCount": 0, "started": false,
                    "state": {"waiting": {"reason": "PodInitializing"}}, "lastState": {},
                }),
                name,
                events: Vec::new(),
                log: LogState::default(),
                outcome: Outcome::Waiting,
                ever_started: false,
                next: None,
            }
        };
        next = merge(next, run.next);
        events.extend(run.events);
        if initialized {
            logs.push((run.name.clone(), run.log));
        }
        any_started |= run.ever_started;
        match run.outcome {
            Outcome::Running { ready_at: Some(at) } if at <= now => {
                ready_since = ready_since.max(at)
            }
            Outcome::Completed { .. } => {}
            Outcome::Failed { .. } => any_failed = true,
            _ => unready.push(run.name.clone()),
        }
        if !matches!(run.outcome, Outcome::Completed { .. }) {
            all_completed = false;
        }
        if matches!(
            run.outcome,
            Outcome::Completed { .. } | Outcome::Failed { .. }
        ) {
            unready.push(run.name.clone());
        }
        container_statuses.push(run.status);
    }
    // The kubelet reports app containers sorted by name.
    container_statuses.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    unready.sort();
    unready.dedup();

    // https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
    let phase = if init_failed && ctx.restart == RestartPolicy::Never {
        "Failed"
    } else if !initialized {
        "Pending"
    } else if ctx.restart != RestartPolicy::Always && all_completed {
        "Succeeded"
    } else if ctx.restart == RestartPolicy::Never && any_failed {
        "Failed"
    } else if any_started {
        "Running"
    } else {
        "Pending"
    };
    let ready = unready.is_empty() && initialized && phase == "Running";
    let ts = |at: SimTime| ctx.ts(at);
    let condition = |type_: &str,
                     ok: bool,
                     at: SimTime,
                     reason: Option<&str>,
                     message: Option<String>| {
        let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": ts(at)});
        if let Some(reason) = reason {
            meta::set(&mut c, "reason", json!(reason));
        }
        if let Some(message) = message {
            meta::set(&mut c, "message", json!(message));
        }
        c
    };
    let not_ready_reason = if matches!(phase, "Succeeded" | "Failed") {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let not_ready_message = (!matches!(phase, "Succeeded" | "Failed"))
        .then(|| format!("containers with unready status: [{}]", unready.join(" ")));
    let conditions = vec![
        condition(
            "PodReadyToStartContainers",
            true,
            placement.started_at,
            None,
            None,
        ),
        if initialized {
            condition("Initialized", true, init_done_at, None, None)
        } else {
            condition(
                "Initialized",
                false,
                placement.started_at,
                Some("ContainersNotInitialized"),
                Some(format!(
                    "containers with incomplete status: [{}]",
                    incomplete_inits.join(" ")
                )),
            )
        },
        if ready {
            condition("Ready", true, ready_since, None, None)
        } else {
            condition(
                "Ready",
                false,
                placement.started_at,
                Some(not_ready_reason),
                not_ready_message.clone(),
            )
        },
        if ready {
            condition("ContainersReady", true, ready_since, None, None)
        } else {
            condition(
                "ContainersReady",
                false,
                placement.started_at,
                Some(not_ready_reason),
                not_ready_message,
            )
        },
        condition("PodScheduled", true, placement.scheduled_at, None, None),
    ];
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": placement.host_ip,
        "hostIPs": [{"ip": placement.host_ip}],
        "podIP": placement.pod_ip,
        "podIPs": [{"ip": placement.pod_ip}],
        "startTime": ts(placement.started_at),
        "containerStatuses": container_statuses,
        "qosClass": qos_class(pod),
    });
    if !init_statuses.is_empty() {
        meta::set(&mut status, "initContainerStatuses", json!(init_statuses));
    }
    PodRun {
        status,
        events,
        logs,
        next,
        ready,
    }
}

fn merge(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The pod's QoS class from its containers' requests and limits.
/// https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/
pub fn qos_class(pod: &Value) -> &'static str {
    let empty = Vec::new();
    let containers: Vec<&Value> = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .flat_map(|p| pod.pointer(p).and_then(Value::as_array).unwrap_or(&empty))
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(resource));
            let request = requests.and_then(|r| r.get(resource)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}
