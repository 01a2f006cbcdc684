//! What a server answers: the reply styles of the tutorials, behind one flag.
//!
//! | `--reply`  | answer to `hello`              | where it comes from                     |
//! |------------|--------------------------------|-----------------------------------------|
//! | `received` | `Message received`             | the threaded-server and talker examples |
//! | `ack`      | `Server acknowledges: hello`   | the chat example                        |
//! | `echo`     | `Echo: hello`                  | the basic echo server                   |
//! | `upper`    | `Response: HELLO`              | the "complete" example                  |
//! | `command`  | `TIME` → the time, `ECHO x` → `x`, else `Unknown command` | the stateless server |
//!
//! Decoding the bytes (and answering `Error: Invalid encoding`) is the
//! server's job, shown in the lessons; this module only maps text to text.

use std::fmt;
use std::str::FromStr;

use crate::time::Utc;

/// The reply to bytes that are not UTF-8.
pub const INVALID_ENCODING: &str = "Error: Invalid encoding";

/// The reply style of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reply {
    /// `Message received`, whatever was sent.
    #[default]
    Received,
    /// `Server acknowledges: <message>`.
    Ack,
    /// `Echo: <message>`.
    Echo,
    /// `Response: <MESSAGE IN UPPER CASE>`.
    Upper,
    /// A tiny stateless protocol: `TIME` or `ECHO <text>`.
    Command,
}

impl Reply {
    /// The names `--reply` accepts, for `--help`.
    pub const NAMES: &'static str = "received | ack | echo | upper | command";

    /// The answer to one message. Each call stands alone: the server keeps no
    /// state between requests, so any request can be answered in any order,
    /// by any thread.
    pub fn respond(self, message: &str) -> String {
        match self {
            Reply::Received => "Message received".to_string(),
            Reply::Ack => prefixed("Server acknowledges: ", message),
            Reply::Echo => prefixed("Echo: ", message),
            Reply::Upper => prefixed("Response: ", &message.to_uppercase()),
            Reply::Command => {
                // `echo TIME | nc -u ...` sends a newline too; forgive it.
                let request = message.trim_end_matches(['\r', '\n']);
                if request == "TIME" {
                    Utc::now().iso8601()
                } else if let Some(text) = request.strip_prefix("ECHO ") {
                    text.to_string()
                } else {
                    "Unknown command".to_string()
                }
            }
        }
    }
}

/// `prefix` + `message` in one allocation of the right size (`format!` would
/// guess the size, and usually grow the string once more on every request).
fn prefixed(prefix: &str, message: &str) -> String {
    let mut reply = String::with_capacity(prefix.len() + message.len());
    reply.push_str(prefix);
    reply.push_str(message);
    reply
}

impl FromStr for Reply {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "received" => Ok(Reply::Received),
            "ack" => Ok(Reply::Ack),
            "echo" => Ok(Reply::Echo),
            "upper" => Ok(Reply::Upper),
            "command" => Ok(Reply::Command),
            _ => Err(format!("expected one of {}", Reply::NAMES)),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reply::Received => "received",
            Reply::Ack => "ack",
            Reply::Echo => "echo",
            Reply::Upper => "upper",
            Reply::Command => "command",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style() {
        assert_eq!(Reply::Received.respond("hi"), "Message received");
        assert_eq!(Reply::Ack.respond("hi"), "Server acknowledges: hi");
        assert_eq!(Reply::Echo.respond("hi"), "Echo: hi");
        assert_eq!(Reply::Upper.respond("héllo"), "Response: HÉLLO");
        assert_eq!(Reply::Command.respond("ECHO a b"), "a b");
        assert_eq!(Reply::Command.respond("ECHO x\n"), "x");
        assert_eq!(Reply::Command.respond("time"), "Unknown command");
        assert!(Reply::Command.respond("TIME").ends_with('Z'));
        for name in ["received", "ack", "echo", "upper", "command"] {
            assert_eq!(name.parse::<Reply>().unwrap().to_string(), name);
        }
        assert!("loud".parse::<Reply>().is_err());
    }
}
