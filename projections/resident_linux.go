package projections

import "golang.org/x/sys/unix"

// dropResident advises the kernel that the n mapped bytes at addr are not
// needed (MADV_DONTNEED): for a shared file mapping the pages leave the
// process's resident set and stay in the page cache.
func dropResident(addr uintptr, n int64) error {
	if n <= 0 {
		return nil
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(n), unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
