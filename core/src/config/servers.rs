//! `server.N` lines (`QuorumPeer.QuorumServer`): addresses, ports, roles.

use super::*;

/// `ConfigUtils.getHostAndPort`: `host:a:b...` split on `:`, or `[v6]:a:b...` with the
/// bracketed host kept whole.
pub(super) fn host_and_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(inner) = s.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(format!("'{s}' starts with '[' but has no matching ']'"));
        };
        let host = &inner[..close];
        let after = &inner[close + 1..];
        let Some(ports) = after.strip_prefix(':') else {
            return Err(format!("'{s}' has no ':port' after ']'"));
        };
        if ports.is_empty() {
            return Err(format!("'{s}' has no port after the colon"));
        }
        let mut parts = vec![host.to_string()];
        parts.extend(java_split(ports, ':').into_iter().map(str::to_string));
        Ok(parts)
    } else {
        Ok(java_split(s, ':').into_iter().map(str::to_string).collect())
    }
}

pub(super) fn parse_port(what: &str, s: &str) -> Result<u16, String> {
    let s = java_trim(s);
    match java_parse_long(s) {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(_) | Err(NumError::TooLarge) => Err(format!(
            "{what} '{s}' is out of range: must be between 1 and 65535"
        )),
        Err(NumError::NotANumber) => Err(format!("{what} '{s}' is not a number")),
    }
}

pub(super) fn parse_role(s: &str) -> Result<PeerRole, String> {
    match java_trim(s).to_ascii_lowercase().as_str() {
        "participant" => Ok(PeerRole::Participant),
        "observer" => Ok(PeerRole::Observer),
        _ => Err(format!(
            "unknown role '{}': use participant or observer",
            java_trim(s)
        )),
    }
}

/// `QuorumServer`'s address string. Multiple addresses are allowed here; whether
/// `multiAddress.enabled` permits them is checked once every key is known.
pub(super) fn parse_server_value(id: ServerId, value: &str) -> Result<ServerSpec, String> {
    let form =
        "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";
    let server_client = java_split(value, ';');
    if server_client.is_empty() || server_client.len() > 2 {
        return Err(format!("'{value}' is malformed: {form}"));
    }
    let client = match server_client.get(1) {
        None => None,
        Some(client_part) => {
            let parts = host_and_port(java_trim(client_part))?;
            match parts.as_slice() {
                [port] => Some((None, parse_port("client port", port)?)),
                [host, port] => {
                    let host = java_trim(host);
                    if host.is_empty() {
                        return Err(format!("client address '{client_part}' has an empty host"));
                    }
                    Some((Some(host.to_string()), parse_port("client port", port)?))
                }
                _ => {
                    return Err(format!(
                        "client address '{client_part}' is malformed: expected [host:]port \
                         (IPv6 hosts in brackets)"
                    ))
                }
            }
        }
    };
    let mut addresses = Vec::new();
    let mut role: Option<PeerRole> = None;
    for address in java_split(server_client[0], '|') {
        let parts = host_and_port(java_trim(address))?;
        match parts.len() {
            0 | 1 => {
                return Err(format!(
                    "'{address}' is missing the quorum and election ports: {form}"
                ))
            }
            2 => return Err(format!("'{address}' is missing the election port: {form}")),
            3 | 4 => {}
            _ => {
                return Err(format!(
                    "'{address}' has too many ':'-separated fields (write IPv6 hosts in brackets, \
                     e.g. [::1]:2888:3888): {form}"
                ))
            }
        }
        let host = java_trim(&parts[0]);
        if host.is_empty() {
            return Err(format!("'{address}' has an empty host"));
        }
        let quorum = parse_port("quorum port", &parts[1])?;
        let election = parse_port("election port", &parts[2])?;
        if quorum == election {
            return Err(format!(
                "quorum port and election port must be different (both are {quorum})"
            ));
        }
        if let Some(r) = parts.get(3) {
            let r = parse_role(r)?;
            if role.is_some_and(|prev| prev != r) {
                return Err(format!(
                    "all addresses of server.{id} must have the same role, not both {} and {r}",
                    role.unwrap_or(r)
                ));
            }
            role = Some(r);
        }
        addresses.push((host.to_string(), quorum, election));
    }
    if addresses.is_empty() {
        return Err(format!("'{value}' is malformed: {form}"));
    }
    Ok(ServerSpec {
        id,
        addresses,
        role: role.unwrap_or(PeerRole::Participant),
        client,
    })
}

/// A non-negative id, as `Long.parseLong` reads it (`server.N`, `group.x`, `weight.x`, members).
pub(super) fn parse_id(s: &str) -> Option<u64> {
    java_parse_long(java_trim(s))
        .ok()
        .and_then(|v| u64::try_from(v).ok())
}
