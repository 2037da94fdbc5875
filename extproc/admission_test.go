package extproc

import (
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/extproc/tokens"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// In hard mode no content part, of any shape, is held at zero tokens: on
// the cheap bound, on the calibrated estimate, and on the exact count a
// caller near its limit gets.
func TestNoPartIsHeldAtZero(t *testing.T) {
	tokens.Warm("o200k_base") // so refine takes the exact count, not the estimate
	s, err := New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email", Allowance: 1 << 40}, Options{Enforcement: Hard})
	if err != nil {
		t.Fatal(err)
	}
	plan := func(t *testing.T, parts string) (bound, exact admission) {
		t.Helper()
		body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Leia o anexo."}` + parts + `]}]}`)
		chat, err := openai.ParseChat(body)
		if err != nil {
			t.Fatal(err)
		}
		bound = s.plan("ana@example.com", &chat, body)
		if bound.precise {
			t.Fatal("a caller without a hint was judged on a precise count")
		}
		exact = s.refine(bound, &chat, body)
		return bound, exact
	}
	baseBound, baseExact := plan(t, "")
	pdf := "data:application/pdf;base64," + strings.Repeat("JVBERi0xLjQK", 64)
	for _, tt := range []struct{ name, part string }{
		{"text", `{"type":"text","text":"Resuma em três tópicos."}`},
		{"refusal", `{"type":"refusal","refusal":"Não posso ajudar com isso."}`},
		{"image_url", `{"type":"image_url","image_url":{"url":"https://example.com/painel.png"}}`},
		{"input_audio", `{"type":"input_audio","input_audio":{"data":"UklGRiQAAABXQVZF","format":"wav"}}`},
		{"file with file_data", `{"type":"file","file":{"filename":"relatorio.pdf","file_data":"` + pdf + `"}}`},
		{"file with file_id", `{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}}`},
		{"unknown type", `{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"}}`},
		{"missing type", `{"text":"sem tipo"}`},
		{"empty text", `{"type":"text","text":""}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bound, exact := plan(t, ","+tt.part)
			if !exact.precise {
				t.Fatal("refine did not count exactly")
			}
			for _, c := range []struct {
				what      string
				got, base quota.Tokens
			}{
				{"bound hold", bound.hold.Prompt, baseBound.hold.Prompt},
				{"estimate", bound.estimate, baseBound.estimate},
				{"exact hold", exact.hold.Prompt, baseExact.hold.Prompt},
				{"exact estimate", exact.estimate, baseExact.estimate},
			} {
				if c.got <= c.base {
					t.Errorf("%s: %d with the part, %d without", c.what, c.got, c.base)
				}
			}
		})
	}
}

// Files and opaque parts keep their figures on every path: a file_id is
// FileTokens, an opaque part its bytes in the bound and a quarter of them in
// the estimate, whether the text beside it was counted exactly or not.
func TestUnreadPartsKeepTheirFigures(t *testing.T) {
	tokens.Warm("o200k_base")
	s, err := New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email", Allowance: 1 << 40}, Options{FileTokens: 5000})
	if err != nil {
		t.Fatal(err)
	}
	const part = `{"type":"input_file","file_data":"data:text/plain;base64,T2zDoSwgbXVuZG8h"}`
	base := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Olá"}]}`)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Olá"},` + part + `,{"type":"file","file":{"file_id":"file-1"}}]}]}`)
	run := func(body []byte) (bound, exact admission) {
		chat, err := openai.ParseChat(body)
		if err != nil {
			t.Fatal(err)
		}
		bound = s.plan("ana@example.com", &chat, body)
		return bound, s.refine(bound, &chat, body)
	}
	b0, e0 := run(base)
	b1, e1 := run(body)
	n := quota.Tokens(len(part))
	// The same message framing and text: the content string and the text
	// part encode alike.
	if got, want := b1.hold.Prompt-b0.hold.Prompt, 5000+n; got != want {
		t.Errorf("bound hold grew by %d, want %d", got, want)
	}
	if got, want := b1.estimate-b0.estimate, 5000+(n+3)/4; got != want {
		t.Errorf("estimate grew by %d, want %d", got, want)
	}
	if got, want := e1.estimate-e0.estimate, 5000+(n+3)/4; got != want {
		t.Errorf("exact estimate grew by %d, want %d", got, want)
	}
}
