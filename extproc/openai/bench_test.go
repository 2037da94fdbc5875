package openai

import (
	"os"
	"strings"
	"testing"
)

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkParseChat4KB parses a LibreChat request of about 4 KB: a system
// prompt and seven turns of pt-BR history with markdown and a code block.
func BenchmarkParseChat4KB(b *testing.B) {
	body := mustRead(b, "testdata/requests/librechat_4kb.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseChatFile1MB parses a request carrying a 1 MB PDF as a
// base64 file part, priced by its size: the scanner only validates those
// bytes.
func BenchmarkParseChatFile1MB(b *testing.B) {
	data := strings.Repeat("JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBS", 1<<20/56*4/3)
	body := []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":[` +
		`{"type":"text","text":"Resuma o relatório anexo em cinco tópicos."},` +
		`{"type":"file","file":{"filename":"relatorio.pdf","file_data":"data:application/pdf;base64,` + data + `"}}]}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPromptText4KB is the estimator's share of BenchmarkParseChat4KB:
// the same pieces, already decoded, fed to tokens.Text and merged.
func BenchmarkPromptText4KB(b *testing.B) {
	want, ok := refParseChat(mustRead(b, "testdata/requests/librechat_4kb.json"))
	if !ok {
		b.Fatal("fixture rejected")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = want.prompt()
	}
}

// chunk150 is a typical content chunk once OpenAI's optional fields are
// left out, about 150 bytes.
const chunk150 = `{"id":"chatcmpl-B9N1aJz6Ztuc6kJmF3H2Qw","object":"chat.completion.chunk","created":1741573000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" tem retorno"},"finish_reason":null}],"usage":null}`

func BenchmarkScanChunk(b *testing.B) {
	data := []byte(chunk150)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ScanChunk(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	body := mustRead(b, "testdata/requests/librechat_4kb.json")
	c, err := ParseChat(body)
	if err != nil {
		b.Fatal(err)
	}
	c.IncludeUsage = false // force the stream_options splice too
	e := Edit{IncludeUsage: true, CompletionCap: 1024}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Apply(body, e)
	}
}

func BenchmarkStripNullUsage(b *testing.B) {
	data := []byte(chunk150)
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := StripNullUsage(dst[:0], data); !ok {
			b.Fatal("not stripped")
		}
	}
}
