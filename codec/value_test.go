package codec_test

import (
	"bytes"
	"testing"

	"github.com/redkit-go/redkit/codec"
)

type rawName string

type point struct{ X, Y int }

// EncodeValue stores a value of a dynamic type as Encode does for its
// static type, so Decode of that type reads it back.
func TestEncodeValue(t *testing.T) {
	for _, f := range []codec.Format{{}, {Codec: codec.MsgPack}, {Compression: codec.Gzip, CompressMin: 1}} {
		check := func(name string, v any, want []byte) {
			t.Helper()
			got, err := codec.EncodeValue(f, v)
			if err != nil {
				t.Fatalf("%s: EncodeValue: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: EncodeValue = %q; Encode = %q", name, got, want)
			}
		}
		s, _ := codec.Encode(f, "hello")
		check("string", "hello", s)
		b, _ := codec.Encode(f, []byte{1, 2, 3})
		check("[]byte", []byte{1, 2, 3}, b)
		n, _ := codec.Encode(f, rawName("named"))
		check("named string", rawName("named"), n)
		p, _ := codec.Encode(f, point{1, 2})
		check("struct", point{1, 2}, p)
		i, _ := codec.Encode(f, 42)
		check("int", 42, i)
		if got, err := codec.Decode[rawName](f, n); err != nil || got != "named" {
			t.Errorf("Decode[rawName] = %q, %v", got, err)
		}
	}
}
