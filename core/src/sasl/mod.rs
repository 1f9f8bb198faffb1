//! SASL for a ZooKeeper-compatible server, with no IO, clocks or randomness:
//!
//! - [`digest_md5`]: the DIGEST-MD5 mechanism (RFC 2831) exactly as the JDK's
//!   `com.sun.security.sasl.digest.DigestMD5Server`/`DigestMD5Client` run it for ZooKeeper
//!   (protocol `zookeeper`, server name `zk-sasl-md5`; `zookeeper-quorum`/`zk-quorum-sasl-md5`
//!   between servers). Nonces come from the caller.
//! - [`jaas`]: the JAAS login configuration file as the JDK's `ConfigFile` reads it, and the
//!   DIGEST-MD5 credentials ZooKeeper takes from its `Server`, `Client`, `QuorumServer` and
//!   `QuorumLearner` sections. The file's text comes from the caller.

pub mod digest_md5;
pub mod jaas;
pub mod quorum;

pub use digest_md5::{
    java_nonce, Authorization, DigestMd5Client, DigestMd5Server, PrincipalRules, SaslError,
};
pub use jaas::{ControlFlag, JaasConfig, JaasError, JaasSection, LoginModule};
