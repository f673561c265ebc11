package codec

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// DefaultCompressMin is the CompressMin used when Format.CompressMin is 0:
// values shorter than 1 KiB rarely shrink enough to pay for compressing.
const DefaultCompressMin = 1024

// MaxDecodedSize caps how large a compressed value may grow when it is
// decompressed, in bytes; a frame that would exceed it is rejected with
// ErrDecode before or while it is decoded, so a small hostile value cannot
// exhaust memory. The default, 512 MiB, is Redis's largest string
// (proto-max-bulk-len). Set it, if at all, before any encoding or decoding
// starts; it is read without synchronisation.
var MaxDecodedSize = 512 << 20

// Marker is the 4-byte prefix of a framed value: 0xFF 'R' 'K' 'z'. A framed
// value is Marker, one byte naming the Compression of the rest, and the
// rest. 0xFF never occurs in UTF-8 text, so neither JSON nor any text value
// starts with it, and no MessagePack or protobuf encoding does either.
const Marker = "\xffRKz"

const frameHeader = len(Marker) + 1

// Format is how typed values are stored: a codec, and optional compression
// of values at least CompressMin bytes long. The zero Format stores JSON,
// uncompressed. A Format is a plain value, safe to share and copy, and
// Encode and Decode are safe for concurrent use with the same Format.
//
// Encoding is deterministic for every codec: the same value of the same
// type always gives the same bytes, which sets, sorted sets and list
// removal rely on.
//
// Layout of a stored value (see the package documentation):
//   - T is string or []byte (or a named type of either without marshalling
//     methods): the bytes themselves, not quoted;
//   - anything else: what Codec.Marshal returns;
//   - compressed: Marker, the Compression byte, the compressed bytes.
//
// Uncompressed values carry no marker, so other clients read them as they
// are. Decoding recognises the marker whatever Compression the reader has,
// so turning compression on or off, or changing the algorithm, never breaks
// reading values already stored.
type Format struct {
	// Codec marshals values other than strings and byte slices; nil means
	// JSON.
	Codec Codec
	// Compression compresses encoded values; None (the zero value) stores
	// them as they are.
	Compression Compression
	// CompressMin is the length, in bytes after marshalling, below which
	// values are stored uncompressed. 0 means DefaultCompressMin; 1 (or
	// less) tries every non-empty value. A value is stored compressed only
	// if that makes it smaller.
	CompressMin int
}

func (f Format) codec() Codec {
	if f.Codec == nil {
		return JSON
	}
	return f.Codec
}

// Encode returns the stored form of v under f, in a new slice the caller
// owns. Strings and byte slices are stored raw (and only copied, with no
// reflection); other values go through f.Codec. The result is compressed as
// f says, and framed with Marker when compressed (or when a raw value
// happens to start with Marker). Errors come from the codec (such as a
// value it cannot represent) or from an unknown Compression.
func Encode[T any](f Format, v T) ([]byte, error) {
	var payload []byte
	owned := false // payload is a new slice that may be returned as is
	switch rawKindFor[T]() {
	case rawString:
		s := *(*string)(unsafe.Pointer(&v))
		payload = unsafe.Slice(unsafe.StringData(s), len(s))
	case rawBytes:
		payload = *(*[]byte)(unsafe.Pointer(&v))
	default:
		c := f.codec()
		b, err := c.Marshal(v)
		if err != nil {
			return nil, encodeError(c.Name(), err)
		}
		payload, owned = b, true
	}
	return frame(f, payload, owned)
}

// frame compresses and frames payload as f says. payload is only read
// unless owned, in which case it may be returned.
func frame(f Format, payload []byte, owned bool) ([]byte, error) {
	if f.Compression >= numCompressions {
		return nil, fmt.Errorf("codec: unknown compression %d", uint8(f.Compression))
	}
	minLen := f.CompressMin
	if minLen == 0 {
		minLen = DefaultCompressMin
	}
	if f.Compression != None && len(payload) > 0 && len(payload) >= minLen {
		dst := make([]byte, frameHeader, frameHeader+compressedCap(f.Compression, len(payload)))
		copy(dst, Marker)
		dst[len(Marker)] = byte(f.Compression)
		out, err := compress(f.Compression, dst, payload)
		if err != nil {
			return nil, encodeError(f.Compression.String(), err)
		}
		if len(out) < len(payload) {
			return out, nil
		}
		// Not smaller: store it uncompressed.
	}
	if bytes.HasPrefix(payload, []byte(Marker)) {
		// A raw value that looks like a frame: frame it as stored (None)
		// so it reads back as itself.
		out := make([]byte, frameHeader+len(payload))
		copy(out, Marker)
		out[len(Marker)] = byte(None)
		copy(out[frameHeader:], payload)
		return out, nil
	}
	if owned {
		return payload, nil
	}
	if len(payload) == 0 {
		return []byte{}, nil
	}
	return bytes.Clone(payload), nil
}

// Decode returns the value stored in data, as written by Encode with any
// Format using the same codec. Compressed frames are recognised by Marker
// whatever f.Compression says. Strings and byte slices are read raw; a
// decoded []byte is a copy, so data may be reused afterwards.
//
// Errors wrap ErrDecode and name the codec or compression that failed:
// bytes the codec rejects, a corrupt, truncated or unknown frame, or one
// that would decompress beyond MaxDecodedSize. Decode never panics on bad
// input.
func Decode[T any](f Format, data []byte) (T, error) {
	var v T
	if k := rawKindFor[T](); k != notRaw {
		// v stays on the stack: the only allocation is the string or copy.
		err := decodeRaw(k, data, unsafe.Pointer(&v))
		return v, err
	}
	p := new(T)
	err := decodeCodec(f, data, p)
	return *p, err
}

