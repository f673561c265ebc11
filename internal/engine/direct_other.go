//go:build !unix

package engine

import "net"

// newCheckedConn cannot peek at a socket here; a connection the server
// closed fails its next command, as in any pooled client.
func newCheckedConn(raw net.Conn) *checkedConn { return &checkedConn{Conn: raw} }
