//! The Rust record layout (`src/records.rs`) against the C one
//! (`src/bpf/records.h`) as clang compiled it: sizes, field names and offsets
//! of every record struct, and the values of every shared constant, read from
//! the BTF of the object the crate embeds.
//!
//! A small BTF reader lives here (header, type section, string section; only
//! what the comparison needs), so the check runs without bpftool or clang.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::mem::{offset_of, size_of};

use object::{Object, ObjectSection};
use oispd_receiver_ebpf::records::*;

const BTF_KIND_INT: u32 = 1;
const BTF_KIND_ARRAY: u32 = 3;
const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_UNION: u32 = 5;
const BTF_KIND_ENUM: u32 = 6;
const BTF_KIND_FUNC_PROTO: u32 = 13;
const BTF_KIND_VAR: u32 = 14;
const BTF_KIND_DATASEC: u32 = 15;
const BTF_KIND_DECL_TAG: u32 = 17;
const BTF_KIND_ENUM64: u32 = 19;

/// A struct as BTF describes it: size and (name, byte offset) per member.
#[derive(Debug)]
struct BtfStruct {
    size: u32,
    members: Vec<(String, u32)>,
}

/// Structs and enums by name.
#[derive(Default)]
struct Btf {
    structs: HashMap<String, BtfStruct>,
    enums: HashMap<String, Vec<(String, i64)>>,
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn parse_btf(data: &[u8]) -> Btf {
    assert_eq!(u16::from_le_bytes([data[0], data[1]]), 0xeb9f, "BTF magic");
    let hdr_len = u32_at(data, 4) as usize;
    let type_off = hdr_len + u32_at(data, 8) as usize;
    let type_len = u32_at(data, 12) as usize;
    let str_off = hdr_len + u32_at(data, 16) as usize;
    let str_len = u32_at(data, 20) as usize;
    let strings = &data[str_off..str_off + str_len];
    let name = |off: u32| -> String {
        let s = &strings[off as usize..];
        let end = s.iter().position(|&c| c == 0).unwrap();
        String::from_utf8(s[..end].to_vec()).unwrap()
    };

    let mut btf = Btf::default();
    let types = &data[type_off..type_off + type_len];
    let mut pos = 0;
    while pos < types.len() {
        let name_off = u32_at(types, pos);
        let info = u32_at(types, pos + 4);
        let size = u32_at(types, pos + 8);
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let kind_flag = info >> 31 == 1;
        pos += 12;
        match kind {
            BTF_KIND_INT | BTF_KIND_VAR | BTF_KIND_DECL_TAG => pos += 4,
            BTF_KIND_ARRAY => pos += 12,
            BTF_KIND_STRUCT | BTF_KIND_UNION => {
                let mut members = Vec::with_capacity(vlen);
                for i in 0..vlen {
                    let m = pos + i * 12;
                    let bit_offset = u32_at(types, m + 8);
                    let bit_offset = if kind_flag {
                        bit_offset & 0xff_ffff
                    } else {
                        bit_offset
                    };
                    assert_eq!(bit_offset % 8, 0, "no bitfields in records");
                    members.push((name(u32_at(types, m)), bit_offset / 8));
                }
                pos += 12 * vlen;
                if kind == BTF_KIND_STRUCT && name_off != 0 {
                    btf.structs
                        .insert(name(name_off), BtfStruct { size, members });
                }
            }
            BTF_KIND_ENUM => {
                let values = (0..vlen)
                    .map(|i| {
                        let m = pos + i * 8;
                        (
                            name(u32_at(types, m)),
                            i64::from(u32_at(types, m + 4) as i32),
                        )
                    })
                    .collect();
                pos += 8 * vlen;
                if name_off != 0 {
                    btf.enums.insert(name(name_off), values);
                }
            }
            BTF_KIND_FUNC_PROTO => pos += 8 * vlen,
            BTF_KIND_DATASEC | BTF_KIND_ENUM64 => pos += 12 * vlen,
            // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
            _ => {}
        }
    }
    btf
}

fn object_btf() -> Btf {
    let file = object::File::parse(oispd_receiver_ebpf::object()).expect("ELF");
    let section = file.section_by_name(".BTF").expect(".BTF section");
    parse_btf(section.data().expect("BTF data"))
}

/// (C struct name, Rust size, Rust fields in order with their offsets).
type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

macro_rules! layout {
    ($c:literal, $t:ty, [$($f:ident),* $(,)?]) => {
        ($c, size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])
    };
}

