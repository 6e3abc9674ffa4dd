//! Inbound TCP connections from the kernel's socket tables
//! (`/proc/net/tcp`, `/proc/net/tcp6`; one line per socket:
//! `sl local_address rem_address st ...`, addresses as hex `ADDR:PORT`).

use std::collections::HashSet;
use std::fs;
use std::io;

/// `st` of a listening socket (`TCP_LISTEN`).
const LISTEN: &str = "0A";

/// One connection, by its two ends as the table writes them. Its state is
/// left out: a connection seen established and later in `TIME_WAIT` is the
/// same connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Connection {
    pub local: String,
    pub remote: String,
}

struct Row<'a> {
    local: &'a str,
    remote: &'a str,
    local_port: u16,
    state: &'a str,
}

fn rows(table: &str) -> impl Iterator<Item = Row<'_>> {
    table.lines().skip(1).filter_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let (local, remote, state) = (fields.next()?, fields.next()?, fields.next()?);
        let (_, port) = local.rsplit_once(':')?;
        Some(Row {
            local,
            remote,
            local_port: u16::from_str_radix(port, 16).ok()?,
            state,
        })
    })
}

/// The connections in `tables` (their text) whose local port has a
/// listening socket and is not in `ignore_ports`: connections to this pod's
/// servers, not the ones it opened itself.
pub fn parse_inbound(tables: &[String], ignore_ports: &[u16]) -> Vec<Connection> {
    let listening: HashSet<u16> = tables
        .iter()
        .flat_map(|t| rows(t))
        .filter(|r| r.state == LISTEN && !ignore_ports.contains(&r.local_port))
        .map(|r| r.local_port)
        .collect();
    tables
        .iter()
        .flat_map(|t| rows(t))
        .filter(|r| r.state != LISTEN && listening.contains(&r.local_port))
        .map(|r| Connection {
            local: r.local.to_string(),
            remote: r.remote.to_string(),
        })
        .collect()
}

/// [`parse_inbound`] of the files at `paths`; a missing one (no IPv6) is
/// empty, an unreadable IPv4 table is an error.
pub fn inbound_connections(paths: &[&str], ignore_ports: &[u16]) -> io::Result<Vec<Connection>> {
    let mut tables = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        match fs::read_to_string(path) {
            Ok(text) => tables.push(text),
            Err(e) if i > 0 && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(parse_inbound(&tables, ignore_ports))
}
