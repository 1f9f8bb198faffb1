//! Words for what the core reports: a message's fields, why a vote changed, one line per event
//! of the log — in the page's language.
//!
//! The core says why a server changed state, and what else it did, as enums
//! ([`StateReason`], [`Notice`]): each has its words here in both languages, so a new reason
//! cannot reach the page untranslated (the match would not compile). What the simulator and its
//! clients still say in English sentences (a dropped message's reason, why a client
//! disconnected) [`core_sentence`] turns into Chinese by pattern, keeping the values; a
//! sentence it does not know is shown as written.

use crate::i18n::Lang;
use crate::index::LogIndex;
use std::fmt::Write as _;
use zk_core::peer::election::{Rule, VoteChange, NOBODY};
use zk_core::peer::messages::{Forwarded, PeerMsg, QuorumPacket, Vote};
use zk_core::peer::{HaltReason, Notice, PeerEvent, SnapshotProblem, StateReason};
use zk_core::request::Request;
use zk_core::txn::{Txn, TxnEntry};
use zk_core::ServerId;
use zk_sim::client::ClientEvent;
use zk_sim::TraceEvent;

/// What kind of thing an event is, for the log's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Message,
    Election,
    Zab,
    Disk,
    Client,
    Fault,
    Violation,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Message,
        Category::Election,
        Category::Zab,
        Category::Disk,
        Category::Client,
        Category::Fault,
        Category::Violation,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Category::Message => "messages",
            Category::Election => "election",
            Category::Zab => "zab",
            Category::Disk => "disk",
            Category::Client => "client",
            Category::Fault => "fault",
            Category::Violation => "violation",
        }
    }
}

/// The message kinds ZooKeeper's docs name, in the order a run meets them.
pub const MESSAGE_KINDS: [&str; 19] = [
    "NOTIFICATION",
    "FOLLOWERINFO",
    "OBSERVERINFO",
    "LEADERINFO",
    "ACKEPOCH",
    "DIFF",
    "TRUNC",
    "SNAP",
    "SNAPPIECE",
    "SNAPACK",
    "NEWLEADER",
    "UPTODATE",
    "PROPOSAL",
    "ACK",
    "COMMIT",
    "INFORM",
    "PING",
    "REQUEST",
    "SYNC",
];

/// The colour of a message kind (the legend and the animation share it).
pub fn kind_color(kind: &str) -> &'static str {
    match kind {
        "NOTIFICATION" => "#d97706",
        "FOLLOWERINFO" | "OBSERVERINFO" => "#0891b2",
        "LEADERINFO" => "#0284c7",
        "ACKEPOCH" => "#4f46e5",
        "NEWLEADER" => "#7c3aed",
        "UPTODATE" => "#a21caf",
        "DIFF" | "TRUNC" | "SNAP" | "SNAPPIECE" | "SNAPACK" => "#db2777",
        "PROPOSAL" => "#dc2626",
        "ACK" => "#ea580c",
        "COMMIT" => "#16a34a",
        "INFORM" => "#65a30d",
        "PING" => "#94a3b8",
        "REQUEST" => "#2563eb",
        "SYNC" => "#0d9488",
        _ => "#64748b",
    }
}

/// A server id, or "nobody" for an observer's vote.
pub fn sid(lang: Lang, s: ServerId) -> String {
    if s == NOBODY {
        lang.pick("nobody", "无人").to_string()
    } else {
        s.to_string()
    }
}

/// A vote as the docs write it: (leader, zxid, electionEpoch, peerEpoch).
pub fn vote(lang: Lang, v: &Vote) -> String {
    format!(
        "({}, {}, {}, {})",
        sid(lang, v.leader),
        v.zxid.pretty(),
        v.election_epoch,
        v.peer_epoch
    )
}

/// Which rule of "peerEpoch, then zxid, then server id" decided.
pub fn rule(lang: Lang, r: Rule) -> &'static str {
    match r {
        Rule::Epoch => lang.pick("its peerEpoch is larger", "它的 peerEpoch 更大"),
        Rule::Zxid => lang.pick(
            "same peerEpoch, its zxid is larger",
            "peerEpoch 相同，它的 zxid 更大",
        ),
        Rule::Sid => lang.pick(
            "same peerEpoch and zxid, its server id is larger",
            "peerEpoch 和 zxid 都相同，它的服务器 id 更大",
        ),
        Rule::Nobody => lang.pick(
            "any vote beats an observer's vote for nobody",
            "任何投票都胜过 observer 投给“无人”的票",
        ),
    }
}

