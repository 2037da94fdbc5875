package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// requestSeeds are shapes the fixtures do not cover: the corners where a
// hand-written scanner and encoding/json tend to disagree.
var requestSeeds = []string{
	`{"model":"m","messages":[]}`,
	`{"model":"m","messages":[],"model":null}`,
	`{"Model":"m","messages":[]}`,
	`{"\u006dodel":"m","messages":[{"role":"user","content":"\ud83d\ude00\ud800\udc00\udbff\ud800x\u00e9\/"}]}`,
	"{\"model\":\"m\",\"messages\":[{\"content\":\"a\xffb\xed\xa0\x80c\\u00e9\xc3\"}]}",
	`{"model":"m","messages":[],"max_tokens":-0,"max_completion_tokens":9223372036854775807}`,
	`{"model":"m","messages":[],"max_tokens":1e3}`,
	`{"model":"m","messages":[],"max_tokens":9223372036854775808}`,
	`{"model":"m","messages":[],"n":128,"stream":true,"stream_options":{"include_usage":null}}`,
	`{"model":"m","messages":[],"stream_options":{},"max_completion_tokens":null}`,
	`{"model":"m","messages":[],"stream_options":{"x":[1,{"y":2}],"include_usage":false,"include_usage":true}}`,
	`{"model":"m","messages":[{"content":[{"text":"a","type":"text","type":"image_url"},{"type":"refusal","refusal":"no"}]}]}`,
	`{"model":"m","messages":[{"tool_calls":[{"function":{"arguments":"{}","name":"f"},"function":null}],"function_call":{"name":"g"}}]}`,
	` {"model":"m","messages":[{"name":"n","content":null}],"tools":[],"functions":[{}],"response_format":{"type":"text"}} ` + "\n",
	`{"model":"m","messages":[],"tools":{}}`,
	`{}`,
	`[]`,
	`{"model":"m","messages":[]}x`,
	`{"model":"m","messages":[[[[[[[[]]]]]]]]}`,
	`{"model":"m","messages":[{"content":"hi 12","name":"bob  ","role":"user"},{"content":5,"content":"x"}]}`,
	`{"model":"m","messages":[{"name":"a","content":"b","name":"c"},{"content":[{"type":"t\u0065xt","te\u0078t":"a"}],"role":null}]}`,
	`{"model":"m","messages":[{"function_call":{"arguments":"{}","name":"f","arguments":"9 "},"tool_calls":null}]}`,
	`{"model":"m","messages":[{"content":[{"text":1,"text":"ok","type":"text"}]}],"max_tokens":"x","max_tokens":7}`,
	`{"model":"m","messages":[{"content":[{"text":1,"type":"text"}]}],"messages":[]}`,
	`{"model":"m","messages":[],"stream_options":{"include_usage":1,"include_usage":true},"n":0,"n":3}`,
	`{"model":"m","messages":[{"content":[{"type":"file","file":{"file_id":"f","file_data":null}},{"type":"file","file":{"file_id":1}},{"type":"x"},{}]}]}`,
	`{"model":"m","messages":[{"content":[ {"type":"text","text":""} , {"type":"file","file":{"file_data":"data:;base64,AA=="},"file":{"file_id":"f"}} ],"content":[{"type":null}]}]}`,
}

func seedDir(f *testing.F, pattern string, each func([]byte)) {
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures match %s", pattern)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		each(b)
	}
}

func FuzzParseRequest(f *testing.F) {
	seedDir(f, "testdata/requests/*.json", func(b []byte) {
		f.Add(b, int64(512), uint8(1))
		f.Add(b, int64(0), uint8(2))
	})
	for i, s := range requestSeeds {
		f.Add([]byte(s), int64(i*100), uint8(i))
	}
	f.Fuzz(func(t *testing.T, body []byte, limit int64, flags uint8) {
		got, err := ParseChat(body)
		want, ok := refParseChat(body)
		if (err == nil) != ok {
			t.Fatalf("ParseChat error = %v, encoding/json reference accepts = %v", err, ok)
		}
		_, _, exactErr := ExactMessages(body)
		if (exactErr == nil) != ok {
			t.Fatalf("ExactMessages error = %v, reference accepts = %v", exactErr, ok)
		}
		if !ok {
			var re *RequestError
			if !errors.As(err, &re) || re.Msg == "" {
				t.Fatalf("error %v is not a *RequestError with a message", err)
			}
			return
		}
		checkChat(t, got, want)
		checkExact(t, body, want)
		checkPartsPriced(t, body, got, flags)
		e := Edit{IncludeUsage: flags&1 != 0, CompletionCap: limit}
		if flags&2 != 0 {
			e.CapField = "max_completion_tokens"
		}
		checkApply(t, body, got, e)
	})
}

