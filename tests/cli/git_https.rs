//! A git host over HTTPS for the watch tests: `git http-backend` (git's own smart-HTTP CGI)
//! behind a small TLS server in the test process, with a private CA and token authentication
//! the way GitHub or Azure Repos do it (HTTP Basic, the token as the password; a request
//! without it, or with another token, gets `401` and a `WWW-Authenticate: Basic` challenge).
//! One request per connection (`Connection: close`), one thread per connection.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

/// What the running server shares with the test.
struct Shared {
    /// The token a request must carry; `None` refuses everything.
    token: Mutex<Option<String>>,
    /// Requests refused with 401 because they carried a token that is not the accepted one.
    refused: AtomicUsize,
    /// Requests served by `git http-backend`.
    served: AtomicUsize,
    stop: AtomicBool,
}

/// A git host serving the bare repositories under `root` at `https://127.0.0.1:PORT/NAME`,
/// stopped on drop.
pub(crate) struct GitHttps {
    port: u16,
    shared: Arc<Shared>,
    /// The CA that signed the server's certificate, as a PEM file.
    pub(crate) ca_file: PathBuf,
}

impl GitHttps {
    /// Serve `root` (which holds bare repositories), accepting `token`. The CA is written to
    /// `ca_dir/git-ca.pem`.
    pub(crate) fn start(root: &Path, token: &str, ca_dir: &Path) -> Self {
        let credentials = gitops_sandbox::tls::Credentials::generate().expect("make a CA");
        std::fs::create_dir_all(ca_dir).expect("CA folder");
        let ca_file = ca_dir.join("git-ca.pem");
        std::fs::write(&ca_file, &credentials.ca_pem).expect("write the CA");
        // libgit2 speaks HTTP/1.1 only.
        let mut config = (*credentials.server_config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the git server");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            token: Mutex::new(Some(token.to_string())),
            refused: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let root = root.to_path_buf();
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, root, state) = (config.clone(), root.clone(), state.clone());
                std::thread::spawn(move || {
                    if let Err(e) = serve(stream, config, &root, &state) {
                        eprintln!("git https server: {e}");
                    }
                });
            }
        });
        Self {
            port,
            shared,
            ca_file,
        }
    }

    /// The URL of the bare repository `name` under the served root.
    pub(crate) fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}", self.port)
    }

    /// `127.0.0.1:PORT`, as a proxy's `CONNECT` names it.
    pub(crate) fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Accept `token` from now on (and no other): a rotated or revoked credential.
    pub(crate) fn accept(&self, token: Option<&str>) {
        *self
            .shared
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token.map(str::to_string);
    }

    /// Requests refused because their token was not the accepted one.
    pub(crate) fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Requests that reached `git http-backend`.
    pub(crate) fn served(&self) -> usize {
        self.shared.served.load(Ordering::SeqCst)
    }
}

impl Drop for GitHttps {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    root: &Path,
    state: &Shared,
) -> Result<(), String> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let connection = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    let request = match read_request(&mut tls) {
        Ok(Some(request)) => request,
        // A connection closed without a request (the drop's wake-up, a TLS probe).
        Ok(None) => return Ok(()),
        Err(e) => return Err(format!("reading a request: {e}")),
    };
    let (status, headers, body) = match authorized(&request, state) {
        Ok(user) => {
            state.served.fetch_add(1, Ordering::SeqCst);
            http_backend(&request, root, &user)?
        }
        Err(()) => (
            "401 Unauthorized".to_string(),
            vec![(
                "WWW-Authenticate".to_string(),
                "Basic realm=\"gitops test git host\"".to_string(),
            )],
            b"authentication required\n".to_vec(),
        ),
    };
    let stream = tls.get_mut();
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body))
        .and_then(|()| stream.flush())
        .map_err(|e| format!("writing the response: {e}"))?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.shutdown(Shutdown::Write);
    Ok(())
}

/// The user name when the request carries the accepted token as its Basic password.
fn authorized(request: &Request, state: &Shared) -> Result<String, ()> {
    let accepted = state
        .token
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let Some(credentials) = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return Err(());
    };
    let (user, token) = credentials.split_once(':').ok_or(())?;
    if accepted.as_deref() == Some(token) {
        Ok(user.to_string())
    } else {
        state.refused.fetch_add(1, Ordering::SeqCst);
        Err(())
    }
}

fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or("an empty request line")?.to_string();
    let target = parts.next().ok_or("no request target")?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut request = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().map_err(|_| "a bad Content-Length")?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).map_err(|e| e.to_string())?;
        let size = size.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16).map_err(|_| "a bad chunk size")?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

type Response = (String, Vec<(String, String)>, Vec<u8>);

/// Run `git http-backend` for `request` as a CGI (RFC 3875) and split its output.
fn http_backend(request: &Request, root: &Path, user: &str) -> Result<Response, String> {
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .map_err(|e| format!("git --exec-path: {e}"))?;
    let backend =
        PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-http-backend");
    let mut command = Command::new(backend);
    command
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path)
        .env("QUERY_STRING", &request.query)
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (header, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = request.header(header) {
            command.env(variable, value);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("git http-backend: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let body = request.body.clone();
    // Written from another thread: the backend may answer before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("git http-backend: {e}"))?;
    let _ = writer.join();
    let out = output.stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
        .ok_or_else(|| {
            format!(
                "git http-backend answered without headers: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let (head, body) = (&out[..split.0], out[split.0 + split.1..].to_vec());
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("status") {
            status = value.trim().to_string();
        } else {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok((status, headers, body))
}
