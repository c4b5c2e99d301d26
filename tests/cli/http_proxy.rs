//! A forward proxy for the watch tests, the kind a jump host reaches the internet through: it
//! answers `CONNECT host:port` with `200` and relays bytes both ways (RFC 9110 §9.3.6). It
//! records the tunnels it opened and every byte the client sent, so a test can tell that the
//! proxy was used and that it never saw a credential in the clear.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running proxy; its threads end with the test binary (it only relays).
pub(crate) struct ConnectProxy {
    port: u16,
    tunnels: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl ConnectProxy {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, bytes) = (tunnels.clone(), seen.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let (count, bytes) = (count.clone(), bytes.clone());
                std::thread::spawn(move || tunnel(client, &count, &bytes));
            }
        });
        Self {
            port,
            tunnels,
            seen,
        }
    }

    /// The proxy URL, as `https_proxy` wants it.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many tunnels were opened.
    pub(crate) fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }

    /// Whether `needle` appeared in what clients sent (the CONNECT requests and the tunnels).
    pub(crate) fn saw(&self, needle: &str) -> bool {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        seen.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

fn record(seen: &Mutex<Vec<u8>>, bytes: &[u8]) {
    if let Ok(mut seen) = seen.lock() {
        seen.extend_from_slice(bytes);
    }
}

fn tunnel(client: TcpStream, count: &AtomicUsize, seen: &Arc<Mutex<Vec<u8>>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 && !line.trim().is_empty() => record(seen, line.as_bytes()),
            _ => break,
        }
    }
    record(seen, request.as_bytes());
    let mut client = client;
    let target = match request.strip_prefix("CONNECT ") {
        Some(rest) => rest.split_whitespace().next().unwrap_or("").to_string(),
        None => {
            let _ =
                client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
            return;
        }
    };
    let Ok(upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    count.fetch_add(1, Ordering::SeqCst);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    // Anything the client sent after the request line is already in the reader's buffer.
    let buffered = reader.buffer().to_vec();
    let (Ok(mut to_server), Ok(mut from_server)) = (upstream.try_clone(), upstream.try_clone())
    else {
        return;
    };
    if to_server.write_all(&buffered).is_err() {
        return;
    }
    record(seen, &buffered);
    let Ok(mut to_client) = client.try_clone() else {
        return;
    };
    let down = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from_server.read(&mut buf) {
            if n == 0 || to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut buf = [0u8; 16 * 1024];
    let mut from_client = reader.into_inner();
    while let Ok(n) = from_client.read(&mut buf) {
        if n == 0 || to_server.write_all(&buf[..n]).is_err() {
            break;
        }
        record(seen, &buf[..n]);
    }
    let _ = to_server.shutdown(Shutdown::Write);
    let _ = down.join();
}
