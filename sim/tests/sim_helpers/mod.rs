//! Helpers shared by the tests that drive the simulated ensemble (`zk_sim`).
#![allow(dead_code)]

use zk_core::acl::Acl;
use zk_core::request::{CreateRequest, Request};
use zk_core::txn::op;
use zk_core::ServerId;

pub fn sid(i: u64) -> ServerId {
    ServerId(i)
}

/// A plain persistent create of `path` holding `data`, open to anyone.
pub fn create(path: &str, data: &[u8]) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    }
}