/// Why a server changed its vote: step 1–2, 5 or 7 of FastLeaderElection.
pub fn vote_change(lang: Lang, why: &VoteChange) -> String {
    match why {
        VoteChange::Initial => lang
            .pick(
                "a new round: it votes for itself (its own id, last zxid and epoch)",
                "新的一轮：投给自己（自己的 id、最后 zxid 和 epoch）",
            )
            .to_string(),
        VoteChange::NewRound {
            round,
            from,
            rule: r,
        } => {
            let head = match lang {
                Lang::En => format!(
                    "server {from} is in a larger round ({round}): it adopts the round, clears its recvset and compares again"
                ),
                Lang::Zh => {
                    format!("服务器 {from} 处于更大的轮次（{round}）：采用该轮次，清空 recvset 后重新比较")
                }
            };
            match r {
                Some(r) => format!(
                    "{head}; {} {}",
                    lang.pick("it takes that vote because", "改投对方，因为"),
                    rule(lang, *r)
                ),
                None => format!(
                    "{head}; {}",
                    lang.pick("its own vote is still the better one", "自己的投票仍然更好")
                ),
            }
        }
        VoteChange::Better { from, rule: r } => match lang {
            Lang::En => format!(
                "server {from} proposed a better vote in this round: {}",
                rule(lang, *r)
            ),
            Lang::Zh => format!("服务器 {from} 在本轮提出了更好的投票：{}", rule(lang, *r)),
        },
    }
}

fn bytes(data: &[u8]) -> String {
    let s = String::from_utf8_lossy(data);
    let mut out: String = s.chars().take(48).collect();
    if s.chars().count() > 48 {
        out.push('…');
    }
    format!("{out:?}")
}

/// A transaction in one line: `0x00000001|00000003 create /a "x"`.
pub fn txn(e: &TxnEntry) -> String {
    let mut s = format!("{} {}", e.zxid().pretty(), e.txn.name());
    match &e.txn {
        Txn::Create { path, data, .. }
        | Txn::CreateContainer { path, data, .. }
        | Txn::CreateTtl { path, data, .. }
        | Txn::SetData { path, data, .. } => {
            let _ = write!(s, " {path} {}", bytes(data.as_deref().unwrap_or_default()));
        }
        other => {
            if let Some(p) = other.path() {
                let _ = write!(s, " {p}");
            }
        }
    }
    s
}

