package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// fuzzSeeds are valid frames of every algorithm, truncated frames, frames
// with hostile declared sizes, and plain codec bytes.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		nil,
		[]byte("hello"),
		[]byte(`{"id":1,"customer":{"name":"Ada"},"tags":{"a":"b"}}`),
		[]byte(`"quoted"`),
		[]byte("42"),
		[]byte(Marker),
		[]byte(Marker + "\x00stored"),
		[]byte(Marker + "\x09unknown"),
		[]byte(Marker + "\x05\xff\xff\xff\xff\x0f"), // s2: 4 GiB declared
		[]byte(Marker + "\x05\xfe\xff\xff\x0f\x00"), // s2: under 4 GiB, no data
		[]byte(Marker + "\x04\x28\xb5\x2f\xfd\xe0\x00\x00\x00\x00\x00\x01\x00\x00\x0b"), // zstd: 2^40 declared
		[]byte(Marker + "\x04\x28\xb5\x2f\xfd\xa0\x00\xe1\xf5\x05\x09\x00\x00a"),        // zstd: 100 MB declared, 1 byte held
		[]byte(Marker + "\x01\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"),                 // gzip header only
		{0xdd, 0xff, 0xff, 0xff, 0xff},                                                  // msgpack: 4 billion elements
		{0xdf, 0x00, 0x0f, 0x42, 0x40, 0xa1, 'a'},                                       // msgpack: 1e6 entries
		{0x81, 0xa2, 'i', 'd', 0x2a},
		{0x0a, 0x03, 'a', 'b', 'c'}, // protobuf
	}
	o := sampleOrder()
	o.Customer.Name = strings.Repeat("fuzz ", 100)
	for _, c := range []Codec{JSON, MsgPack} {
		for _, z := range compressions {
			b, err := Encode(Format{Codec: c, Compression: z, CompressMin: 1}, o)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b, b[:len(b)/2], b[:min(len(b), 7)])
		}
	}
	st, _ := structpb.NewStruct(map[string]any{"a": "b", "n": 1.0})
	if b, err := Encode(Format{Codec: Protobuf, Compression: S2, CompressMin: 1}, st); err == nil {
		seeds = append(seeds, b)
	}
	return seeds
}

// checkDecodeErr fails unless err is nil or wraps ErrDecode; a panic
// recovered inside Decode counts as a failure too, since it means a
// decoder misbehaved.
func checkDecodeErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrDecode) {
		t.Fatalf("%s: error %v does not wrap ErrDecode", what, err)
	}
	if strings.Contains(err.Error(), "panic:") {
		t.Fatalf("%s: decoder panicked: %v", what, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Codec{JSON, MsgPack, Protobuf} {
			fm := Format{Codec: c}
			s, err := Decode[string](fm, data)
			checkDecodeErr(t, "string", err)
			if err == nil && !bytes.HasPrefix(data, []byte(Marker)) && s != string(data) {
				t.Fatalf("raw string read back as %q, want %q", s, data)
			}
			b, err := Decode[[]byte](fm, data)
			checkDecodeErr(t, "[]byte", err)
			if err == nil && string(b) != s {
				t.Fatalf("[]byte and string reads differ: %q vs %q", b, s)
			}
			_, err = Decode[int](fm, data)
			checkDecodeErr(t, "int", err)
			_, err = Decode[order](fm, data)
			checkDecodeErr(t, "order", err)
			_, err = Decode[map[string]any](fm, data)
			checkDecodeErr(t, "map", err)
			_, err = Decode[any](fm, data)
			checkDecodeErr(t, "any", err)
			_, err = Decode[[]fuzzValue](fm, data)
			checkDecodeErr(t, "[]fuzzValue", err)
			_, err = Decode[map[string]map[any]any](fm, data)
			checkDecodeErr(t, "map of maps", err)
			_, err = Decode[*structpb.Struct](fm, data)
			checkDecodeErr(t, "structpb", err)
		}
	})
}

type fuzzValue struct {
	S     string           `json:"s"`
	B     []byte           `json:"b"`
	N     int64            `json:"n"`
	F     float64          `json:"f"`
	OK    bool             `json:"ok"`
	M     map[string]int64 `json:"m"`
	L     []string         `json:"l"`
	Inner *fuzzValue       `json:"inner,omitempty"`
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("hello", []byte("world"), int64(42), 1.5, true, uint8(0), int16(0))
	f.Add("", []byte(nil), int64(-1), 0.0, false, uint8(4), int16(1))
	f.Add(strings.Repeat("compress me ", 200), bytes.Repeat([]byte{0, 1, 2}, 500), int64(math.MaxInt64), -2.5e300, true, uint8(5), int16(1))
	f.Add(Marker+"\x04x", []byte(Marker+"\x00"), int64(math.MinInt64), math.SmallestNonzeroFloat64, false, uint8(1), int16(-3))
	f.Add("\xff\xfe invalid utf-8", []byte{0xff}, int64(0), 1e-9, true, uint8(3), int16(10))
	f.Fuzz(func(t *testing.T, s string, b []byte, n int64, fl float64, ok bool, algo uint8, minLen int16) {
		z := Compression(algo % numCompressions)
		// Raw values round-trip byte for byte under every codec.
		for _, c := range []Codec{JSON, MsgPack, Protobuf} {
			fm := Format{Codec: c, Compression: z, CompressMin: int(minLen)}
			enc, err := Encode(fm, s)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decode[string](Format{Codec: c}, enc); err != nil || got != s {
				t.Fatalf("%s: string %q read back as %q, %v", fname(fm), s, got, err)
			}
			enc, err = Encode(fm, b)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decode[[]byte](fm, enc); err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s: bytes %q read back as %q, %v", fname(fm), b, got, err)
			}
		}
		v := fuzzValue{S: s, B: b, N: n, F: fl, OK: ok, M: map[string]int64{s: n, "k": -n}, L: []string{s, s + s}}
		v.Inner = &fuzzValue{S: s + "!", N: n / 2}
		for _, c := range []Codec{JSON, MsgPack} {
			if c == JSON && (!utf8.ValidString(s) || math.IsNaN(fl) || math.IsInf(fl, 0)) {
				continue // JSON cannot carry these exactly
			}
			fm := Format{Codec: c, Compression: z, CompressMin: int(minLen)}
			enc, err := Encode(fm, v)
			if err != nil {
				t.Fatalf("%s: Encode: %v", fname(fm), err)
			}
			again, err := Encode(fm, v)
			if err != nil || !bytes.Equal(enc, again) {
				t.Fatalf("%s: encoding is not deterministic: %x then %x, %v", fname(fm), enc, again, err)
			}
			got, err := Decode[fuzzValue](Format{Codec: c}, enc)
			if err != nil {
				t.Fatalf("%s: Decode: %v", fname(fm), err)
			}
			if !fuzzEqual(got, v) {
				t.Fatalf("%s: got %#v, want %#v", fname(fm), got, v)
			}
		}
	})
}

func fuzzEqual(a, b fuzzValue) bool {
	if math.Float64bits(a.F) != math.Float64bits(b.F) && !(a.F == b.F) {
		return false
	}
	a.F, b.F = 0, 0
	if len(a.B) == 0 && len(b.B) == 0 {
		a.B, b.B = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
