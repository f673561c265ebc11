//go:build unix

package engine

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

func newCheckedConn(raw net.Conn) *checkedConn {
	c := &checkedConn{Conn: raw}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	p := &peeker{rc: rc}
	p.fn = p.peek // one method value per connection, not one closure per check
	c.check = p.check
	return c
}

// peeker looks at a socket without reading from it. A connection has one
// writer at a time, so its fields need no lock.
type peeker struct {
	rc   syscall.RawConn
	fn   func(fd uintptr)
	buf  [1]byte
	n    int
	perr error
}

func (p *peeker) peek(fd uintptr) {
	p.n, _, p.perr = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

func (p *peeker) check() error {
	// Control, not Read: Read would take the descriptor's read lock,
	// which a reader goroutine blocked in Read holds (the engine's
	// pipelined connections), and wait for it. A non-blocking peek needs
	// no lock.
	if err := p.rc.Control(p.fn); err != nil {
		return fmt.Errorf("%w: %w", errStaleConn, err)
	}
	switch n, perr := p.n, p.perr; {
	case errors.Is(perr, syscall.EAGAIN), errors.Is(perr, syscall.EINTR):
		return nil // nothing to read: alive
	case perr != nil:
		return fmt.Errorf("%w: %w", errStaleConn, perr)
	case n == 0:
		return errStaleConn // end of stream: the server closed it
	}
	return nil // unsolicited bytes: let the protocol deal with them
}
