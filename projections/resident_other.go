//go:build !linux

package projections

// dropResident does nothing where MADV_DONTNEED's meaning for shared file
// mappings is not Linux's.
func dropResident(uintptr, int64) error { return nil }