// DecodeInto is Decode into *dst, for callers that reuse a value. Strings,
// byte slices and protobuf messages replace *dst; JSON and MessagePack
// decode into *dst as their Unmarshal does, keeping fields and map entries
// the data does not mention, so pass a zero value unless that is wanted.
// Errors are as for Decode; on error *dst may be partly written.
func DecodeInto[T any](f Format, data []byte, dst *T) error {
	if k := rawKindFor[T](); k != notRaw {
		return decodeRaw(k, data, unsafe.Pointer(dst))
	}
	return decodeCodec(f, data, dst)
}

// decodeRaw stores the payload of data in *dst, a string or []byte (or a
// named type of one) as k says.
func decodeRaw(k rawKind, data []byte, dst unsafe.Pointer) error {
	payload, owned, err := unframe(data)
	if err != nil {
		return err
	}
	if k == rawString {
		*(*string)(dst) = bytesToString(payload, owned)
	} else {
		*(*[]byte)(dst) = ownBytes(payload, owned)
	}
	return nil
}

func decodeCodec(f Format, data []byte, dst any) error {
	payload, _, err := unframe(data)
	if err != nil {
		return err
	}
	c := f.codec()
	if err := unmarshal(c, payload, dst); err != nil {
		return decodeError(c.Name(), err)
	}
	return nil
}

// unmarshal runs the codec, turning a panic inside it (a codec bug, or a
// user type's Unmarshal method) into an error: bad data must never crash
// the reader.
func unmarshal(c Codec, data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Unmarshal(data, v)
}

func bytesToString(b []byte, owned bool) string {
	if owned && len(b) > 0 {
		// A fresh decompression buffer nobody else sees: no second copy.
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func ownBytes(b []byte, owned bool) []byte {
	if owned {
		return b
	}
	if len(b) == 0 {
		return []byte{}
	}
	return bytes.Clone(b)
}

// unframe returns the payload of a stored value: data itself, or the
// decompressed contents of a frame (owned reports a new slice).
func unframe(data []byte) (payload []byte, owned bool, err error) {
	if len(data) < len(Marker) || string(data[:len(Marker)]) != Marker {
		return data, false, nil
	}
	if len(data) < frameHeader {
		return nil, false, decodeError("frame", errTruncated)
	}
	c, body := Compression(data[len(Marker)]), data[frameHeader:]
	if c == None {
		return body, false, nil
	}
	if c >= numCompressions {
		return nil, false, decodeError("frame", fmt.Errorf("unknown compression %d", uint8(c)))
	}
	out, err := decompressSafe(c, body)
	if err != nil {
		return nil, false, decodeError(c.String(), err)
	}
	return out, true, nil
}

func decompressSafe(c Compression, body []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return decompress(c, body, MaxDecodedSize)
}

// CompressionOf reports the Compression of a stored value: None when data
// is not compressed (including a stored frame), otherwise the algorithm
// named in its frame. It does not check the rest of data.
func CompressionOf(data []byte) Compression {
	if len(data) < frameHeader || string(data[:len(Marker)]) != Marker {
		return None
	}
	return Compression(data[len(Marker)])
}

type rawKind uint8

const (
	notRaw rawKind = iota
	rawString
	rawBytes
)

var rawKinds sync.Map // reflect.Type -> rawKind, for named string and []byte types

// Marshalling interfaces that make a string or []byte type go through its
// codec: the type says how it wants to be encoded.
var marshalTypes = []reflect.Type{
	reflect.TypeFor[json.Marshaler](), reflect.TypeFor[json.Unmarshaler](),
	reflect.TypeFor[encoding.TextMarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.BinaryUnmarshaler](),
	reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.CustomDecoder](),
	reflect.TypeFor[msgpack.Marshaler](), reflect.TypeFor[msgpack.Unmarshaler](),
	protoMessageType,
}

var byteType = reflect.TypeFor[byte]()

// rawKindFor is rawKindOf(T), with string and []byte found by a type
// switch, without reflection.
func rawKindFor[T any]() rawKind {
	switch any((*T)(nil)).(type) {
	case *string:
		return rawString
	case *[]byte:
		return rawBytes
	}
	return rawKindOf(reflect.TypeFor[T]())
}

// rawKindOf reports whether values of t are stored raw: t's underlying type
// is string or []byte and neither t nor *t has a marshalling method.
func rawKindOf(t reflect.Type) rawKind {
	var k rawKind
	switch t.Kind() {
	case reflect.String:
		k = rawString
	case reflect.Slice:
		if t.Elem() != byteType {
			return notRaw
		}
		k = rawBytes
	default:
		return notRaw
	}
	if v, ok := rawKinds.Load(t); ok {
		return v.(rawKind)
	}
	pt := reflect.PointerTo(t)
	for _, m := range marshalTypes {
		if pt.Implements(m) {
			k = notRaw
			break
		}
	}
	rawKinds.Store(t, k)
	return k
}
