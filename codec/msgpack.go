package codec

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

// msgpackEncoder is a pooled encoder with its output buffer. Reset clears
// an encoder's flags, so they are set once at creation and only the writer
// is swapped (ResetWriter keeps them).
type msgpackEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var msgpackEncoders = sync.Pool{New: func() any {
	e := &msgpackEncoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.SetSortMapKeys(true)
	e.enc.UseCompactInts(true)
	e.enc.SetCustomStructTag("json")
	return e
}}

type msgpackDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackDecoders = sync.Pool{New: func() any {
	d := &msgpackDecoder{}
	// A bytes.Reader is an io.ByteScanner, so the decoder reads it directly
	// without buffering ahead; ResetReader keeps the settings below.
	d.dec = msgpack.NewDecoder(&d.r)
	d.dec.SetCustomStructTag("json")
	d.dec.UseLooseInterfaceDecoding(true)
	return d
}}

// maxPooledBuffer keeps one huge value from pinning memory in the pool.
const maxPooledBuffer = 64 << 10

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.buf.Reset()
	e.enc.ResetWriter(&e.buf)
	err := e.enc.Encode(v)
	var out []byte
	if err == nil {
		// SetSortMapKeys sorts only map[string]string, map[string]bool and
		// map[string]any; any other map (map[string]int, map[int]string,
		// map[any]any) comes out in Go's random order, so those values are
		// rewritten (TestDeterministicEncoding, TestMsgpackKeyOrder and
		// FuzzRoundTrip fail without it).
		if msgpackMayHoldMaps(reflect.TypeOf(v)) {
			out = canonicalMsgpack(e.buf.Bytes())
		} else {
			out = bytes.Clone(e.buf.Bytes())
		}
	}
	if e.buf.Cap() <= maxPooledBuffer {
		msgpackEncoders.Put(e)
	}
	return out, err
}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	// Validate first: the library (v5.4.1) sizes what it decodes from
	// declared lengths. DecodeMap makes a map of the declared size, and
	// decodeSliceValue's allocation limit never applies (it tests
	// flags&disableAllocLimitFlag != 1, which always holds), so 5 bytes
	// declaring a []T of 2^32-1 elements ask for 481 GB, and the runtime's
	// out-of-memory is fatal, not a panic to recover. Without this check
	// TestMsgpackHostileLengths and FuzzDecode's corpus
	// (testdata/fuzz/FuzzDecode) end that way.
	var traps []int
	end, err := skipMsgpack(data, 0, 0, &traps)
	if err != nil {
		return err
	}
	if end != len(data) {
		return errMsgpackTrailing
	}
	d := msgpackDecoders.Get().(*msgpackDecoder)
	if traps == nil {
		d.r.Reset(data)
		d.dec.ResetReader(&d.r)
	} else {
		d.dec.ResetReader(&msgpackGuard{b: data, traps: traps})
	}
	d.dec.SetMapDecoder(decodeMapAny) // ResetReader clears it
	err = d.dec.Decode(v)
	d.r.Reset(nil)
	d.dec.ResetReader(&d.r)
	msgpackDecoders.Put(d)
	return err
}

var errMsgpackTrailing = errors.New("msgpack: trailing bytes after value")

// decodeMapAny decodes a map held in an interface{}: a map[string]any when
// every key is a string (the library's default), else a map[any]any, where
// the library would fail.
func decodeMapAny(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n == -1 {
		return nil, err
	}
	m := make(map[string]any, min(n, 1024)) // n is checked, but stay cheap
	for i := range n {
		c, err := d.PeekCode()
		if err != nil {
			return nil, err
		}
		if !msgpcode.IsString(c) {
			return decodeMapAnyKeys(d, m, n-i)
		}
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if m[k], err = d.DecodeInterfaceLoose(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// decodeMapAnyKeys decodes the last n entries of a map whose first entries,
// all with string keys, are in done.
func decodeMapAnyKeys(d *msgpack.Decoder, done map[string]any, n int) (any, error) {
	m := make(map[any]any, len(done)+min(n, 1024))
	for k, v := range done {
		m[k] = v
	}
	for range n {
		k, err := d.DecodeInterfaceLoose()
		if err != nil {
			return nil, err
		}
		if k != nil && !reflect.TypeOf(k).Comparable() {
			return nil, fmt.Errorf("msgpack: map key of type %T cannot be a Go map key", k)
		}
		if m[k], err = d.DecodeInterfaceLoose(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Types whose encoding can contain a MessagePack map that the library does
// not sort: anything reaching a Go map or an interface, or a custom
// encoder. Computed once per type.
var msgpackMapTypes sync.Map // reflect.Type -> bool

var (
	timeType             = reflect.TypeFor[time.Time]()
	msgpackCustomEncoder = reflect.TypeFor[msgpack.CustomEncoder]()
	msgpackMarshaler     = reflect.TypeFor[msgpack.Marshaler]()
	binaryMarshalerType  = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType    = reflect.TypeFor[encoding.TextMarshaler]()
)

func msgpackMayHoldMaps(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if v, ok := msgpackMapTypes.Load(t); ok {
		return v.(bool)
	}
	r := mayHoldMaps(t, map[reflect.Type]bool{})
	msgpackMapTypes.Store(t, r)
	return r
}

func mayHoldMaps(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a cycle: the answer comes from the other branches
	}
	seen[t] = true
	if t == timeType {
		return false
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(msgpackCustomEncoder) || pt.Implements(msgpackMarshaler) {
		return true // opaque: it may encode a map of its own
	}
	if pt.Implements(binaryMarshalerType) || pt.Implements(textMarshalerType) {
		return false // encoded as bytes or a string
	}
	switch t.Kind() {
	case reflect.Map, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return mayHoldMaps(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && mayHoldMaps(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
