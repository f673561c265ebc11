package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type customer struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

type item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

type order struct {
	ID       int64             `json:"id"`
	Customer customer          `json:"customer"`
	Items    []item            `json:"items"`
	Tags     map[string]string `json:"tags"`
	Created  time.Time         `json:"created"`
	Note     *string           `json:"note"`
	Paid     bool              `json:"paid"`
}

func (o order) equal(p order) bool {
	if !o.Created.Equal(p.Created) {
		return false
	}
	o.Created, p.Created = time.Time{}, time.Time{}
	return reflect.DeepEqual(o, p)
}

func sampleOrder() order {
	note := "ring twice"
	return order{
		ID:       42,
		Customer: customer{Name: "Ada", Email: "ada@example.com"},
		Items:    []item{{"margherita", 2, 9.5}, {"diavola", 1, 11.25}},
		Tags:     map[string]string{"z": "last", "a": "first", "m": "middle"},
		Created:  time.Date(2024, 5, 17, 12, 30, 0, 123456789, time.UTC),
		Note:     &note,
		Paid:     true,
	}
}

// userID is a named string type with no marshalling methods: stored raw.
type userID string

// upper has a MarshalText method, so it goes through the codec.
type upper string

func (u upper) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(u))), nil }
func (u *upper) UnmarshalText(b []byte) error {
	*u = upper(strings.ToLower(string(b)))
	return nil
}

var (
	codecs       = []Codec{JSON, MsgPack}
	compressions = []Compression{None, Gzip, Deflate, Brotli, Zstd, S2}
)

// formats returns every codec × compression, compressing every value.
func formats(cs ...Codec) []Format {
	var fs []Format
	for _, c := range cs {
		for _, z := range compressions {
			fs = append(fs, Format{Codec: c, Compression: z, CompressMin: 1})
		}
	}
	return fs
}

func fname(f Format) string { return f.codec().Name() + "/" + f.Compression.String() }

// roundTrip encodes v, decodes it and compares with eq.
func roundTrip[T any](t *testing.T, f Format, v T, eq func(a, b T) bool) {
	t.Helper()
	b, err := Encode(f, v)
	if err != nil {
		t.Fatalf("%s: Encode(%T) error: %v", fname(f), v, err)
	}
	got, err := Decode[T](f, b)
	if err != nil {
		t.Fatalf("%s: Decode[%T](%q) error: %v", fname(f), v, b, err)
	}
	if !eq(got, v) {
		t.Fatalf("%s: round trip of %T: got %#v, want %#v", fname(f), v, got, v)
	}
	// Reading with a reader configured for no compression works too.
	got, err = Decode[T](Format{Codec: f.Codec}, b)
	if err != nil || !eq(got, v) {
		t.Fatalf("%s: Decode with Compression None: got %#v, %v; want %#v", fname(f), got, err, v)
	}
}

func deepEqual[T any](a, b T) bool { return reflect.DeepEqual(a, b) }

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("the quick brown fox jumps over the lazy dog. ", 200)
	bigMap := map[string]int{}
	for i := range 300 {
		bigMap[fmt.Sprintf("key-%03d", i)] = i
	}
	t0 := time.Date(2023, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, f := range formats(codecs...) {
		t.Run(fname(f), func(t *testing.T) {
			t.Parallel()
			o := sampleOrder()
			roundTrip(t, f, o, order.equal)
			roundTrip(t, f, &o, func(a, b *order) bool { return a.equal(*b) })
			roundTrip(t, f, map[string]int{"b": 2, "a": 1}, deepEqual)
			roundTrip(t, f, bigMap, deepEqual)
			roundTrip(t, f, map[string][]item{"x": {{"s", 1, 2}}}, deepEqual)
			roundTrip(t, f, []string{"a", "b", long}, deepEqual)
			roundTrip(t, f, 12345, deepEqual)
			roundTrip(t, f, int64(-1), deepEqual)
			roundTrip(t, f, uint64(1<<63), deepEqual)
			roundTrip(t, f, 3.25, deepEqual)
			roundTrip(t, f, true, deepEqual)
			roundTrip(t, f, t0, time.Time.Equal)
			roundTrip(t, f, "hello", deepEqual)
			roundTrip(t, f, "", deepEqual)
			roundTrip(t, f, long, deepEqual)
			roundTrip(t, f, Marker+"looks framed", deepEqual)
			roundTrip(t, f, []byte("bytes \x00\xff"), deepEqual)
			roundTrip(t, f, []byte(long), deepEqual)
			roundTrip(t, f, userID("u-1"), deepEqual)
			roundTrip(t, f, upper("shout"), deepEqual)
			roundTrip(t, f, []int(nil), deepEqual)
			roundTrip(t, f, []int{}, deepEqual)
			roundTrip(t, f, (*order)(nil), deepEqual)
			roundTrip(t, f, []byte{}, func(a, b []byte) bool { return len(a) == 0 && len(b) == 0 })
			roundTrip(t, f, []byte(nil), func(a, b []byte) bool { return len(a) == 0 && len(b) == 0 })
			roundTrip(t, f, map[string]any{"s": "x", "n": 1.5, "l": []any{"a", true}, "m": map[string]any{"k": "v"}}, deepEqual)
		})
	}
}

