package openai

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

func TestExactMessages(t *testing.T) {
	body := mustRead(t, "testdata/requests/tools_roundtrip.json")
	msgs, tools, err := ExactMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []tokens.Message{
		{Role: "user", Content: "What's the weather and the time in Recife right now?"},
		{Role: "assistant", Content: `get_weather{"city":"Recife","unit":"celsius"}get_time{"city":"Recife"}`},
		{Role: "tool", Content: `{"temperature":29,"condition":"partly cloudy","humidity":0.74}`},
		{Role: "tool", Content: "14:32 BRT"},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("messages:\n got %q\nwant %q", msgs, want)
	}
	if w := rawOf(t, body, "tools"); tools != w {
		t.Errorf("tools = %s, want %s", tools, w)
	}

	body = mustRead(t, "testdata/requests/unicode_escapes.json")
	msgs, tools, err = ExactMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Name != "joão_silva" || msgs[1].Content != "Olá! Como está? — \"citação\" \x00 nul" || tools != "" {
		t.Errorf("ExactMessages(unicode_escapes) = %q, %q", msgs, tools)
	}
}

func TestExactMessagesErrors(t *testing.T) {
	_, _, err := ExactMessages([]byte(`{"model":"m","messages":[{"content":5}]}`))
	var re *RequestError
	if !errors.As(err, &re) || re.Field != "messages[0].content" {
		t.Errorf("ExactMessages error = %v, want ParseChat's", err)
	}
}

// TestPromptBoundsExactCount checks the contract the two paths share with
// the tokens package: Prompt's Bound plus tokens.ChatOverhead is never below
// what ChatPrompt counts exactly from ExactMessages.
func TestPromptBoundsExactCount(t *testing.T) {
	paths, err := filepath.Glob("testdata/requests/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatal("no request fixtures")
	}
	for _, path := range paths {
		body := mustRead(t, path)
		c, err := ParseChat(body)
		if err != nil {
			t.Fatal(err)
		}
		msgs, tools, err := ExactMessages(body)
		if err != nil {
			t.Fatal(err)
		}
		enc, ok := tokens.ForModel(c.Model)
		if !ok {
			enc, _ = tokens.ForModel("gpt-4o")
		}
		exact := int64(enc.ChatPrompt(msgs, tools))
		bound := c.Prompt.Bound() + tokens.ChatOverhead(c.Messages, c.Names, c.Tools)
		if bound < exact {
			t.Errorf("%s: bound %d < exact %d (%s)", filepath.Base(path), bound, exact, enc.Name())
		}
		t.Logf("%s: %s exact %d, estimate %d, bound %d", filepath.Base(path), enc.Name(), exact,
			c.Prompt.Estimate()+tokens.ChatOverhead(c.Messages, c.Names, c.Tools), bound)
	}
}
