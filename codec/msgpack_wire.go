package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// This file reads the MessagePack wire format without decoding values:
// skipMsgpack validates one value and finds its end, canonicalMsgpack
// rewrites an encoding with every map's entries sorted.

// maxMsgpackDepth bounds nesting so hostile input cannot exhaust the stack.
const maxMsgpackDepth = 10000

var (
	errMsgpackTruncated = errors.New("msgpack: truncated value")
	errMsgpackDepth     = errors.New("msgpack: nesting too deep")
)

// msgpackHeader parses the header of the value at b[i]. It returns the
// header length, the number of payload bytes that follow it (for strings,
// binaries and extensions) and the number of child values (array elements,
// or twice the map entries). isMap reports a map; isStr a string.
func msgpackHeader(b []byte, i int) (hdr, payload, children int, isMap, isStr bool, err error) {
	if i >= len(b) {
		return 0, 0, 0, false, false, errMsgpackTruncated
	}
	c := b[i]
	// need returns the big-endian length stored in the n bytes after the code.
	need := func(n int) (int, bool) {
		if len(b)-i-1 < n {
			return 0, false
		}
		var v uint64
		for _, x := range b[i+1 : i+1+n] {
			v = v<<8 | uint64(x)
		}
		return int(v), true
	}
	var ok bool
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return 1, 0, 0, false, false, nil
	case c <= 0x8f:
		return 1, 0, 2 * int(c&0x0f), true, false, nil
	case c <= 0x9f:
		return 1, 0, int(c & 0x0f), false, false, nil
	case c <= 0xbf:
		return 1, int(c & 0x1f), 0, false, true, nil
	}
	switch c {
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n := 1 << (c - 0xc4)
		if payload, ok = need(n); !ok {
			break
		}
		return 1 + n, payload, 0, false, false, nil
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		n := 1 << (c - 0xc7)
		if payload, ok = need(n); !ok {
			break
		}
		return 2 + n, payload, 0, false, false, nil
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return 5, 0, 0, false, false, nil
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return 9, 0, 0, false, false, nil
	case 0xcc, 0xd0: // uint8, int8
		return 2, 0, 0, false, false, nil
	case 0xcd, 0xd1: // uint16, int16
		return 3, 0, 0, false, false, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1/2/4/8/16: type, data
		return 2, 1 << (c - 0xd4), 0, false, false, nil
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n := 1 << (c - 0xd9)
		if payload, ok = need(n); !ok {
			break
		}
		return 1 + n, payload, 0, false, true, nil
	case 0xdc, 0xdd: // array 16/32
		n := 2 << (c - 0xdc)
		if children, ok = need(n); !ok {
			break
		}
		return 1 + n, 0, children, false, false, nil
	case 0xde, 0xdf: // map 16/32
		n := 2 << (c - 0xde)
		if children, ok = need(n); !ok {
			break
		}
		return 1 + n, 0, 2 * children, true, false, nil
	default: // 0xc1 is never used
		return 0, 0, 0, false, false, fmt.Errorf("msgpack: invalid code 0x%02x", c)
	}
	return 0, 0, 0, false, false, errMsgpackTruncated
}

// skipMsgpack checks that b[i:] starts with one well-formed value and
// returns the index just past it. Every declared length is checked against
// the bytes that remain, so a valid result bounds what a decoder allocates.
//
// The library reads an extension whose body starts with a map header as
// that map (DecodeMapLen skips extension headers), parsing the body, which
// this walk treats as opaque, as MessagePack. When traps is not nil, the
// position of every such body is appended to it, so that the decoder can be
// stopped if it reads one as a map header (see msgpackGuard).
func skipMsgpack(b []byte, i, depth int, traps *[]int) (int, error) {
	if depth > maxMsgpackDepth {
		return 0, errMsgpackDepth
	}
	hdr, payload, children, _, _, err := msgpackHeader(b, i)
	if err != nil {
		return 0, err
	}
	// Each child takes at least one byte.
	if rest := len(b) - i - hdr; rest < 0 || payload < 0 || children < 0 || payload > rest || children > rest-payload {
		return 0, errMsgpackTruncated
	}
	if traps != nil && payload > 0 && isMsgpackExt(b[i]) && isMsgpackMap(b[i+hdr]) {
		*traps = append(*traps, i+hdr)
	}
	i += hdr + payload
	for range children {
		if i, err = skipMsgpack(b, i, depth+1, traps); err != nil {
			return 0, err
		}
	}
	return i, nil
}

func isMsgpackExt(c byte) bool { return c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8 }

func isMsgpackMap(c byte) bool { return c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf }

var errMsgpackExtMap = errors.New("msgpack: extension read as a map")

// msgpackGuard is the decoder's input when the value holds extensions that
// the library could read as maps: it refuses to read a trapped position
// byte by byte, which the library only does when it takes an extension's
// body for a map header. Extension decoders (time, registered types) read
// bodies with Read and are unaffected. Without it the extension cases of
// TestMsgpackHostileLengths, and FuzzDecode's corpus, make DecodeMap
// allocate a map of 0xdfdfdfdf entries (a fatal out-of-memory), and
// TestMsgpackTimeLikeMapHeader decodes a time as a map.
type msgpackGuard struct {
	b     []byte
	i     int
	traps []int // ascending
}