func TestRoundTripProtobuf(t *testing.T) {
	st, err := structpb.NewStruct(map[string]any{
		"name":  "Ada",
		"n":     42.0,
		"tags":  []any{"a", "b"},
		"inner": map[string]any{"ok": true},
		"text":  strings.Repeat("compressible ", 300),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range formats(Protobuf) {
		roundTrip(t, f, st, func(a, b *structpb.Struct) bool { return proto.Equal(a, b) })
		roundTrip(t, f, wrapperspb.String("hi"), func(a, b *wrapperspb.StringValue) bool { return proto.Equal(a, b) })
		roundTrip(t, f, "raw string", deepEqual)
	}
}

func TestProtobufDecodeInto(t *testing.T) {
	b, err := Encode(Format{Codec: Protobuf}, wrapperspb.Int64(7))
	if err != nil {
		t.Fatal(err)
	}
	// An existing message is reset, not merged.
	dst := wrapperspb.Int64(99)
	if err := DecodeInto(Format{Codec: Protobuf}, b, &dst); err != nil {
		t.Fatal(err)
	}
	if dst.GetValue() != 7 {
		t.Fatalf("got %d, want 7", dst.GetValue())
	}
	// A proto.Message itself works as the target too.
	var m wrapperspb.Int64Value
	if err := Protobuf.Unmarshal(b, &m); err != nil || m.GetValue() != 7 {
		t.Fatalf("Unmarshal(&m) = %v, value %d", err, m.GetValue())
	}
	// So does a non-nil proto.Message interface.
	var pm proto.Message = &wrapperspb.Int64Value{}
	if err := Protobuf.Unmarshal(b, &pm); err != nil || pm.(*wrapperspb.Int64Value).GetValue() != 7 {
		t.Fatalf("Unmarshal(&pm) = %v, %v", err, pm)
	}
	// Marshal accepts a pointer to a message.
	w := wrapperspb.Int64(7)
	if got, err := Protobuf.Marshal(&w); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Marshal(&w) = %x, %v; want %x", got, err, b)
	}
}

func TestProtobufErrors(t *testing.T) {
	if _, err := Encode(Format{Codec: Protobuf}, struct{ A int }{1}); err == nil || !strings.Contains(err.Error(), "not a proto.Message") {
		t.Errorf("Encode(struct) error = %v, want 'not a proto.Message'", err)
	}
	if _, err := Protobuf.Marshal(nil); err == nil {
		t.Error("Marshal(nil): no error")
	}
	var nilMsg *wrapperspb.Int64Value
	if _, err := Protobuf.Marshal(&nilMsg); err == nil {
		t.Error("Marshal(&nil message): no error")
	}
	var nilIface proto.Message
	if _, err := Protobuf.Marshal(&nilIface); err == nil {
		t.Error("Marshal(&nil interface): no error")
	}
	// A nil message itself marshals as the empty message, as in proto.
	if b, err := Protobuf.Marshal(nilMsg); err != nil || len(b) != 0 {
		t.Errorf("Marshal(nil message) = %x, %v", b, err)
	}
	for _, v := range []any{nil, new(int), nilMsg, new(proto.Message), (**wrapperspb.Int64Value)(nil)} {
		if err := Protobuf.Unmarshal([]byte{0x08, 0x01}, v); err == nil {
			t.Errorf("Unmarshal into %T: no error", v)
		}
	}
	if _, err := Decode[int](Format{Codec: Protobuf}, []byte{0x08, 0x01}); !errors.Is(err, ErrDecode) {
		t.Errorf("Decode[int] with Protobuf: error %v, want ErrDecode", err)
	}
	// Garbage for a real message.
	if _, err := Decode[*wrapperspb.Int64Value](Format{Codec: Protobuf}, []byte{0xff, 0xff}); !errors.Is(err, ErrDecode) ||
		!strings.Contains(err.Error(), "protobuf") {
		t.Errorf("Decode garbage: error %v, want ErrDecode naming protobuf", err)
	}
}

func TestRawStorage(t *testing.T) {
	for _, f := range formats(JSON, MsgPack, Protobuf) {
		f.CompressMin = 0 // default: short values stay raw
		for _, tc := range []struct {
			name string
			enc  func() ([]byte, error)
			want string
		}{
			{"string", func() ([]byte, error) { return Encode(f, "hello") }, "hello"},
			{"bytes", func() ([]byte, error) { return Encode(f, []byte("hello")) }, "hello"},
			{"named string", func() ([]byte, error) { return Encode(f, userID("u-42")) }, "u-42"},
			{"empty", func() ([]byte, error) { return Encode(f, "") }, ""},
		} {
			got, err := tc.enc()
			if err != nil || string(got) != tc.want {
				t.Errorf("%s: Encode %s = %q, %v; want %q", fname(f), tc.name, got, err, tc.want)
			}
		}
	}
	// A type with marshalling methods is not raw.
	if got, _ := Encode(Format{}, upper("abc")); string(got) != `"ABC"` {
		t.Errorf("Encode(upper) = %q, want %q", got, `"ABC"`)
	}
	// Raw reads: the bytes as they are, whatever the codec.
	if got, err := Decode[string](Format{Codec: MsgPack}, []byte(`"quoted"`)); err != nil || got != `"quoted"` {
		t.Errorf("Decode[string] = %q, %v", got, err)
	}
}

func TestEncodeCopies(t *testing.T) {
	in := []byte("mutable")
	out, _ := Encode(Format{}, in)
	in[0] = 'X'
	if string(out) != "mutable" {
		t.Errorf("Encode result aliases its input: %q", out)
	}
	data := []byte("reused buffer")
	got, _ := Decode[[]byte](Format{}, data)
	data[0] = 'X'
	if string(got) != "reused buffer" {
		t.Errorf("Decode[[]byte] result aliases data: %q", got)
	}
}

func TestMarkerPrefixedRawValues(t *testing.T) {
	for _, v := range []string{Marker, Marker + "\x04zstd?", Marker + "\x00"} {
		for _, f := range []Format{{}, {Compression: Zstd, CompressMin: 1}} {
			b, err := Encode(f, v)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < len(v) || !strings.HasPrefix(string(b), Marker) {
				t.Fatalf("Encode(%q) = %q: want a frame", v, b)
			}
			got, err := Decode[string](Format{}, b)
			if err != nil || got != v {
				t.Errorf("Decode(Encode(%q)) = %q, %v", v, got, err)
			}
		}
	}
	// Three bytes of the marker are not a marker.
	if b, _ := Encode(Format{}, Marker[:3]); string(b) != Marker[:3] {
		t.Errorf("Encode(%q) = %q, want it raw", Marker[:3], b)
	}
}

func TestCompressMin(t *testing.T) {
	compressible := strings.Repeat("abcdefgh", 200) // 1600 bytes
	for _, z := range compressions[1:] {
		for _, tc := range []struct {
			min        int
			v          string
			compressed bool
		}{
			{0, compressible[:DefaultCompressMin-1], false},
			{0, compressible[:DefaultCompressMin], true},
			{200, compressible[:199], false},
			{200, compressible[:200], true},
			{1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
			{1, "a", false}, // not smaller: stored raw
			{-5, "", false}, // nothing to compress
			{1, randomString(4096), false},
		} {
			f := Format{Compression: z, CompressMin: tc.min}
			b, err := Encode(f, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := CompressionOf(b) != None; got != tc.compressed {
				t.Errorf("%s CompressMin %d len %d: compressed %v, want %v", z, tc.min, len(tc.v), got, tc.compressed)
			}
			if !tc.compressed && string(b) != tc.v {
				t.Errorf("%s: uncompressed value carries a frame: %q", z, b[:min(len(b), 10)])
			}
			if tc.compressed && len(b) >= len(tc.v) {
				t.Errorf("%s: compressed value not smaller: %d >= %d", z, len(b), len(tc.v))
			}
			if got, err := Decode[string](Format{}, b); err != nil || got != tc.v {
				t.Errorf("%s: read back %d bytes, %v", z, len(got), err)
			}
		}
	}
}

func randomString(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// Values written under one compression read under any other, both ways.
func TestCrossConfigReads(t *testing.T) {
	o := sampleOrder()
	o.Customer.Name = strings.Repeat("Ada ", 500)
	for _, c := range codecs {
		for _, w := range compressions {
			b, err := Encode(Format{Codec: c, Compression: w, CompressMin: 1}, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := CompressionOf(b); got != w {
				t.Fatalf("%s: written with %s, frame says %s", c.Name(), w, got)
			}
			for _, r := range compressions {
				got, err := Decode[order](Format{Codec: c, Compression: r}, b)
				if err != nil || !got.equal(o) {
					t.Errorf("%s: written with %s, read with %s: %v", c.Name(), w, r, err)
				}
			}
		}
	}
}

func TestCompressedFrameLayout(t *testing.T) {
	v := strings.Repeat("x", 4000)
	for _, z := range compressions[1:] {
		b, err := Encode(Format{Compression: z, CompressMin: 1}, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:4]) != "\xffRKz" || b[4] != byte(z) {
			t.Errorf("%s: frame header %x, want ff524b7a%02x", z, b[:5], byte(z))
		}
		// The body is the algorithm's own format.
		got, err := decompress(z, b[5:], MaxDecodedSize)
		if err != nil || string(got) != v {
			t.Errorf("%s: body does not decompress: %v", z, err)
		}
	}
}

func TestCorruptInput(t *testing.T) {
	valid := map[Compression][]byte{}
	for _, z := range compressions[1:] {
		b, err := Encode(Format{Compression: z, CompressMin: 1}, strings.Repeat("redkit codec ", 500))
		if err != nil {
			t.Fatal(err)
		}
		valid[z] = b
	}
	type input struct {
		name, stage string
		data        []byte
	}
	inputs := []input{
		{"marker only", "frame", []byte(Marker)},
		{"unknown algorithm", "frame", []byte(Marker + "\x09abc")},
		{"gzip garbage", "gzip", []byte(Marker + "\x01garbage")},
		{"deflate garbage", "deflate", []byte(Marker + "\x02\xff\xff\xff\xff")},
		{"brotli garbage", "brotli", []byte(Marker + "\x03garbage garbage")},
		{"zstd garbage", "zstd", []byte(Marker + "\x04garbage")},
		{"s2 garbage", "s2", []byte(Marker + "\x05garbage")},
		{"s2 huge length", "s2", []byte(Marker + "\x05\xff\xff\xff\xff\x0f\x00")},
		{"s2 length over cap", "s2", []byte(Marker + "\x05\xff\xff\xff\xff\x01")},
		// zstd frame header declaring 2^40 bytes, then one tiny RLE block.
		{"zstd huge content size", "zstd", append([]byte(Marker+"\x04\x28\xb5\x2f\xfd\xe0\x00"), 0, 0, 0, 0, 0, 1, 0, 0, 0x0b, 0, 0, 'a')},
		// Declares 100 MB, under the cap, but its blocks hold 1 byte.
		{"zstd lying content size", "zstd", []byte(Marker + "\x04\x28\xb5\x2f\xfd\xa0\x00\xe1\xf5\x05\x09\x00\x00a")},
		{"empty s2", "s2", []byte(Marker + "\x05")},
		{"brotli 16 MiB window", "brotli", []byte(Marker + "\x03\x0f\x00\x00\x00")},
		{"empty gzip", "gzip", []byte(Marker + "\x01")},
		{"empty zstd", "zstd", []byte(Marker + "\x04")},
	}
	for z, b := range valid {
		for _, cut := range []int{6, 8, len(b) / 2, len(b) - 1} {
			inputs = append(inputs, input{fmt.Sprintf("%s truncated at %d", z, cut), z.String(), b[:cut]})
		}
		if z == Gzip || z == Zstd {
			// Only these carry a checksum; S2, Deflate and Brotli frames
			// (like uncompressed values) are not integrity-checked.
			flipped := bytes.Clone(b)
			flipped[len(flipped)/2] ^= 0x55
			inputs = append(inputs, input{z.String() + " bit flip", z.String(), flipped})
		}
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			for _, f := range []Format{{}, {Codec: MsgPack, Compression: Zstd}} {
				_, err := Decode[string](f, in.data)
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("Decode: error %v, want ErrDecode", err)
				}
				if !strings.Contains(err.Error(), in.stage) {
					t.Errorf("error %q does not name %q", err, in.stage)
				}
				if _, err := Decode[order](f, in.data); !errors.Is(err, ErrDecode) {
					t.Errorf("Decode[order]: error %v, want ErrDecode", err)
				}
			}
		})
	}
	// Bad codec bytes, uncompressed.
	for _, tc := range []struct {
		c    Codec
		data string
	}{
		{JSON, `{"id": "not a number"}`},
		{JSON, `{"id": 1`},
		{JSON, ``},
		{JSON, `{} trailing`},
		{MsgPack, "\xc1"},
		{MsgPack, "\x81\xa2id"},
		{MsgPack, "\x80\x80"}, // trailing bytes
		{MsgPack, ""},
		{MsgPack, "\xdd\xff\xff\xff\xff"}, // 4 billion elements declared
		{MsgPack, "\x81\xa2id\xa3str"},    // wrong type
	} {
		_, err := Decode[order](Format{Codec: tc.c}, []byte(tc.data))
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tc.c.Name()) {
			t.Errorf("%s %q: error %v, want ErrDecode naming the codec", tc.c.Name(), tc.data, err)
		}
	}
}

