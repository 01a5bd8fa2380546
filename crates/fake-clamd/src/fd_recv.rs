//! One `recvmsg` on a unix stream socket that also takes the descriptors passed with the
//! bytes (`SCM_RIGHTS`, CLAMD-FILDES-1), at most a given number. The control buffer has room
//! for no more: the kernel closes the rest and flags the message `MSG_CTRUNC`, so a peer that
//! passes hundreds of descriptors costs the reader only that many, each owned (closed when
//! dropped). Read with libc rather than nix: nix refuses to list the control messages of a
//! truncated message, and the descriptors the kernel did install would stay open, unowned.
//! Shared by the fake's unix listener and the harness's recording proxy.

use std::io;
use std::mem::size_of;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The most descriptors one read can take ([`recv_with_fds`]'s control buffer).
pub const MAX_FDS: usize = 8;

/// One read: how many bytes landed in the caller's buffer, the descriptors passed with them,
/// and whether the sender passed more than were taken (the kernel closed the others).
#[derive(Debug, Default)]
pub struct Received {
    pub n: usize,
    pub fds: Vec<OwnedFd>,
    pub cut: bool,
}

/// One `recvmsg` from `fd` into `buf` with room for `max_fds` descriptors (at most
/// [`MAX_FDS`]). Non-blocking use: call it from `try_io` once the socket is readable.
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8], max_fds: usize) -> io::Result<Received> {
    let max_fds = max_fds.clamp(1, MAX_FDS);
    // u64s: the control buffer must be aligned for `cmsghdr`; 16 of them hold the header
    // and MAX_FDS ints with room to spare
    let mut control = [0u64; 16];
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let room = unsafe { libc::CMSG_SPACE((max_fds * size_of::<libc::c_int>()) as u32) };
    let room = (room as usize).min(size_of::<[u64; 16]>());
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty one.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = room as _;
    // SAFETY: msg points at live buffers of the lengths it states.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled msg's control buffer (cmsg_len of a truncated SCM_RIGHTS
    // message counts only the descriptors it installed); the walk stays inside it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                let len = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                for i in 0..len / size_of::<libc::c_int>() {
                    // the kernel has just installed this descriptor for us alone
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        n: n as usize,
        fds,
        cut: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}