/// A message's fields, named as in ZooKeeper's records.
pub fn message_fields(lang: Lang, msg: &PeerMsg) -> Vec<(&'static str, String)> {
    match msg {
        PeerMsg::Election(n) => vec![
            ("leader", sid(lang, n.leader)),
            ("zxid", n.zxid.pretty()),
            ("electionEpoch", n.election_epoch.to_string()),
            ("peerEpoch", n.peer_epoch.to_string()),
            ("state", n.state.to_string()),
            ("sid", n.sid.to_string()),
        ],
        PeerMsg::Quorum(q) => match q {
            QuorumPacket::FollowerInfo(li) | QuorumPacket::ObserverInfo(li) => vec![
                ("sid", li.sid.to_string()),
                ("acceptedEpoch", li.accepted_epoch.to_string()),
                ("protocolVersion", format!("{:#x}", li.protocol)),
            ],
            QuorumPacket::LeaderInfo {
                new_epoch,
                protocol,
            } => vec![
                ("newEpoch", new_epoch.to_string()),
                ("protocolVersion", format!("{protocol:#x}")),
            ],
            QuorumPacket::AckEpoch {
                current_epoch,
                last_zxid,
            } => vec![
                (
                    "currentEpoch",
                    current_epoch.map_or("-1".to_string(), |e| e.to_string()),
                ),
                ("lastZxid", last_zxid.pretty()),
            ],
            QuorumPacket::Diff { zxid } | QuorumPacket::Trunc { zxid } => {
                vec![("zxid", zxid.pretty())]
            }
            QuorumPacket::Snap { zxid } => vec![("zxid", zxid.pretty())],
            QuorumPacket::SnapPiece { data, last } => vec![
                (
                    "snapshot",
                    format!("{} {}", data.len(), lang.pick("bytes", "字节")),
                ),
                ("last", last.to_string()),
            ],
            QuorumPacket::SnapAck { bytes } => {
                vec![("onDisk", format!("{bytes} {}", lang.pick("bytes", "字节")))]
            }
            QuorumPacket::Proposal(e) | QuorumPacket::Inform(e) => vec![
                ("zxid", e.zxid().pretty()),
                ("type", e.txn.name().to_string()),
                ("path", e.txn.path().unwrap_or("-").to_string()),
                ("session", e.hdr.session.to_string()),
                ("cxid", e.hdr.cxid.to_string()),
                ("txn", txn(e)),
            ],
            QuorumPacket::Ack { zxid } | QuorumPacket::Commit { zxid } => {
                vec![("zxid", zxid.pretty())]
            }
            QuorumPacket::NewLeader { zxid, .. } => vec![("zxid", zxid.pretty())],
            QuorumPacket::UpToDate => vec![],
            QuorumPacket::Ping { zxid } => vec![("round", zxid.0.to_string())],
            QuorumPacket::PingReply { zxid, sessions } => vec![
                ("round", zxid.0.to_string()),
                (
                    "sessions",
                    sessions
                        .iter()
                        .map(|(s, t)| format!("{s}:{t}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ],
            QuorumPacket::Request {
                session, cxid, op, ..
            } => vec![
                ("session", session.to_string()),
                ("cxid", cxid.to_string()),
                ("request", forwarded(op)),
            ],
            QuorumPacket::Revalidate { session, timeout } => vec![
                ("session", session.to_string()),
                ("timeout", timeout.to_string()),
            ],
            QuorumPacket::RevalidateReply { session, valid } => vec![
                ("session", session.to_string()),
                ("valid", valid.to_string()),
            ],
            QuorumPacket::Sync => vec![],
        },
    }
}

fn forwarded(op: &Forwarded) -> String {
    match op {
        Forwarded::Client(r) => request_text(r),
        Forwarded::CreateSession { timeout } => format!("createSession {timeout}"),
        Forwarded::CloseSession => "closeSession".into(),
        Forwarded::Sync { path } => format!("sync {path}"),
    }
}

/// A client request by name and path: `create /a`, `ping`.
fn request_text(r: &Request) -> String {
    match r.path() {
        Some(p) => format!("{} {p}", r.name()),
        None => r.name().to_string(),
    }
}

/// The same fields in one line (for the log): a transaction as [`txn`] writes it, last.
fn fields_inline(lang: Lang, msg: &PeerMsg) -> String {
    message_fields(lang, msg)
        .into_iter()
        .filter(|(k, _)| *k != "type" && *k != "path")
        .map(|(k, v)| if k == "txn" { v } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Partition groups: `{1,2} | {3}` (`sep` between the ids of a group).
pub fn groups(groups: &[Vec<ServerId>], sep: &str) -> String {
    groups
        .iter()
        .map(|g| {
            let ids: Vec<String> = g.iter().map(ServerId::to_string).collect();
            format!("{{{}}}", ids.join(sep))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The category of an event.
pub fn category(e: &TraceEvent) -> Category {
    match e {
        TraceEvent::Sent { .. }
        | TraceEvent::Delivered { .. }
        | TraceEvent::Dropped { .. }
        | TraceEvent::LinkDown { .. } => Category::Message,
        TraceEvent::Peer { event, .. } => match event {
            PeerEvent::State { .. }
            | PeerEvent::Vote { .. }
            | PeerEvent::Filed { .. }
            | PeerEvent::Finalizing { .. }
            | PeerEvent::Elected { .. } => Category::Election,
            _ => Category::Zab,
        },
        TraceEvent::DiskWrite { .. } => Category::Disk,
        TraceEvent::Client { .. } => Category::Client,
        TraceEvent::Violation(_) => Category::Violation,
        _ => Category::Fault,
    }
}

/// The message kind of a message event (Sent, Delivered, Dropped).
pub fn message_kind(e: &TraceEvent, idx: &LogIndex) -> Option<&'static str> {
    match e {
        TraceEvent::Sent { msg, .. } => Some(msg.kind()),
        TraceEvent::Delivered { id } | TraceEvent::Dropped { id, .. } => {
            idx.message(*id).map(|m| m.kind)
        }
        _ => None,
    }
}

/// Does the event concern server `s`?
pub fn involves(e: &TraceEvent, idx: &LogIndex, s: ServerId) -> bool {
    match e {
        TraceEvent::Sent { from, to, .. } => *from == s || *to == s,
        TraceEvent::Delivered { id } | TraceEvent::Dropped { id, .. } => {
            idx.message(*id).is_some_and(|m| m.from == s || m.to == s)
        }
        TraceEvent::LinkDown { at, peer } => *at == s || *peer == s,
        TraceEvent::Peer { server, .. }
        | TraceEvent::Started { server }
        | TraceEvent::Killed { server }
        | TraceEvent::Paused { server }
        | TraceEvent::Resumed { server }
        | TraceEvent::DiskWrite { server, .. } => *server == s,
        TraceEvent::Partition { .. } | TraceEvent::Healed | TraceEvent::Violation(_) => true,
        TraceEvent::Cut { from, to } => *from == s || *to == s,
        TraceEvent::Client { event, .. } => client_server(event) == Some(s),
    }
}

fn client_server(e: &ClientEvent) -> Option<ServerId> {
    match e {
        ClientEvent::Connected { server, .. }
        | ClientEvent::Disconnected { server, .. }
        | ClientEvent::Expired { server }
        | ClientEvent::Sent { server, .. }
        | ClientEvent::Reply { server, .. }
        | ClientEvent::Watch { server, .. } => Some(*server),
        ClientEvent::Lost { .. } => None,
    }
}

/// The servers an event is about, for the log's first column.
pub fn who(e: &TraceEvent, idx: &LogIndex) -> String {
    match e {
        TraceEvent::Sent { from, to, .. } => format!("{from}→{to}"),
        TraceEvent::Delivered { id } | TraceEvent::Dropped { id, .. } => idx
            .message(*id)
            .map_or_else(|| format!("#{id}"), |m| format!("{}→{}", m.from, m.to)),
        TraceEvent::LinkDown { at, .. }
        | TraceEvent::Peer { server: at, .. }
        | TraceEvent::Started { server: at }
        | TraceEvent::Killed { server: at }
        | TraceEvent::Paused { server: at }
        | TraceEvent::Resumed { server: at }
        | TraceEvent::DiskWrite { server: at, .. } => at.to_string(),
        TraceEvent::Cut { from, to } => format!("{from}↛{to}"),
        TraceEvent::Client { client, .. } => format!("c{}", client.0),
        _ => "*".into(),
    }
}

/// One line of the event log.
pub fn event(lang: Lang, e: &TraceEvent, idx: &LogIndex) -> String {
    let zh = lang == Lang::Zh;
    match e {
        TraceEvent::Sent {
            id,
            kind,
            msg,
            deliver_at,
            ..
        } => {
            let mut s = format!("{kind} #{id} {}", fields_inline(lang, msg));
            if deliver_at.is_none() {
                s.push_str(lang.pick(" (held back)", "（被扣留）"));
            }
            s
        }
        TraceEvent::Delivered { id } => match idx.message(*id) {
            Some(m) => format!("{} #{id} {}", m.kind, lang.pick("delivered", "送达")),
            None => format!("#{id} {}", lang.pick("delivered", "送达")),
        },
        TraceEvent::Dropped { id, why } => {
            let kind = idx.message(*id).map_or("", |m| m.kind);
            format!(
                "{kind} #{id} {}: {}",
                lang.pick("dropped", "被丢弃"),
                core_sentence(lang, why)
            )
        }
        TraceEvent::LinkDown { peer, .. } => {
            if zh {
                format!("与服务器 {peer} 的 quorum 连接断开")
            } else {
                format!("quorum connection to server {peer} is down")
            }
        }
        TraceEvent::Peer { event, .. } => peer_event(lang, event),
        TraceEvent::Started { .. } => lang.pick("process started", "进程启动").into(),
        TraceEvent::Killed { .. } => lang
            .pick(
                "process killed (its disk keeps what was written)",
                "进程被杀死（磁盘保留已写入的内容）",
            )
            .into(),
        TraceEvent::Paused { .. } => lang.pick("process paused", "进程暂停").into(),
        TraceEvent::Resumed { .. } => lang.pick("process resumed", "进程恢复").into(),
        TraceEvent::Partition { groups: g } => format!(
            "{} {}",
            lang.pick("network partition:", "网络分区："),
            groups(g, ",")
        ),
        TraceEvent::Cut { from, to } => {
            if zh {
                format!("单向断开：{from} 无法到达 {to}")
            } else {
                format!("one-way cut: {from} can no longer reach {to}")
            }
        }
        TraceEvent::Healed => lang
            .pick(
                "network healed: every server reaches every other",
                "网络恢复：所有服务器互通",
            )
            .into(),
        TraceEvent::DiskWrite { ops, .. } => format!(
            "{} {}",
            lang.pick("disk writes:", "磁盘写入："),
            ops.iter()
                .map(|o| disk_op(lang, o))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        TraceEvent::Client { event, .. } => client_event(lang, event),
        TraceEvent::Violation(v) => {
            format!("{} {v}", lang.pick("INVARIANT VIOLATED:", "不变量被破坏："))
        }
    }
}

fn disk_op(lang: Lang, op: &str) -> String {
    if lang == Lang::En {
        return op.to_string();
    }
    if let Some(rest) = op.strip_prefix("append ") {
        format!("追加 {rest}")
    } else if let Some(rest) = op.strip_prefix("truncate after ") {
        format!("截断 {rest} 之后的内容")
    } else if let Some(rest) = op.strip_prefix("snapshot at ") {
        format!("在 {rest} 处写快照")
    } else {
        op.to_string()
    }
}

fn peer_event(lang: Lang, e: &PeerEvent) -> String {
    let zh = lang == Lang::Zh;
    match e {
        PeerEvent::State { from, to, why } => {
            format!("{from} → {to}: {}", state_reason(lang, why))
        }
        PeerEvent::Vote { vote: v, why } => format!(
            "{} {}: {}",
            lang.pick("votes", "投票"),
            vote(lang, v),
            vote_change(lang, why)
        ),
        PeerEvent::Filed {
            from,
            vote: v,
            state,
            out_of_election,
        } => {
            let set = if *out_of_election {
                "outofelection"
            } else {
                "recvset"
            };
            if zh {
                format!(
                    "把服务器 {from} 的投票 {} {state} 记入 {set}",
                    vote(lang, v)
                )
            } else {
                format!(
                    "files server {from}'s vote {} {state} in its {set}",
                    vote(lang, v)
                )
            }
        }
        PeerEvent::Finalizing { until } => {
            if zh {
                format!("quorum 已同意本机的投票：等待 finalizeWait，直到 {until} ms，看有没有更好的投票")
            } else {
                format!("a quorum agrees with its vote: waits finalizeWait until {until} ms for a better one")
            }
        }
        PeerEvent::Elected { vote: v, state } => {
            if zh {
                format!(
                    "选举结束：leader 是 {}，本机成为 {state}",
                    sid(lang, v.leader)
                )
            } else {
                format!(
                    "election over: the leader is {}, it becomes {state}",
                    sid(lang, v.leader)
                )
            }
        }
        PeerEvent::AcceptedEpoch(e) => format!("acceptedEpoch = {e}"),
        PeerEvent::CurrentEpoch(e) => format!("currentEpoch = {e}"),
        PeerEvent::Proposed { entry } => {
            format!(
                "{} {} {}",
                lang.pick("proposes", "提议"),
                entry.zxid().pretty(),
                entry.txn.name()
            )
        }
        PeerEvent::Acked { from, zxid } => {
            if zh {
                format!("收到服务器 {from} 对 {} 的 ACK", zxid.pretty())
            } else {
                format!("ACK from server {from} for {}", zxid.pretty())
            }
        }
        PeerEvent::Committed { zxid } => {
            if zh {
                format!("提交到 {}（quorum 已 ACK）", zxid.pretty())
            } else {
                format!("commits up to {} (a quorum ACKed)", zxid.pretty())
            }
        }
        PeerEvent::Applied { entry } => {
            format!("{} {}", lang.pick("applies", "应用到数据树："), txn(entry))
        }
        PeerEvent::Sync {
            learner,
            mode,
            from,
            to,
        } => {
            if zh {
                format!(
                    "用 {mode} 同步 learner {learner}：{} → {}",
                    from.pretty(),
                    to.pretty()
                )
            } else {
                format!(
                    "syncs learner {learner} with {mode}: {} → {}",
                    from.pretty(),
                    to.pretty()
                )
            }
        }
        PeerEvent::Established { epoch } => {
            if zh {
                format!("epoch {epoch} 已获得 quorum：开始广播")
            } else {
                format!("epoch {epoch} has a quorum: broadcast begins")
            }
        }
        PeerEvent::Truncated { zxid } => {
            if zh {
                format!("截断日志到 {}", zxid.pretty())
            } else {
                format!("truncates its log to {}", zxid.pretty())
            }
        }
        PeerEvent::SnapshotInstalled { zxid } => {
            if zh {
                format!("装载 leader 的快照，截至 {}", zxid.pretty())
            } else {
                format!("installs the leader's snapshot up to {}", zxid.pretty())
            }
        }
        PeerEvent::SyncedBy { leader, mode, zxid } => {
            if zh {
                format!("leader {leader} 用 {mode} 同步本机（{}）", zxid.pretty())
            } else {
                format!("leader {leader} syncs it with {mode} ({})", zxid.pretty())
            }
        }
        PeerEvent::Notice(n) => notice(lang, n),
    }
}

fn client_event(lang: Lang, e: &ClientEvent) -> String {
    let zh = lang == Lang::Zh;
    match e {
        ClientEvent::Connected {
            server,
            session,
            timeout,
        } => {
            if zh {
                format!("连上服务器 {server}，会话 {session}，超时 {timeout} ms")
            } else {
                format!("connected to server {server}, session {session}, timeout {timeout} ms")
            }
        }
        ClientEvent::Disconnected { server, why } => {
            if zh {
                format!("与服务器 {server} 断开：{}", core_sentence(lang, why))
            } else {
                format!("disconnected from server {server}: {why}")
            }
        }
        ClientEvent::Expired { server } => {
            if zh {
                format!("服务器 {server} 说会话已过期")
            } else {
                format!("server {server} says the session expired")
            }
        }
        ClientEvent::Sent {
            server,
            xid,
            request,
        } => {
            let what = request_text(request);
            if zh {
                format!("向服务器 {server} 发送 {what}（xid {xid}）")
            } else {
                format!("sends {what} to server {server} (xid {xid})")
            }
        }
        ClientEvent::Reply {
            server,
            request,
            reply,
            ..
        } => {
            let what = request_text(request);
            let outcome = if reply.err.is_ok() {
                "OK".to_string()
            } else {
                reply.err.to_string()
            };
            if zh {
                format!(
                    "服务器 {server} 回复 {what}：{outcome}，zxid {}",
                    reply.zxid.pretty()
                )
            } else {
                format!(
                    "server {server} answers {what}: {outcome}, zxid {}",
                    reply.zxid.pretty()
                )
            }
        }
        ClientEvent::Lost { request, .. } => {
            if zh {
                format!("{} 的结果未知（ConnectionLoss）", request.name())
            } else {
                format!("{}: outcome unknown (ConnectionLoss)", request.name())
            }
        }
        ClientEvent::Watch { server, event } => {
            if zh {
                format!(
                    "服务器 {server} 触发 watch：{:?} {}",
                    event.event_type, event.path
                )
            } else {
                format!(
                    "watch fired by server {server}: {:?} {}",
                    event.event_type, event.path
                )
            }
        }
    }
}

/// English sentences the core writes, and their Chinese. `{}` stands for a value; the values
/// are carried over in order.
const SENTENCES: &[(&str, &str)] = &[
    (
        "dropped by hand: the quorum connection breaks",
        "被手动丢弃：quorum 连接随之断开",
    ),
    ("dropped by hand", "被手动丢弃"),
    ("receiver is down", "接收方已停止"),
    ("partitioned", "网络分区"),
    ("connection broke", "连接断开"),
    (
        "Client session timed out, have not heard from server in {}ms for session id {}",
        "客户端会话超时：{} 毫秒内没有收到服务器的消息（会话 id {}）",
    ),
    ("no session within {} ms", "{} 毫秒内未能建立会话"),
    (
        "Xid out of order. Got Xid {} with err {} expected Xid {}",
        "Xid 乱序：收到 Xid {}（错误码 {}），应为 Xid {}",
    ),
    ("session closed", "会话已关闭"),
    ("authentication failed", "认证失败"),
    ("moved by the user", "被用户切换"),
    ("abandoned", "被放弃"),
    (
        "this server is not serving clients: it is not in a quorum",
        "该服务器未对外服务：它不在 quorum 中",
    ),
];

/// Matches `s` against a template; returns the values where the `{}` are.
fn match_template<'a>(template: &str, s: &'a str) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split("{}").collect();
    let mut rest = s.strip_prefix(parts[0])?;
    let mut values = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let end = if last {
            if lit.is_empty() {
                rest.len()
            } else if rest.ends_with(lit) {
                rest.len() - lit.len()
            } else {
                return None;
            }
        } else {
            rest.find(lit)?
        };
        values.push(&rest[..end]);
        rest = &rest[end + lit.len()..];
    }
    rest.is_empty().then_some(values)
}

/// Why a server changed state, in the page's language.
pub fn state_reason(lang: Lang, why: &StateReason) -> String {
    if lang == Lang::En {
        return why.to_string();
    }
    match why {
        StateReason::Started => "服务器启动".into(),
        StateReason::Standalone => "单机模式".into(),
        StateReason::Elected => "当选 leader".into(),
        StateReason::Following { leader } => format!("跟随 leader {leader}"),
        StateReason::LeaderSilent { leader } => format!("leader {leader} 超时未响应"),
        StateReason::LostLeader { leader } => format!("与 leader {leader} 的连接断开"),
        StateReason::QuorumLost => "已同步的 follower 不足：失去 quorum".into(),
        StateReason::SyncTimedOut => "等待 quorum 个 follower 同步超时（initLimit）".into(),
        StateReason::ZxidRollover => {
            "zxid 低 32 位的计数器用尽：重新选举，开始新的 epoch".into()
        }
        StateReason::EpochBelowAccepted {
            leader,
            proposed,
            accepted,
        } => format!("leader {leader} 提议的 epoch {proposed} 小于本机已接受的 epoch {accepted}"),
        StateReason::TruncBelowApplied {
            leader,
            zxid,
            applied,
        } => format!("leader {leader} 要求截断到 {zxid}，低于本机已应用的 {applied}"),
        StateReason::BadSnapshot { leader, problem } => match problem {
            SnapshotProblem::WithoutSnap => {
                format!("leader {leader} 没有先发 SNAP 就发来快照数据")
            }
            SnapshotProblem::TrailingBytes { bytes } => {
                format!("leader {leader} 发来的快照结束后还多出 {bytes} 字节")
            }
            SnapshotProblem::EndedEarly { nodes } => {
                format!("leader {leader} 发来的快照在最后一个节点之前就结束了（已读 {nodes} 个）")
            }
            SnapshotProblem::WrongZxid { got, want } => format!(
                "leader {leader} 发来的快照停在 {got}，而不是 SNAP 所说的 {want}"
            ),
            SnapshotProblem::Unreadable { error } => {
                format!("leader {leader} 发来的快照无法读取：{error}")
            }
        },
        StateReason::EpochNotBelow {
            server,
            accepted,
            ours,
        } => format!("服务器 {server} 已接受 epoch {accepted}，不低于本机的（{ours}）：重新选举"),
        StateReason::FollowerAhead {
            follower,
            epoch,
            zxid,
            our_epoch,
            our_zxid,
        } => format!(
            "follower {follower} 比 leader 更新（它的 epoch {epoch}、zxid {zxid}；本机 {our_epoch}、{our_zxid}）"
        ),
        StateReason::DiskFull => {
            "磁盘已满：退出 quorum，也不参加选举，直到磁盘重新有空间".into()
        }
    }
}

/// What else a server did, in the page's language.
pub fn notice(lang: Lang, n: &Notice) -> String {
    if lang == Lang::En {
        return n.to_string();
    }
    match n {
        Notice::LearnerDisconnected { learner } => format!("learner {learner} 断开连接"),
        Notice::LearnerTimedOut { learner } => format!("learner {learner} 超时（syncLimit）"),
        Notice::ExpiringSession { session } => format!("会话 {session} 过期"),
        Notice::Serving { leader, epoch } => {
            format!("已在 epoch {epoch} 与 leader {leader} 同步：开始对外服务")
        }
        Notice::ReadOnly => "只读模式：不在 quorum 中，为只读客户端提供读服务".into(),
        Notice::DiskFull => {
            "磁盘已满：撤销尚未落盘的写入；在磁盘重新有空间之前拒绝写请求".into()
        }
        Notice::DiskSpaceBack => "磁盘重新有了空间：恢复接受写请求".into(),
        Notice::Halted { why } => match why {
            HaltReason::DiskFailed => {
                "磁盘写入失败：服务器停止运行，不再确认任何可能未持久化的写入".into()
            }
            HaltReason::DiskFullMidSync => {
                "leader 的 TRUNC 或 SNAP 正在替换本机历史时磁盘满了：内存与文件不再一致，服务器停止运行"
                    .into()
            }
        },
    }
}

/// A sentence of the core in the page's language.
pub fn core_sentence(lang: Lang, s: &str) -> String {
    sentence_from(SENTENCES, lang, s)
}

/// A sentence of the core in the page's language, by the first of `table`'s (English
/// template, Chinese template) pairs that matches it. In a Chinese template, `{}` takes the
/// next value and `{N}` the Nth.
pub fn sentence_from(table: &[(&str, &str)], lang: Lang, s: &str) -> String {
    if lang == Lang::En {
        return s.to_string();
    }
    for (en, zh) in table {
        let Some(values) = match_template(en, s) else {
            continue;
        };
        // `{}` takes the next value, `{N}` the Nth.
        let mut out = String::new();
        let mut next = 0;
        let mut rest = *zh;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').unwrap_or(0);
            let inner = &rest[open + 1..close];
            let i = if inner.is_empty() {
                next += 1;
                next - 1
            } else {
                inner.parse().unwrap_or(0)
            };
            out.push_str(values.get(i).copied().unwrap_or(""));
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        return out;
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sentences_in_chinese() {
        assert_eq!(
            state_reason(
                Lang::Zh,
                &StateReason::Following {
                    leader: ServerId(3)
                }
            ),
            "跟随 leader 3"
        );
        assert_eq!(
            notice(
                Lang::Zh,
                &Notice::Serving {
                    leader: ServerId(2),
                    epoch: 1
                }
            ),
            "已在 epoch 1 与 leader 2 同步：开始对外服务"
        );
        assert_eq!(
            state_reason(
                Lang::En,
                &StateReason::Following {
                    leader: ServerId(3)
                }
            ),
            "following leader 3"
        );
        assert_eq!(
            core_sentence(Lang::Zh, "dropped by hand: the quorum connection breaks"),
            "被手动丢弃：quorum 连接随之断开"
        );
        assert_eq!(core_sentence(Lang::Zh, "dropped by hand"), "被手动丢弃");
        assert_eq!(core_sentence(Lang::Zh, "something new"), "something new");
        // The client session's reasons for giving a connection up, as DropCause words them.
        let silent = zk_core::client::DropCause::Silent {
            ms: 2667,
            session: zk_core::SessionId(0x1234),
        };
        assert_eq!(
            core_sentence(Lang::Zh, &silent.to_string()),
            format!(
                "客户端会话超时：2667 毫秒内没有收到服务器的消息（会话 id {}）",
                zk_core::SessionId(0x1234)
            )
        );
    }

    #[test]
    fn rules_read_in_the_docs_order() {
        let why = VoteChange::Better {
            from: ServerId(3),
            rule: Rule::Sid,
        };
        assert!(vote_change(Lang::En, &why).contains("server id is larger"));
        assert!(vote_change(Lang::Zh, &why).contains("服务器 id 更大"));
    }
}