// A hostile value cannot grow past MaxDecodedSize.
func TestMaxDecodedSize(t *testing.T) {
	v := strings.Repeat("a", 64<<10)
	frames := map[Compression][]byte{}
	for _, z := range compressions[1:] {
		b, err := Encode(Format{Compression: z, CompressMin: 1}, v)
		if err != nil {
			t.Fatal(err)
		}
		frames[z] = b
	}
	defer func(old int) { MaxDecodedSize = old }(MaxDecodedSize)
	MaxDecodedSize = 64<<10 - 1
	for z, b := range frames {
		if _, err := Decode[string](Format{}, b); !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "MaxDecodedSize") {
			t.Errorf("%s: error %v, want ErrDecode for size", z, err)
		}
	}
	MaxDecodedSize = 64 << 10
	for z, b := range frames {
		if got, err := Decode[string](Format{}, b); err != nil || got != v {
			t.Errorf("%s at the limit: %v", z, err)
		}
	}
}

// What a frame declares is not allocated before its bytes back it: a
// hostile frame costs a small multiple of what a valid frame of its length
// could hold (zstd's densest block, RLE, turns 4 bytes into 128 KiB), not
// what it claims. The libraries alone allocate every size declared below
// (32 MiB to 400 MiB, and for the second frames up to MaxDecodedSize).
func TestHostileFrameSizes(t *testing.T) {
	tiny, err := Encode(Format{Compression: Zstd, CompressMin: 1}, strings.Repeat("hello ", 6))
	if err != nil || CompressionOf(tiny) != Zstd {
		t.Fatalf("tiny zstd frame: %q, %v", tiny, err)
	}
	// A frame that declares 100 MB and holds one raw byte.
	lying := "\x28\xb5\x2f\xfd\xa0\x00\xe1\xf5\x05\x09\x00\x00a"
	skippable := "\x50\x2a\x4d\x18\x00\x00\x00\x00"
	for _, tc := range []struct{ name, data string }{
		{"zstd lying content size", Marker + "\x04" + lying},
		{"zstd frame then lying frame", string(tiny) + lying},
		{"zstd skippable then lying frame", Marker + "\x04" + skippable + lying},
		{"s2 32 MiB declared, no data", Marker + "\x05\xfe\xff\xff\x0f\x00"},
		{"s2 400 MiB declared, garbage", Marker + "\x05\x80\x80\x80\xc8\x01" + strings.Repeat("\x00", 64)},
	} {
		data := []byte(tc.data)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 5 {
			if _, err := Decode[[]byte](Format{}, data); !errors.Is(err, ErrDecode) {
				t.Errorf("%s: error %v, want ErrDecode", tc.name, err)
			}
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / 5
		if budget := uint64(64<<10 + len(data)*4*(32<<10)); perRun > budget {
			t.Errorf("%s: %d bytes allocated per decode, want <= %d (64 KiB + 4 x 32 KiB per input byte)", tc.name, perRun, budget)
		}
	}
}

func TestUnknownCompression(t *testing.T) {
	if _, err := Encode(Format{Compression: 42}, "x"); err == nil || !strings.Contains(err.Error(), "unknown compression") {
		t.Errorf("Encode with Compression 42: %v", err)
	}
}

func TestEncodeError(t *testing.T) {
	_, err := Encode(Format{}, make(chan int))
	if err == nil || !strings.Contains(err.Error(), "codec: encode json") {
		t.Errorf("Encode(chan) error = %v", err)
	}
}

// A panicking Unmarshal method becomes ErrDecode.
type panicky struct{}

func (*panicky) UnmarshalJSON([]byte) error { panic("boom") }

func TestDecodeRecoversPanic(t *testing.T) {
	_, err := Decode[panicky](Format{}, []byte(`{}`))
	if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error = %v, want ErrDecode with the panic", err)
	}
}

