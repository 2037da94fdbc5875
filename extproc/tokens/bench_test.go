package tokens

import "testing"

// prompt4KB is 4 KB of mixed English and Portuguese prose, a typical prompt.
func prompt4KB(tb testing.TB) []byte {
	tb.Helper()
	b := append(readSample(tb, "english.txt"), readSample(tb, "portuguese.txt")...)
	return b[:4096] // a cut mid-rune is fine: Text takes any bytes
}

func BenchmarkTextAdd4KB(b *testing.B) {
	p := prompt4KB(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		var t Text
		t.Add(p)
	}
}

func BenchmarkTextAddSamples(b *testing.B) {
	for _, s := range samples {
		p := readSample(b, s.file)
		b.Run(s.file, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				var t Text
				t.Add(p)
			}
		})
	}
}

func BenchmarkEstimate(b *testing.B) {
	t := textOf(prompt4KB(b), []byte("ends in a run 1234  "))
	b.ReportAllocs()
	var sink int64
	for b.Loop() {
		sink += t.Estimate()
	}
	_ = sink
}

func BenchmarkExactCount4KB(b *testing.B) {
	s := string(prompt4KB(b))
	o200kBase.Count(s) // build the vocabulary outside the timing
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		o200kBase.Count(s)
	}
}

func BenchmarkChatPrompt4KB(b *testing.B) {
	p := string(prompt4KB(b))
	msgs := []Message{
		{Role: "system", Content: p[:400]},
		{Role: "user", Name: "ana", Content: p[400:3000]},
		{Role: "assistant", Content: p[3000:3600]},
		{Role: "user", Content: p[3600:]},
	}
	o200kBase.Count("")
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		o200kBase.ChatPrompt(msgs, "")
	}
}

// BenchmarkTextAddPieces feeds 4 KB in 16-byte pieces, as a JSON scanner
// does between escapes.
func BenchmarkTextAddPieces(b *testing.B) {
	p := prompt4KB(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		var t Text
		for i := 0; i < len(p); i += 16 {
			t.Add(p[i:min(i+16, len(p))])
		}
	}
}
