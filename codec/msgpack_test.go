package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// withMaps holds maps the msgpack library does not sort by itself.
type withMaps struct {
	Zeta  string         `json:"zeta"`
	Alpha map[string]int `json:"alpha"`
	ByID  map[int]string `json:"by_id"`
	Any   any            `json:"any"`
}

// encodeFresh encodes a value rebuilt from scratch each time, so Go's map
// iteration order differs between calls.
func encodeFresh(t *testing.T, c Codec, build func() any) []byte {
	t.Helper()
	b, err := c.Marshal(build())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministicEncoding(t *testing.T) {
	builders := map[string]func() any{
		"map[string]int": func() any {
			m := map[string]int{}
			for i := range 64 {
				m[fmt.Sprint("k", i)] = i
			}
			return m
		},
		"map[int]string": func() any {
			m := map[int]string{}
			for i := range 64 {
				m[i*7919%1000-500] = fmt.Sprint(i)
			}
			return m
		},
		"map[string]any nested": func() any {
			inner := map[string]int{}
			for i := range 32 {
				inner[fmt.Sprint("i", i)] = i
			}
			return map[string]any{"b": inner, "a": []any{inner, map[int]bool{1: true, 2: false, 3: true}}}
		},
		"struct with maps": func() any {
			w := withMaps{Zeta: "z", Alpha: map[string]int{}, ByID: map[int]string{}}
			for i := range 32 {
				w.Alpha[fmt.Sprint(i)] = i
				w.ByID[i] = fmt.Sprint(i)
			}
			w.Any = map[string]uint{"x": 1, "y": 2, "w": 3, "v": 4}
			return &w
		},
		"map[any]any mixed keys": func() any {
			return map[any]any{"s": 1, 2: "two", 3.5: nil, true: "t", "a": 0, int8(-3): "neg"}
		},
	}
	for name, build := range builders {
		for _, c := range []Codec{JSON, MsgPack} {
			if c == JSON && name == "map[any]any mixed keys" {
				continue // not representable in JSON
			}
			first := encodeFresh(t, c, build)
			for range 30 {
				if got := encodeFresh(t, c, build); !bytes.Equal(got, first) {
					t.Fatalf("%s %s: encodings differ:\n%x\n%x", c.Name(), name, got, first)
				}
			}
		}
	}
}

func TestMsgpackCanonicalDecodes(t *testing.T) {
	w := withMaps{Zeta: "z", Alpha: map[string]int{"b": 2, "a": 1}, ByID: map[int]string{3: "c", 1: "a"}, Any: map[string]any{"y": 1, "x": "s"}}
	b, err := MsgPack.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var got withMaps
	if err := MsgPack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := w
	want.Any = map[string]any{"y": int64(1), "x": "s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	// Canonical output is a fixed point, and other decoders read it.
	if again := canonicalMsgpack(b); !bytes.Equal(again, b) {
		t.Errorf("canonical form is not stable")
	}
	var plain struct {
		Zeta  string         `msgpack:"zeta"`
		Alpha map[string]int `msgpack:"alpha"`
	}
	if err := msgpack.Unmarshal(b, &plain); err != nil || plain.Zeta != "z" || plain.Alpha["b"] != 2 {
		t.Errorf("plain msgpack.Unmarshal: %+v, %v", plain, err)
	}
	// Into an interface, a map with non-string keys becomes map[any]any.
	var m map[string]any
	if err := MsgPack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if want := map[any]any{int64(1): "a", int64(3): "c"}; !reflect.DeepEqual(m["by_id"], want) {
		t.Errorf("by_id = %#v, want %#v", m["by_id"], want)
	}
	// Unhashable keys are an error, not a panic.
	if err := MsgPack.Unmarshal([]byte{0x81, 0x91, 0x01, 0x02}, &m); err == nil {
		t.Error("array key: no error")
	}
}

func TestMsgpackKeyOrder(t *testing.T) {
	// Strings sort by bytes, before other keys; the struct's fields are
	// sorted too because the struct holds a map.
	b, err := MsgPack.Marshal(map[any]int{"bb": 1, "a": 2, 5: 3, -1: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x84, 0xa1, 'a', 0x02, 0xa2, 'b', 'b', 0x01, 0x05, 0x03, 0xff, 0x04}
	if !bytes.Equal(b, want) {
		t.Errorf("got %x, want %x", b, want)
	}
}

func TestMsgpackUsesJSONTags(t *testing.T) {
	b, err := MsgPack.Marshal(customer{Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["name"] != "Ada" || len(m) != 1 {
		t.Errorf("fields = %v, want name from the json tag and email omitted", m)
	}
}

func TestMsgpackCompactInts(t *testing.T) {
	b, err := MsgPack.Marshal(struct{ N int64 }{5})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x81, 0xa1, 'N', 0x05}; !bytes.Equal(b, want) {
		t.Errorf("got %x, want %x", b, want)
	}
}

// Times whose extension body happens to start with a map header still
// decode, alone and inside structs and maps.
func TestMsgpackTimeLikeMapHeader(t *testing.T) {
	type event struct {
		At   time.Time         `json:"at"`
		Tags map[string]string `json:"tags"`
	}
	for _, nsec := range []int{0x80 << 22, 0x8f << 22, 0xde << 22, 0xdf<<22 + 12345} {
		at := time.Unix(1700000000, int64(nsec))
		for _, c := range []Codec{MsgPack} {
			b, err := c.Marshal(at)
			if err != nil {
				t.Fatal(err)
			}
			var got time.Time
			if err := c.Unmarshal(b, &got); err != nil || !got.Equal(at) {
				t.Errorf("time %v: got %v, %v (encoded %x)", at, got, err, b)
			}
			e := event{At: at, Tags: map[string]string{"a": "b"}}
			gotE, err := Decode[event](Format{Codec: c}, mustEncode(t, Format{Codec: c}, e))
			if err != nil || !gotE.At.Equal(at) || gotE.Tags["a"] != "b" {
				t.Errorf("event %v: got %+v, %v", at, gotE, err)
			}
			gotM, err := Decode[map[string]any](Format{Codec: c}, mustEncode(t, Format{Codec: c}, map[string]any{"at": at}))
			if err != nil || !gotM["at"].(time.Time).Equal(at) {
				t.Errorf("map %v: got %+v, %v", at, gotM, err)
			}
			// The same bytes read as a map are refused, not allocated.
			if _, err := Decode[map[string]any](Format{Codec: c}, b); !errors.Is(err, ErrDecode) {
				t.Errorf("time read as map: %v", err)
			}
		}
	}
}

func mustEncode[T any](t *testing.T, f Format, v T) []byte {
	t.Helper()
	b, err := Encode(f, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMsgpackInterfaceNumbers(t *testing.T) {
	b, _ := MsgPack.Marshal(map[string]any{"i": 1, "u": uint64(1 << 63), "f": 1.5})
	var m map[string]any
	if err := MsgPack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"i": int64(1), "u": uint64(1 << 63), "f": 1.5}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %#v, want %#v", m, want)
	}
}

func TestSkipMsgpack(t *testing.T) {
	valid := [][]byte{}
	for _, v := range []any{nil, true, 1, -1, 300, -300, 1 << 40, 1.5, float32(2.5), "s", strings.Repeat("x", 300),
		[]byte{1, 2}, []int{1, 2, 3}, map[string]int{"a": 1}, sampleOrder(), make([]int, 70000)} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, b)
	}
	for _, b := range valid {
		end, err := skipMsgpack(b, 0, 0, nil)
		if err != nil || end != len(b) {
			t.Errorf("skip(%x) = %d, %v; want %d", b[:min(len(b), 16)], end, err, len(b))
		}
		for cut := range len(b) {
			if cut > 64 {
				break
			}
			if _, err := skipMsgpack(b[:cut], 0, 0, nil); err == nil {
				t.Errorf("skip of %x truncated at %d: no error", b[:min(len(b), 16)], cut)
			}
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxMsgpackDepth+10)
	deep = append(deep, 0xc0)
	if _, err := skipMsgpack(deep, 0, 0, nil); !errors.Is(err, errMsgpackDepth) {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := Decode[any](Format{Codec: MsgPack}, deep); !errors.Is(err, ErrDecode) {
		t.Errorf("Decode deep nesting: %v", err)
	}
}

// Declared lengths are checked before the library allocates for them.
// Without skipMsgpack and msgpackGuard this test does not fail, it dies:
// the library asks for up to 481 GB and the runtime's out-of-memory is
// fatal.
func TestMsgpackHostileLengths(t *testing.T) {
	for _, data := range [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff},       // array of 2^32-1 elements
		{0xdd, 0x00, 0x0f, 0x42, 0x40},       // array of 1e6 elements
		{0xdf, 0x00, 0x0f, 0x42, 0x40},       // map of 1e6 entries
		{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},  // 4 GiB string
		{0xc6, 0x7f, 0xff, 0xff, 0xff},       // 2 GiB binary
		{0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01}, // 2 GiB extension
		// Extensions whose bodies the library would read as maps of
		// billions of entries (found by FuzzDecode).
		{0xd7, 0x30, 0xdf, 0xdf, 0xdf, 0xdf, 0xdf, 0xdf, 0x30, 0x30},
		{0xd7, 0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00},
		{0x81, 0xa1, 'k', 0xd6, 0x01, 0xde, 0xff, 0xff, 0x00},
	} {
		// What matters is that a few hostile bytes cannot make the decoder
		// reserve the memory they declare: count bytes, not allocations
		// (their number varies with -race and the library's internals).
		// The library bounds none of these targets by itself: maps and
		// interfaces take the declared size, typed slices all of it. Into
		// an interface some inputs are valid (0xd7 0xff is a timestamp).
		for _, decode := range []struct {
			target  string
			fn      func(Format, []byte) error
			invalid bool
		}{
			{"map[string]any", hostileDecode[map[string]any], true},
			{"any", hostileDecode[any], false},
			{"[]fuzzValue", hostileDecode[[]fuzzValue], true},
			{"[]string", hostileDecode[[]string], true},
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 5 {
				err := decode.fn(Format{Codec: MsgPack}, data)
				if (err != nil || decode.invalid) && !errors.Is(err, ErrDecode) {
					t.Errorf("%x into %s: error %v, want ErrDecode", data, decode.target, err)
				}
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / 5; perRun > 64<<10 {
				t.Errorf("%x into %s: %d bytes allocated per decode, want < 64 KiB", data, decode.target, perRun)
			}
		}
	}
}

func hostileDecode[T any](f Format, data []byte) error {
	_, err := Decode[T](f, data)
	return err
}
