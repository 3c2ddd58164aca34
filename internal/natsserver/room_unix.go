//go:build unix

package natsserver

import "syscall"

// freeDisk is the space unprivileged writers may still use on dir's file
// system.
func freeDisk(dir string) (free int64, ok bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return int64(st.Bavail) * int64(st.Bsize), true, nil
}