func checkChat(t *testing.T, got Chat, want refChat) {
	t.Helper()
	gotFields := refChat{
		Model: got.Model, Stream: got.Stream, IncludeUsage: got.IncludeUsage,
		MaxTokens: got.MaxTokens, MaxCompletionTokens: got.MaxCompletionTokens,
		N: got.N, Messages: got.Messages, Names: got.Names, Tools: got.Tools, Images: got.Images,
		Files: got.Files, Opaque: got.Opaque.Bytes,
		Msgs: want.Msgs, Raw: want.Raw,
	}
	if !reflect.DeepEqual(gotFields, want) {
		t.Fatalf("fields:\n got %+v\nwant %+v", gotFields, want)
	}
	if wantText := want.prompt(); !reflect.DeepEqual(got.Prompt, wantText) {
		t.Fatalf("Prompt = %+v,\nwant %+v from %+v then %q", got.Prompt, wantText, want.Msgs, want.Raw)
	}
}

// checkExact asserts ExactMessages returns the reference's text: each
// message's pieces after its name, concatenated, and the raw tools.
func checkExact(t *testing.T, body []byte, want refChat) {
	t.Helper()
	msgs, tools, err := ExactMessages(body)
	if err != nil {
		t.Fatalf("ExactMessages: %v", err)
	}
	wantMsgs := []tokens.Message{}
	for _, m := range want.Msgs {
		wantMsgs = append(wantMsgs, m.exact())
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Fatalf("ExactMessages:\n got %q\nwant %q", msgs, wantMsgs)
	}
	if w := strings.Join(want.Raw, ""); tools != w {
		t.Fatalf("ExactMessages tools = %q, want %q", tools, w)
	}
}

