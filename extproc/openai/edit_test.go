package openai

import (
	"testing"
)

func TestApply(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"oi"}]`
	tests := []struct {
		name string
		body string
		edit Edit
		want string // "" means body itself, unchanged
	}{
		{
			name: "add stream_options",
			body: `{"model":"gpt-4o","stream":true,` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"gpt-4o","stream":true,` + msgs + `,"stream_options":{"include_usage":true}}`,
		},
		{
			name: "new members go after the last one, before trailing whitespace",
			body: "{\n  \"model\": \"gpt-4o\",\n  " + msgs + "\n}\n",
			edit: Edit{IncludeUsage: true, CompletionCap: 256},
			want: "{\n  \"model\": \"gpt-4o\",\n  " + msgs + `,"stream_options":{"include_usage":true},"max_tokens":256` + "\n}\n",
		},
		{
			name: "replace null stream_options",
			body: `{"model":"m","stream_options":null,` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"m","stream_options":{"include_usage":true},` + msgs + `}`,
		},
		{
			name: "fill empty stream_options",
			body: `{"model":"m","stream_options":{ },` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"m","stream_options":{"include_usage":true },` + msgs + `}`,
		},
		{
			name: "merge into stream_options",
			body: `{"model":"m","stream_options":{"chunk_size":8 },` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"m","stream_options":{"chunk_size":8,"include_usage":true },` + msgs + `}`,
		},
		{
			name: "overwrite include_usage false",
			body: `{"model":"m","stream_options":{"include_usage": false,"x":1},` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"m","stream_options":{"include_usage": true,"x":1},` + msgs + `}`,
		},
		{
			name: "overwrite the include_usage that counts",
			body: `{"model":"m","stream_options":{"include_usage":true,"include_usage":null},` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
			want: `{"model":"m","stream_options":{"include_usage":true,"include_usage":true},` + msgs + `}`,
		},
		{
			name: "include_usage already true",
			body: `{"model":"m","stream_options":{"include_usage":true},` + msgs + `}`,
			edit: Edit{IncludeUsage: true},
		},
		{
			name: "rewrite max_tokens",
			body: `{"model":"m","max_tokens":4096,` + msgs + `}`,
			edit: Edit{CompletionCap: 700},
			want: `{"model":"m","max_tokens":700,` + msgs + `}`,
		},
		{
			name: "rewrite both caps, ignoring CapField",
			body: `{"max_completion_tokens":150,"model":"m","max_tokens":200,` + msgs + `}`,
			edit: Edit{CompletionCap: 90, CapField: "max_completion_tokens"},
			want: `{"max_completion_tokens":90,"model":"m","max_tokens":90,` + msgs + `}`,
		},
		{
			name: "cap already at value",
			body: `{"model":"m","max_completion_tokens":90,` + msgs + `}`,
			edit: Edit{CompletionCap: 90},
		},
		{
			name: "add max_tokens by default",
			body: `{"model":"m",` + msgs + `}`,
			edit: Edit{CompletionCap: 1000},
			want: `{"model":"m",` + msgs + `,"max_tokens":1000}`,
		},
		{
			name: "add max_completion_tokens for o-series",
			body: `{"model":"o3-mini",` + msgs + `}`,
			edit: Edit{CompletionCap: 1000, CapField: "max_completion_tokens"},
			want: `{"model":"o3-mini",` + msgs + `,"max_completion_tokens":1000}`,
		},
		{
			name: "give a null cap its value rather than add a duplicate",
			body: `{"model":"m","max_tokens":null,` + msgs + `}`,
			edit: Edit{CompletionCap: 64},
			want: `{"model":"m","max_tokens":64,` + msgs + `}`,
		},
		{
			name: "a null cap of the other name stays",
			body: `{"model":"m","max_completion_tokens":null,` + msgs + `}`,
			edit: Edit{CompletionCap: 64},
			want: `{"model":"m","max_completion_tokens":null,` + msgs + `,"max_tokens":64}`,
		},
		{
			name: "splices in body order",
			body: `{"max_tokens":9000,"stream_options":{"include_usage":false},"model":"m",` + msgs + `,"max_completion_tokens":8000}`,
			edit: Edit{IncludeUsage: true, CompletionCap: 9223372036854775807},
			want: `{"max_tokens":9223372036854775807,"stream_options":{"include_usage":true},"model":"m",` + msgs + `,"max_completion_tokens":9223372036854775807}`,
		},
		{
			name: "nothing asked",
			body: `{"model":"m",` + msgs + `}`,
			edit: Edit{CompletionCap: -5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			c, err := ParseChat(body)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Apply(body, tt.edit)
			if tt.want == "" {
				if &got[0] != &body[0] || len(got) != len(body) {
					t.Fatalf("Apply = %s, want the body itself", got)
				}
				return
			}
			if string(got) != tt.want {
				t.Fatalf("Apply:\n got %s\nwant %s", got, tt.want)
			}
			if len(got) != cap(got) {
				t.Errorf("Apply returned len %d cap %d, want an exact-size slice", len(got), cap(got))
			}
			checkApply(t, body, c, tt.edit)
		})
	}
}

func TestApplyOtherBodyPanics(t *testing.T) {
	body := []byte(`{"model":"m","messages":[]}`)
	c, err := ParseChat(body)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Apply on a body of another size did not panic")
		}
	}()
	c.Apply(append(body, ' '), Edit{IncludeUsage: true})
}

func TestApplyAllocs(t *testing.T) {
	body := mustRead(t, "testdata/requests/tools_roundtrip.json")
	c, err := ParseChat(body)
	if err != nil {
		t.Fatal(err)
	}
	e := Edit{IncludeUsage: true, CompletionCap: 9223372036854775807, CapField: "max_completion_tokens"}
	if n := testing.AllocsPerRun(100, func() { c.Apply(body, e) }); n != 1 {
		t.Errorf("Apply allocates %v times, want 1", n)
	}
}
