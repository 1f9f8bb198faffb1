//! Quorum SASL as ZooKeeper's `SaslQuorumAuthServer` / `SaslQuorumAuthLearner` run it, without
//! the sockets: each side is handed the peer's `QuorumAuthPacket`s (decoded by
//! [`crate::wire::decode_quorum_auth`]) and answers with the bytes to send and, at the end, the
//! outcome. The learner speaks first (an empty token); the server challenges, the learner
//! responds, the server answers SUCCESS with `rspauth` (or ERROR), at most five rounds.

use super::digest_md5::{DigestMd5Client, DigestMd5Server};
use crate::wire::{encode_quorum_auth, AUTH_ERROR, AUTH_IN_PROGRESS, AUTH_SUCCESS};
use std::collections::BTreeMap;

/// Rounds either side allows before giving up (`SaslQuorumAuthServer`'s limit).
pub const MAX_ROUNDS: u32 = 5;

/// How an exchange ended for the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The learner proved it knows a QuorumServer password.
    Authenticated,
    /// It did not (or did not try), and `quorum.auth.serverRequireSasl` is off: ZooKeeper
    /// lets it in all the same, which is how SASL is rolled onto an ensemble. The reason, for
    /// the log.
    LetIn(String),
    /// It did not, and authentication is required: the connection is refused.
    Refused(String),
}

/// What the server does with one packet: send `reply` (when not empty), and stop if `done`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStep {
    pub reply: Vec<u8>,
    pub done: Option<Admission>,
}

/// The server's side of one connection's exchange.
pub struct QuorumAuthServer {
    digest: DigestMd5Server,
    require: bool,
    rounds: u32,
}

impl QuorumAuthServer {
    /// `nonce`: unpredictable, drawn by the driver. `require`: `quorum.auth.serverRequireSasl`.
    pub fn new(nonce: String, require: bool) -> Self {
        QuorumAuthServer {
            digest: DigestMd5Server::quorum(nonce),
            require,
            rounds: 0,
        }
    }

    /// The learner's first bytes were not a `QuorumAuthPacket`: it does not authenticate.
    pub fn no_auth(&self) -> Admission {
        self.failed("it did not authenticate".into())
    }

    fn failed(&self, why: String) -> Admission {
        if self.require {
            Admission::Refused(format!("{why} (quorum.auth.serverRequireSasl)"))
        } else {
            Admission::LetIn(why)
        }
    }

    /// One packet from the learner; `users` are the QuorumServer section's.
    pub fn on_packet(
        &mut self,
        status: i32,
        token: &[u8],
        users: &BTreeMap<String, String>,
    ) -> ServerStep {
        self.rounds += 1;
        if status != AUTH_IN_PROGRESS {
            return ServerStep {
                reply: Vec::new(),
                done: Some(Admission::Refused(format!(
                    "quorum authentication status {status}"
                ))),
            };
        }
        if self.rounds > MAX_ROUNDS {
            return ServerStep {
                reply: Vec::new(),
                done: Some(Admission::Refused(format!(
                    "quorum SASL authentication took more than {MAX_ROUNDS} rounds"
                ))),
            };
        }
        match self.digest.evaluate(token, |u| users.get(u).cloned()) {
            Ok(reply) if self.digest.is_complete() => ServerStep {
                reply: encode_quorum_auth(AUTH_SUCCESS, &reply),
                done: Some(Admission::Authenticated),
            },
            Ok(reply) => ServerStep {
                reply: encode_quorum_auth(AUTH_IN_PROGRESS, &reply),
                done: None,
            },
            Err(e) => ServerStep {
                reply: encode_quorum_auth(AUTH_ERROR, &[]),
                done: Some(self.failed(format!("quorum SASL authentication failed: {e}"))),
            },
        }
    }
}

/// What the learner does with one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LearnerStep {
    /// Send these bytes and read the next packet.
    Send(Vec<u8>),
    /// The server accepted us (and proved it knows the password).
    Done,
    /// The exchange failed: the connection must not be used.
    Failed(String),
}

/// The learner's side of one connection's exchange.
pub struct QuorumAuthLearner {
    digest: DigestMd5Client,
    rounds: u32,
}

impl QuorumAuthLearner {
    /// The QuorumLearner section's credentials; `cnonce` drawn by the driver.
    pub fn new(username: &str, password: &str, cnonce: String) -> Self {
        QuorumAuthLearner {
            digest: DigestMd5Client::quorum(username, password, cnonce),
            rounds: 0,
        }
    }

    /// The first packet: IN_PROGRESS with an empty token.
    pub fn start(&self) -> Vec<u8> {
        encode_quorum_auth(AUTH_IN_PROGRESS, &[])
    }

    /// One packet from the server.
    pub fn on_packet(&mut self, status: i32, token: &[u8]) -> LearnerStep {
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return LearnerStep::Failed(format!(
                "quorum SASL authentication took more than {MAX_ROUNDS} rounds"
            ));
        }
        match status {
            AUTH_SUCCESS => match self.digest.respond(token) {
                Ok(_) => LearnerStep::Done,
                Err(e) => LearnerStep::Failed(format!(
                    "the server did not prove it knows our password: {e}"
                )),
            },
            AUTH_IN_PROGRESS => match self.digest.respond(token) {
                Ok(reply) => LearnerStep::Send(encode_quorum_auth(AUTH_IN_PROGRESS, &reply)),
                Err(e) => LearnerStep::Failed(e.to_string()),
            },
            _ => LearnerStep::Failed("the server refused our quorum SASL credentials".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode_quorum_auth;

    fn users() -> BTreeMap<String, String> {
        [("peer".to_string(), "secret".to_string())].into()
    }

    /// Runs both sides against each other; the server's admission.
    fn exchange(password: &str, require: bool) -> (Admission, LearnerStep) {
        let mut server = QuorumAuthServer::new("nonce".into(), require);
        let mut learner = QuorumAuthLearner::new("peer", password, "cnonce".into());
        let mut to_server = learner.start();
        loop {
            let (status, token, _) = decode_quorum_auth(&to_server).unwrap().unwrap();
            let step = server.on_packet(status, &token, &users());
            let (status, token, _) = decode_quorum_auth(&step.reply).unwrap().unwrap();
            let back = learner.on_packet(status, &token);
            match (step.done, back) {
                (Some(a), b) => return (a, b),
                (None, LearnerStep::Send(b)) => to_server = b,
                (None, other) => panic!("learner stopped early: {other:?}"),
            }
        }
    }

    #[test]
    fn right_password_authenticates_both_ways() {
        assert_eq!(
            exchange("secret", true),
            (Admission::Authenticated, LearnerStep::Done)
        );
    }

    #[test]
    fn wrong_password_is_refused_or_let_in_as_configured() {
        let (a, l) = exchange("guess", true);
        assert!(matches!(a, Admission::Refused(_)), "{a:?}");
        assert!(matches!(l, LearnerStep::Failed(_)), "{l:?}");
        let (a, _) = exchange("guess", false);
        assert!(matches!(a, Admission::LetIn(_)), "{a:?}");
        let s = QuorumAuthServer::new("n".into(), true);
        assert!(matches!(s.no_auth(), Admission::Refused(_)));
    }
}
