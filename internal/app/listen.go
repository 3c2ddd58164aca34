package app

import (
	"fmt"
	"net"
	"strconv"
)

// splitListen parses host:port for the embedded server ("" = default; port 0
// or -1 picks a free port, for tests).
func splitListen(s string) (string, int, error) {
	if s == "" {
		return "127.0.0.1", 4222, nil
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %q: %w", s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("--listen %q: bad port", s)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}
