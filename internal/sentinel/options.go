package sentinel

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// Defaults for Options.
const (
	// DefaultRefreshInterval is how often every sentinel is asked for the
	// master when Options.RefreshInterval is zero.
	DefaultRefreshInterval = time.Second

	// DefaultTimeout bounds each dial and each command when
	// Options.Timeout is zero.
	DefaultTimeout = time.Second
)

// Options configures a Watcher. Addrs and MasterName are required; every
// other zero field means its documented default.
type Options struct {
	// Addrs are the sentinels, host:port. Every one of them is watched;
	// sentinels not listed are not discovered.
	Addrs []string

	// MasterName is the name the sentinels monitor the master set under.
	MasterName string

	// Username and Password are the sentinels' own credentials (AUTH),
	// none when Password is empty.
	Username, Password string

	// TLS, when not nil, is used to dial the sentinels. Each sentinel is
	// verified against its own host: a config without ServerName is cloned
	// per host with ServerName set to it (see TLSFor).
	TLS *tls.Config

	// NodeUsername, NodePassword and NodeTLS are the data nodes'
	// credentials and TLS, used to check with ROLE that a server is a
	// master before reporting it. TLS is per host as for the sentinels.
	NodeUsername, NodePassword string
	NodeTLS                    *tls.Config

	// Dialer dials the sentinels and the data nodes; each dial is also
	// bounded by Timeout.
	Dialer net.Dialer

	// ClientName is set with CLIENT SETNAME on every connection, so the
	// Watcher's connections can be told apart in CLIENT LIST. None when
	// empty.
	ClientName string

	// Timeout bounds each dial (with the AUTH and CLIENT SETNAME after it)
	// and each command; default DefaultTimeout.
	Timeout time.Duration

	// RefreshInterval is how often every sentinel is asked for the master,
	// in case an event was missed; default DefaultRefreshInterval.
	RefreshInterval time.Duration

	// Logger receives what return values cannot show: switches, lost and
	// restored subscriptions, answers ignored. Nil discards.
	Logger *slog.Logger
}

// normalize returns a copy of o with defaults applied, or an error naming
// each field that is wrong.
func (o *Options) normalize() (Options, error) {
	if o == nil {
		return Options{}, errors.New("sentinel: nil *Options")
	}
	n := *o
	n.Addrs = slices.Clone(o.Addrs)
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sentinel: Options.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(n.Addrs) == 0 {
		bad("Addrs", "at least one sentinel is required")
	}
	for i, a := range n.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("Addrs", "%q is not host:port: %v", a, err)
		} else if slices.Contains(n.Addrs[:i], a) {
			bad("Addrs", "%q is listed twice", a)
		}
	}
	if n.MasterName == "" {
		bad("MasterName", "required")
	}
	if n.Timeout < 0 {
		bad("Timeout", "must not be negative, got %v", n.Timeout)
	}
	if n.RefreshInterval < 0 {
		bad("RefreshInterval", "must not be negative, got %v", n.RefreshInterval)
	}
	if len(errs) > 0 {
		return Options{}, errors.Join(errs...)
	}
	if n.Timeout == 0 {
		n.Timeout = DefaultTimeout
	}
	if n.RefreshInterval == 0 {
		n.RefreshInterval = DefaultRefreshInterval
	}
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	return n, nil
}

// TLSFor returns the TLS configuration to dial addr (host:port) with: nil
// for a nil cfg, cfg itself when it sets ServerName, and otherwise a clone
// of cfg with ServerName set to addr's host, so that each server is
// verified against its own name. cfg is never modified. The engine should
// dial the master with TLSFor(cfg, Watcher.Master()) too.
//
// A ServerName set in cfg is used for every server, as crypto/tls does: a
// configuration whose ServerName was pinned to one sentinel's host cannot
// verify the other sentinels, nor the master.
func TLSFor(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil || cfg.ServerName != "" {
		return cfg
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c := cfg.Clone()
	c.ServerName = host
	return c
}