func TestDecodeIntoMerges(t *testing.T) {
	dst := customer{Name: "old", Email: "keep@example.com"}
	if err := DecodeInto(Format{}, []byte(`{"name":"new"}`), &dst); err != nil {
		t.Fatal(err)
	}
	if dst != (customer{Name: "new", Email: "keep@example.com"}) {
		t.Errorf("DecodeInto = %+v", dst)
	}
	s := "old"
	if err := DecodeInto(Format{}, []byte("new"), &s); err != nil || s != "new" {
		t.Errorf("DecodeInto string = %q, %v", s, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	o := sampleOrder()
	o.Customer.Name = strings.Repeat("concurrent ", 200)
	var wg sync.WaitGroup
	for _, f := range formats(codecs...) {
		for range 4 {
			wg.Go(func() {
				for range 50 {
					b, err := Encode(f, o)
					if err != nil {
						t.Error(err)
						return
					}
					got, err := Decode[order](f, b)
					if err != nil || !got.equal(o) {
						t.Errorf("%s: %v", fname(f), err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under coverage or race")
	}
	f := Format{Codec: MsgPack, Compression: Zstd}
	s := "hello world"
	data := []byte(s)
	for _, tc := range []struct {
		name string
		fn   func()
		want float64
	}{
		{"Encode[string]", func() { _, _ = Encode(f, s) }, 1},
		{"Encode[[]byte]", func() { _, _ = Encode(f, data) }, 1},
		{"Decode[string]", func() { _, _ = Decode[string](f, data) }, 1},
		{"Decode[[]byte]", func() { _, _ = Decode[[]byte](f, data) }, 1},
		{"Encode[userID]", func() { _, _ = Encode(f, userID(s)) }, 1},
	} {
		if got := testing.AllocsPerRun(100, tc.fn); got > tc.want {
			t.Errorf("%s: %v allocs, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCompressionOf(t *testing.T) {
	for _, tc := range []struct {
		data string
		want Compression
	}{
		{"plain", None},
		{"", None},
		{Marker, None},
		{Marker + "\x00raw", None},
		{Marker + "\x04...", Zstd},
		{Marker + "\x05...", S2},
	} {
		if got := CompressionOf([]byte(tc.data)); got != tc.want {
			t.Errorf("CompressionOf(%q) = %s, want %s", tc.data, got, tc.want)
		}
	}
}

// Multi-block and multi-megabyte values in every algorithm, compressible
// or not, pass the frame checks and read back.
func TestLargeValues(t *testing.T) {
	if testing.Short() {
		t.Skip("large values")
	}
	r := rand.New(rand.NewPCG(3, 4))
	mixed := make([]byte, 3<<20)
	for i := range mixed {
		if i%4096 < 2048 {
			mixed[i] = byte(r.Uint32())
		} else {
			mixed[i] = "abcdefgh"[i%8]
		}
	}
	for _, z := range compressions[1:] {
		for _, n := range []int{8 << 10, 130 << 10, 1 << 20, 3 << 20} {
			v := mixed[:n]
			b, err := Encode(Format{Compression: z, CompressMin: 1}, v)
			if err != nil {
				t.Fatal(err)
			}
			if CompressionOf(b) != z {
				t.Fatalf("%s %d: not compressed", z, n)
			}
			got, err := Decode[[]byte](Format{}, b)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s %d bytes: read back %d bytes, %v", z, n, len(got), err)
			}
		}
	}
}