fn rust_layouts() -> Vec<Layout> {
    vec![
        layout!("oisp_hdr", Hdr, [ts_ns, pid, tid, kind, flags, data_len]),
        layout!("oisp_addr", Addr, [family, port, addr]),
        layout!(
            "oisp_tls_data",
            TlsData,
            [hdr, conn, full_len, gap_bytes, fd, _pad]
        ),
        layout!(
            "oisp_tls_bind",
            TlsBind,
            [hdr, conn, fd, protocol, _pad, local, peer]
        ),
        layout!("oisp_tls_free", TlsFree, [hdr, conn]),
        layout!(
            "oisp_exec",
            Exec,
            [
                hdr,
                ppid,
                old_tid,
                uid,
                gid,
                cgroup_id,
                comm,
                filename_len,
                args_len,
                args_truncated
            ]
        ),
        layout!("oisp_exit", Exit, [hdr, exit_status, _pad, comm]),
        layout!("oisp_fork", Fork, [hdr, child_pid, _pad]),
        layout!(
            "oisp_connect",
            Connect,
            [hdr, fd, ret, protocol, _pad0, _pad1, local, peer]
        ),
        layout!(
            "oisp_accept",
            Accept,
            [hdr, listen_fd, fd, protocol, _pad0, _pad1, local, peer]
        ),
        layout!("oisp_dns", Dns, [hdr, fd, full_len, peer, _pad]),
        layout!("oisp_file_open", FileOpen, [hdr, dfd, ret, flags, mode]),
        layout!("oisp_file_write", FileWrite, [hdr, fd, _pad, count]),
        layout!(
            "oisp_file_read",
            FileRead,
            [hdr, fd, _pad, bytes, offset, size]
        ),
        layout!("oisp_file_delete", FileDelete, [hdr, dfd, flags]),
        layout!(
            "oisp_file_rename",
            FileRename,
            [hdr, old_dfd, new_dfd, flags, old_len, _pad]
        ),
        layout!("oisp_exec_map", ExecMap, [hdr, dev, ino]),
        layout!("oisp_file_key", FileKey, [dev, ino]),
    ]
}

/// Scenario: every record struct of records.h, as compiled into the object.
/// Guarantees: the Rust mirror has the same size and the same fields, in the
/// same order, at the same offsets.
#[test]
fn record_structs_match_the_compiled_object() {
    let btf = object_btf();
    for (c_name, size, fields) in rust_layouts() {
        let c = btf
            .structs
            .get(c_name)
            .unwrap_or_else(|| panic!("struct {c_name} missing from the object's BTF"));
        assert_eq!(c.size as usize, size, "size of struct {c_name}");
        let c_fields: Vec<(&str, usize)> = c
            .members
            .iter()
            .map(|(n, o)| (n.as_str(), *o as usize))
            .collect();
        assert_eq!(c_fields, fields, "fields of struct {c_name}");
    }
}

fn enum_values(btf: &Btf, name: &str) -> HashMap<String, i64> {
    btf.enums
        .get(name)
        .unwrap_or_else(|| panic!("enum {name} missing from the object's BTF"))
        .iter()
        .cloned()
        .collect()
}

