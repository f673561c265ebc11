package codec

import (
	"reflect"
	"unsafe"
)

// EncodeValue is Encode for a value whose type is known only at run time
// (an interface value, as a session's Put takes): v is stored exactly as
// Encode[T] stores it for T = v's dynamic type, so Decode[T] reads it back.
// In particular strings, byte slices and named types of them without
// marshalling methods are stored raw, not quoted by the codec. A nil v
// goes through the codec (JSON: null).
func EncodeValue(f Format, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return Encode(f, x)
	case []byte:
		return Encode(f, x)
	case nil:
		return Encode[any](f, nil)
	}
	rv := reflect.ValueOf(v)
	switch rawKindOf(rv.Type()) {
	case rawString:
		s := rv.String()
		return frame(f, unsafe.Slice(unsafe.StringData(s), len(s)), false)
	case rawBytes:
		return frame(f, rv.Bytes(), false)
	}
	c := f.codec()
	b, err := c.Marshal(v)
	if err != nil {
		return nil, encodeError(c.Name(), err)
	}
	return frame(f, b, true)
}
