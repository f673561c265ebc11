// Package optcheck builds the errors that the packages' Options.Validate
// return, so that every package names a bad field, and its value, the same
// way: "cache: Options.TTL must not be negative (got -1s)".
package optcheck

import (
	"errors"
	"fmt"
)

// Check collects the problems of one options value.
type Check struct {
	typ  string // "cache: Options"
	errs []error
}

// For returns a Check for the options type typ, named with its package
// ("lock: RedlockOptions").
func For(typ string) *Check { return &Check{typ: typ} }

// Add records that field is wrong: format and args say how.
func (c *Check) Add(field, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s.%s %s", c.typ, field, fmt.Sprintf(format, args...)))
}

// Err returns every problem recorded, joined; nil when there was none.
func (c *Check) Err() error { return errors.Join(c.errs...) }

// NonNegative records field as wrong when v is negative.
func NonNegative[N ~int | ~int64](c *Check, field string, v N) {
	if v < 0 {
		c.Add(field, "must not be negative (got %v)", v)
	}
}
