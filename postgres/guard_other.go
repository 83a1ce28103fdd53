//go:build !linux

package postgres

import (
	"syscall"
	"time"
)

// userTimeoutControl: TCP_USER_TIMEOUT is Linux-only; elsewhere keepalive
// and the stall watcher bound a silent server.
func userTimeoutControl(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
