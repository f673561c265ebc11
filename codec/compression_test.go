package codec

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestCompressionNames(t *testing.T) {
	for _, c := range compressions {
		got, err := ParseCompression(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCompression(%q) = %v, %v", c.String(), got, err)
		}
		text, err := c.MarshalText()
		if err != nil || string(text) != c.String() {
			t.Errorf("MarshalText(%v) = %q, %v", c, text, err)
		}
	}
	for in, want := range map[string]Compression{
		"": None, "off": None, " ZSTD ": Zstd, "br": Brotli, "Gzip": Gzip, "zstandard": Zstd, "S2": S2, "deflate": Deflate,
	} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("ParseCompression(lz4): no error")
	}
	if got := Compression(9).String(); got != "compression(9)" {
		t.Errorf("String(9) = %q", got)
	}
	if _, err := Compression(9).MarshalText(); err == nil {
		t.Error("MarshalText(9): no error")
	}
}

func TestCompressionJSON(t *testing.T) {
	var cfg struct{ C Compression }
	if err := json.Unmarshal([]byte(`{"C":"zstd"}`), &cfg); err != nil || cfg.C != Zstd {
		t.Fatalf("unmarshal: %v, %v", cfg.C, err)
	}
	b, err := json.Marshal(cfg)
	if err != nil || string(b) != `{"C":"zstd"}` {
		t.Errorf("marshal = %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"C":"lz4"}`), &cfg); err == nil {
		t.Error("unmarshal lz4: no error")
	}
}

func TestParseCodec(t *testing.T) {
	for in, want := range map[string]Codec{"json": JSON, "MsgPack": MsgPack, "messagepack": MsgPack, "protobuf": Protobuf, "proto": Protobuf} {
		if got, err := ParseCodec(in); err != nil || got != want {
			t.Errorf("ParseCodec(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseCodec("xml"); err == nil {
		t.Error("ParseCodec(xml): no error")
	}
	for _, c := range []Codec{JSON, MsgPack, Protobuf} {
		if got, _ := ParseCodec(c.Name()); got != c {
			t.Errorf("ParseCodec(%q) does not return the codec", c.Name())
		}
	}
}

func TestBrotliWindowBits(t *testing.T) {
	data := []byte(strings.Repeat("window bits ", 10000))
	for lgwin := 10; lgwin <= 24; lgwin++ {
		var buf bytes.Buffer
		w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 4, LGWin: lgwin})
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, ok := brotliWindowBits(buf.Bytes())
		if !ok || got != lgwin {
			t.Errorf("lgwin %d: read %d, %v", lgwin, got, ok)
		}
		_, err := decompress(Brotli, buf.Bytes(), MaxDecodedSize)
		if wantErr := lgwin > brotliMaxWindowBits; (err != nil) != wantErr {
			t.Errorf("lgwin %d: decompress error %v, want error %v", lgwin, err, wantErr)
		}
	}
}
