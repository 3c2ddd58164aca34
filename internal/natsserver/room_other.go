//go:build !unix

package natsserver

// freeDisk cannot tell free space here: only max_store is checked.
func freeDisk(string) (int64, bool, error) { return 0, false, nil }
