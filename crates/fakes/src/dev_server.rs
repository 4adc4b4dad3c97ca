//! A test dev server (`dev_server.py`): what a session's `dev` command starts, in its
//! sandbox. Tests write [`SCRIPT`] into the repository and set the dev command to
//! `python3 dev_server.py`; it serves the checkout it runs in on `$PORT`, echoes WebSocket
//! text messages on `/ws`, answers its request headers on `/headers` and its preview
//! variables on `/env`, prints "ready" once it listens, and exits with N on `/crash?code=N`.

/// The program's source.
pub const SCRIPT: &str = include_str!("../dev_server.py");

/// Where tests put it in a repository.
pub const FILE: &str = "dev_server.py";

/// A masked WebSocket text frame, as a client sends it (messages under 126 bytes).
pub fn client_text_frame(text: &str) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let payload = text.as_bytes();
    assert!(payload.len() < 126, "short messages only");
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The text of an unmasked server frame (messages under 126 bytes), if `bytes` holds one.
pub fn server_text(bytes: &[u8]) -> Option<String> {
    let (&[first, length], rest) = bytes.split_first_chunk::<2>()?;
    let length = usize::from(length & 0x7F);
    (first == 0x81 && length < 126 && rest.len() >= length)
        .then(|| String::from_utf8_lossy(&rest[..length]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};

    fn get(port: u16, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x.localhost\r\nConnection: close\r\n\r\n").expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn it_serves_its_directory_echoes_websocket_messages_and_crashes_on_request() {
        let dir = scratch_dir();
        std::fs::write(dir.join(FILE), SCRIPT).expect("write the script");
        std::fs::write(dir.join("index.html"), "<h1>from this checkout</h1>").expect("write a page");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut server = Command::new("python3")
            .arg(FILE)
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("KOSUKE_PREVIEW_URL", "http://s1.localhost:9/")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut out = BufReader::new(server.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("read its first line");
        assert_eq!(first.trim(), format!("ready on {port}"));

        assert!(get(port, "/").contains("<h1>from this checkout</h1>"));
        assert!(get(port, "/env").contains(r#""KOSUKE_PREVIEW_URL": "http://s1.localhost:9/""#));

        let mut ws = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            ws,
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake");
        let mut reader = BufReader::new(ws.try_clone().expect("clone"));
        let mut status = String::new();
        reader.read_line(&mut status).expect("status");
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        let mut accept = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if line.to_ascii_lowercase().starts_with("sec-websocket-accept:") {
                accept = line;
            }
        }
        // RFC 6455's own example key and answer.
        assert!(accept.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{accept}");
        ws.write_all(&client_text_frame("hello")).expect("send a frame");
        let mut frame = [0u8; 13];
        reader.read_exact(&mut frame).expect("read the echo");
        assert_eq!(server_text(&frame).as_deref(), Some("echo: hello"));

        let _ = get(port, "/crash?code=7");
        assert_eq!(server.wait().expect("wait").code(), Some(7));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn scratch_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kosuke-dev-server-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make a directory");
        dir
    }
}