func (g *msgpackGuard) Read(p []byte) (int, error) {
	if g.i >= len(g.b) {
		return 0, io.EOF
	}
	n := copy(p, g.b[g.i:])
	g.i += n
	return n, nil
}

func (g *msgpackGuard) ReadByte() (byte, error) {
	if g.i >= len(g.b) {
		return 0, io.EOF
	}
	if _, found := slices.BinarySearch(g.traps, g.i); found {
		return 0, errMsgpackExtMap
	}
	g.i++
	return g.b[g.i-1], nil
}

func (g *msgpackGuard) UnreadByte() error {
	if g.i == 0 {
		return errors.New("msgpack: unread at start")
	}
	g.i--
	return nil
}

// canonicalMsgpack returns b with the entries of every map sorted by key.
// It returns b itself when it is already canonical, and b unchanged when it
// is not well formed (the encoder wrote it, so that does not happen).
func canonicalMsgpack(b []byte) []byte {
	end, sorted, err := checkCanonical(b, 0, 0)
	if err != nil || end != len(b) {
		return bytes.Clone(b)
	}
	if sorted {
		return bytes.Clone(b)
	}
	out, _, err := appendCanonical(make([]byte, 0, len(b)), b, 0)
	if err != nil {
		return bytes.Clone(b)
	}
	return out
}

// checkCanonical is skipMsgpack that also reports whether every map in the
// value is already in canonical order.
func checkCanonical(b []byte, i, depth int) (end int, sorted bool, err error) {
	if depth > maxMsgpackDepth {
		return 0, false, errMsgpackDepth
	}
	hdr, payload, children, isMap, _, err := msgpackHeader(b, i)
	if err != nil {
		return 0, false, err
	}
	if rest := len(b) - i - hdr; rest < 0 || payload < 0 || children < 0 || payload > rest || children > rest-payload {
		return 0, false, errMsgpackTruncated
	}
	i += hdr + payload
	sorted = true
	// Keys must not decrease; equal keys (possible with interface keys)
	// are ordered by value.
	var prevKey, prevVal, key []byte
	tie := false
	for n := range children {
		start := i
		var s bool
		if i, s, err = checkCanonical(b, i, depth+1); err != nil {
			return 0, false, err
		}
		sorted = sorted && s
		if !isMap {
			continue
		}
		if n%2 == 0 {
			key = b[start:i]
			tie = false
			if prevKey != nil {
				c := compareMsgpackKeys(prevKey, key)
				sorted = sorted && c <= 0
				tie = c == 0
			}
			continue
		}
		val := b[start:i]
		if tie && bytes.Compare(prevVal, val) > 0 {
			sorted = false
		}
		prevKey, prevVal = key, val
	}
	return i, sorted, nil
}

// appendCanonical appends the canonical form of the value at b[i] to dst.
func appendCanonical(dst, b []byte, i int) ([]byte, int, error) {
	hdr, payload, children, isMap, _, err := msgpackHeader(b, i)
	if err != nil {
		return nil, 0, err
	}
	if rest := len(b) - i - hdr; rest < 0 || payload < 0 || children < 0 || payload > rest || children > rest-payload {
		return nil, 0, errMsgpackTruncated
	}
	dst = append(dst, b[i:i+hdr+payload]...)
	i += hdr + payload
	if !isMap {
		for range children {
			if dst, i, err = appendCanonical(dst, b, i); err != nil {
				return nil, 0, err
			}
		}
		return dst, i, nil
	}
	// Canonicalise every key and value into scratch, then emit the entries
	// in sorted order.
	type entry struct{ k0, k1, v1 int } // key = scratch[k0:k1], value = scratch[k1:v1]
	entries := make([]entry, children/2)
	var scratch []byte
	for n := range entries {
		e := &entries[n]
		e.k0 = len(scratch)
		if scratch, i, err = appendCanonical(scratch, b, i); err != nil {
			return nil, 0, err
		}
		e.k1 = len(scratch)
		if scratch, i, err = appendCanonical(scratch, b, i); err != nil {
			return nil, 0, err
		}
		e.v1 = len(scratch)
	}
	slices.SortStableFunc(entries, func(x, y entry) int {
		if c := compareMsgpackKeys(scratch[x.k0:x.k1], scratch[y.k0:y.k1]); c != 0 {
			return c
		}
		return bytes.Compare(scratch[x.k1:x.v1], scratch[y.k1:y.v1])
	})
	for _, e := range entries {
		dst = append(dst, scratch[e.k0:e.v1]...)
	}
	return dst, i, nil
}

// compareMsgpackKeys orders encoded keys: strings first, by their bytes
// (the order SetSortMapKeys produces, so its output needs no rewrite), then
// every other key by its encoding.
func compareMsgpackKeys(a, b []byte) int {
	sa, aok := msgpackString(a)
	sb, bok := msgpackString(b)
	switch {
	case aok && bok:
		return bytes.Compare(sa, sb)
	case aok:
		return -1
	case bok:
		return 1
	}
	return bytes.Compare(a, b)
}

// msgpackString returns the bytes of an encoded string.
func msgpackString(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	switch c := b[0]; {
	case c >= 0xa0 && c <= 0xbf:
		return b[1:], true
	case c == 0xd9 && len(b) >= 2:
		return b[2:], true
	case c == 0xda && len(b) >= 3:
		return b[3:], true
	case c == 0xdb && len(b) >= 5:
		return b[5:], true
	}
	return nil, false
}