// checkApply asserts the edit's output is valid JSON equal to the input but
// for the edited members, and that ParseChat reads the edits back.
func checkApply(t *testing.T, body []byte, c Chat, e Edit) {
	t.Helper()
	out := c.Apply(body, e)
	cp := e.CompletionCap
	unchanged := (!e.IncludeUsage || c.IncludeUsage) &&
		(cp <= 0 || (c.MaxTokens.Set || c.MaxCompletionTokens.Set) &&
			(!c.MaxTokens.Set || c.MaxTokens.Value == cp) &&
			(!c.MaxCompletionTokens.Set || c.MaxCompletionTokens.Value == cp))
	if unchanged {
		if len(body) > 0 && &out[0] != &body[0] || len(out) != len(body) {
			t.Fatalf("Apply(%+v) changed nothing but did not return body itself", e)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("Apply(%+v) = %q: invalid JSON", e, out)
	}
	want := decodeAny(t, body).(map[string]any)
	wantChat := c
	if e.IncludeUsage {
		opts, ok := want["stream_options"].(map[string]any)
		if !ok {
			opts = map[string]any{}
		}
		opts["include_usage"] = true
		want["stream_options"] = opts
		wantChat.IncludeUsage = true
	}
	if cp > 0 {
		num := json.Number(strconv.FormatInt(cp, 10))
		field, capp := "max_tokens", &wantChat.MaxTokens
		if e.CapField == "max_completion_tokens" {
			field, capp = e.CapField, &wantChat.MaxCompletionTokens
		}
		if !c.MaxTokens.Set && !c.MaxCompletionTokens.Set {
			want[field] = num
			*capp = Cap{cp, true}
		}
		if c.MaxTokens.Set {
			want["max_tokens"] = num
			wantChat.MaxTokens = Cap{cp, true}
		}
		if c.MaxCompletionTokens.Set {
			want["max_completion_tokens"] = num
			wantChat.MaxCompletionTokens = Cap{cp, true}
		}
	}
	if got := decodeAny(t, out); !reflect.DeepEqual(got, any(want)) {
		t.Fatalf("Apply(%+v):\n got %s\nwant %v", e, out, want)
	}
	again, err := ParseChat(out)
	if err != nil {
		t.Fatalf("ParseChat(Apply(%+v)) = %v for %s", e, err, out)
	}
	again.at, wantChat.at = offsets{}, offsets{}
	if !reflect.DeepEqual(again, wantChat) {
		t.Fatalf("ParseChat(Apply(%+v)):\n got %+v\nwant %+v", e, again, wantChat)
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func FuzzScanChunk(f *testing.F) {
	seedDir(f, "testdata/streams/*.sse", func(b []byte) {
		for _, d := range sseData(b) {
			f.Add(d)
		}
	})
	seedDir(f, "testdata/responses/*.json", func(b []byte) { f.Add(b) })
	for _, s := range []string{
		`{"usage":null,"choices":[{"delta":{"content":"a"}},{"delta":{"content":""}},1]}`,
		`{"usage":{},"usage":null , "choices":[]}`,
		`{ "usage":null }`,
		`{"\u0075sage":null,"x":1,"usage":null}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{\"a\":"}},null]}}],"usage":5}`,
		`{"choices":{"delta":{}},"usage":[null]}`,
		`[{"usage":null}]`,
		`{"choices":[{"delta":{"content":"a 1","refusal":"b","content":"c"},"delta":{"reasoning":"r"}},{"delta":{"function_call":{"arguments":"x","name":"y"}}}]}`,
		`{"choices":[{"delta":{"content":""},"delta":5},{"delta":{"tool_calls":[{"function":{"name":"f"},"function":{"arguments":"1"}}]}}],"choices":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ScanChunk(data)
		want, ok := refScanChunk(data)
		if (err == nil) != ok {
			t.Fatalf("ScanChunk error = %v, reference accepts = %v", err, ok)
		}
		if ok {
			checkChunk(t, got, want)
		}
		checkChunkInto(t, data, got, want.Pieces, err)
		checkUsageCuts(t, data, ok)
		prefix := []byte("data: ")
		out, stripped := StripNullUsage(prefix, data)
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("StripNullUsage dropped dst's contents: %q", out)
		}
		out = out[len(prefix):]
		if stripped != (ok && want.NullUsage) {
			t.Fatalf("StripNullUsage stripped = %v; valid object %v, usage null %v", stripped, ok, want.NullUsage)
		}
		if !stripped {
			if !bytes.Equal(out, data) {
				t.Fatalf("StripNullUsage changed %q to %q without stripping", data, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("StripNullUsage(%q) = %q: invalid JSON", data, out)
		}
		wantObj := decodeAny(t, data).(map[string]any)
		delete(wantObj, "usage")
		if gotObj := decodeAny(t, out); !reflect.DeepEqual(gotObj, any(wantObj)) {
			t.Fatalf("StripNullUsage(%q) = %q, want the same minus usage", data, out)
		}
		after, err := ScanChunk(out)
		if err != nil {
			t.Fatalf("ScanChunk(stripped) = %v", err)
		}
		want.NullUsage = false
		checkChunk(t, after, want)
	})
}

// checkUsageCuts asserts that UsageCuts finds the usage members of a valid
// object, and that whitespace in place of each cut, which is what an SSE
// event's data keeps where a cut spans its lines, leaves the object without
// them and otherwise the same.
func checkUsageCuts(t *testing.T, data []byte, valid bool) {
	t.Helper()
	cuts, ok := UsageCuts([]Cut{{-1, -1}}, data)
	if len(cuts) == 0 || cuts[0] != (Cut{-1, -1}) {
		t.Fatalf("UsageCuts lost dst's contents: %v", cuts)
	}
	cuts = cuts[1:]
	hasUsage := false
	if valid {
		if obj, isObj := decodeAny(t, data).(map[string]any); isObj {
			_, hasUsage = obj["usage"]
		}
	}
	if ok != hasUsage || ok != (len(cuts) > 0) {
		t.Fatalf("UsageCuts(%q) = %v, %v; valid %v, has usage %v", data, cuts, ok, valid, hasUsage)
	}
	if !ok {
		return
	}
	var spaced []byte
	from := 0
	for _, c := range cuts {
		if c.Start < from || c.End < c.Start || c.End > len(data) {
			t.Fatalf("UsageCuts(%q) = %v: not in order within data", data, cuts)
		}
		spaced = append(append(spaced, data[from:c.Start]...), "\n \r\n"...)
		from = c.End
	}
	spaced = append(spaced, data[from:]...)
	want := decodeAny(t, data).(map[string]any)
	delete(want, "usage")
	if !json.Valid(spaced) || !reflect.DeepEqual(decodeAny(t, spaced), any(want)) {
		t.Fatalf("UsageCuts(%q) = %v: with whitespace in their place %q, want the object minus usage", data, cuts, spaced)
	}
}

func checkChunk(t *testing.T, got Chunk, want refChunk) {
	t.Helper()
	gotFields := refChunk{got.HasUsage, got.NullUsage, got.NoChoices, got.Finished, got.Deltas, want.Pieces}
	if !reflect.DeepEqual(gotFields, want) {
		t.Fatalf("chunk fields:\n got %+v\nwant %+v", gotFields, want)
	}
	if wantText := feed(want.Pieces); !reflect.DeepEqual(got.Text, wantText) {
		t.Fatalf("Text = %+v, want %+v from %q", got.Text, wantText, want.Pieces)
	}
}

// checkChunkInto asserts ScanChunkInto reads data as ScanChunk did (chunk,
// err) but feeds the pieces to the Text it is given, continuing its text,
// and leaves that Text alone on error.
func checkChunkInto(t *testing.T, data []byte, chunk Chunk, pieces []string, err error) {
	t.Helper()
	const earlier = "streamed so far 12"
	completion := feed([]string{earlier})
	got, gotErr := ScanChunkInto(data, &completion)
	if (gotErr == nil) != (err == nil) {
		t.Fatalf("ScanChunkInto error = %v, ScanChunk error = %v", gotErr, err)
	}
	want := feed([]string{earlier})
	if err == nil {
		chunk.Text = tokens.Text{}
		if !reflect.DeepEqual(got, chunk) {
			t.Fatalf("ScanChunkInto chunk = %+v, want %+v", got, chunk)
		}
		for _, p := range pieces {
			want.AddString(p)
		}
	}
	if completion != want {
		t.Fatalf("ScanChunkInto fed %+v, want %+v from %q", completion, want, pieces)
	}
}

// sseData returns the data of each event in a recorded stream whose events
// have one data line each (the SSE decoder lives in extproc/sse).
func sseData(stream []byte) [][]byte {
	var out [][]byte
	for _, line := range bytes.Split(stream, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			out = append(out, d)
		}
	}
	return out
}
