package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// weight is what a request's parts add to a hold, each kind of count at its
// smallest price: one token per image or file.
func weight(c Chat) int64 {
	return c.Prompt.Bound() + c.Opaque.Bound() + int64(c.Images) + int64(c.Files)
}

// partShapes are content parts of every shape a client sends, by what
// tokengate makes of them.
var partShapes = []struct {
	name, part string
}{
	{"text", `{"type":"text","text":"Resuma o documento."}`},
	{"refusal", `{"type":"refusal","refusal":"I can't help with that."}`},
	{"image_url", `{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}`},
	{"input_audio", `{"type":"input_audio","input_audio":{"data":"UklGRiQAAABXQVZF","format":"wav"}}`},
	{"file_data", `{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQK"}}`},
	{"file_id", `{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}}`},
	{"file_id and file_data", `{"type":"file","file":{"file_id":"file-1","file_data":"data:application/pdf;base64,JVBERi0xLjQK"}}`},
	{"file without a file", `{"type":"file"}`},
	{"file_id not a string", `{"type":"file","file":{"file_id":7}}`},
	{"input_file", `{"type":"input_file","file_data":"data:application/pdf;base64,JVBERi0xLjQK","filename":"a.pdf"}`},
	{"document", `{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"}}`},
	{"input_audio variant", `{"type":"audio_url","audio_url":{"url":"https://example.com/a.mp3"}}`},
	{"missing type", `{"text":"no type"}`},
	{"null type", `{"type":null,"text":"null type"}`},
	{"text without text", `{"type":"text"}`},
	{"empty text", `{"type":"text","text":""}`},
	{"null refusal", `{"type":"refusal","refusal":null}`},
	{"empty object", `{}`},
}

// TestEveryPartIsPriced pins that no content part, whatever its shape,
// leaves a request's hold where it was.
func TestEveryPartIsPriced(t *testing.T) {
	const pre = `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Olá"}`
	base, err := ParseChat([]byte(pre + `]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range partShapes {
		got, err := ParseChat([]byte(pre + "," + tt.part + `]}]}`))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if weight(got) <= weight(base) {
			t.Errorf("%s: the part adds nothing: %+v", tt.name, got)
		}
	}
}

// TestFilePartPricing pins how each file part is priced.
func TestFilePartPricing(t *testing.T) {
	for _, tt := range []struct {
		part   string
		files  int
		opaque bool // priced by its bytes
	}{
		{`{"type":"file","file":{"file_id":"file-1"}}`, 1, false},
		{`{"file":{"file_id":"file-1","file_data":null},"type":"file"}`, 1, false},
		{`{"type":"file","file":{"file_id":"file-1","file_data":"data:text/plain;base64,aGk="}}`, 1, true},
		{`{"type":"file","file":{"file_data":"data:text/plain;base64,aGk="}}`, 0, true},
		{`{"type":"file","file":{"file_id":"file-1"},"file":{"file_data":"aGk="}}`, 0, true},
		{`{"type":"file","file":{"file_id":null}}`, 0, true},
		{`{"type":"file","file":"file-1"}`, 0, true},
		{`{"type":"input_file","file":{"file_id":"file-1"}}`, 0, true},
	} {
		c, err := ParseChat([]byte(`{"model":"m","messages":[{"content":[` + tt.part + `]}]}`))
		if err != nil {
			t.Fatalf("%s: %v", tt.part, err)
		}
		want := Opaque{}
		if tt.opaque {
			want.Bytes = int64(len(tt.part))
		}
		if c.Files != tt.files || c.Opaque != want {
			t.Errorf("%s: Files %d, Opaque %+v; want %d, %+v", tt.part, c.Files, c.Opaque, tt.files, want)
		}
	}
}

func TestOpaqueFigures(t *testing.T) {
	for _, n := range []int64{1, 2, 3, 4, 5, 1 << 20} {
		o := Opaque{Bytes: n}
		if e, b := o.Estimate(), o.Bound(); e < 1 || e > b || b < n {
			t.Errorf("%d bytes: estimate %d, bound %d", n, e, b)
		}
	}
	if (Opaque{}).Bound() != 0 || (Opaque{}).Estimate() != 0 {
		t.Error("no bytes must cost nothing")
	}
}

// checkPartsPriced asserts that removing one of the content parts ParseChat
// reads (pick chooses which) lowers the request's weight: every part costs
// something.
func checkPartsPriced(t *testing.T, body []byte, c Chat, pick uint8) {
	t.Helper()
	parts := readParts(t, body)
	if len(parts) == 0 {
		return
	}
	p := parts[int(pick)%len(parts)]
	cut := p.arr[p.i]
	switch {
	case p.i > 0:
		cut = span{p.arr[p.i-1].end, p.arr[p.i].end} // the comma before it, and it
	case len(p.arr) > 1:
		cut = span{p.arr[0].start, p.arr[1].start} // it, and the comma after it
	}
	less := append(append([]byte{}, body[:cut.start]...), body[cut.end:]...)
	fewer, err := ParseChat(less)
	if err != nil {
		t.Fatalf("ParseChat without part %q: %v (%s)", body[p.arr[p.i].start:p.arr[p.i].end], err, less)
	}
	if weight(fewer) >= weight(c) {
		t.Fatalf("removing part %q left the weight at %d (was %d)", body[p.arr[p.i].start:p.arr[p.i].end], weight(fewer), weight(c))
	}
}

// partAt is one content part: element i of a content array's elements.
type partAt struct {
	arr []span
	i   int
}

// readParts finds, with encoding/json, the content parts ParseChat reads:
// those of each message's last content, in the last messages member.
func readParts(t *testing.T, body []byte) []partAt {
	t.Helper()
	msgs, ok := lastValue(t, body, 0, "messages")
	if !ok || body[msgs.start] != '[' {
		return nil
	}
	var out []partAt
	for _, m := range elementSpans(t, body, msgs) {
		content, ok := lastValue(t, body, m.start, "content")
		if !ok || body[content.start] != '[' {
			continue
		}
		arr := elementSpans(t, body, content)
		for i := range arr {
			out = append(out, partAt{arr, i})
		}
	}
	return out
}

// lastValue returns where the value of the object's last member called name
// sits; the object starts at body[from].
func lastValue(t *testing.T, body []byte, from int, name string) (span, bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body[from:]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("no object at %d: %v", from, err)
	}
	var at span
	found := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		v := nextValue(t, dec, body, from)
		if k == name {
			at, found = v, true
		}
	}
	return at, found
}

// elementSpans returns where each element of the array at arr sits.
func elementSpans(t *testing.T, body []byte, arr span) []span {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body[arr.start:arr.end]))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []span
	for dec.More() {
		out = append(out, nextValue(t, dec, body, arr.start))
	}
	return out
}

// nextValue decodes the value dec is before and returns its span in body,
// dec reading body from base.
func nextValue(t *testing.T, dec *json.Decoder, body []byte, base int) span {
	t.Helper()
	start := base + int(dec.InputOffset())
	for strings.IndexByte(" \t\r\n,:", body[start]) >= 0 {
		start++
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	s := span{start, base + int(dec.InputOffset())}
	if !bytes.Equal(body[s.start:s.end], v) {
		t.Fatalf("span %v is %q, not the value %q", s, body[s.start:s.end], v)
	}
	return s
}
