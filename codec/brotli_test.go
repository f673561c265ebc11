package codec

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
)

// Brotli output depends on the input only, not on what the pooled writer
// compressed before: andybalholm/brotli keeps the match finder it chose
// for a writer's first input (another one from 1 MiB on) across Reset.
func TestBrotliDeterministicAfterBigInput(t *testing.T) {
	fresh := func(src []byte) []byte {
		var b bytes.Buffer
		w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliMaxWindowBits})
		_, _ = w.Write(src)
		_ = w.Close()
		return b.Bytes()
	}
	small := bytes.Repeat([]byte("\x83\xa1k\x00\xa1s\xb1\xff\xfe invalid utf-8 "), 4)
	big := make([]byte, 2<<20)
	_, _ = rand.NewChaCha8([32]byte{}).Read(big[:1<<19]) // compressible, not trivially
	// Empty the writer pool, so that the big input is a writer's first.
	runtime.GC()
	runtime.GC()
	for _, src := range [][]byte{big, small, big, small} {
		got, err := compress(Brotli, nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, fresh(src)) {
			t.Fatalf("%d bytes: the pooled writer's output differs from a new writer's", len(src))
		}
	}
}