/// Scenario: the constant sets of records.h (limits, record kinds, flags, drop
/// counters, pid flags, activity modes) and the Rust constants.
/// Guarantees: every C constant has a Rust twin with the same value.
#[test]
fn constants_match_the_compiled_object() {
    let btf = object_btf();
    let expect: &[(&str, &[(&str, i64)])] = &[
        (
            "oisp_limits",
            &[
                ("OISP_COMM_LEN", COMM_LEN as i64),
                ("OISP_MAX_BODY_LIMIT", MAX_BODY_LIMIT as i64),
                ("OISP_EXEC_FILENAME_MAX", EXEC_FILENAME_MAX as i64),
                ("OISP_EXEC_ARGS_MAX", EXEC_ARGS_MAX as i64),
                ("OISP_PATH_MAX", PATH_MAX as i64),
                ("OISP_DNS_PAYLOAD_MAX", DNS_PAYLOAD_MAX as i64),
            ],
        ),
        (
            "oisp_record_kind",
            &[
                ("OISP_REC_TLS_DATA", kind::TLS_DATA as i64),
                ("OISP_REC_TLS_FREE", kind::TLS_FREE as i64),
                ("OISP_REC_TLS_BIND", kind::TLS_BIND as i64),
                ("OISP_REC_EXEC", kind::EXEC as i64),
                ("OISP_REC_EXIT", kind::EXIT as i64),
                ("OISP_REC_FORK", kind::FORK as i64),
                ("OISP_REC_CONNECT", kind::CONNECT as i64),
                ("OISP_REC_ACCEPT", kind::ACCEPT as i64),
                ("OISP_REC_DNS", kind::DNS as i64),
                ("OISP_REC_FILE_OPEN", kind::FILE_OPEN as i64),
                ("OISP_REC_FILE_WRITE", kind::FILE_WRITE as i64),
                ("OISP_REC_EXEC_MAP", kind::EXEC_MAP as i64),
                ("OISP_REC_FILE_READ", kind::FILE_READ as i64),
                ("OISP_REC_FILE_DELETE", kind::FILE_DELETE as i64),
                ("OISP_REC_FILE_RENAME", kind::FILE_RENAME as i64),
            ],
        ),
        (
            "oisp_record_flags",
            &[
                ("OISP_F_WRITE", flags::WRITE as i64),
                ("OISP_F_READ_FAULT", flags::READ_FAULT as i64),
                ("OISP_F_INFERRED", flags::INFERRED as i64),
                ("OISP_F_EX", flags::EX as i64),
                ("OISP_F_BIND_PENDING", flags::BIND_PENDING as i64),
                ("OISP_F_AEAD", flags::AEAD as i64),
                ("OISP_F_TLS12", flags::TLS12 as i64),
            ],
        ),
        (
            "oisp_drop_counter",
            &[
                ("OISP_DROP_TLS_RECORDS", drop_counter::TLS_RECORDS as i64),
                ("OISP_DROP_TLS_BYTES", drop_counter::TLS_BYTES as i64),
                ("OISP_DROP_ACTIVITY", drop_counter::ACTIVITY as i64),
                (
                    "OISP_DROP_CALL_MAP_FULL",
                    drop_counter::CALL_MAP_FULL as i64,
                ),
                ("OISP_DROP_SCRATCH_BUSY", drop_counter::SCRATCH_BUSY as i64),
                ("OISP_DROP_READ_FAULTS", drop_counter::READ_FAULTS as i64),
                ("OISP_DROP_AEAD_SHAPE", drop_counter::AEAD_SHAPE as i64),
                ("OISP_DROP_COUNTERS", drop_counter::COUNT as i64),
            ],
        ),
        (
            "oisp_pid_flags",
            &[
                ("OISP_PID_SKIP", pid_flags::SKIP as i64),
                ("OISP_PID_TRACE", pid_flags::TRACE as i64),
                ("OISP_PID_AEAD", pid_flags::AEAD as i64),
            ],
        ),
        (
            "oisp_activity_mode",
            &[
                ("OISP_ACTIVITY_OFF", activity_mode::OFF as i64),
                ("OISP_ACTIVITY_AGENTS", activity_mode::AGENTS as i64),
                ("OISP_ACTIVITY_ALL", activity_mode::ALL as i64),
            ],
        ),
    ];
    for (enum_name, values) in expect {
        let c = enum_values(&btf, enum_name);
        let rust: HashMap<String, i64> = values.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        assert_eq!(c, rust, "constants of enum {enum_name}");
    }
}

/// Scenario: the knobs user space sets at load time.
/// Guarantees: each is a 4-byte variable in the object's .rodata.
#[test]
fn knobs_exist() {
    let file = object::File::parse(oispd_receiver_ebpf::object()).expect("ELF");
    use object::ObjectSymbol;
    for knob in [
        oispd_receiver_ebpf::knobs::MAX_BODY_BYTES,
        oispd_receiver_ebpf::knobs::OWN_TGID,
        oispd_receiver_ebpf::knobs::TARGET_TGID,
        oispd_receiver_ebpf::knobs::ACTIVITY_MODE,
        oispd_receiver_ebpf::knobs::WAKEUP_BYTES,
    ] {
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok(knob))
            .unwrap_or_else(|| panic!("knob {knob} missing"));
        assert_eq!(sym.size(), 4, "size of knob {knob}");
    }
}
