package codec

import (
	"fmt"
	"testing"
)

// benchSmall is a ~100-byte struct, a typical cache entry.
type benchSmall struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	Email   string  `json:"email"`
	Active  bool    `json:"active"`
	Balance float64 `json:"balance"`
	Roles   []string
}

func smallValue() benchSmall {
	return benchSmall{ID: 123456, Name: "Ada Lovelace", Email: "ada@example.com", Active: true, Balance: 1234.5, Roles: []string{"admin", "dev"}}
}

// largeValue is a slice of structs of about n bytes in JSON.
func largeValue(n int) []benchSmall {
	var v []benchSmall
	for i := 0; len(v)*120 < n; i++ {
		s := smallValue()
		s.ID = int64(i)
		s.Name = fmt.Sprintf("user %d", i*7919%10007)
		s.Email = fmt.Sprintf("u%d@example.com", i*104729%1000003)
		s.Balance = float64(i*31%977) / 4
		v = append(v, s)
	}
	return v
}

func benchEncode[T any](b *testing.B, f Format, v T) {
	enc, err := Encode(f, v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Encode(f, v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode[T any](b *testing.B, f Format, v T) {
	enc, err := Encode(f, v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode[T](f, enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodec(b *testing.B) {
	small, large := smallValue(), largeValue(4<<10)
	for _, c := range []Codec{JSON, MsgPack} {
		f := Format{Codec: c}
		b.Run(c.Name()+"/small/encode", func(b *testing.B) { benchEncode(b, f, small) })
		b.Run(c.Name()+"/small/decode", func(b *testing.B) { benchDecode(b, f, small) })
		b.Run(c.Name()+"/4KiB/encode", func(b *testing.B) { benchEncode(b, f, large) })
		b.Run(c.Name()+"/4KiB/decode", func(b *testing.B) { benchDecode(b, f, large) })
	}
}

func BenchmarkRawString(b *testing.B) {
	s := "session:4f3a9c1e:user=42;role=admin"
	f := Format{}
	b.Run("encode", func(b *testing.B) { benchEncode(b, f, s) })
	b.Run("decode", func(b *testing.B) { benchDecode(b, f, s) })
}

// BenchmarkCompression compresses a 16 KiB JSON document (records that
// differ from each other) with each algorithm. MB/s is of the uncompressed
// value; ratio is stored size / original size.
func BenchmarkCompression(b *testing.B) {
	doc, err := JSON.Marshal(largeValue(20 << 10))
	if err != nil {
		b.Fatal(err)
	}
	v := string(doc[:16<<10])
	for _, z := range compressions {
		f := Format{Compression: z}
		enc, err := Encode(f, v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(z.String()+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, err := Encode(f, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc))/float64(len(v)), "ratio")
		})
		b.Run(z.String()+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, err := Decode[string](f, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
