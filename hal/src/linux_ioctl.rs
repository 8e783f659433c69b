//! The Linux ioctls the framebuffer display needs that no maintained crate wraps safely:
//! reading the framebuffer's screen information (`FBIOGET_VSCREENINFO`, `FBIOGET_FSCREENINFO`)
//! and switching the console between text and graphics (`KDGETMODE`, `KDSETMODE`).
//!
//! This is the crate's one FFI edge, so it alone allows unsafe code: an ioctl is a C call
//! that writes through a raw pointer. Each call passes a pointer to a live, properly sized
//! `#[repr(C)]` value (or a plain integer) on a descriptor the caller keeps open; the kernel
//! writes at most `size_of` that value. Everything decoded from the answers is done in safe
//! code by the callers.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use nix::libc::{c_int, c_ulong};

/// `struct fb_bitfield` of `<linux/fb.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbBitfield {
    pub offset: u32,
    pub length: u32,
    pub msb_right: u32,
}

/// `struct fb_var_screeninfo` of `<linux/fb.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbVarScreeninfo {
    pub xres: u32,
    pub yres: u32,
    pub xres_virtual: u32,
    pub yres_virtual: u32,
    pub xoffset: u32,
    pub yoffset: u32,
    pub bits_per_pixel: u32,
    pub grayscale: u32,
    pub red: FbBitfield,
    pub green: FbBitfield,
    pub blue: FbBitfield,
    pub transp: FbBitfield,
    pub nonstd: u32,
    pub activate: u32,
    pub height: u32,
    pub width: u32,
    pub accel_flags: u32,
    pub pixclock: u32,
    pub left_margin: u32,
    pub right_margin: u32,
    pub upper_margin: u32,
    pub lower_margin: u32,
    pub hsync_len: u32,
    pub vsync_len: u32,
    pub sync: u32,
    pub vmode: u32,
    pub rotate: u32,
    pub colorspace: u32,
    pub reserved: [u32; 4],
}

/// `struct fb_fix_screeninfo` of `<linux/fb.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FbFixScreeninfo {
    pub id: [u8; 16],
    pub smem_start: c_ulong,
    pub smem_len: u32,
    pub type_: u32,
    pub type_aux: u32,
    pub visual: u32,
    pub xpanstep: u16,
    pub ypanstep: u16,
    pub ywrapstep: u16,
    pub line_length: u32,
    pub mmio_start: c_ulong,
    pub mmio_len: u32,
    pub accel: u32,
    pub capabilities: u16,
    pub reserved: [u16; 2],
}

/// Console modes of `KDSETMODE` (`<linux/kd.h>`).
pub(crate) const KD_TEXT: c_int = 0;
pub(crate) const KD_GRAPHICS: c_int = 1;

nix::ioctl_read_bad!(fbioget_vscreeninfo, 0x4600, FbVarScreeninfo);
nix::ioctl_read_bad!(fbioget_fscreeninfo, 0x4602, FbFixScreeninfo);
nix::ioctl_read_bad!(kdgetmode, 0x4B3B, c_int);
nix::ioctl_write_int_bad!(kdsetmode, 0x4B3A);

/// The variable and fixed screen information of an open framebuffer device.
pub(crate) fn screeninfo(fb: &File) -> io::Result<(FbVarScreeninfo, FbFixScreeninfo)> {
    let mut var = FbVarScreeninfo::default();
    let mut fix = FbFixScreeninfo::default();
    // SAFETY: `fb` is open for the whole call and both pointers are to live values of the
    // exact structs these requests fill.
    unsafe {
        fbioget_vscreeninfo(fb.as_raw_fd(), &mut var)?;
        fbioget_fscreeninfo(fb.as_raw_fd(), &mut fix)?;
    }
    Ok((var, fix))
}

/// The console's mode (`KD_TEXT` or `KD_GRAPHICS`).
pub(crate) fn console_mode(tty: &File) -> io::Result<c_int> {
    let mut mode: c_int = KD_TEXT;
    // SAFETY: `tty` is open and `mode` is a live int, the type KDGETMODE writes.
    unsafe { kdgetmode(tty.as_raw_fd(), &mut mode)? };
    Ok(mode)
}

/// Switches the console to `mode`.
pub(crate) fn set_console_mode(tty: &File, mode: c_int) -> io::Result<()> {
    // SAFETY: `tty` is open; KDSETMODE takes its argument by value and writes nothing back.
    unsafe { kdsetmode(tty.as_raw_fd(), mode)? };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structs_have_the_kernels_sizes() {
        // <linux/fb.h> on 64-bit Linux: 160 and 80 bytes.
        assert_eq!(std::mem::size_of::<FbVarScreeninfo>(), 160);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<FbFixScreeninfo>(), 80);
    }

    #[test]
    fn a_plain_file_is_no_framebuffer_and_no_console() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(screeninfo(&file).unwrap_err().raw_os_error(), Some(nix::libc::ENOTTY));
        assert_eq!(console_mode(&file).unwrap_err().raw_os_error(), Some(nix::libc::ENOTTY));
        assert_eq!(set_console_mode(&file, KD_GRAPHICS).unwrap_err().raw_os_error(), Some(nix::libc::ENOTTY));
    }
}
